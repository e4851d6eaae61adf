"""Tickets and parts through their life cycle, with the rules of ARCHITECTURE.md section 3."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from participation.core.audit import AuditLog
from participation.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from participation.core.uow import transaction
from participation.intake.services import public_view
from participation.routing import services
from participation.routing.models import Dispute, TicketEvent, TrainingExample
from tests.routing.conftest import part_of, resolve_joint


def events(ticket) -> list[str]:
    return [e.type for e in ticket.events]


def test_full_joint_life_cycle(db, people, joint_ticket):
    ticket = joint_ticket
    assert ticket.status.value == "dispatched" and ticket.lead_department.code == "ENV"
    assert {(p.department.code, p.role.value, p.status.value) for p in ticket.parts} == {
        ("ENV", "lead", "pending"),
        ("URBAN", "co", "pending"),
    }
    with transaction():
        services.accept(people.env, part_of(ticket, "ENV").id)
    assert ticket.status.value == "in_progress"
    with transaction():
        services.invite(people.env, ticket.id, "TRANSPORT", "请协助修复路面")
        services.accept(people.urban, part_of(ticket, "URBAN").id)
        services.accept(people.transport, part_of(ticket, "TRANSPORT").id)
        services.reply_public(people.env, ticket.id, "已联系施工单位，今晚起停止夜间施工。")
        services.add_note(people.urban, ticket.id, "执法队已到场")
    with pytest.raises(Conflict):  # co parts still open
        services.resolve(people.env, ticket.id, "处理完毕")
    db.session.rollback()
    with transaction():
        services.contribute(people.urban, part_of(ticket, "URBAN").id, "已责令停工")
        services.contribute(people.transport, part_of(ticket, "TRANSPORT").id, "路面已修补")
        services.rate(people.env, part_of(ticket, "URBAN").id, 5, "配合及时")
        services.resolve(people.env, ticket.id, "噪音已停止，路面已修复。")
    assert ticket.status.value == "resolved"
    assert part_of(ticket, "ENV").status.value == "done" and part_of(ticket, "URBAN").rating == 5
    with pytest.raises(Conflict, match="★ 5"):  # a stale page or a resubmitted form does not rewrite it
        services.rate(people.env, part_of(ticket, "URBAN").id, 1)
    db.session.rollback()
    assert part_of(ticket, "URBAN").rating == 5
    assert ticket.public_reply == "噪音已停止，路面已修复。"
    assert events(ticket)[-1] == "status.resolved"
    assert "note" in events(ticket) and "part.invited" in events(ticket)
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action.like("ticket.%"))) >= 10


def test_dispatcher_choice_becomes_training_data(db, people, joint_ticket):
    example = db.session.scalar(select(TrainingExample))
    assert example.categories == ["NOISE"] and example.ticket_id == joint_ticket.id


@pytest.mark.parametrize(
    "who, refusal",
    [
        ("urban", PermissionDenied),
        ("transport", NotFound),
        ("citizen", PermissionDenied),
        ("coordinator", PermissionDenied),
    ],
)
def test_only_the_departments_own_staff_sign_for_a_part(db, people, joint_ticket, who, refusal):
    """A department on the ticket is refused another's part; one never on it is not told the part exists."""
    with pytest.raises(refusal):
        services.accept(getattr(people, who), part_of(joint_ticket, "ENV").id)
    assert part_of(joint_ticket, "ENV").status.value == "pending"


def test_accept_twice_is_a_conflict(db, people, joint_ticket):
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
    with pytest.raises(Conflict, match="已签收"):  # says what happened, not "this part is Signed for"
        services.accept(people.env, part_of(joint_ticket, "ENV").id)


