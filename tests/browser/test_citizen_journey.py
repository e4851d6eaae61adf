"""A citizen's journey through the real pages in a real browser, against a real gunicorn process.

The server runs the embedded default (no Redis): background tasks in-process, Socket.IO in the web process.
CSRF is on, so every step drives the real forms.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from participation.intake.models import Submission
from tests.browser.conftest import log_in
from tests.conftest import image_bytes

pytestmark = pytest.mark.browser

TRACKING_CODE = re.compile(r"^HC-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{10}$")
SLOW_MS = 20_000  # the first submission loads the Chinese NLP models


def read_tracking_code(page: Page) -> str:
    code = page.locator("#tracking-code")
    expect(code).to_have_text(TRACKING_CODE, timeout=SLOW_MS)
    return code.inner_text().strip()


def test_citizen_switches_to_chinese_sends_complaint_with_photo_and_tracks_it(
    db, catalog, new_context, live_server, tmp_path
):
    base = live_server()
    photo = tmp_path / "site.png"
    photo.write_bytes(image_bytes("PNG"))
    page = new_context(locale="en-US").new_page()

    # The browser asks for English: the home page is in English.
    page.goto(base + "/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("#lang-en")).to_have_count(0)

    # Switch to Chinese with the header link.
    page.locator("#lang-zh").click()
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#lang-en")).to_be_visible()
    send_link = page.locator("header nav a", has_text="提交诉求")
    expect(send_link).to_be_visible()

    # The request form, in Chinese.
    send_link.click()
    form = page.locator("#submit-form")
    expect(form).to_be_visible()
    expect(page.locator("h1")).to_have_text("提交诉求")
    form.locator('input[name="kind"][value="complaint"]').check()
    form.locator('textarea[name="text"]').fill("山前街道工地每天半夜还在施工，噪音很大，影响居民休息。")
    form.locator('select[name="category"]').select_option("NOISE")
    form.locator('select[name="district"]').select_option("EAST-HILL")
    form.locator('input[name="address"]').fill("山前街道12号")
    form.locator('input[name="photos"]').set_input_files(str(photo))
    form.locator("#anonymous").check()
    expect(form.locator("#contact")).to_be_hidden()
    form.locator('button[type="submit"]').click()

    # The confirmation shows the tracking code.
    expect(page).to_have_url(re.compile(r"/submitted/HC-"), timeout=SLOW_MS)
    code = read_tracking_code(page)

    # Follow it through the public lookup form.
    page.locator("header nav a", has_text="查询").click()
    lookup = page.locator("main form")
    lookup.locator('input[name="code"]').fill(code)
    lookup.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(rf"/track/{code}$"))
    badge = page.locator(f'.live-status[data-code="{code}"] .badge')
    expect(badge).to_have_attribute("data-status", "triage")
    expect(badge).to_have_text("待派单")
    timeline = page.locator("#timeline")
    expect(timeline).to_be_visible()
    expect(timeline.locator("li").first).to_be_visible()

    # What the server stored.
    db.session.expire_all()
    submission = db.session.query(Submission).filter_by(tracking_code=code).one()
    assert len(submission.attachments) == 1
    assert submission.attachments[0].original_name == "site.png"
    assert submission.category.code == "NOISE"
    assert submission.district.code == "EAST-HILL"
    assert submission.anonymous is True
    assert submission.user_id is None


def test_my_requests_update_live_without_reload(db, catalog, make_user, new_context, live_server):
    user = make_user("citizen")
    base = live_server()

    # First browser: log in, send a request with contact details, open "My requests".
    watcher = new_context().new_page()
    log_in(watcher, base, user)
    watcher.goto(base + "/submit")
    form = watcher.locator("#submit-form")
    form.locator('input[name="kind"][value="complaint"]').check()
    form.locator('textarea[name="text"]').fill("工地半夜还在施工，噪音太大了。")
    form.locator('select[name="category"]').select_option("NOISE")
    expect(form.locator("#anonymous")).not_to_be_checked()
    form.locator('input[name="contact_phone"]').fill("13800138000")
    form.locator('button[type="submit"]').click()
    expect(watcher).to_have_url(re.compile(r"/submitted/HC-"), timeout=SLOW_MS)
    code = read_tracking_code(watcher)

    watcher.goto(base + "/my")
    row = watcher.locator(f'#my-requests tr[data-code="{code}"]')
    expect(row).to_be_visible()
    badge = row.locator(".live-status .badge")
    expect(badge).not_to_have_attribute("data-status", "withdrawn")
    expect(watcher.locator("body")).to_have_attribute("data-live", "connected")
    watcher.evaluate("window.__marker = 1")

    # Second browser, same person: withdraw the request.
    actor = new_context().new_page()
    log_in(actor, base, user)
    actor.goto(base + "/my")
    actor_row = actor.locator(f'#my-requests tr[data-code="{code}"]')
    actor_row.locator("details.withdraw summary").click()  # a second step: withdrawing cannot be undone
    actor_row.locator('form input[name="reason"]').fill("已经自行解决")
    actor_row.locator('form button[type="submit"]').click()
    expect(actor.locator(".flash-info")).to_be_visible()
    expect(actor_row.locator(".live-status .badge")).to_have_attribute("data-status", "withdrawn")

    # The first page follows without a reload.
    expect(badge).to_have_attribute("data-status", "withdrawn", timeout=SLOW_MS)
    expect(row.locator("form")).to_have_count(0)
    assert watcher.evaluate("window.__marker") == 1, "the watching page was reloaded"

    # A new request sent from the second browser appears in the first one's list, still without a reload.
    actor.goto(base + "/submit")
    form = actor.locator("#submit-form")
    form.locator('input[name="kind"][value="inquiry"]').check()
    form.locator('textarea[name="text"]').fill("请问小区垃圾分类的收运时间是几点？")
    form.locator('button[type="submit"]').click()
    expect(actor).to_have_url(re.compile(r"/submitted/HC-"), timeout=SLOW_MS)
    second = read_tracking_code(actor)
    expect(watcher.locator(f'#my-requests tr[data-code="{second}"]')).to_be_visible(timeout=SLOW_MS)
    expect(watcher.locator(f'#my-requests tr[data-code="{code}"] .live-status .badge')).to_have_attribute(
        "data-status", "withdrawn"
    )
    assert watcher.evaluate("window.__marker") == 1, "the watching page was reloaded"
