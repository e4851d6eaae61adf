"""A ticket's workspace changes under a person's hands: what they typed is kept until they send or clear it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def open_ticket(new_context, base: str, person, ticket_id: int):
    """A page of its own, signed in as `person`, on the ticket's workspace, following it live."""
    page = new_context().new_page()
    log_in(page, base, person)
    page.goto(f"{base}/tickets/{ticket_id}")
    expect(page.locator('[data-live-region][data-connected="1"]')).to_have_count(1)
    return page


def test_a_live_change_keeps_a_draft_and_says_the_page_changed(joint_ticket, people, live_server, new_context):
    ticket_id = joint_ticket.id
    base = live_server()
    lead = open_ticket(new_context, base, people.env, ticket_id)
    draft = lead.locator('textarea[name="reply"]')
    draft.fill("已协调城管夜间巡查，工地承诺22点后停工。")
    lead.locator("h1").click()  # the cursor leaves the field: the draft is still unsent

    urban = new_context().new_page()
    log_in(urban, base, people.urban)
    urban.goto(f"{base}/tickets/{ticket_id}")
    urban.locator('#parts form:has(input[name="action"][value="accept"]) button').click()
    urban_row = urban.locator('#parts tr[data-department="URBAN"]')
    expect(urban_row).to_contain_text("已签收")

    # The lead's page has changed on the server: it says so, and the draft is where it was.
    notice = lead.locator(".stale-notice")
    expect(notice).to_be_visible()
    expect(draft).to_have_value("已协调城管夜间巡查，工地承诺22点后停工。")
    row = lead.locator('#parts tr[data-department="URBAN"]')
    expect(row).to_contain_text("待签收")
    # Asked to, it shows the changes (and lets the draft go).
    notice.locator("button").click()
    expect(row).to_contain_text("已签收")
    expect(lead.locator('textarea[name="reply"]')).to_have_value("")
    expect(lead.locator(".stale-notice")).to_have_count(0)

    # A refused action gives the typed text back; that text is the person's work too, kept from refreshes.
    lead.locator('textarea[name="reply"]').fill("噪音问题已解决。")
    lead.locator("#resolve").click()  # refused: the lead has not signed for the ticket
    expect(lead.locator('form[data-kept] textarea[name="reply"]')).to_have_value("噪音问题已解决。")
    expect(lead.locator('[data-live-region][data-connected="1"]')).to_have_count(1)
    contribute = urban.locator('#parts form:has(input[name="action"][value="contribute"])')
    contribute.locator('input[name="note"]').fill("已查验施工许可")
    contribute.locator("button").click()
    expect(urban.locator('#parts tr[data-department="URBAN"]')).to_contain_text("已完成")
    expect(lead.locator(".stale-notice")).to_be_visible()
    expect(lead.locator('textarea[name="reply"]')).to_have_value("噪音问题已解决。")
    # Cleared, the page catches up by itself.
    lead.locator('textarea[name="reply"]').fill("")
    expect(lead.locator('#parts tr[data-department="URBAN"]')).to_contain_text("已完成")
    expect(lead.locator(".stale-notice")).to_have_count(0)


def test_a_department_given_back_after_a_refused_lead_swap_is_kept_from_refreshes(
    joint_ticket, people, live_server, new_context
):
    ticket_id = joint_ticket.id
    base = live_server()
    coordinator = open_ticket(new_context, base, people.coordinator, ticket_id)
    swap = coordinator.locator('form:has(input[name="action"][value="lead"])')
    swap.locator('select[name="department"]').select_option("TRANSPORT")
    swap.locator('input[name="reason"]').fill("  ")  # refused: no reason
    swap.locator("button").click()
    kept = coordinator.locator('form[data-kept]:has(input[name="action"][value="lead"]) select[name="department"]')
    expect(kept).to_have_value("TRANSPORT")
    expect(coordinator.locator('[data-live-region][data-connected="1"]')).to_have_count(1)

    urban = new_context().new_page()
    log_in(urban, base, people.urban)
    urban.goto(f"{base}/tickets/{ticket_id}")
    urban.locator('#parts form:has(input[name="action"][value="accept"]) button').click()
    expect(urban.locator('#parts tr[data-department="URBAN"]')).to_contain_text("已签收")

    # The coordinator's page says it has changed, and the department chosen is still chosen.
    expect(coordinator.locator(".stale-notice")).to_be_visible()
    expect(kept).to_have_value("TRANSPORT")