def test_acting_twice_says_it_was_done_already(db, people, joint_ticket, submit):
    resolve_joint(joint_ticket, people)
    with pytest.raises(Conflict, match="已办结"):  # a colleague resolved it on another page
        services.resolve(people.env, joint_ticket.id, "再次回复")
    db.session.rollback()
    other = submit("路灯坏了好几天")
    with transaction():
        services.withdraw(other, people.citizen, "")
    with pytest.raises(Conflict, match="该工单已是“已撤回”状态"):  # not "cannot go from withdrawn to withdrawn"
        services.withdraw(other, people.citizen, "")


def test_only_the_lead_resolves_and_replies(db, people, joint_ticket):
    with transaction():
        services.accept(people.urban, part_of(joint_ticket, "URBAN").id)
    for action in (
        lambda: services.resolve(people.urban, joint_ticket.id, "x"),
        lambda: services.reply_public(people.urban, joint_ticket.id, "x"),
        lambda: services.rate(people.urban, part_of(joint_ticket, "URBAN").id, 3),
    ):
        with pytest.raises(PermissionDenied):
            action()


def test_resolve_needs_the_lead_signed_and_a_reply(db, people, joint_ticket):
    with pytest.raises(Conflict):
        services.resolve(people.env, joint_ticket.id, "done")
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
    with pytest.raises(ValidationFailed):
        services.resolve(people.env, joint_ticket.id, "   ")


def test_return_upheld_moves_the_part_to_the_suggested_department(db, people, joint_ticket):
    with transaction():
        dispute = services.request_return(
            people.urban, part_of(joint_ticket, "URBAN").id, "return", "不属于城管职责", "TRANSPORT"
        )
    assert part_of(joint_ticket, "URBAN").status.value == "return_requested"
    with pytest.raises(PermissionDenied):
        services.rule(people.env, dispute.id, "upheld")
    with transaction():
        services.rule(people.coordinator, dispute.id, "upheld", "同意")
    assert dispute.status.value == "upheld"
    assert part_of(joint_ticket, "URBAN").status.value == "ended"
    assert part_of(joint_ticket, "TRANSPORT").status.value == "pending"
    with pytest.raises(Conflict):
        services.rule(people.coordinator, dispute.id, "overruled")


def test_return_overruled_goes_back_to_work(db, people, joint_ticket):
    with transaction():
        services.accept(people.urban, part_of(joint_ticket, "URBAN").id)
        dispute = services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不是我们的事")
        services.rule(people.coordinator, dispute.id, "overruled", "噪音执法属城管")
    assert part_of(joint_ticket, "URBAN").status.value == "accepted"
    assert dispute.status.value == "overruled"
    assert "dispute.overruled" in events(joint_ticket)


def test_lead_transfer_upheld_changes_the_lead(db, people, joint_ticket):
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        dispute = services.request_return(
            people.env, part_of(joint_ticket, "ENV").id, "transfer", "应由交通局主办", "TRANSPORT"
        )
        services.rule(people.coordinator, dispute.id, "upheld")
    assert joint_ticket.lead_department.code == "TRANSPORT"
    assert joint_ticket.lead_part.department.code == "TRANSPORT"
    assert joint_ticket.status.value == "dispatched"  # the new lead has to sign for it
    assert len([p for p in joint_ticket.parts if p.role.value == "lead" and p.status.value != "ended"]) == 1


def test_lead_transfer_upheld_to_a_co_handler_makes_its_part_the_lead(db, people, joint_ticket):
    """The co-handler named takes the lead with the part it has (before, the ruling was refused: the
    department "already has a part")."""
    urban = part_of(joint_ticket, "URBAN")
    with transaction():
        services.accept(people.urban, urban.id)
        services.contribute(people.urban, urban.id, "已清理占道")
        dispute = services.request_return(
            people.env, part_of(joint_ticket, "ENV").id, "transfer", "应由城管主办", "URBAN"
        )
        services.rule(people.coordinator, dispute.id, "upheld")
    assert joint_ticket.lead_department.code == "URBAN"
    assert joint_ticket.lead_part is urban and urban.status.value == "accepted"  # its done part is open again
    assert part_of(joint_ticket, "ENV").departed
    assert len([p for p in joint_ticket.parts if p.role.value == "lead" and p.status.value != "ended"]) == 1


