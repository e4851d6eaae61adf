"""Waiting for the sender: the tracking page says what is asked, the sender answers, the clocks run again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from participation.core.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationFailed
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.intake import services as intake
from participation.notifications.models import Notification
from participation.routing import services as routing
from tests.routing.conftest import part_of

ASK = "Please send a photo of the site at night."


@pytest.fixture
def waiting(joint_ticket, people):
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", ASK)
    return joint_ticket


def waiting_without_account(people):
    """A request sent without an account, signed for by ENV, which waits for its sender."""
    with transaction():
        submission, _created = intake.submit(
            None,
            {
                "kind": "complaint",
                "text": "路灯坏了三天，晚上很黑",
                "district": "EAST-HILL",
                "contact": {"name": "王", "phone": "13800138000"},
            },
        )
    ticket = submission.ticket
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
        routing.accept(people.env, part_of(ticket, "ENV").id)
        deadlines.pause(people.env, ticket.id, "waiting_citizen", ASK)
    return submission


def kinds(db, user) -> list[tuple[str, str]]:
    rows = db.session.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))
    return [(n.kind, n.params.get("variant", "")) for n in rows]


def test_the_sender_is_told_and_sees_what_is_asked(db, client, login, english, waiting, people):
    assert ("ticket_update", "waiting") in kinds(db, people.citizen)
    code = waiting.submission.tracking_code
    view = intake.public_view(code)
    assert view["waiting"]["reason"] == ASK
    assert [e["message"] for e in view["timeline"] if e["type"] == "clock.paused"] == [ASK]
    login(people.citizen)
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert "The departments are waiting for you" in page and ASK in page and 'name="information"' in page
    mine = client.get("/my").get_data(as_text=True)  # "my requests" says which one waits for them
    assert f'href="/track/{code}#waiting"' in mine and "The departments are waiting for your answer" in mine


def test_the_sender_answers_and_the_clocks_run_again(db, client, login, english, waiting, people):
    code = waiting.submission.tracking_code
    login(people.citizen)
    refused = client.post(f"/track/{code}/information", data={"information": "   "})
    assert refused.status_code == 422 and "Write what the departments asked for" in refused.get_data(as_text=True)
    assert client.get(f"/track/{code}/information").status_code == 302  # a reload leads back to the page
    response = client.post(f"/track/{code}/information", data={"information": "Photo sent by mail; it is at night."})
    assert response.status_code == 302
    db.session.refresh(waiting)
    assert waiting.paused_since is None
    types = [e.type for e in waiting.events]
    assert types[-2:] == ["citizen.information", "clock.resumed"]
    resumed = waiting.events[-1]
    assert resumed.public and resumed.actor_id is None
    assert ("citizen_information", "") in kinds(db, people.env)
    from participation.core.audit import AuditLog

    logged = db.session.scalars(select(AuditLog).where(AuditLog.action == "ticket.citizen.information")).all()
    assert len(logged) == 1 and "information" not in logged[0].payload  # the sender's words stay in the ticket
    assert "citizen_information" not in {k for k, _v in kinds(db, people.urban)}  # the lead is told
    view = intake.public_view(code)
    assert "waiting" not in view
    # The public timeline says the sender answered, not what: anyone with the code reads it.
    assert view["timeline"][-2]["type"] == "citizen.information" and view["timeline"][-2]["message"] == ""
    assert "Photo sent by mail" not in str(view)
    again = client.post(f"/track/{code}/information", data={"information": "more"})
    assert again.status_code == 409
    assert "not waiting for anything from you" in again.get_data(as_text=True)


def test_only_the_sender_answers(db, waiting, people, make_user):
    code = waiting.submission.tracking_code
    for someone in (people.env, people.coordinator, make_user("citizen"), None):
        with pytest.raises((PermissionDenied, NotAuthenticated)), transaction():
            intake.add_information(someone, code, "not mine to give")
    with pytest.raises(ValidationFailed) as error, transaction():
        intake.add_information(people.citizen, code, ["not", "text"])
    assert set(error.value.fields) == {"information"}
    db.session.refresh(waiting)
    assert waiting.paused_since is not None


def test_a_request_sent_without_an_account_is_answered_with_its_code(db, client, people):
    submission = waiting_without_account(people)
    with pytest.raises(PermissionDenied), transaction():
        intake.add_information(people.env, submission.tracking_code, "staff may not")
    code = submission.tracking_code
    spaced = code[:2] + " " + code[3:7] + " " + code[7:].lower()  # as read out on the phone
    response = client.post(
        "/api/v1/submissions/" + spaced.replace(" ", "%20") + "/information", json={"information": "照片已发到邮箱"}
    )
    assert response.status_code == 200, response.get_json()
    assert "waiting" not in response.get_json()
    with pytest.raises(Conflict), transaction():
        intake.add_information(None, submission.tracking_code, "again")


@pytest.mark.parametrize(
    "typed",
    [
        "hc-7k3m9q2xpa",
        "HC 7K3M 9Q2X PA",
        "HC7K3M9Q2XPA",
        "ＨＣ－７Ｋ３Ｍ９Ｑ２ＸＰＡ",
        " HC-7K3M9Q2XPA\n",
        "7K3M9Q2XPA",
        "HC-7K3M-9Q2X-PA",
        "7k3m 9q2x pa",
        "hc—7k3m9q2xpa",  # a dash as a word processor or an input method writes it
        "HC–7K3M–9Q2X–PA",
        "HC‐7K3M9Q2XPA",
    ],
)
def test_a_code_is_read_however_it_was_typed(typed):
    assert intake.normal_code(typed) == "HC-7K3M9Q2XPA"


def test_the_tracking_page_hears_the_pause_and_the_answer_live(app, db, joint_ticket, people):
    from tests.conftest import live_client

    code = joint_ticket.submission.tracking_code
    page = live_client(app, "/intake")
    assert page.emit("follow_code", {"code": code}, namespace="/intake", callback=True)["ok"]
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
    page.get_received("/intake")
    with transaction():
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", ASK)
    heard = [e["name"] for e in page.get_received("/intake")]
    assert heard == ["submission.status"]  # the page fetches itself again and shows what is asked
    with transaction():
        intake.add_information(people.citizen, code, "Sent.")
    assert [e["name"] for e in page.get_received("/intake")] == ["submission.status"]
    with transaction():
        deadlines.pause(people.coordinator, joint_ticket.id, "suspension", "Approved: waiting for the budget.")
    assert page.get_received("/intake") == []  # a suspension is the departments' business


def answer_with_a_bad_photo(client, code: str, text: str):
    """The sender's answer with a "photo" that is no image."""
    import io

    return client.post(
        f"/track/{code}/information",
        data={"information": text, "photos": [(io.BytesIO(b"not an image"), "site.png")]},
        content_type="multipart/form-data",
    )


