"""The coordination centre's pages on a phone and on a desk: nothing wider than the screen or its card."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from participation.catalog.models import Department
from participation.core.uow import transaction
from participation.routing import services as routing
from tests.browser.conftest import log_in
from tests.browser.test_phone_layout import PHONE, WIDTHS, _fits_the_screen, _within_reach
from tests.routing.conftest import late_joint_ticket, part_of

pytestmark = pytest.mark.browser

# A real city's department names are long; the coordinator's drop-downs offer every one of them.
LONG_NAME = "Haicheng Municipal Tax Service, State Taxation Administration (Coordination Office)"


@pytest.fixture
def busy_centre(db, people, submit):
    """A ticket waiting in triage, a return waiting for a ruling, a late ticket; and a long department name."""
    db.session.add(Department(code="TAX", name_zh="国家税务总局海城市税务局", name_en=LONG_NAME))
    db.session.commit()
    waiting = submit("小区门口的路灯坏了一个月了，晚上很黑")
    late = late_joint_ticket(people)
    with transaction():
        routing.request_return(people.urban, part_of(late, "URBAN").id, "return", "Not ours: noise is ENV's")
    return waiting, late


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_coordination_pages_fit_a_phone(db, people, busy_centre, new_context, live_server, locale):
    waiting, late = busy_centre
    people.coordinator.preferred_locale = locale[:2]
    db.session.commit()
    base = live_server()
    page = new_context(locale=locale, **PHONE).new_page()
    log_in(page, base, people.coordinator)
    for path, row in [
        ("/work", "[data-queues] .tile"),
        ("/coordination/triage", f'#triage tr[data-ticket="{waiting.id}"]'),
        ("/coordination/disputes", "#disputes tr[data-dispute]"),
        ("/coordination/escalations", f'#escalations tr[data-ticket="{late.id}"]'),
        (f"/tickets?q={late.id}", f'#found tr[data-ticket="{late.id}"]'),
        (f"/tickets/{late.id}", "#parts tr[data-part]"),
        (f"/tickets/{waiting.id}", "#clocks tr[data-clock]"),
    ]:
        page.goto(base + path)
        expect(page.locator(row).first).to_be_visible()
        _fits_the_screen(page)


@pytest.mark.parametrize("width", [1366, 1024])
def test_the_escalation_queue_keeps_its_shortcuts_inside_its_card_on_a_desk(
    db, people, busy_centre, new_context, live_server, width
):
    _waiting, late = busy_centre
    people.coordinator.preferred_locale = "en"  # the longer names
    db.session.commit()
    base = live_server()
    page = new_context(viewport={"width": width, "height": 900}).new_page()
    log_in(page, base, people.coordinator)
    page.goto(f"{base}/coordination/escalations")
    expect(page.locator(f'#escalations tr[data-ticket="{late.id}"]')).to_be_visible()
    _shortcuts_inside_the_card(page)


def _shortcuts_inside_the_card(page) -> None:
    over = page.evaluate(
        """() => {
             const card = document.querySelector('#escalations').closest('.card').getBoundingClientRect();
             return [...document.querySelectorAll('#escalations td.actions select, #escalations td.actions input')]
               .map(e => Math.round(e.getBoundingClientRect().right - card.right)).filter(over => over > 0);
           }"""
    )
    assert not over, f"the shortcuts stick out of the card by {over} px"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_escalation_queue_fits_every_width_from_a_phone_to_a_desk(
    db, people, busy_centre, new_context, live_server, locale
):
    _waiting, late = busy_centre
    people.coordinator.preferred_locale = locale[:2]
    db.session.commit()
    base = live_server()
    page = new_context(locale=locale, viewport={"width": WIDTHS[-1], "height": 900}).new_page()
    log_in(page, base, people.coordinator)
    row = page.locator(f'#escalations tr[data-ticket="{late.id}"]')
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/coordination/escalations")
        expect(row).to_be_visible()
        _fits_the_screen(page, width)
        _shortcuts_inside_the_card(page)
        for control in row.locator("td.actions select, td.actions input:not([type=hidden]), td.actions button").all():
            _within_reach(control, width)
    # On a desk the queue is still a table, its columns named once in its head.
    expect(page.locator("#escalations tr.head")).to_be_visible()