def test_notes_are_signed_by_the_department_still_on_the_ticket(db, people, joint_ticket, make_user):
    both = make_user("department_staff", departments=("URBAN", "TRANSPORT"))
    with transaction():
        services.remove_part(people.coordinator, part_of(joint_ticket, "URBAN").id, "另行处理")
        services.invite(people.env, joint_ticket.id, "TRANSPORT", "请交通局配合")
        event = services.add_note(both, joint_ticket.id, "交通局跟进中")
    assert event.department.code == "TRANSPORT"


def test_transfer_needs_a_department_and_a_reason(db, people, joint_ticket):
    part = part_of(joint_ticket, "URBAN")
    with pytest.raises(ValidationFailed):
        services.request_return(people.urban, part.id, "transfer", "reason", None)
    with pytest.raises(ValidationFailed):
        services.request_return(people.urban, part.id, "return", "  ", None)
    with pytest.raises(ValidationFailed):
        services.request_return(people.urban, part.id, "bounce", "x", None)
    assert db.session.scalar(select(func.count()).select_from(Dispute)) == 0


def test_disputes_do_not_stop_the_ticket(db, people, joint_ticket):
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不是我们的事")
    assert joint_ticket.status.value == "in_progress"


def test_coordinator_swaps_lead_waives_and_removes(db, people, joint_ticket):
    with transaction():
        services.invite(people.coordinator, joint_ticket.id, "TRANSPORT")
        services.swap_lead(people.coordinator, joint_ticket.id, "URBAN", "城管牵头")
    assert joint_ticket.lead_department.code == "URBAN"
    assert part_of(joint_ticket, "URBAN").role.value == "lead"
    assert part_of(joint_ticket, "ENV").status.value == "ended"
    with transaction():
        services.waive(people.coordinator, part_of(joint_ticket, "TRANSPORT").id, "无需协办")
    assert part_of(joint_ticket, "TRANSPORT").status.value == "waived"
    with pytest.raises(Conflict):
        services.remove_part(people.coordinator, part_of(joint_ticket, "URBAN").id, "x")
    with pytest.raises(PermissionDenied):
        services.swap_lead(people.env, joint_ticket.id, "ENV", "x")


def test_an_open_return_request_settled_by_another_step_has_its_own_event(db, people, joint_ticket):
    """Waiving a part whose department asked to return it settles the request too: the history says so
    (internally), beside the waiver, and the sender's timeline does not."""
    with transaction():
        dispute = services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不属于城管职责")
    with transaction():
        services.waive(people.coordinator, part_of(joint_ticket, "URBAN").id, "无需协办")
    assert dispute.status.value == "upheld" and dispute.ruling_note == "无需协办"
    (closed,) = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == joint_ticket.id, TicketEvent.type == "dispute.closed")
    )
    assert not closed.public and closed.department.code == "URBAN" and closed.actor_id == people.coordinator.id
    assert closed.payload == {
        "dispute_id": dispute.id,
        "part_id": part_of(joint_ticket, "URBAN").id,
        "kind": "return",
        "note": "无需协办",
    }
    assert db.session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "ticket.dispute.closed")
    )
    assert "dispute.closed" not in {e["type"] for e in public_view(joint_ticket.submission.tracking_code)["timeline"]}


def test_a_new_lead_of_a_ticket_in_progress_must_sign_for_it_first(db, people, joint_ticket):
    """Found by the state-machine test: the new lead's part was pending only once flushed, so the ticket
    stayed "in progress" with a lead that had not signed for it."""
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        services.swap_lead(people.coordinator, joint_ticket.id, "TRANSPORT", "交通局牵头")
    assert part_of(joint_ticket, "TRANSPORT").status.value == "pending"
    assert joint_ticket.status.value == "dispatched"


