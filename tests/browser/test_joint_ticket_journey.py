"""A joint ticket, end to end, in four (and more) browsers open at once, against a real gunicorn process.

A citizen submits; the router dispatches automatically; the lead department sees the ticket arrive live in
its inbox; the lead signs for it, invites a further co-handler; the co-handlers sign for and contribute; the
lead replies and resolves. The citizen's tracking page follows every public step without a reload.
"""

from __future__ import annotations

import re
from contextlib import ExitStack

import pytest
from playwright.sync_api import Page, expect

from participation.intake.models import Submission
from tests.browser.conftest import log_in
from tests.live import process_env, web_process

pytestmark = pytest.mark.browser

TRACKING_CODE = re.compile(r"^HC-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{10}$")
SLOW_MS = 20_000  # the first submission loads the Chinese NLP models; routing runs after the analysis
COMPLAINT = "山前街道的工地每天半夜还在施工，电钻噪音很大，居民无法休息。"
FIRST_REPLY = "We have asked the site to stop work after 22:00 and will inspect it tonight."
FINAL_REPLY = "The site was inspected and fined; night work has stopped. Thank you for reporting it."


@pytest.fixture
def auto_dispatch_server(db, database_url, tmp_path):
    """Factory: like ``live_server``, but the web process dispatches confident routing decisions itself.

    Request it before ``new_context`` so the browsers are closed before the process stops.
    """
    stack = ExitStack()

    def start(name: str = "web") -> str:
        uploads = tmp_path / "uploads"
        uploads.mkdir(exist_ok=True)
        env = dict(process_env(database_url, str(uploads), redis=None))
        env["PARTICIPATION_ROUTING_AUTO_DISPATCH"] = "true"
        env["PARTICIPATION_ROUTING_CONFIDENCE_THRESHOLD"] = "0.05"
        return stack.enter_context(web_process(env, tmp_path, name))

    with stack:
        yield start


def wait_live(page: Page) -> None:
    """The page's live region has connected its socket and asked to join its room."""
    expect(page.locator('[data-live-region][data-connected="1"]')).to_have_count(1)


def no_error(page: Page) -> None:
    expect(page.locator(".flash-error")).to_have_count(0)


def post(page: Page, button) -> None:
    """Click a form's button, wait for the page the server answers with, and check it shows no error."""
    with page.expect_navigation():
        button.click()
    no_error(page)


def part_row(page: Page, department: str):
    return page.locator(f'#parts tr[data-department="{department}"]')


def part_status(page: Page, department: str):
    return part_row(page, department).locator(".badge[data-status]")


def action_form(scope, action: str):
    return scope.locator(f'form:has(input[name="action"][value="{action}"])')


def open_inbox(page: Page, base: str) -> None:
    page.goto(base + "/inbox")
    expect(page.locator("#inbox")).to_be_visible()
    wait_live(page)


