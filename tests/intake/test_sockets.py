"""Live status over Socket.IO: rooms per user, organisation and tracking code; only after commit."""

from __future__ import annotations

from sqlalchemy import select

from participation.core.uow import transaction
from participation.intake import services
from participation.intake.models import Submission
from tests.conftest import PASSWORD, VALID_CREDIT_CODE, live_client


def statuses(socket_client) -> list[dict]:
    return [e["args"][0] for e in socket_client.get_received("/intake") if e["name"] == "submission.status"]


def test_my_submissions_follow_live_status(app, client, catalog, db, make_user, login):
    user = make_user("citizen")
    login(user)
    live = live_client(app, "/intake", client)
    assert live.is_connected("/intake")
    assert live.emit("follow_mine", {}, namespace="/intake", callback=True) == {"ok": True}

    client.post("/submit", data={"kind": "complaint", "text": "垃圾三天没人清运", "contact_phone": "13800138000"})
    code = db.session.scalar(select(Submission.tracking_code))
    assert [e["status"] for e in statuses(live)] == ["submitted", "triage"]

    client.post(f"/my/{code}/withdraw")
    assert statuses(live) == [{"code": code, "status": "withdrawn", "title": "垃圾三天没人清运"}]


def watching_as(app, user):
    """A second person's browser: logged in over HTTP, following their own requests live."""
    http = app.test_client()
    http.post("/login", data={"login": user.email, "password": PASSWORD})
    watcher = live_client(app, "/intake", http)
    assert watcher.emit("follow_mine", {}, namespace="/intake", callback=True) == {"ok": True}
    return watcher


def test_others_do_not_receive_my_events(app, client, catalog, db, make_user, login):
    owner, stranger = make_user("citizen"), make_user("citizen")
    watcher = watching_as(app, stranger)
    login(owner)
    client.post("/submit", data={"kind": "complaint", "text": "路面塌陷", "contact_phone": "13800138000"})
    assert statuses(watcher) == []


def test_enterprise_members_see_the_organisations_events(app, client, catalog, db, make_user, login):
    boss = make_user("enterprise", organisation=VALID_CREDIT_CODE)
    colleague = make_user("enterprise", organisation=VALID_CREDIT_CODE)
    watcher = watching_as(app, colleague)
    login(boss)
    client.post("/submit", data={"kind": "complaint", "text": "审批太慢", "category": "BIZ-ENV"})
    assert [e["status"] for e in statuses(watcher)] == ["submitted", "triage"]


def test_follow_by_tracking_code_without_login(app, client, catalog, db, make_user):
    owner = make_user("citizen")
    with transaction():
        submission, _ = services.submit(owner, {"kind": "inquiry", "text": "办理居住证需要什么材料？"})
    code = submission.tracking_code
    anonymous = live_client(app, "/intake")
    assert anonymous.emit("follow_code", {"code": code}, namespace="/intake", callback=True)["ok"] is True
    assert anonymous.emit("follow_code", {"code": "HC-NOPE"}, namespace="/intake", callback=True) == {"ok": False}
    assert anonymous.get_received("/intake")[-1]["name"] == "error"
    with transaction():
        services.withdraw(owner, code)
    assert [e["status"] for e in statuses(anonymous)] == ["withdrawn"]


def test_follow_mine_needs_login(app, db):
    anonymous = live_client(app, "/intake")
    assert anonymous.emit("follow_mine", {}, namespace="/intake", callback=True) == {"ok": False}


def test_rolled_back_change_announces_nothing(app, catalog, db, make_user):
    owner = make_user("citizen")
    with transaction():
        submission, _ = services.submit(owner, {"kind": "inquiry", "text": "问题"})
    watcher = live_client(app, "/intake")
    watcher.emit("follow_code", {"code": submission.tracking_code}, namespace="/intake", callback=True)
    try:
        with transaction():
            services.withdraw(owner, submission.tracking_code)
            raise RuntimeError("something later in the request failed")
    except RuntimeError:
        pass
    assert statuses(watcher) == []
    assert db.session.get(Submission, submission.id).ticket.status.value == "triage"


def test_tracking_room_gets_no_text(app, catalog, db, make_user):
    owner = make_user("citizen")
    with transaction():
        submission, _ = services.submit(owner, {"kind": "inquiry", "text": "李伟 13912345678 家门口的路灯坏了"})
    stranger = live_client(app, "/intake")
    stranger.emit("follow_code", {"code": submission.tracking_code}, namespace="/intake", callback=True)
    with transaction():
        services.withdraw(owner, submission.tracking_code)
    assert statuses(stranger) == [{"code": submission.tracking_code, "status": "withdrawn"}]
    assert stranger.emit("follow_code", {"code": 123}, namespace="/intake", callback=True) == {"ok": False}


def test_a_page_closed_while_its_join_is_on_its_way_is_no_error(app, catalog, db, make_user, monkeypatch):
    """The client left before the server put it in the room: nothing to join, no traceback."""
    from participation.core import sockets

    def gone(room):
        raise ValueError("sid is not connected to requested namespace")

    monkeypatch.setattr(sockets, "join_room", gone)
    owner = make_user("citizen")
    with transaction():
        submission, _ = services.submit(owner, {"kind": "inquiry", "text": "家门口的路灯坏了"})
    visitor = live_client(app, "/intake")
    answer = visitor.emit("follow_code", {"code": submission.tracking_code}, namespace="/intake", callback=True)
    assert answer["ok"] is True
