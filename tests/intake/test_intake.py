"""Intake: good submissions through the form and the API, and every bad input refused cleanly."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from participation.core.audit import AuditLog
from participation.intake.models import Attachment, Submission
from participation.routing.models import Ticket, TicketEvent
from tests.conftest import VALID_CREDIT_CODE, image_bytes

GOOD = {
    "kind": "complaint",
    "text": "工地每天晚上十一点以后还在打桩，吵得根本睡不着",
    "category": "NOISE",
    "district": "EAST-HILL",
    "address": "山前路 18 号",
    "lat": 30.25,
    "lng": 120.16,
    "anonymous": True,
}


def rows(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def nothing_stored(db) -> bool:
    return rows(db, Submission) == rows(db, Ticket) == rows(db, TicketEvent) == rows(db, Attachment) == 0


def test_api_submission_gets_tracking_code_and_analysis(client, catalog, db):
    response = client.post("/api/v1/submissions", json=GOOD)
    assert response.status_code == 201
    body = response.get_json()
    assert body["code"].startswith("HC-") and len(body["code"]) == 13
    assert body["status"] == "triage"  # analysed in-process, now waiting for dispatch
    assert [e["type"] for e in body["timeline"]] == ["submitted", "status.triage"]
    submission = db.session.scalar(select(Submission))
    assert submission.language == "zh" and submission.sentiment < 0 and "打桩" in submission.keywords
    assert submission.channel.value == "api" and submission.user_id is None and submission.contact_phone == ""
    public = client.get(f"/api/v1/submissions/{body['code']}").get_json()
    assert public["status"] == "triage"
    assert "contact" not in str(public) and "山前路" not in str(public)


def test_english_submission_analysed(client, catalog, db):
    payload = {
        "kind": "praise",
        "text": "Thank you, the street light was fixed quickly. Great service!",
        "anonymous": True,
    }
    assert client.post("/api/v1/submissions", json=payload).status_code == 201
    submission = db.session.scalar(select(Submission))
    assert submission.language == "en" and submission.sentiment > 0 and "street" in submission.keywords


def test_idempotency_key_returns_the_same_submission(client, catalog, db):
    first = client.post("/api/v1/submissions", json=GOOD, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/submissions", json=GOOD, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["code"] == again.get_json()["code"]
    other = client.post("/api/v1/submissions", json={**GOOD, "text": "different"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    assert rows(db, Submission) == 1


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"text": ""}, 422, "text"),
        ({"text": "   \n\t "}, 422, "text"),
        ({"text": "字" * 5001}, 422, "text"),
        ({"kind": "rant"}, 422, "kind"),
        ({"category": "NOPE"}, 422, "category"),
        ({"district": "ATLANTIS"}, 422, "district"),
        ({"lat": 91.0}, 422, "lat"),
        ({"lng": -181}, 422, "lng"),
        ({"lat": "north"}, 422, "lat"),
        ({"lat": 30.0, "lng": None}, 422, "lng"),
        ({"anonymous": "yes"}, 422, "anonymous"),
        ({"title": "t" * 201}, 422, "title"),
        ({"surprise": 1}, 422, "surprise"),
        ({"category": "BIZ-ENV"}, 422, "category"),
        ({"anonymous": False}, 422, "contact"),
        ({"anonymous": False, "contact": {"phone": "123"}}, 422, "contact.phone"),
        ({"anonymous": False, "contact": {"email": "someone@"}}, 422, "contact.email"),
        ({"contact": "call me"}, 422, "contact"),
        ({"text": 12345}, 422, "text"),
    ],
)
def test_bad_api_input(client, catalog, db, change, status, field):
    response = client.post("/api/v1/submissions", json={**GOOD, **change})
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and field in error["fields"] and error["message"]
    assert nothing_stored(db)


def test_malformed_json_and_wrong_content_type(client, catalog, db):
    bad = client.post("/api/v1/submissions", data="{not json", content_type="application/json")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_request"
    assert client.post("/api/v1/submissions", data="[1, 2]", content_type="application/json").status_code == 400
    wrong = client.post("/api/v1/submissions", data="kind=complaint", content_type="application/x-www-form-urlencoded")
    assert wrong.status_code == 415 and wrong.get_json()["error"]["code"] == "unsupported_media_type"
    assert nothing_stored(db)


def test_unknown_code_is_404_json(client, db):
    response = client.get("/api/v1/submissions/HC-NOTHING")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_submissions_are_rate_limited(client, catalog, app, db):
    limit = int(app.config["SUBMISSION_RATE_LIMIT"].split()[0])
    codes = [client.post("/api/v1/submissions", json=GOOD).status_code for _ in range(limit + 1)]
    assert codes[:limit] == [201] * limit and codes[-1] == 429
    assert client.post("/api/v1/submissions", json=GOOD).get_json()["error"]["code"] == "rate_limited"
    assert client.post("/submit", data={"kind": "complaint", "text": "x", "anonymous": "on"}).status_code == 429
    assert rows(db, Submission) == limit


def form(**extra):
    data = {
        "kind": "complaint",
        "title": "夜间施工",
        "text": "工地半夜施工，噪音很大",
        "category": "NOISE",
        "district": "EAST",
        "address": "",
        "anonymous": "on",
    }
    data.update(extra)
    return data


def test_form_submission_with_photo(client, catalog, db, app):
    data = form(photos=[(io.BytesIO(image_bytes("JPEG")), "site.jpg"), (io.BytesIO(image_bytes("PNG")), "night.png")])
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 302 and "/submitted/HC-" in response.headers["Location"]
    submission = db.session.scalar(select(Submission))
    assert len(submission.attachments) == 2
    stored = Path(app.config["UPLOAD_FOLDER"]) / submission.attachments[0].stored_name
    assert stored.exists() and submission.attachments[0].content_type == "image/jpeg"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert submission.tracking_code in page
    track = client.get(f"/track/{submission.tracking_code}").get_data(as_text=True)
    assert submission.tracking_code in track and "工地半夜施工" not in track


@pytest.mark.parametrize(
    "name, content, status",
    [
        ("notes.jpg", b"this is plain text, not a picture", 422),
        ("photo.png", image_bytes("JPEG"), 422),  # content does not match its name
        ("photo.gif", image_bytes("GIF"), 422),
        ("script.jpg.exe", image_bytes("JPEG"), 422),
        ("huge.png", image_bytes("PNG") + b"\0" * (5 * 1024 * 1024), 413),
    ],
)
def test_bad_uploads_are_refused_and_nothing_kept(client, catalog, db, app, name, content, status):
    before = set(Path(app.config["UPLOAD_FOLDER"]).glob("*")) if Path(app.config["UPLOAD_FOLDER"]).exists() else set()
    data = form(photos=[(io.BytesIO(image_bytes("PNG")), "ok.png"), (io.BytesIO(content), name)])
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == status
    assert 'data-field="photos"' in response.get_data(as_text=True)
    assert nothing_stored(db)
    after = set(Path(app.config["UPLOAD_FOLDER"]).glob("*")) if Path(app.config["UPLOAD_FOLDER"]).exists() else set()
    assert after == before


def test_form_errors_shown_with_input_kept(client, catalog, db):
    response = client.post("/submit", data=form(text="  ", lat="95", lng="10"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="text"' in page and 'data-field="lat"' in page
    assert "夜间施工" in page  # the title the person typed is still there
    assert nothing_stored(db)


def test_script_in_text_is_escaped(client, catalog, db, make_user, login):
    user = make_user("citizen")
    login(user)
    client.post("/submit", data=form(title="<script>alert(1)</script>", anonymous=""))
    page = client.get("/my").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_my_submissions_and_enterprise_view(client, catalog, db, make_user, login):
    boss = make_user("enterprise", organisation=VALID_CREDIT_CODE)
    colleague = make_user("enterprise", organisation=VALID_CREDIT_CODE)
    stranger = make_user("citizen")
    login(boss)
    assert (
        client.post("/submit", data=form(category="BIZ-ENV", anonymous="", text="审批材料反复要求补充")).status_code
        == 302
    )
    submission = db.session.scalar(select(Submission))
    assert submission.organisation_id == boss.organisation_id and submission.user_id == boss.id
    client.post("/logout")
    login(colleague)
    assert submission.tracking_code in client.get("/my").get_data(as_text=True)
    partial = client.get("/my?partial=1").get_data(as_text=True)  # the table the page fetches for a new request
    assert submission.tracking_code in partial and 'id="my-requests"' in partial and "<html" not in partial
    client.post("/logout")
    login(stranger)
    assert submission.tracking_code not in client.get("/my").get_data(as_text=True)
    assert client.post("/submit", data=form(category="BIZ-ENV", anonymous="")).status_code == 422


def test_withdraw_own_submission_only(client, catalog, db, make_user, login):
    owner, other = make_user("citizen"), make_user("citizen")
    login(owner)
    client.post("/submit", data=form(anonymous=""))
    code = db.session.scalar(select(Submission.tracking_code))
    client.post("/logout")
    login(other)
    client.post(f"/my/{code}/withdraw")
    assert db.session.scalar(select(Ticket.status)).value == "triage"
    client.post("/logout")
    login(owner)
    client.post(f"/my/{code}/withdraw")
    assert db.session.scalar(select(Ticket.status)).value == "withdrawn"
    events = rows(db, TicketEvent)
    client.post(f"/my/{code}/withdraw")  # twice: refused, nothing changes
    assert rows(db, TicketEvent) == events
    assert (
        db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "submission.withdrawn"))
        == 1
    )


def test_photos_only_for_the_owner(client, catalog, db, make_user, login):
    owner, other = make_user("citizen"), make_user("citizen")
    login(owner)
    client.post(
        "/submit",
        data=form(anonymous="", photos=[(io.BytesIO(image_bytes("PNG")), "a.png")]),
        content_type="multipart/form-data",
    )
    attachment = db.session.scalar(select(Attachment))
    assert client.get(f"/attachments/{attachment.id}").status_code == 200
    client.post("/logout")
    login(other)  # another citizen is told what a photo number never given out would tell them
    assert client.get(f"/attachments/{attachment.id}").status_code == 404
    assert client.get(f"/attachments/{attachment.id + 1000}").status_code == 404


def test_api_with_token_links_the_account(client, catalog, db, make_user):
    from participation.accounts.services import create_token

    user = make_user("citizen")
    _token, raw = create_token(user, "app")
    db.session.commit()
    response = client.post(
        "/api/v1/submissions", json={**GOOD, "anonymous": False}, headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 201
    assert db.session.scalar(select(Submission.user_id)) == user.id


def test_session_api_write_needs_csrf(client, catalog, db, make_user, login, app):
    login(make_user("citizen"))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/api/v1/submissions", json=GOOD)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert nothing_stored(db)


def test_anonymous_submission_leaves_no_trace_of_the_account(client, catalog, db, make_user, login):
    user = make_user("citizen")
    login(user)
    response = client.post("/api/v1/submissions", json=GOOD, headers={"Idempotency-Key": "same"})
    assert response.status_code == 201
    submission = db.session.scalar(select(Submission))
    assert submission.user_id is None and submission.idempotency_key == "anon:same"
    assert db.session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.actor_id == user.id)) == 0
    created = db.session.scalar(select(AuditLog).where(AuditLog.action == "submission.created"))
    assert created.actor_id is None


def test_control_characters_are_refused(client, catalog, db):
    response = client.post("/api/v1/submissions", json={**GOOD, "text": "bad\u0000text"})
    assert response.status_code == 422 and "text" in response.get_json()["error"]["fields"]
    assert client.post("/submit", data={"kind": "complaint", "text": "x\x00", "anonymous": "on"}).status_code == 422
    assert nothing_stored(db)


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200f\ufeff \u2060"])
def test_text_of_invisible_characters_only_is_empty(client, catalog, db, text):
    response = client.post("/api/v1/submissions", json={**GOOD, "text": text})
    assert response.status_code == 422 and "text" in response.get_json()["error"]["fields"]
    assert nothing_stored(db)


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/submissions", '{"kind": "complaint", "text": "\\ud800路灯坏了一个月了", "anonymous": true}'),
        ("/api/v1/routing/suggest", '{"text": "工地半夜施工\\udfff噪音很大"}'),
    ],
)
def test_lone_surrogates_are_refused(client, catalog, db, path, body):
    """JSON may escape half a UTF-16 pair ("\\ud800"): no character, and no UTF-8 for the database or the
    router. Refused with the field's place, never a 500."""
    response = client.post(path, data=body.encode(), content_type="application/json")
    assert response.status_code == 422
    assert "text" in response.get_json()["error"]["fields"]
    assert nothing_stored(db)


