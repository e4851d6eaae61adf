"""Reloading a page that answers a refused form reads the page again; the form is not sent twice."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_workspace_live import open_ticket
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def methods_of(page) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    page.on("request", lambda r: seen.append((r.method, r.url)) if r.resource_type == "document" else None)
    return seen


def test_reloading_a_refused_workspace_form_reads_the_ticket(joint_ticket, people, live_server, new_context):
    base = live_server()
    lead = open_ticket(new_context, base, people.env, joint_ticket.id)
    lead.locator('textarea[name="reply"]').fill("噪音问题已解决。")
    lead.locator("#resolve").click()  # refused: the lead has not signed for the ticket
    expect(lead.locator('form[data-kept] textarea[name="reply"]')).to_have_value("噪音问题已解决。")
    lead.wait_for_load_state("load")  # the page's scripts have run
    expect(lead.locator('[data-live-region][data-connected="1"]')).to_have_count(1)
    seen = methods_of(lead)
    lead.reload()
    expect(lead).to_have_url(f"{base}/tickets/{joint_ticket.id}")
    expect(lead.locator("form[data-kept]")).to_have_count(0)  # the page as it is, not the refused answer
    assert seen and all(method == "GET" for method, _url in seen), seen
    # The forms on it still send where they did.
    lead.locator('#parts form:has(input[name="action"][value="accept"]) button').first.click()
    expect(lead.locator('#parts tr[data-department="ENV"]')).to_contain_text("已签收")


def test_reloading_a_refused_log_in_asks_nothing(people, live_server, new_context):
    base = live_server()
    page = new_context().new_page()
    page.goto(base + "/login")
    form = page.locator("main form")
    form.locator('input[name="login"]').fill(people.citizen.email)
    form.locator('input[name="password"]').fill("not the password")
    form.locator('button[type="submit"]').click()
    expect(page.locator("main")).to_contain_text("Wrong")
    page.wait_for_load_state("load")  # the page's scripts have run
    seen = methods_of(page)
    page.reload()
    assert seen and all(method == "GET" for method, _url in seen), seen
    expect(page.locator("main")).not_to_contain_text("Wrong")
    # Refused again, the form on the refused page still sends where it did.
    form.locator('input[name="login"]').fill(people.citizen.email)
    form.locator('input[name="password"]').fill("not the password either")
    form.locator('button[type="submit"]').click()
    expect(page.locator("main")).to_contain_text("Wrong")
    form.locator('input[name="login"]').fill(people.citizen.email)
    form.locator('input[name="password"]').fill(PASSWORD)
    form.locator('button[type="submit"]').click()
    expect(page.locator("header nav a[href='/my']")).to_be_visible()
