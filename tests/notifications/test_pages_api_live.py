"""Pages, API and the live badge: only the owner reads and marks; bad input is a form error, not a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from participation.core.uow import transaction
from participation.notifications import services
from participation.notifications.models import Notification, NotificationPreference, NotificationSettings
from participation.routing import services as routing
from tests.conftest import PASSWORD, csrf_token_from, live_client


def notify(user, code: str = "ABC123", dedupe: str = "n1") -> Notification:
    with transaction():
        services.notify(
            [user], "ticket_update", params={"code": code, "variant": "reply"}, link=f"/track/{code}", dedupe=dedupe
        )
    from participation.extensions import db

    return db.session.scalar(select(Notification).where(Notification.dedupe_key == f"{dedupe}:{user.id}"))


def test_api_lists_and_marks_only_ones_own(client, db, make_user, bearer, sent):
    alice, bob = make_user("citizen"), make_user("citizen")
    first = notify(alice, dedupe="a1")
    second = notify(alice, dedupe="a2")
    theirs = notify(bob, dedupe="b1")
    body = client.get("/api/v1/notifications", headers=bearer(alice)).get_json()
    assert [n["id"] for n in body["notifications"]] == [second.id, first.id] and body["unread"] == 2
    assert "ABC123" in body["notifications"][0]["text"]
    assert client.post(f"/api/v1/notifications/{theirs.id}/read", headers=bearer(alice)).status_code == 403
    assert client.post("/api/v1/notifications/999999/read", headers=bearer(alice)).status_code == 404
    done = client.post(f"/api/v1/notifications/{first.id}/read", headers=bearer(alice))
    assert done.status_code == 200 and done.get_json()["read"] is True and done.get_json()["unread"] == 1
    unread = client.get("/api/v1/notifications?unread=1", headers=bearer(alice)).get_json()["notifications"]
    assert [n["id"] for n in unread] == [second.id]
    everything = client.post("/api/v1/notifications/read-all", headers=bearer(alice)).get_json()
    assert everything == {"marked": 1, "unread": 0}
    assert db.session.get(Notification, theirs.id).read_at is None  # bob's untouched
    assert client.get("/api/v1/notifications").status_code == 401


def test_pages_list_and_mark_read(client, db, make_user, login, sent):
    alice, bob = make_user("citizen"), make_user("citizen")
    mine = notify(alice, dedupe="a1")
    theirs = notify(bob, dedupe="b1")
    login(alice)
    page = client.get("/notifications")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "ABC123" in html and 'data-unread="1"' in html
    assert 'id="unread-count" data-count="1"' in html  # the badge in the navigation
    assert client.post(f"/notifications/{theirs.id}/read").status_code == 403
    opened = client.post(f"/notifications/{mine.id}/read", data={"open": "1"})
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/track/ABC123")
    assert db.session.get(Notification, mine.id).read_at is not None
    notify(alice, dedupe="a2")
    assert client.post("/notifications/read-all").status_code == 302
    assert services.unread_count(alice) == 0


def test_badge_counts_up_to_its_cap_the_api_counts_all(app, client, db, make_user, login, bearer, monkeypatch, sent):
    monkeypatch.setattr(services, "BADGE_CAP", 3)
    alice = make_user("citizen")
    for n in range(2):
        notify(alice, dedupe=f"a{n}")
    login(alice)
    assert 'id="unread-count" data-count="2" data-cap="3"' in client.get("/notifications").get_data(as_text=True)
    for n in range(2, 5):
        notify(alice, dedupe=f"a{n}")
    html = client.get("/notifications").get_data(as_text=True)
    assert 'data-count="3" data-cap="3"' in html and ">2+</span>" in html  # five unread: "2+" with a cap of 3
    assert services.unread_count(alice) == 5 and services.unread_count(alice, cap=3) == 3
    bob = make_user("citizen")
    notify(bob, dedupe="b0")
    ids = [alice.id, bob.id]
    statements: list[str] = []
    listener = lambda _c, _cur, statement, *_rest: statements.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        counts = services.unread_counts(ids, services.BADGE_CAP)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert counts == dict(zip(ids, [3, 1], strict=True))
    assert len(statements) == 1, statements  # one statement for everyone a dispatch tells
    assert services.unread_counts([alice.id, bob.id]) == {alice.id: 5, bob.id: 1}
    assert services.unread_counts([]) == {}
    assert client.get("/api/v1/notifications", headers=bearer(alice)).get_json()["unread"] == 5  # the API: all
    socket = live_client(app, "/notifications", client)
    assert socket.emit("unread", {}, namespace="/notifications", callback=True) == {"unread": 3}
    notify(alice, dedupe="a5")
    pushed = [e["args"][0] for e in socket.get_received("/notifications") if e["name"] == "notification"]
    assert [p["unread"] for p in pushed] == [3]


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    assert client.get("/notifications").status_code == 302
    assert client.get("/account/notifications").status_code == 302


def test_csrf_is_required_for_the_forms(app, client, db, make_user, login, sent):
    alice = make_user("citizen")
    mine = notify(alice)
    login(alice)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"/notifications/{mine.id}/read").status_code == 400
        assert client.post("/account/notifications", data={"quiet_start": "22:00"}).status_code == 400
        assert client.post("/api/v1/notifications/read-all").status_code == 400  # cookie callers too
        token = csrf_token_from(client.get("/account/notifications").get_data(as_text=True))
        ok = client.post(f"/notifications/{mine.id}/read", data={"csrf_token": token})
        assert ok.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_preferences_are_saved_and_bad_times_are_form_errors(client, db, make_user, login):
    staff = make_user("department_staff")
    citizen = make_user("citizen")
    login(citizen)
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'name="ticket_update.email"' in page and "ticket_assigned" not in page  # staff kinds for staff only
    bad = client.post(
        "/account/notifications", data={"ticket_update.in_app": "on", "quiet_start": "25:00", "quiet_end": "07:00"}
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'data-field="quiet_start"' in html and 'value="25:00"' in html
    half = client.post("/account/notifications", data={"quiet_start": "22:00"})
    assert half.status_code == 422 and 'data-field="quiet_end"' in half.get_data(as_text=True)
    assert db.session.scalar(select(NotificationSettings)) is None  # nothing half-written
    good = client.post(
        "/account/notifications", data={"ticket_update.in_app": "on", "quiet_start": "22:00", "quiet_end": "07:30"}
    )
    assert good.status_code == 302
    row = db.session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == citizen.id, NotificationPreference.kind == "ticket_update"
        )
    )
    assert (row.in_app, row.email) == (True, False)
    assert db.session.get(NotificationSettings, citizen.id).quiet_end == "07:30"
    client.post("/logout")
    login(staff)
    assert 'name="ticket_assigned.email"' in client.get("/account/notifications").get_data(as_text=True)


def test_save_preferences_refuses_unknown_kinds_and_other_people(db, make_user):
    from participation.core.errors import ValidationFailed

    citizen = make_user("citizen")
    with pytest.raises(ValidationFailed) as error:
        services.save_preferences(citizen, {"ticket_assigned": {"in_app": False}, "nope": {}}, "7h00", None)
    assert set(error.value.fields) == {"kinds.ticket_assigned", "kinds.nope", "quiet_start"}


def test_quiet_hours_as_people_type_them(db, make_user):
    from participation.notifications.models import NotificationSettings

    citizen = make_user("citizen")
    with transaction():
        services.save_preferences(citizen, {}, "２２：００", " 7:30 ")  # a Chinese input method's digits and colon
    stored = db.session.get(NotificationSettings, citizen.id)
    assert (stored.quiet_start, stored.quiet_end) == ("22:00", "07:30")


def test_outbox_page_for_administrators_only(client, db, make_user, login):
    admin, citizen = make_user("admin"), make_user("citizen")
    login(citizen)
    assert client.get("/admin/outbox").status_code == 403
    client.post("/logout")
    login(admin)
    assert client.get("/admin/outbox").status_code == 200
    assert client.get("/admin/outbox?status=bogus").status_code == 200


def test_live_notification_reaches_the_users_room_only(app, db, people, submit):
    def socket_for(user):
        http = app.test_client()
        assert http.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 302
        return live_client(app, "/notifications", http)

    env, transport = socket_for(people.env), socket_for(people.transport)
    assert env.emit("unread", {}, namespace="/notifications", callback=True) == {"unread": 0}
    ticket = submit()
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    events = [e["args"][0] for e in env.get_received("/notifications") if e["name"] == "notification"]
    assert len(events) == 1 and events[0]["kind"] == "ticket_assigned" and events[0]["unread"] == 1
    assert str(ticket.id) in events[0]["text"]
    assert transport.get_received("/notifications") == []
    assert not live_client(app, "/notifications").is_connected("/notifications")
