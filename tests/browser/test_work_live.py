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


def test_counts_that_time_changes_are_read_again_while_the_page_is_open(
    db, people, live_server, new_context, joint_ticket
):
    """A deadline passes with no event on the ticket: the overview reads its counts again every minute."""
    from datetime import timedelta

    from participation.core.models import utcnow
    from participation.deadlines import services as deadlines

    base = live_server()
    page = new_context().new_page()
    page.clock.install()
    log_in(page, base, people.env)
    card = page.locator("#work-ENV")
    expect(page.locator('#work-ENV[data-connected="1"]')).to_have_count(1)
    late = card.locator("a.tile", has_text="已超期").locator(".count")
    expect(late).to_have_text("0")
    for clock in deadlines.clocks_of(joint_ticket):  # the sign-for deadline passes, as time alone makes it
        clock.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    page.clock.run_for(61_000)
    expect(late).to_have_text("1")