def test_huge_ids_are_not_found(client, catalog, db, make_user, login):
    login(make_user("citizen"))
    assert client.get("/attachments/100000000000000000000").status_code == 404
    assert client.get("/tickets/99999999999999999999").status_code == 404


def test_contact_problems_are_said_where_they_are(client, catalog, db):
    client.get("/lang/en")
    long_name = client.post("/submit", data=form(anonymous="", contact_name="名" * 81, contact_phone="13800138000"))
    assert long_name.status_code == 422
    page = long_name.get_data(as_text=True)
    assert page.count('data-field="contact.name"') == 1
    bad_phone = client.post("/submit", data=form(anonymous="", contact_name="王", contact_phone="12345"))
    page = bad_phone.get_data(as_text=True)
    assert bad_phone.status_code == 422 and "Enter a valid mobile number" in page
    assert "e-mail address or a mobile number" not in page  # that is the log-in form's message
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_a_place_given_wrongly_is_said_at_its_field_with_what_is_allowed(client, catalog, db, english):
    form = {"kind": "complaint", "text": "路灯坏了三天，晚上很黑", "anonymous": "on", "lat": "abc", "lng": "200"}
    page = client.post("/submit", data=form)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert re.search(r'name="lat"[^>]*value="abc">\s*<[^>]*data-field="lat"[^>]*>\s*Give a number\.', html)
    assert re.search(r'name="lng"[^>]*value="200">\s*<[^>]*data-field="lng"[^>]*>\s*At most 180', html)
    assert nothing_stored(db)
