"""The notifications page follows what happens: a new notice appears in the list without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_a_reply_appears_in_the_open_list(people, live_server, new_context, joint_ticket, bearer):
    base = live_server()
    page = new_context().new_page()
    log_in(page, base, people.citizen)
    page.goto(f"{base}/notifications")
    rows = page.locator("#notifications tr")
    before = rows.count()
    expect(page.locator('#unread-count[data-connected="1"]')).to_be_attached()  # the page follows its reader
    answer = new_context().request.post(
        f"{base}/api/v1/tickets/{joint_ticket.id}/reply",
        headers=bearer(people.env),
        data={"text": "我们已安排执法人员夜间巡查。"},
    )
    assert answer.status == 200, answer.text()
    expect(rows).to_have_count(before + 1)
    expect(page.locator("#notifications tr.unread").first).to_be_visible()
    # Marked read on another page (another tab), the list shows it read.
    other = page.context.new_page()
    other.goto(f"{base}/notifications")
    other.locator("#read-all").click()
    expect(page.locator("#notifications tr.unread")).to_have_count(0)