def test_reject_reopen_and_withdraw(db, people, submit, joint_ticket):
    other = submit("广告 广告 spam spam")
    with transaction():
        services.reject(people.coordinator, other.id, "重复的广告信息")
    assert other.status.value == "rejected"
    with pytest.raises(Conflict):
        services.reopen(people.coordinator, other.id, "x")
    db.session.rollback()
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        services.waive(people.coordinator, part_of(joint_ticket, "URBAN").id, "不需要")
        services.resolve(people.env, joint_ticket.id, "已处理")
        services.reopen(people.coordinator, joint_ticket.id, "市民反映仍有噪音")
    assert joint_ticket.status.value == "reopened" and joint_ticket.reopen_count == 1
    assert part_of(joint_ticket, "ENV").status.value == "accepted"
    assert joint_ticket.public_reply == ""  # the resolution's reply no longer answers it
    code = joint_ticket.submission.tracking_code
    assert "已处理" not in (public_view(code)["reply"] or "")
    assert any(e["message"] == "已处理" for e in public_view(code)["timeline"])  # it stays in the history
    with transaction():
        services.resolve(people.env, joint_ticket.id, "已再次处理")
    assert joint_ticket.status.value == "resolved"
    for change in (services.waive, services.remove_part):  # a settled ticket's parts stay as they ended
        with pytest.raises(Conflict):
            change(people.coordinator, part_of(joint_ticket, "URBAN").id, "late change")
        db.session.rollback()


def test_illegal_moves_change_nothing(db, people, joint_ticket):
    before = db.session.scalar(select(func.count()).select_from(TicketEvent))
    with pytest.raises(Conflict):
        services.contribute(people.env, part_of(joint_ticket, "ENV").id, "lead cannot contribute")
    with pytest.raises(Conflict):
        services.dispatch(people.coordinator, joint_ticket.id, ["NOISE"], "ENV", [])
    with pytest.raises(ValidationFailed):
        services.rate(people.env, part_of(joint_ticket, "URBAN").id, 9)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(TicketEvent)) == before


