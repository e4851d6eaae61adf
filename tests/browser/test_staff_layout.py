"""The staff's tables read at a glance: a Chinese state or role (主办单位, 待签收) is never broken in two, and the inbox
reads on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from participation.catalog.models import Department
from participation.core.uow import transaction
from participation.routing import services as routing
from tests.browser.conftest import log_in
from tests.browser.test_coordinator_layout import LONG_NAME
from tests.browser.test_phone_layout import PHONE, WIDTHS, _fits_the_screen, _within_reach
from tests.routing.conftest import part_of

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


@pytest.fixture
def busy_inbox(db, people, joint_ticket, submit):
    """ENV's inbox: a part waiting to be signed for, one signed for with a long title; a second, long-named
    department for its member to switch to. Returns the waiting part."""
    tax = Department(code="TAX", name_zh="国家税务总局海城市税务局", name_en=LONG_NAME)
    db.session.add(tax)
    db.session.flush()
    people.env.set_departments({*people.env.department_ids, tax.id})
    db.session.commit()
    worked = submit(
        "Construction trucks have been driving through the residential street at night for three weeks",
        title="Construction trucks driving through the residential street at night, every night for three weeks",
    )
    with transaction():
        routing.dispatch(people.coordinator, worked.id, ["NOISE"], "ENV", [])
    with transaction():
        routing.accept(people.env, part_of(worked, "ENV").id)
    return part_of(joint_ticket, "ENV")


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_inbox_fits_a_phone_and_parts_are_signed_for_there(
    db, people, busy_inbox, new_context, live_server, locale
):
    """On a phone each part is a labelled block; the filters, the ticks and 'sign for selected' are within reach."""
    pending = busy_inbox
    people.env.preferred_locale = locale[:2]
    db.session.commit()
    base = live_server()
    page = new_context(locale=locale, **PHONE).new_page()
    log_in(page, base, people.env)
    page.goto(f"{base}/inbox")
    expect(page.locator("#inbox tr[data-part]")).to_have_count(2)
    _fits_the_screen(page)
    labels = page.evaluate(
        """() => [...document.querySelectorAll('#inbox tr[data-part] td')]
             .map(td => getComputedStyle(td, '::before').content).filter(c => c && c !== 'none')"""
    )
    assert ('"办理状态"' if locale == "zh-CN" else '"Part status"') in labels, labels

    for switch in page.locator("main .card > p a.button").all():  # to the other department's inbox
        _within_reach(switch)
    filters = page.locator("main form.filters")
    for control in filters.locator("select, input:not([type=hidden]), button").all():
        _within_reach(control)
    filters.locator('select[name="role"]').select_option("lead")
    filters.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"role=lead"))
    expect(page.locator("#inbox tr[data-part]")).to_have_count(2)
    _fits_the_screen(page)

    tick = page.locator(f'#inbox tr[data-part="{pending.id}"] input[name="part_ids"]')
    _within_reach(tick)
    tick.check()
    _within_reach(page.locator("#bulk-accept"))
    page.locator("#bulk-accept").click()
    expect(page.locator(".flash-success")).to_have_count(1)
    expect(page.locator(f'#inbox tr[data-part="{pending.id}"] [data-status="accepted"]')).to_be_visible()
    _fits_the_screen(page)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_inbox_fits_every_width_from_a_phone_to_a_desk(db, people, busy_inbox, new_context, live_server, locale):
    pending = busy_inbox
    people.env.preferred_locale = locale[:2]
    db.session.commit()
    base = live_server()
    page = new_context(locale=locale, viewport={"width": WIDTHS[-1], "height": 900}).new_page()
    log_in(page, base, people.env)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/inbox")
        expect(page.locator("#inbox tr[data-part]")).to_have_count(2)
        _fits_the_screen(page, width)
        _within_reach(page.locator(f'#inbox tr[data-part="{pending.id}"] input[name="part_ids"]'), width)
        _within_reach(page.locator("#bulk-accept"), width)
        _within_reach(page.locator('main form.filters button[type="submit"]'), width)
    # On a desk the inbox is still a table, its columns named once in its head.
    expect(page.locator("#inbox tr.head")).to_be_visible()
