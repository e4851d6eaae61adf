"""The staff's tables read at a glance: a Chinese state or role (主办单位, 待签收) is never broken in two."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

# How many lines each pill of a table takes (a Range over its text has one rectangle per line).
PILL_LINES = """(selector) => [...document.querySelectorAll(selector)].map((pill) => {
  const range = document.createRange();
  range.selectNodeContents(pill);
  return [pill.textContent.trim(), new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size];
})"""


@pytest.mark.parametrize("width", [1280, 1024])
def test_status_and_role_pills_stay_on_one_line(joint_ticket, people, live_server, new_context, width):
    base = live_server()
    page = new_context(viewport={"width": width, "height": 900}).new_page()
    log_in(page, base, people.env)
    page.goto(f"{base}/lang/zh?next=/inbox")  # in Chinese, the platform's first language
    expect(page.locator("#inbox tr[data-part]")).to_have_count(1)
    pills = page.evaluate(PILL_LINES, "#inbox .badge")
    assert pills and all(lines == 1 for _text, lines in pills), pills
    page.goto(f"{base}/tickets/{joint_ticket.id}")
    pills = page.evaluate(PILL_LINES, "#parts .badge")
    assert pills and all(lines == 1 for _text, lines in pills), pills