def test_dispatch_validates_codes(db, people, submit):
    ticket = submit()
    for categories, lead, field in (
        (["NOPE"], "ENV", "categories"),
        ([], "ENV", "categories"),
        (["NOISE"], "GHOST", "lead"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            services.dispatch(people.coordinator, ticket.id, categories, lead, [])
        assert field in caught.value.fields
        db.session.rollback()
    with pytest.raises(ValidationFailed) as caught:  # no lead chosen: asked to choose, not "unknown department"
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "", [])
    assert caught.value.fields["lead"] == ["请选择部门。"]
    db.session.rollback()
    with pytest.raises(ValidationFailed) as caught:  # nothing chosen: every problem said at once
        services.dispatch(people.coordinator, ticket.id, [], "", ["GHOST"])
    assert set(caught.value.fields) == {"categories", "lead", "co"}
    db.session.rollback()
    assert ticket.status.value == "triage"


def test_departments_see_only_their_tickets(db, people, joint_ticket, submit):
    other = submit("路灯坏了")
    with transaction():
        services.dispatch(people.coordinator, other.id, ["POTHOLE"], "TRANSPORT", [])
    env_inbox = services.inbox(people.env, people.env.memberships[0].department_id)
    assert [p.ticket_id for p in env_inbox] == [joint_ticket.id]
    with pytest.raises(PermissionDenied):
        services.timeline(people.env, other)
    with pytest.raises(PermissionDenied):
        services.inbox(people.env, people.transport.memberships[0].department_id)
    assert [p.ticket_id for p in services.inbox(people.env, people.env.memberships[0].department_id, role="co")] == []
    filtered = services.inbox(
        people.env, people.env.memberships[0].department_id, category="NOISE", district="EAST-HILL"
    )
    assert len(filtered) == 1
    # A district holds the tickets of its sub-districts (the ticket is in EAST-HILL, under EAST).
    department = people.env.memberships[0].department_id
    assert [p.ticket_id for p in services.inbox(people.env, department, district="EAST")] == [joint_ticket.id]
    assert services.inbox(people.env, department, district="NOWHERE") == []


def test_bulk_accept_all_or_nothing(db, people, submit):
    tickets = [submit(f"噪音扰民 {i}") for i in range(3)]
    with transaction():
        for t in tickets:
            services.dispatch(people.coordinator, t.id, ["NOISE"], "ENV", [])
    ids = [t.lead_part.id for t in tickets]
    with transaction():
        waived = services.invite(people.coordinator, tickets[2].id, "URBAN")
        services.waive(people.coordinator, waived.id, "不需要")
    with pytest.raises(PermissionDenied, match=f"#{tickets[2].id}"):  # one not theirs: none, and which
        with transaction():
            services.bulk_accept(people.env, [ids[0], ids[1], waived.id])
    db.session.expire_all()
    assert [db.session.get(type(tickets[0].lead_part), i).status.value for i in ids] == ["pending"] * 3
    # One a colleague signed for meanwhile is left as it is; the rest are signed for.
    with transaction():
        services.accept(people.env, ids[0])
    with transaction():
        signed = services.bulk_accept(people.env, ids)
    assert [p.id for p in signed] == ids[1:]
    assert all(t.status.value == "in_progress" for t in tickets)


def test_a_co_part_upheld_to_a_department_already_on_the_ticket(db, people, joint_ticket):
    """Named by the coordinator: refused at the field, nothing changed, nobody told twice. Suggested by the
    returning department itself: the part ends, the department already there goes on."""
    with transaction():
        dispute = services.request_return(
            people.urban, part_of(joint_ticket, "URBAN").id, "transfer", "环保局已在办理", "ENV"
        )
    before = len(joint_ticket.parts)
    with pytest.raises(ValidationFailed) as error, transaction():
        services.rule(people.coordinator, dispute.id, "upheld", "", "ENV")
    assert set(error.value.fields) == {"department"}
    db.session.refresh(dispute)
    assert dispute.status.value == "open" and part_of(joint_ticket, "URBAN").status.value == "return_requested"
    with transaction():
        services.rule(people.coordinator, dispute.id, "upheld", "同意")
    db.session.refresh(joint_ticket)
    assert len(joint_ticket.parts) == before and part_of(joint_ticket, "URBAN").status.value == "ended"
    assert part_of(joint_ticket, "ENV").role.value == "lead"


def test_the_sender_reads_that_another_department_leads_now_but_not_why(db, people, joint_ticket, english):
    from participation.intake.services import public_view

    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)  # in progress: the sender saw ENV sign for it
    with transaction():
        services.swap_lead(people.coordinator, joint_ticket.id, "TRANSPORT", "交通局牵头，涉及道路占用")
    view = public_view(joint_ticket.submission.tracking_code)
    assert view["status"] == "dispatched"
    last = view["timeline"][-1]
    assert last["type"] == "lead.changed" and last["departments"] == ["Transport Bureau"]
    assert "交通局牵头" not in str(view)  # the coordinator's reason stays internal
    # A lead's return upheld to a named department says the same.
    dispute = None
    with transaction():
        services.accept(people.transport, part_of(joint_ticket, "TRANSPORT").id)
        dispute = services.request_return(
            people.transport, part_of(joint_ticket, "TRANSPORT").id, "transfer", "应由生态环境局主办", "ENV"
        )
    with transaction():
        services.rule(people.coordinator, dispute.id, "upheld", "同意转办", "ENV")
    view = public_view(joint_ticket.submission.tracking_code)
    changed = [e for e in view["timeline"] if e["type"] == "lead.changed"]
    assert len(changed) == 2 and view["status"] == "dispatched"
    assert "应由生态环境局主办" not in str(view) and "同意转办" not in str(view)
