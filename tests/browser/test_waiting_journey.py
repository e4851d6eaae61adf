"""Waiting for the sender, live on both sides, in real browsers against a real gunicorn process.

A department pauses a ticket's clocks "waiting for the citizen" through the workspace form; the sender's tracking
page shows what is asked without a reload; the sender answers there with text and a photo; the clocks run again and
the department's workspace shows the answer, also without a reload; the department opens the photo.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from participation.core.uow import transaction
from participation.routing import services as routing
from tests.browser.conftest import log_in
from tests.conftest import image_bytes
from tests.routing.conftest import part_of

pytestmark = pytest.mark.browser

SLOW_MS = 20_000  # a busy machine: the live refresh may take a while
ASK = "Please send a photo of the site at night."
ANSWER = "Here is the site at 23:00; the drilling goes on until two."


def test_the_sender_sees_what_is_asked_answers_with_a_photo_and_the_clocks_run_again(
    db, people, submit, new_context, live_server, tmp_path
):
    # A request from the citizen, led by ENV, signed for by ENV; both read the pages in English.
    for user in (people.citizen, people.env):
        user.preferred_locale = "en"
    db.session.commit()
    ticket = submit()
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    with transaction():
        routing.accept(people.env, part_of(ticket, "ENV").id)
    ticket_id, code = ticket.id, ticket.submission.tracking_code
    photo = tmp_path / "night.png"
    photo.write_bytes(image_bytes("PNG"))
    base = live_server()

    # The sender follows the request on its tracking page.
    citizen = new_context(locale="en-US").new_page()
    log_in(citizen, base, people.citizen)
    citizen.goto(f"{base}/track/{code}")
    expect(citizen.locator('[data-live-region][data-connected="1"]')).to_have_count(1)
    waiting = citizen.locator("#waiting")
    expect(waiting).to_have_count(0)
    citizen.evaluate("window.__marker = 1")
    mine = citizen.context.new_page()  # and on "my requests", in another tab
    mine.goto(f"{base}/my")
    expect(mine.locator("body")).to_have_attribute("data-live", "connected")
    mine_row = mine.locator(f'#my-requests tr[data-code="{code}"]')
    expect(mine_row.locator(".badge.waiting")).to_have_count(0)

    # The lead department pauses the clocks, waiting for the citizen, through the workspace form.
    staff = new_context(locale="en-US").new_page()
    log_in(staff, base, people.env)
    staff.goto(f"{base}/tickets/{ticket_id}")
    pause = staff.locator("#deadlines form:has(#pause-clocks)")
    pause.locator('select[name="kind"]').select_option("waiting_citizen")
    pause.locator('input[name="reason"]').fill(ASK)
    staff.locator("#pause-clocks").click()
    expect(staff.locator("#resume-clocks")).to_be_visible()
    expect(staff.locator("#pause-clocks")).to_have_count(0)
    expect(staff.locator("#deadlines .badge.paused")).to_be_visible()
    expect(staff.locator('[data-live-region][data-connected="1"]')).to_have_count(1)
    staff.evaluate("window.__marker = 1")

    # The sender's page shows what is asked, without a reload.
    expect(waiting).to_be_visible(timeout=SLOW_MS)
    expect(waiting.locator("h2")).to_have_text("The departments are waiting for you")
    expect(waiting.locator(".quote")).to_have_text(ASK)
    assert citizen.evaluate("window.__marker") == 1, "the tracking page was reloaded"
    expect(mine_row.locator(".badge.waiting")).to_be_visible(timeout=SLOW_MS)  # "my requests" says so too

    # The sender answers there, with text and a photo.
    waiting.locator('textarea[name="information"]').fill(ANSWER)
    waiting.locator("#information-photos").set_input_files(str(photo))
    waiting.locator('button[type="submit"]').click()
    expect(citizen.locator(".flash-info")).to_contain_text("The departments have your information")
    expect(citizen.locator("#waiting")).to_have_count(0)
    expect(citizen.locator('#timeline li[data-type="citizen.information"]')).to_have_count(1)
    expect(mine_row.locator(".badge.waiting")).to_have_count(0, timeout=SLOW_MS)

    # The workspace follows without a reload: the answer in the timeline, the clocks running again.
    answer = staff.locator("#staff-timeline li", has_text=ANSWER)
    expect(answer).to_be_visible(timeout=SLOW_MS)
    expect(answer).to_contain_text("1 photo, with the request's photos above")
    expect(staff.locator("#pause-clocks")).to_be_visible()
    expect(staff.locator("#resume-clocks")).to_have_count(0)
    expect(staff.locator("#deadlines .badge.paused")).to_have_count(0)
    expect(staff.locator("#clocks .badge.clock-paused")).to_have_count(0)
    assert staff.evaluate("window.__marker") == 1, "the workspace was reloaded"

    # The department opens the sender's photo.
    link = staff.get_by_role("link", name="Photo 1", exact=True)
    href = link.get_attribute("href")
    assert href and href.startswith("/attachments/")
    with staff.expect_popup() as opened:
        link.click()
    popup = opened.value
    popup.wait_for_load_state()
    assert popup.url == base + href
    assert popup.evaluate("document.contentType") == "image/png"
    response = staff.context.request.get(base + href)
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert response.body() == photo.read_bytes()
    assert staff.evaluate("window.__marker") == 1, "the workspace was reloaded"
