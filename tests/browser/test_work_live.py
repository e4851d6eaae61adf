"""The work overview counts change under a person's eyes as work arrives."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_a_dispatched_ticket_shows_on_the_overview_live(people, live_server, new_context, submit, bearer):
    ticket = submit()
    base = live_server()
    page = new_context().new_page()
    log_in(page, base, people.env)  # staff land on the overview
    expect(page).to_have_url(f"{base}/work")
    card = page.locator("#work-ENV")
    expect(card.locator("[data-live-region], .tiles")).to_have_count(1)
    expect(page.locator('#work-ENV[data-connected="1"]')).to_have_count(1)
    to_sign = card.locator("a.tile", has_text="待签收").locator(".count")
    expect(to_sign).to_have_text("0")
    # The coordinator dispatches it (through the server, which announces it).
    answer = new_context().request.post(
        f"{base}/api/v1/tickets/{ticket.id}/dispatch",
        headers=bearer(people.coordinator),
        data={"categories": ["NOISE"], "lead": "ENV", "co": []},
    )
    assert answer.status == 200, answer.text()
    expect(to_sign).to_have_text("1")
    card.locator("a.tile", has_text="待签收").click()
    expect(page.locator(f'#inbox tr[data-ticket="{ticket.id}"]')).to_have_count(1)
