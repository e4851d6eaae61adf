"""The citizen's lists on a phone: nothing wider than the screen, every control within reach."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from participation.core.uow import transaction
from participation.routing import services as routing
from tests.browser.conftest import log_in
from tests.routing.conftest import part_of

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# From a small phone through the tablets (where a list of many columns does not fit its card) to a wide desk.
WIDTHS = [360, 390, 600, 640, 641, 700, 768, 820, 900, 960, 1023, 1024, 1100, 1280, 1400]


def _fits_the_screen(page, screen: int = 390) -> None:
    page.wait_for_load_state()  # a page still arriving may be measured before its stylesheet applies
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= screen, f"the page is {width}px wide on a {screen}px screen"
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.card table')].map(t => {
             const card = t.closest('.card').getBoundingClientRect(), box = t.getBoundingClientRect();
             return Math.round(box.right - card.right);
           }).filter(over => over > 0)"""
    )
    assert not overflow, f"a table sticks out of its card by {overflow} px"


def _within_reach(control, screen: int = 390) -> None:
    """A control is shown whole, inside the screen's width, and nothing covers it (a trial click)."""
    expect(control).to_be_visible()
    box = control.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= screen, f"{control} is at {box} on a {screen}px screen"
    control.click(trial=True)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_my_requests_and_notifications_fit_a_phone_and_a_request_is_withdrawn_there(
    db, people, submit, new_context, live_server, locale
):
    people.citizen.preferred_locale = locale[:2]
    db.session.commit()
    answered = submit("楼下饭店的油烟直排，窗户都不敢开，希望有关部门处理。", title="饭店油烟扰民")
    with transaction():
        routing.dispatch(people.coordinator, answered.id, ["NOISE"], "ENV", [])
    with transaction():
        routing.accept(people.env, part_of(answered, "ENV").id)
    with transaction():  # a notice for the citizen
        routing.reply_public(people.env, answered.id, "We will inspect the restaurant this week.")
    ticket = submit("工地半夜施工，噪音太大，渣土车还把路压坏了", title="工地夜间施工")
    code = ticket.submission.tracking_code
    base = live_server()

    page = new_context(locale=locale, **PHONE).new_page()
    log_in(page, base, people.citizen)
    page.goto(f"{base}/notifications")
    expect(page.locator("#notifications tr[data-id]")).to_have_count(1)
    _fits_the_screen(page)

    page.goto(f"{base}/my")
    row = page.locator(f'#my-requests tr[data-code="{code}"]')
    expect(row).to_be_visible()
    _fits_the_screen(page)
    row.locator("details.withdraw summary").click()  # waits until nothing else covers it
    row.locator('input[name="reason"]').fill("Solved it myself")
    _fits_the_screen(page)
    row.locator('button[type="submit"]').click()
    expect(page.locator(".flash")).to_have_count(1)
    expect(page.locator(f'#my-requests tr[data-code="{code}"] [data-status="withdrawn"]')).to_be_visible()
    _fits_the_screen(page)


def test_a_refused_callback_answer_on_a_phone_opens_at_its_messages(db, people, joint_ticket, new_context, live_server):
    """The callback form is at the end of a long page: refused, the page opens where its messages are."""
    from tests.routing.conftest import resolve_joint

    for n in range(6):  # a long public timeline above the form
        with transaction():
            routing.reply_public(people.env, joint_ticket.id, f"Progress report {n}: the site was visited again.")
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    base = live_server()
    page = new_context(locale="en-US", **PHONE).new_page()
    log_in(page, base, people.citizen)
    page.goto(f"{base}/track/{code}")
    page.locator('#callback input[name="q_solved"]').first.check()  # the satisfaction question left out
    page.locator("#callback-send").click()
    message = page.locator('#callback .field-error, #callback [role="alert"]').first
    expect(message).to_be_visible()
    expect(message).to_be_in_viewport()
    expect(page.locator('#callback input[name="q_solved"]').first).to_be_checked()