def test_the_sender_answers_with_photos(db, client, login, english, waiting, people):
    import io

    from tests.conftest import image_bytes

    code = waiting.submission.tracking_code
    login(people.citizen)
    bad = answer_with_a_bad_photo(client, code, "")
    assert bad.status_code == 422 and 'name="information"' in bad.get_data(as_text=True)
    db.session.refresh(waiting)
    assert waiting.paused_since is not None and not waiting.submission.attachments
    four = [(io.BytesIO(image_bytes("PNG")), f"site{n}.png") for n in range(4)]
    assert client.post(f"/track/{code}/information", data={"photos": four}).status_code == 422
    ok = client.post(
        f"/track/{code}/information",
        data={"photos": [(io.BytesIO(image_bytes("PNG")), "night.png")]},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    db.session.refresh(waiting)
    assert waiting.paused_since is None and len(waiting.submission.attachments) == 1
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert "1 photo" in page
    photo = waiting.submission.attachments[0].id
    client.post("/logout")
    login(people.env)  # the department that asked for it
    assert client.get(f"/attachments/{photo}").status_code == 200
    client.post("/logout")
    login(people.transport)  # a department with no part in the ticket
    assert client.get(f"/attachments/{photo}").status_code == 404


def test_a_refused_answer_says_why_and_gives_the_text_back(db, client, login, english, waiting, people, make_user):
    code = waiting.submission.tracking_code
    signed_out = client.post(f"/track/{code}/information", data={"information": "Here is the photo."})
    page = signed_out.get_data(as_text=True)
    assert signed_out.status_code == 401
    assert 'id="information-refused"' in page and "Here is the photo." in page and "/login?next=" in page
    login(make_user("citizen"))  # someone else
    other = client.post(f"/track/{code}/information", data={"information": "Not mine to give."})
    assert other.status_code == 403 and 'id="information-refused"' in other.get_data(as_text=True)
    db.session.refresh(waiting)
    assert waiting.paused_since is not None


def test_a_ticket_closed_while_paused_waits_for_nobody(db, waiting, people):
    code = waiting.submission.tracking_code
    with transaction():
        routing.withdraw(waiting, people.citizen, "solved myself")
    assert "waiting" not in intake.public_view(code)
    with pytest.raises(Conflict), transaction():
        intake.add_information(people.citizen, code, "too late")


def test_a_follower_does_not_read_what_was_asked_of_the_masters_sender(db, waiting, people, submit):
    follower = submit("工地半夜还在施工，吵得睡不着")
    with transaction():
        routing.merge(people.coordinator, follower.id, waiting.id)
    merged = intake.public_view(follower.submission.tracking_code)["merged"]
    paused = [e for e in merged["timeline"] if e["type"] == "clock.paused"]
    assert paused and all(e["message"] == "" for e in paused) and ASK not in str(merged)


def test_a_pause_that_reaches_its_cap_ends_for_the_sender_too(app, db, waiting, people):
    from datetime import timedelta

    from participation.core.models import utcnow
    from tests.conftest import live_client

    code = waiting.submission.tracking_code
    page = live_client(app, "/intake")
    page.emit("follow_code", {"code": code}, namespace="/intake", callback=True)
    with transaction():
        deadlines.sweep(utcnow() + timedelta(days=60))
    db.session.refresh(waiting)
    assert waiting.paused_since is None
    resumed = [e for e in waiting.events if e.type == "clock.resumed"]
    assert len(resumed) == 1 and resumed[0].public
    assert "waiting" not in intake.public_view(code)
    assert "submission.status" in [e["name"] for e in page.get_received("/intake")]


def test_who_answers_is_said_as_it_is_for_the_request(db, client, login, english, people):
    submission = waiting_without_account(people)
    login(people.env)  # staff may not answer; there is no sending account to sign in with
    page = client.get(f"/track/{submission.tracking_code}").get_data(as_text=True)
    who = page[page.index('id="information-who"') :]
    who = who[: who.index("</p>")]
    assert "sent without an account" in who and "/login" not in who


def test_a_pause_ends_when_the_ticket_is_resolved_and_a_reopening_starts_with_running_clocks(db, waiting, people):
    with transaction():
        routing.waive(people.coordinator, part_of(waiting, "URBAN").id, "不需要协办")
        routing.resolve(people.env, waiting.id, "已处理")
    db.session.refresh(waiting)
    assert waiting.paused_since is None
    assert [e.type for e in waiting.events][-2:] == ["clock.resumed", "status.resolved"]
    with transaction():
        routing.reopen(people.coordinator, waiting.id, "市民反映仍有问题")
    db.session.refresh(waiting)
    assert deadlines.waiting_for_citizen(waiting) is None
    assert "waiting" not in intake.public_view(waiting.submission.tracking_code)
    resolve = [c for c in deadlines.clocks_of(waiting) if c.kind.value == "resolve" and c.cycle == 2]
    assert resolve and resolve[0].state.value == "running"


def waiting_notices(db, user) -> list[Notification]:
    rows = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == "ticket_update")
    )
    return [n for n in rows if n.params.get("variant") == "waiting"]


