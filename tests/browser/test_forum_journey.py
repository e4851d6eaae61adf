"""Two citizens discuss and support a proposal in the browser, against a real gunicorn process.

NOISE proposals go to the departments at two supporters (FORUM_THRESHOLDS through the environment of the web
process). Citizen A comments and B sees it appear without a reload; B replies and A sees the reply live; each sees the
other's support arrive live. The second support sends the proposal through intake and the router (a ticket, shown
with its tracking code); the coordinator dispatches it from triage to ENV (through the services: the live process
does not auto-dispatch), ENV staff give the official answer through the page form, and it appears on A's page.
Last, a moderator hides B's reply from the moderation queue and A's open page shows the placeholder live.

Live events from services called in this test process would not reach the web process (no shared message queue
without Redis), so everything that must be announced live goes through the pages.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from participation.core.uow import transaction
from participation.forums import moderation
from participation.forums import services as forums
from participation.forums.models import Proposal
from participation.routing import services as routing
from participation.routing.models import TicketStatus
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

PROPOSAL = {
    "title": "夜间施工限时",
    "text": "建议把工地夜间施工限制在晚上十点以前，噪音扰民太严重",
    "category": "NOISE",
    "district": "EAST-HILL",
}
FIRST = "Ten o'clock is late enough <b>for</b> anyone."
REPLY = "Agreed, and weekends should be quiet until nine."
ANSWER = "We will limit night work on building sites to 22:00 from next quarter."


@pytest.fixture
def people(catalog, make_user):
    return SimpleNamespace(
        author=make_user("citizen"),
        a=make_user("citizen"),
        b=make_user("citizen"),
        env=make_user("department_staff", departments=("ENV",)),
        coordinator=make_user("coordinator"),
        moderator=make_user("moderator"),
    )


@pytest.fixture
def proposal(people):
    with transaction():
        return forums.create_proposal(people.author, PROPOSAL)


def english(page: Page) -> None:
    """Switch the session to English (staff profiles default to Chinese; the machine has no Chinese font)."""
    if page.locator("#lang-en").count():
        with page.expect_navigation():
            page.locator("#lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^en"))


def open_proposal(page: Page, url: str) -> None:
    """Open (or reload) the proposal and wait until the page has joined its live room."""
    page.goto(url)
    watching(page)


def watching(page: Page) -> None:
    expect(page.locator("#comments")).to_have_attribute("data-watching", "true")


def post(page: Page, button) -> None:
    """Submit a form; the server answers with the proposal page again, which joins the room again."""
    with page.expect_navigation():
        button.click()
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.locator(".field-error")).to_have_count(0)
    watching(page)


def comment_item(page: Page, text: str):
    return page.locator("#comment-list li.comment").filter(has=page.locator(".comment-text", has_text=text))


def test_two_citizens_discuss_support_and_get_an_official_answer(
    people, proposal, live_server, new_context, monkeypatch, db
):
    monkeypatch.setenv("PARTICIPATION_FORUM_THRESHOLDS", '{"NOISE": 2}')
    base = live_server()
    url = f"{base}/proposals/{proposal.id}"
    pages = {}
    for name in ("a", "b"):
        page = new_context().new_page()
        log_in(page, base, getattr(people, name))
        page.goto(url)
        english(page)
        watching(page)
        pages[name] = page
    a, b = pages["a"], pages["b"]
    expect(a.locator("#support-count")).to_have_text("0 of 2 supporters")

    # A comments; B sees it appear without a reload (escaped: the <b> stays text).
    form = a.locator("#comment-form")
    form.locator("textarea[name=text]").fill(FIRST)
    form.locator("select[name=stance]").select_option("for")
    post(a, form.locator("button[type=submit]"))
    expect(comment_item(a, FIRST)).to_have_count(1)
    first = comment_item(b, FIRST)
    expect(first).to_have_count(1)
    expect(first.locator(".comment-text")).to_have_text(FIRST)
    expect(first.locator(".comment-author")).to_have_text(people.a.display_name)
    expect(first.locator(".badge.stance")).to_have_text("In favour")
    expect(b.locator("#comment-count")).to_have_text("1")
    # What the discussion says follows too: B's page had no comments to count.
    expect(b.locator('#insight-stances li[data-stance="for"] strong')).to_have_text("1")
    first_id = first.get_attribute("data-comment")

    # B replies to it (the reply link fills the form without a reload); A sees the reply live, nested.
    first.locator(".reply-link").click()
    expect(b.locator("#replying-to")).to_be_visible()
    expect(b.locator("#comment-parent")).to_have_value(first_id)
    b.locator("#comment-form textarea[name=text]").fill(REPLY)
    post(b, b.locator("#comment-form button[type=submit]"))
    reply = a.locator(f"#comment-{first_id} > .replies > li.comment")
    expect(reply).to_have_count(1)
    expect(reply.locator(".comment-text")).to_have_text(REPLY)
    expect(reply.locator(".comment-author")).to_have_text(people.b.display_name)
    expect(a.locator("#comment-count")).to_have_text("2")
    reply_id = int(reply.get_attribute("data-comment"))

    # Both support; each sees the other's support arrive live.
    post(a, a.locator("#support"))
    expect(a.locator("#unsupport")).to_be_visible()
    expect(b.locator("#support-count")).to_have_text("1 of 2 supporters")
    post(b, b.locator("#support"))
    expect(a.locator("#support-count")).to_have_text("2 of 2 supporters")

    # The threshold is reached: the router made a ticket; the page says it went to the departments.
    db.session.expire_all()
    stored = db.session.get(Proposal, proposal.id)
    assert stored.state.value == "threshold_reached" and stored.ticket is not None
    code = stored.ticket.submission.tracking_code
    expect(b.locator("#proposal .badge[data-state]")).to_have_text("Sent to the departments")
    expect(b.locator(f"#proposal a[href$='{code}']")).to_have_text(code)
    open_proposal(a, url)
    expect(a.locator("#proposal .badge[data-state]")).to_have_attribute("data-state", "threshold_reached")
    expect(a.locator("#proposal")).to_contain_text(f"Sent to the departments; tracking code: {code}")

    # The coordinator dispatches it from triage (the live process does not auto-dispatch): ENV leads.
    ticket = stored.ticket
    if ticket.status == TicketStatus.TRIAGE:
        with transaction():
            routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).ticket.lead_department.code == "ENV"

    # ENV staff answer through the page form; A sees the answer after a reload (there is no live event for it).
    staff = new_context().new_page()
    log_in(staff, base, people.env)
    staff.goto(url)
    english(staff)
    answer = staff.locator("#answer-form")
    answer.locator("input[name=verdict][value=accepted]").check()
    answer.locator("textarea[name=reasons]").fill(ANSWER)
    with staff.expect_navigation():
        answer.locator("button[type=submit]").click()
    expect(staff.locator("#official-answer")).to_have_attribute("data-verdict", "accepted")
    open_proposal(a, url)
    official = a.locator("#official-answer")
    expect(official).to_have_attribute("data-verdict", "accepted")
    expect(official.locator("h2")).to_have_text("Official answer: Accepted")
    expect(official).to_contain_text(ANSWER)
    expect(official).to_contain_text("Ecology and Environment Bureau")
    expect(a.locator("#proposal .badge[data-state]")).to_have_text("Answered")

    # A reports B's reply (through the services: one report hides nothing and announces nothing); a moderator
    # hides it from the queue page, and A's open page shows the placeholder live.
    with transaction():
        moderation.flag(people.a, "comment", reply_id, "Off topic")
    mod = new_context().new_page()
    log_in(mod, base, people.moderator)
    mod.goto(base + "/moderation")
    english(mod)
    queued = mod.locator(f'form.moderate-form[action="/moderation/comment/{reply_id}"]')
    queued.locator("input[name=reason]").fill("Personal details")
    with mod.expect_navigation():
        queued.locator('button[value="hide"]').click()
    expect(mod.locator(".field-error")).to_have_count(0)
    hidden = a.locator(f"#comment-{reply_id}")
    expect(hidden.locator(".moderation-placeholder")).to_have_text("This comment was hidden by a moderator.")
    expect(hidden).to_have_attribute("data-hidden", "true")
    expect(a.locator("#comment-list")).not_to_contain_text(REPLY)
    expect(a.locator('#insight-stances li[data-stance="none"] strong')).to_have_text("0")  # hidden: not counted
    expect(comment_item(a, FIRST)).to_have_count(1)  # the parent is untouched
    expect(b.locator(f"#comment-{reply_id} .moderation-placeholder")).to_have_count(1)
