"""The callback loop in the browser: after resolution the citizen is asked on the tracking page, answers
"dissatisfied", the ticket reopens, and the lead department sees it come back into its inbox live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.routing.conftest import resolve_joint

pytestmark = pytest.mark.browser


def test_dissatisfied_callback_reopens_and_the_department_sees_it_live(joint_ticket, people, live_server, new_context):
    ticket = resolve_joint(joint_ticket, people, "The site now stops work at 22:00.")
    code, ticket_id = ticket.submission.tracking_code, ticket.id
    base = live_server()

    staff = new_context().new_page()
    log_in(staff, base, people.env)
    staff.goto(base + "/inbox?status=accepted")  # the lead's part is done: nothing to work on yet
    expect(staff.locator('[data-live-region][data-connected="1"]')).to_have_count(1)
    expect(staff.locator(f'#inbox tr[data-ticket="{ticket_id}"]')).to_have_count(0)
    staff.evaluate("window.__noReload = true")

    citizen = new_context().new_page()
    log_in(citizen, base, people.citizen)
    citizen.goto(f"{base}/track/{code}")
    form = citizen.locator(f'form[action^="/track/{code}/callback"]')
    expect(form).to_be_visible()
    form.locator('input[name="q_solved"][value="2"]').check()
    form.locator('input[name="q_satisfaction"][value="3"]').check()
    form.locator('input[name="q_rating"][value="2"]').check()
    form.locator('textarea[name="q_comment"]').fill("Still drilling after midnight.")
    with citizen.expect_navigation():
        form.locator('button[type="submit"]').first.click()
    expect(citizen.locator(".flash-error")).to_have_count(0)
    expect(citizen.locator(f'form[action^="/track/{code}/callback"]')).to_have_count(0)

    row = staff.locator(f'#inbox tr[data-ticket="{ticket_id}"]')
    expect(row).to_have_count(1)  # back in the department's work, without a reload
    expect(row.locator(".badge.status-reopened")).to_be_visible()
    assert staff.evaluate("window.__noReload") is True