def test_a_notice_asking_for_information_is_settled_when_the_clocks_run_again(db, waiting, people):
    """Resumed by the department (the sender answered by phone): the notice asks for nothing any more."""
    from participation.notifications import services as notices

    [asked] = waiting_notices(db, people.citizen)
    assert asked.read_at is None
    with transaction():
        routing.reply_public(people.env, waiting.id, "我们正在核实现场情况")  # another notice, left unread
    before = notices.unread_count(people.citizen)
    with transaction():
        deadlines.resume(people.env, waiting.id, "市民电话补充了情况")
    db.session.expire_all()
    [asked] = waiting_notices(db, people.citizen)
    assert asked.read_at is not None
    assert notices.unread_count(people.citizen) == before - 1  # nothing else of theirs is marked read


@pytest.mark.parametrize("ends", ["answer", "withdraw"])
def test_an_email_held_back_by_quiet_hours_is_not_sent_once_nothing_is_asked(
    db, joint_ticket, people, ends, monkeypatch
):
    from datetime import UTC, datetime

    from participation.notifications import services as notices
    from participation.notifications.models import NotificationSettings, OutboxMessage

    monkeypatch.setattr(notices, "clock", lambda: datetime(2026, 3, 2, 4, 0, tzinfo=UTC))  # noon in the city
    db.session.add(NotificationSettings(user_id=people.citizen.id, quiet_start="08:00", quiet_end="20:00"))
    db.session.commit()
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", ASK)
    [paused] = [e for e in joint_ticket.events if e.type == "clock.paused"]
    key = f"ev{paused.id}:ticket_update:{people.citizen.id}"
    held = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    assert held.status.value == "pending"
    code = joint_ticket.submission.tracking_code
    with transaction():
        if ends == "answer":
            intake.add_information(people.citizen, code, "The photo is on its way.")
        else:
            routing.withdraw(joint_ticket, people.citizen, "solved myself")
    db.session.expire_all()
    assert db.session.get(OutboxMessage, held.id).status.value == "withdrawn"
    assert all(n.read_at is not None for n in waiting_notices(db, people.citizen))


