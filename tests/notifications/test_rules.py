"""The rules: who hears about which ticket event, once, without staff names for citizens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from participation.core.uow import transaction
from participation.notifications import rules
from participation.notifications.models import Notification, NotificationSettings, OutboxMessage
from participation.routing import services as routing
from participation.routing.models import TicketEvent
from tests.routing.conftest import part_of


def received(db, kind: str | None = None) -> dict[int, list[Notification]]:
    out: dict[int, list[Notification]] = {}
    stmt = select(Notification).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    for n in db.session.scalars(stmt):
        out.setdefault(n.user_id, []).append(n)
    return out


def test_dispatch_tells_the_staff_of_every_department_with_a_part(db, people, joint_ticket):
    got = received(db, "ticket_assigned")
    assert set(got) == {people.env.id, people.urban.id}
    item = got[people.env.id][0]
    assert item.ticket_id == joint_ticket.id and item.link == f"/tickets/{joint_ticket.id}"
    assert item.params["department"]["en"] == "Ecology and Environment Bureau"
    assert people.coordinator.id not in received(db)  # the dispatcher is not told about their own action


def test_invite_tells_the_invited_department(db, people, joint_ticket):
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
        routing.invite(people.env, joint_ticket.id, "TRANSPORT", "请协助")
    got = received(db, "ticket_assigned")
    assert [n.params["variant"] for n in got[people.transport.id]] == ["invited"]


def test_return_request_goes_to_coordinators_and_the_ruling_back_to_the_department(db, people, joint_ticket):
    with transaction():
        dispute = routing.request_return(
            people.urban, part_of(joint_ticket, "URBAN").id, "transfer", "不归我们", "TRANSPORT"
        )
    opened = received(db, "dispute_opened")
    assert set(opened) == {people.coordinator.id} and opened[people.coordinator.id][0].params["variant"] == "transfer"
    with transaction():
        routing.rule(people.coordinator, dispute.id, "upheld", "同意")
    ruled = received(db, "dispute_ruled")
    assert set(ruled) == {people.urban.id} and ruled[people.urban.id][0].params["variant"] == "transfer_upheld"
    urban = part_of(joint_ticket, "URBAN").department_id
    assert ruled[people.urban.id][0].link == f"/inbox?department={urban}"  # no longer URBAN's to open
    assert people.transport.id in received(db, "ticket_assigned")  # the department that takes the part over


def test_the_submitter_hears_replies_and_outcomes_without_staff_names(app, db, people, joint_ticket):
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
        routing.reply_public(people.env, joint_ticket.id, "已联系施工单位")
    with transaction():
        routing.accept(people.urban, part_of(joint_ticket, "URBAN").id)
        routing.contribute(people.urban, part_of(joint_ticket, "URBAN").id, "已处理")
        routing.resolve(people.env, joint_ticket.id, "已解决")
    updates = received(db, "ticket_update")[people.citizen.id]
    assert [n.params["variant"] for n in updates] == ["reply"]  # the resolution is told by the callback request
    code = joint_ticket.submission.tracking_code
    assert all(n.link == f"/track/{code}" and n.params["code"] == code for n in updates)
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == people.citizen.id)).all()
    assert len(mails) == 2  # the reply, and the resolution with its callback request: one notice, not two
    assert [n.link for n in received(db, "callback_request")[people.citizen.id]] == [f"/track/{code}"]
    for mail in mails:
        for staff in (people.env, people.urban):
            assert staff.display_name not in mail.body and staff.email not in mail.body


def test_contact_email_for_submitters_without_account_and_nothing_for_anonymous(app, db, people, clock):
    from participation.intake import services as intake

    with transaction():
        named, _ = intake.submit(
            None, {"kind": "complaint", "text": "路灯不亮", "contact": {"email": "walker@example.net"}}
        )
        hidden, _ = intake.submit(None, {"kind": "complaint", "text": "井盖丢失", "anonymous": True})
    for submission in (named, hidden):
        with transaction():
            routing.reject(people.coordinator, submission.ticket.id, "不属实")
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id.is_(None))).all()
    assert [m.recipient for m in mails] == ["walker@example.net"]
    assert named.tracking_code in mails[0].body


def checkpoint(ticket, **payload) -> None:
    with transaction():
        routing.record(ticket, "deadline.checkpoint", None, **payload)


@pytest.mark.parametrize(
    ("audience", "level", "kind"),
    [("handler", 75, "deadline_warning"), ("head", 100, "deadline_overdue"), ("coordinator", 150, "escalated")],
)
def test_checkpoints_reach_the_handler_the_head_then_the_coordinator(
    db, people, joint_ticket, make_user, audience, level, kind
):
    head = make_user("department_staff", "department_admin", departments=("ENV",))
    env = part_of(joint_ticket, "ENV").department_id
    checkpoint(
        joint_ticket, clock="sign_for", level=level, notify=audience, department_id=env, due="2026-03-02T10:00:00+00:00"
    )
    got = received(db, kind)
    expected = {
        "handler": {people.env.id, head.id},
        "head": {head.id},
        "coordinator": {people.coordinator.id},
    }[audience]
    assert set(got) == expected
    item = next(iter(got.values()))[0]
    assert item.params["due"] == "2026-03-02 18:00"  # shown in the city's time
    assert item.urgent is False


def test_urgent_checkpoints_ignore_quiet_hours(db, people, joint_ticket, clock, sent):
    db.session.add(NotificationSettings(user_id=people.env.id, quiet_start="00:00", quiet_end="23:59"))
    joint_ticket.priority = "urgent"
    db.session.commit()
    env = part_of(joint_ticket, "ENV").department_id
    checkpoint(joint_ticket, clock="resolve", level=90, notify="handler", department_id=env, due="2026-03-02T10:00")
    item = received(db, "deadline_warning")[people.env.id][0]
    assert item.urgent is True
    assert any(m["To"] == people.env.email and m["X-Priority"] == "1" for m in sent)


def test_merged_submitter_is_told_and_then_follows_the_master(db, people, submit):
    master = submit("工地半夜施工，噪音太大")
    follower = submit("小区门口的路灯坏了三天")
    with transaction():
        routing.merge(people.coordinator, follower.id, master.id)
    assert len(received(db, "ticket_merged")[people.citizen.id]) == 1
    with transaction():
        routing.dispatch(people.coordinator, master.id, ["NOISE"], "ENV", [])
    news = received(db, "master_update")[people.citizen.id]
    assert news and news[-1].params["event"] == "dispatched"
    assert news[-1].params["code"] == follower.submission.tracking_code
    assert master.submission.tracking_code not in news[-1].link


def test_running_the_rules_again_writes_nothing_twice(db, people, joint_ticket):
    before = (len(db.session.scalars(select(Notification)).all()), len(db.session.scalars(select(OutboxMessage)).all()))
    with transaction():
        rules.on_ticket_events(list(db.session.scalars(select(TicketEvent).order_by(TicketEvent.id))))
    after = (len(db.session.scalars(select(Notification)).all()), len(db.session.scalars(select(OutboxMessage)).all()))
    assert before == after and before[0] > 0


def test_local_time_of_a_naive_or_broken_due(db):
    assert rules._local_time("not a time") == "not a time"
    assert rules._local_time("2026-01-01T08:00") == "2026-01-01 08:00"
    assert rules._local_time(datetime(2026, 1, 1, tzinfo=UTC).isoformat()) == "2026-01-01 08:00"


def test_a_reopening_tells_the_lead_and_an_escalation_the_coordinators_and_the_head(
    app, db, people, joint_ticket, make_user
):
    from flask_babel import force_locale

    from participation.notifications.kinds import render
    from participation.surveys import callbacks
    from tests.routing.conftest import resolve_joint

    head = make_user("department_admin", departments=("ENV",))
    resolve_joint(joint_ticket, people)
    with transaction():
        callbacks.answer_by_tracking_code(None, joint_ticket.submission.tracking_code, {"solved": 2, "satisfaction": 3})
    reopened = received(db, "ticket_reopened")
    assert set(reopened) == {people.env.id, head.id}  # the lead's people, not the co-handler's
    with app.test_request_context(), force_locale("en"):
        text = render("ticket_reopened", reopened[people.env.id][0].params)
    assert text.endswith("The citizen reported that the problem is not solved.")  # the stored reason, in English
    assert head.id not in received(db, "escalated")  # a first reopening escalates nothing
    resolve_joint(joint_ticket, people, "Second visit.")
    with transaction():
        callbacks.answer_by_tracking_code(None, joint_ticket.submission.tracking_code, {"solved": 2, "satisfaction": 3})
    escalated = received(db, "escalated")
    assert set(escalated) == {people.coordinator.id, head.id}
    assert all(n.params["variant"] == "callback" for items in escalated.values() for n in items)
    assert len(received(db, "ticket_reopened")[people.env.id]) == 2


def test_departments_that_leave_a_ticket_are_told(db, people, joint_ticket, submit):
    with transaction():
        routing.remove_part(people.coordinator, part_of(joint_ticket, "URBAN").id, "不再需要")
    removed = received(db, "part_ended")[people.urban.id]
    assert [n.params["variant"] for n in removed] == ["removed"]
    assert removed[0].link.startswith("/inbox?department=")  # no longer URBAN's to open
    with transaction():
        routing.swap_lead(people.coordinator, joint_ticket.id, "TRANSPORT", "交通部门牵头")
    swapped = received(db, "part_ended")[people.env.id]
    assert [n.params["variant"] for n in swapped] == ["lead_swapped"]
    assert swapped[0].params["new"]["en"] and swapped[0].link.startswith("/inbox?department=")
    assert [n.params["variant"] for n in received(db, "ticket_assigned")[people.transport.id]] == ["lead"]
    other = submit()
    with transaction():
        routing.dispatch(people.coordinator, other.id, ["NOISE"], "ENV", ["URBAN"])
        routing.waive(people.coordinator, part_of(other, "URBAN").id, "已自行处理")
    waived = [n for n in received(db, "part_ended")[people.urban.id] if n.ticket_id == other.id]
    assert [n.params["variant"] for n in waived] == ["waived"] and waived[0].link == f"/tickets/{other.id}"
    assert people.coordinator.id not in received(db, "part_ended")  # nobody is told about their own action


def test_the_lead_hears_of_changes_among_its_co_handlers_it_did_not_make(db, people, joint_ticket):
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
        routing.invite(people.env, joint_ticket.id, "TRANSPORT", "请协助")  # the lead's own doing
    assert people.env.id not in received(db, "co_handlers_changed")
    with transaction():
        dispute = routing.request_return(
            people.urban, part_of(joint_ticket, "URBAN").id, "transfer", "应由发改委处理", "DRC"
        )
    with transaction():
        routing.rule(people.coordinator, dispute.id, "upheld", "同意")
    with transaction():
        routing.waive(people.coordinator, part_of(joint_ticket, "TRANSPORT").id, "不需要了")
    told = [
        (n.params["variant"], n.params["department"]["en"]) for n in received(db, "co_handlers_changed")[people.env.id]
    ]
    assert [v for v, _d in told] == ["left", "joined", "left"]
    assert people.urban.id not in received(db, "co_handlers_changed")


def test_texts_written_over_several_lines_still_make_e_mails(db, people, submit, sent):
    """A title sent through the API, what the lead waits for typed in a text area over several lines: an
    e-mail's subject is one line (a header cannot break), so they are put on one line there, and the
    e-mails of the ticket are delivered rather than refused by the mailer on every try."""
    from participation.deadlines import services as deadlines
    from participation.notifications.models import OutboxStatus

    ticket = submit("工地半夜施工，噪音太大", title="东湖路\r\n工地噪音")
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    with transaction():
        routing.accept(people.env, part_of(ticket, "ENV").id)
        deadlines.pause(people.env, ticket.id, "waiting_citizen", "请提供：\n1. 具体地址\n2. 现场照片")
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert {m.recipient for m in mails} == {people.env.email, people.citizen.email}
    assert all(m.status == OutboxStatus.SENT for m in mails), [m.last_error for m in mails]
    assert len(sent) == len(mails)
    waiting = next(m for m in mails if m.recipient == people.citizen.email)
    assert "1. 具体地址 2. 现场照片" in waiting.subject and "1. 具体地址\n2. 现场照片" in waiting.body