def test_joint_ticket_from_submission_to_resolution_live_in_every_browser(
    db, catalog, make_user, auto_dispatch_server, new_context
):
    citizen = make_user("citizen")
    lead_staff = make_user("department_staff", departments=("ENV",))
    urban_staff = make_user("department_staff", departments=("URBAN",))
    transport_staff = make_user("department_staff", departments=("TRANSPORT",))
    coordinator = make_user("coordinator")
    base = auto_dispatch_server()

    pages = {}
    for name, user in (
        ("citizen", citizen),
        ("lead", lead_staff),
        ("urban", urban_staff),
        ("transport", transport_staff),
        ("coordinator", coordinator),
    ):
        pages[name] = new_context().new_page()
        log_in(pages[name], base, user)
    citizen_page, lead, urban, transport, coord = (
        pages[n] for n in ("citizen", "lead", "urban", "transport", "coordinator")
    )

    # The lead (ENV) and the default co-handler (URBAN) watch their inboxes before anything is sent.
    open_inbox(lead, base)
    expect(lead.locator("h1")).to_contain_text("生态环境局")  # staff profiles default to Chinese
    open_inbox(urban, base)
    expect(urban.locator("h1")).to_contain_text("城市管理局")
    lead.evaluate("window.__m = 1")
    urban.evaluate("window.__m = 1")

    # The citizen, logged in and not anonymous, sends a noise complaint.
    citizen_page.goto(base + "/submit")
    form = citizen_page.locator("#submit-form")
    form.locator('input[name="kind"][value="complaint"]').check()
    form.locator('textarea[name="text"]').fill(COMPLAINT)
    form.locator('select[name="category"]').select_option("NOISE")
    form.locator('select[name="district"]').select_option("EAST-HILL")
    form.locator('input[name="address"]').fill("山前街道12号工地")
    expect(form.locator("#anonymous")).not_to_be_checked()
    form.locator('input[name="contact_phone"]').fill("13800138000")
    form.locator('button[type="submit"]').click()
    expect(citizen_page).to_have_url(re.compile(r"/submitted/HC-"), timeout=SLOW_MS)
    code_node = citizen_page.locator("#tracking-code")
    expect(code_node).to_have_text(TRACKING_CODE, timeout=SLOW_MS)
    code = code_node.inner_text().strip()

    db.session.expire_all()
    submission = db.session.query(Submission).filter_by(tracking_code=code).one()
    assert submission.anonymous is False
    assert submission.user_id == citizen.id
    assert submission.contact_phone.endswith("13800138000")  # stored normalised (+86…)
    ticket_id = submission.ticket.id

    # The citizen follows the request on its tracking page.
    citizen_page.goto(f"{base}/track/{code}")
    wait_live(citizen_page)
    citizen_page.evaluate("window.__m = 1")
    citizen_badge = citizen_page.locator(f'.live-status[data-code="{code}"] .badge[data-status]')
    expect(citizen_badge).to_be_visible()

    # Automatic dispatch: the ticket appears in the lead's and the co-handler's inboxes without a reload.
    lead_row = lead.locator(f'#inbox tr[data-ticket="{ticket_id}"]')
    expect(lead_row).to_be_visible(timeout=SLOW_MS)
    expect(lead_row.locator(".badge.role-lead")).to_be_visible()
    expect(lead_row.locator(".badge[data-status]")).to_have_attribute("data-status", "pending")
    urban_row = urban.locator(f'#inbox tr[data-ticket="{ticket_id}"]')
    expect(urban_row).to_be_visible(timeout=SLOW_MS)
    expect(urban_row.locator(".badge.role-co")).to_be_visible()
    assert lead.evaluate("window.__m") == 1, "the lead's inbox was reloaded"
    assert urban.evaluate("window.__m") == 1, "the co-handler's inbox was reloaded"

    db.session.expire_all()
    submission = db.session.query(Submission).filter_by(tracking_code=code).one()
    ticket = submission.ticket
    assert ticket.status.value == "dispatched"
    parts = {p.department.code: p.role.value for p in ticket.parts}
    assert parts.get("ENV") == "lead", parts
    assert parts.get("URBAN") == "co", parts
    # The district's office joins NOISE tickets by the catalog's district_co rule; no staff of ours works there.
    unstaffed = sorted(code_ for code_, role in parts.items() if role == "co" and code_ != "URBAN")
    assert unstaffed == ["OFFICE-EAST-HILL"], parts
    expect(citizen_badge).to_have_attribute("data-status", "dispatched", timeout=SLOW_MS)

    # The lead opens the workspace from the inbox and signs for its part.
    lead_row.locator(f'a[href="/tickets/{ticket_id}"]').first.click()
    expect(lead).to_have_url(re.compile(rf"/tickets/{ticket_id}$"))
    wait_live(lead)
    expect(lead.locator("#ticket-status .badge")).to_have_attribute("data-status", "dispatched")
    expect(part_status(lead, "ENV")).to_have_attribute("data-status", "pending")
    post(lead, part_row(lead, "ENV").locator('form:has(input[name="action"][value="accept"]) button'))
    expect(part_status(lead, "ENV")).to_have_attribute("data-status", "accepted")
    expect(lead.locator("#ticket-status .badge")).to_have_attribute("data-status", "in_progress")
    wait_live(lead)

    # The citizen sees "in progress" without a reload.
    expect(citizen_badge).to_have_attribute("data-status", "in_progress")
    assert citizen_page.evaluate("window.__m") == 1, "the tracking page was reloaded"

    # The URBAN co-handler opens the workspace from its inbox.
    urban_row.locator(f'a[href="/tickets/{ticket_id}"]').first.click()
    expect(urban).to_have_url(re.compile(rf"/tickets/{ticket_id}$"))
    wait_live(urban)
    expect(part_status(urban, "URBAN")).to_have_attribute("data-status", "pending")
    expect(part_row(urban, "TRANSPORT")).to_have_count(0)
    urban.evaluate("window.__m = 1")

    # TRANSPORT watches its (empty) inbox before it is invited.
    open_inbox(transport, base)
    expect(transport.locator(f'#inbox tr[data-ticket="{ticket_id}"]')).to_have_count(0)
    transport.evaluate("window.__m = 1")

    # The lead invites TRANSPORT as a further co-handler.
    invite = action_form(lead, "invite")
    invite.locator('select[name="department"]').select_option("TRANSPORT")
    invite.locator('input[name="note"]').fill("Please check the lorries blocking the road at night.")
    post(lead, invite.locator("button#invite"))
    expect(part_status(lead, "TRANSPORT")).to_have_attribute("data-status", "pending")
    wait_live(lead)
    lead.evaluate("window.__m = 1")

    # TRANSPORT's inbox shows the ticket live; URBAN's workspace shows the new part live.
    transport_row = transport.locator(f'#inbox tr[data-ticket="{ticket_id}"]')
    expect(transport_row).to_be_visible()
    expect(transport_row.locator(".badge.role-co")).to_be_visible()
    assert transport.evaluate("window.__m") == 1, "TRANSPORT's inbox was reloaded"
    expect(part_status(urban, "TRANSPORT")).to_have_attribute("data-status", "pending")
    assert urban.evaluate("window.__m") == 1, "URBAN's workspace was reloaded"

    # TRANSPORT opens the workspace; its own part row is there.
    transport_row.locator(f'a[href="/tickets/{ticket_id}"]').first.click()
    expect(transport).to_have_url(re.compile(rf"/tickets/{ticket_id}$"))
    wait_live(transport)
    expect(part_status(transport, "TRANSPORT")).to_have_attribute("data-status", "pending")

    # Both co-handlers sign for their parts and contribute.
    for page, department, note in (
        (urban, "URBAN", "Urban inspectors sealed the site gate after 22:00."),
        (transport, "TRANSPORT", "Night lorry permits for the site were withdrawn."),
    ):
        post(page, part_row(page, department).locator('form:has(input[name="action"][value="accept"]) button'))
        expect(part_status(page, department)).to_have_attribute("data-status", "accepted")
        contribute = action_form(part_row(page, department), "contribute")
        contribute.locator('input[name="note"]').fill(note)
        post(page, contribute.locator('button[type="submit"]'))
        expect(part_status(page, department)).to_have_attribute("data-status", "done")
        expect(part_row(page, department)).to_contain_text(note)

    # The coordinator waives the parts no staff member of this test works in (the district office).
    coord.goto(f"{base}/tickets/{ticket_id}")
    wait_live(coord)
    for department in unstaffed:
        waive = action_form(part_row(coord, department), "waive")
        waive.locator('input[name="reason"]').fill("The district office is not needed for this site.")
        post(coord, waive.locator('button[type="submit"]'))
        expect(part_status(coord, department)).to_have_attribute("data-status", "waived")
        wait_live(coord)

    # The lead's workspace followed every co-handler's step without a reload.
    expect(part_status(lead, "URBAN")).to_have_attribute("data-status", "done")
    expect(part_status(lead, "TRANSPORT")).to_have_attribute("data-status", "done")
    for department in unstaffed:
        expect(part_status(lead, department)).to_have_attribute("data-status", "waived")
    expect(part_row(lead, "URBAN")).to_contain_text("sealed the site gate")
    assert lead.evaluate("window.__m") == 1, "the lead's workspace was reloaded"

    # The lead publishes a public reply; the citizen sees it live.
    reply = action_form(lead, "reply")
    reply.locator('textarea[name="text"]').fill(FIRST_REPLY)
    post(lead, reply.locator('button[type="submit"]'))
    expect(lead.locator(".reply")).to_contain_text(FIRST_REPLY)
    public_reply = citizen_page.locator("#public-reply")
    expect(public_reply).to_contain_text(FIRST_REPLY)
    expect(citizen_badge).to_have_attribute("data-status", "in_progress")
    assert citizen_page.evaluate("window.__m") == 1, "the tracking page was reloaded"

    # The lead resolves with a final reply; the citizen sees the reply and "resolved" live.
    resolve = action_form(lead, "resolve")
    resolve.locator('textarea[name="reply"]').fill(FINAL_REPLY)
    post(lead, resolve.locator("button#resolve"))
    expect(lead.locator("#ticket-status .badge")).to_have_attribute("data-status", "resolved")
    expect(part_status(lead, "ENV")).to_have_attribute("data-status", "done")

    expect(citizen_badge).to_have_attribute("data-status", "resolved")
    expect(public_reply).to_be_visible()
    expect(public_reply).to_contain_text(FINAL_REPLY)
    assert citizen_page.evaluate("window.__m") == 1, "the tracking page was reloaded"

    # What the server stored.
    db.session.expire_all()
    submission = db.session.query(Submission).filter_by(tracking_code=code).one()
    ticket = submission.ticket
    assert ticket.status.value == "resolved"
    assert ticket.public_reply == FINAL_REPLY
    final = {p.department.code: p.status.value for p in ticket.parts}
    assert final["ENV"] == "done" and final["URBAN"] == "done" and final["TRANSPORT"] == "done", final