def test_the_notices_of_requests_merged_into_it_are_settled_too(db, waiting, people, submit, make_user):
    """Their senders were told that the departments asked for information (of the master's sender)."""
    other = make_user("citizen")
    with transaction():
        follower_submission, _created = intake.submit(
            other, {"kind": "complaint", "text": "工地半夜还在施工，吵得睡不着", "district": "EAST-HILL"}
        )
    follower = follower_submission.ticket
    with transaction():
        routing.merge(people.coordinator, follower.id, waiting.id)
    with transaction():  # asked again, now that the follower is merged: its sender is told of it
        deadlines.resume(people.env, waiting.id, "")
        deadlines.pause(people.env, waiting.id, "waiting_citizen", ASK)
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == other.id, Notification.kind == "master_update")
    ).all()
    asked = [n for n in told if n.params.get("event") == "clock.paused"]
    assert asked and all(n.read_at is None for n in asked)
    with transaction():
        deadlines.resume(people.env, waiting.id, "市民电话补充了情况")
    db.session.expire_all()
    assert all(db.session.get(Notification, n.id).read_at is not None for n in asked)


def test_a_refused_answer_is_shown_as_an_error_at_its_field(db, client, login, english, waiting, people):
    """The photo's problem reads as an error (red, like every field's), under the photos; the text is kept."""
    import re

    code = waiting.submission.tracking_code
    login(people.citizen)
    bad = answer_with_a_bad_photo(client, code, "Smoke from six to ten.")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Smoke from six to ten." in page
    assert re.search(r'<p class="field-error" role="alert" data-field="photos">[^<]*site\.png', page)
    assert re.search(r'<button class="button primary" type="submit">Send to the departments</button>', page)
    empty = client.post(f"/track/{code}/information", data={"information": "  "}).get_data(as_text=True)
    assert '<p class="field-error" role="alert" data-field="information">' in empty
