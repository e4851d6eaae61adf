"""The callback loop: asked after each resolution, stored on the ticket, reopen once, then escalate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from participation.core.errors import Conflict, NotFound, ValidationFailed
from participation.core.uow import transaction
from participation.extensions import db
from participation.notifications.models import Notification
from participation.routing import services as routing
from participation.routing.models import TicketStatus
from participation.surveys import callbacks
from participation.surveys.models import CallbackResult, Invitation, Response, ResponseStatus
from tests.routing.conftest import resolve_joint


def answer(ticket, **answers):
    with transaction():
        return callbacks.answer_by_tracking_code(None, ticket.submission.tracking_code, answers)


def test_resolution_asks_the_submitter_once(joint_ticket, people):
    resolve_joint(joint_ticket, people)
    invitation = callbacks.pending_invitation(joint_ticket)
    assert invitation is not None and invitation.round == 1 and invitation.user_id == people.citizen.id
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == people.citizen.id)).all()
    assert "callback_request" in kinds


def test_satisfied_closes_and_is_stored_on_the_ticket(joint_ticket, people, english):
    resolve_joint(joint_ticket, people)
    answer(joint_ticket, solved=1, satisfaction=1, rating=5, comment="谢谢，处理得很快")
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.CLOSED
    (result,) = callbacks.results_of(joint_ticket)
    assert (result.solved, result.satisfaction, result.rating, result.outcome) == (True, 1, 5, "closed")
    assert result.lead_department_id == joint_ticket.lead_department_id
    with pytest.raises(Conflict, match="already been answered"):  # from a page left open: nothing waits
        answer(joint_ticket, solved=1, satisfaction=1)
    assert len(callbacks.results_of(joint_ticket)) == 1


def test_dissatisfied_reopens_once_then_escalates(joint_ticket, people):
    resolve_joint(joint_ticket, people)
    answer(joint_ticket, solved=2, satisfaction=3)
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and joint_ticket.reopen_count == 1
    assert joint_ticket.escalation_level == 0
    resolve_joint(joint_ticket, people, "Second visit: the work now stops at 22:00.")
    invitation = callbacks.pending_invitation(joint_ticket)
    assert invitation.round == 2
    answer(joint_ticket, solved=1, satisfaction=3, rating=2)
    db.session.refresh(joint_ticket)
    assert joint_ticket.escalation_level == 2 and joint_ticket.status == TicketStatus.REOPENED
    outcomes = [(r.round, r.outcome) for r in callbacks.results_of(joint_ticket)]
    assert outcomes == [(1, "reopened"), (2, "escalated")]
    types = [e.type for e in joint_ticket.events]
    assert "callback.escalated" in types and types.count("status.reopened") == 2


def test_not_solved_but_satisfied_still_reopens(joint_ticket, people):
    resolve_joint(joint_ticket, people)
    answer(joint_ticket, solved=2, satisfaction=2)
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED


def test_bad_callback_answers_store_nothing(joint_ticket, people):
    resolve_joint(joint_ticket, people)
    for bad in ({"solved": 1}, {"solved": 3, "satisfaction": 1}, {"solved": "yes", "satisfaction": 1}):
        with pytest.raises(ValidationFailed):
            answer(joint_ticket, **bad)
    db.session.rollback()
    assert db.session.scalar(select(CallbackResult.id)) is None
    assert db.session.scalar(select(Response.id).where(Response.status == ResponseStatus.COMPLETE)) is None
    assert callbacks.pending_invitation(joint_ticket) is not None


def test_no_callback_before_resolution(joint_ticket):
    with pytest.raises(NotFound):
        answer(joint_ticket, solved=1, satisfaction=1)


def test_a_used_invitation_cannot_answer_again(joint_ticket, people):
    resolve_joint(joint_ticket, people)
    invitation = callbacks.pending_invitation(joint_ticket)
    answer(joint_ticket, solved=1, satisfaction=2)
    from participation.surveys import services

    with pytest.raises(Conflict):
        services.answer(None, callbacks.CALLBACK_CODE, {"solved": 1, "satisfaction": 1}, invitation=invitation)
    assert db.session.scalar(select(Invitation.used_at).where(Invitation.id == invitation.id)) is not None


def merged_follower(joint_ticket, people, submit):
    follower = submit("工地半夜还在施工，噪音吵得睡不着")
    with transaction():
        routing.merge(people.coordinator, follower.id, joint_ticket.id)
    return follower


def test_a_followers_not_solved_reopens_the_master_it_was_merged_into(joint_ticket, people, submit, english):
    follower = merged_follower(joint_ticket, people, submit)
    resolve_joint(joint_ticket, people)
    assert callbacks.pending_invitation(follower) is not None and callbacks.answer_reopens(follower)
    answer(follower, solved=2, satisfaction=3)
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and joint_ticket.reopen_count == 1
    (result,) = callbacks.results_of(joint_ticket)
    assert result.follower and result.outcome == "reopened"
    # Recorded on both: the master knows which follower answered, the follower's history has its answer.
    on_master = [e for e in joint_ticket.events if e.type == "callback.recorded"]
    assert [e.payload["follower_id"] for e in on_master] == [follower.id]
    (own,) = [e for e in follower.events if e.type == "callback.recorded"]
    assert own.payload["master_id"] == joint_ticket.id and own.payload["outcome"] == "reopened"
    assert not own.payload["solved"] and own.payload["satisfaction"] == 3
    # The master's sender is no longer asked about the resolution that was reopened.
    assert callbacks.pending_invitation(joint_ticket) is None
    with pytest.raises(Conflict, match="reopened"):
        answer(joint_ticket, solved=1, satisfaction=1)
    # Resolved again, both are asked again; the follower's second unhappy answer escalates.
    resolve_joint(joint_ticket, people, "Second visit: the work now stops at 22:00.")
    assert callbacks.pending_invitation(follower).round == 2
    answer(follower, solved=2, satisfaction=2)
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and joint_ticket.escalation_level == 2
    assert [r.outcome for r in callbacks.results_of(joint_ticket)] == ["reopened", "escalated"]


def test_a_followers_satisfied_answer_leaves_the_closing_to_the_masters_sender(joint_ticket, people, submit):
    follower = merged_follower(joint_ticket, people, submit)
    resolve_joint(joint_ticket, people)
    answer(follower, solved=1, satisfaction=1)
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.RESOLVED
    answer(joint_ticket, solved=1, satisfaction=2)
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.CLOSED
    assert [(r.follower, r.outcome) for r in callbacks.results_of(joint_ticket)] == [
        (True, "recorded"),
        (False, "closed"),
    ]


def test_a_follower_still_answers_once_the_master_is_closed_but_reopens_nothing(joint_ticket, people, submit):
    """A closed ticket cannot be reopened: the follower's answer counts for the scorecard only, and the
    form says so (see test_answering)."""
    follower = merged_follower(joint_ticket, people, submit)
    resolve_joint(joint_ticket, people)
    answer(joint_ticket, solved=1, satisfaction=1)
    assert callbacks.pending_invitation(follower) is not None and not callbacks.answer_reopens(follower)
    answer(follower, solved=2, satisfaction=3)
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.CLOSED and joint_ticket.reopen_count == 0
    assert [(r.follower, r.outcome) for r in callbacks.results_of(joint_ticket)] == [
        (False, "closed"),
        (True, "recorded"),
    ]


def test_an_answer_to_a_reopened_ticket_is_refused_and_changes_nothing(joint_ticket, people, english):
    """Reopened by the coordinator while the callback waited: the page left open cannot answer it."""
    resolve_joint(joint_ticket, people)
    with transaction():
        routing.reopen(people.coordinator, joint_ticket.id, "The citizen called the hotline: still noisy.")
    assert callbacks.pending_invitation(joint_ticket) is None
    with pytest.raises(Conflict, match="reopened and is being handled again"):
        answer(joint_ticket, solved=1, satisfaction=1)
    db.session.rollback()
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and joint_ticket.reopen_count == 1
    assert callbacks.results_of(joint_ticket) == []
    assert db.session.scalar(select(Invitation.used_at).where(Invitation.ticket_id == joint_ticket.id)) is None


def test_staff_read_the_callback_and_everyone_reads_the_reopening_in_their_language(
    client, joint_ticket, people, login
):
    resolve_joint(joint_ticket, people)
    answer(joint_ticket, solved=1, satisfaction=3, rating=2, comment="晚上还是很吵")
    code = joint_ticket.submission.tracking_code
    client.get("/lang/en")
    track = client.get(f"/track/{code}").get_data(as_text=True)
    assert "The citizen was not satisfied with the resolution." in track
    client.get("/lang/zh")
    assert "市民对办理结果不满意。" in client.get(f"/track/{code}").get_data(as_text=True)
    login(people.env)
    client.get("/lang/en")
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert "The citizen answered the callback." in page and "callback.recorded" not in page
    assert "Solved · dissatisfied · ★ 2/5" in page and "晚上还是很吵" in page
    assert "Reopened once" in page


def test_a_reopening_stored_in_chinese_before_is_read_in_english(client, joint_ticket, people):
    from participation.core.labels import system_text

    with client.application.test_request_context("/", headers={"Accept-Language": "en"}):
        from flask_babel import force_locale

        with force_locale("en"):
            assert system_text("市民对办理结果不满意。") == "The citizen was not satisfied with the resolution."
            assert system_text("工地还在施工") == "工地还在施工"  # a person's own words stay as they are


@pytest.mark.parametrize("masters_answer", [{"solved": 2, "satisfaction": 3}, {"solved": 1, "satisfaction": 1}])
def test_the_masters_sender_and_a_follower_answer_at_the_same_moment(app, joint_ticket, people, submit, masters_answer):
    """Both answers change the master (reopen, or close and reopen): exactly one is taken, the other is
    refused as a whole (its answer is not half stored), and the master is reopened at most once."""
    import threading

    from sqlalchemy.orm.exc import StaleDataError

    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs two real connections with row locks (PostgreSQL)")
    follower = merged_follower(joint_ticket, people, submit)
    resolve_joint(joint_ticket, people)
    master_id = joint_ticket.id
    answers = {
        joint_ticket.submission.tracking_code: masters_answer,
        follower.submission.tracking_code: {"solved": 2, "satisfaction": 3},
    }
    both_loaded = threading.Barrier(2, timeout=20)
    outcomes: dict[str, str] = {}

    def send(code: str) -> None:
        from participation.routing.models import Ticket

        with app.app_context():  # its own session and its own connection
            try:
                with transaction():
                    assert db.session.get(Ticket, master_id).status == TicketStatus.RESOLVED
                    both_loaded.wait()
                    callbacks.answer_by_tracking_code(None, code, answers[code])
                outcomes[code] = "taken"
            except (Conflict, StaleDataError):
                outcomes[code] = "refused"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send, args=(code,)) for code in answers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["refused", "taken"]
    db.session.expire_all()
    master = db.session.get(type(joint_ticket), master_id)
    results = callbacks.results_of(master)
    assert len(results) == 1  # the refused answer left nothing behind
    assert [e.type for e in master.events].count("status.reopened") <= 1 and master.reopen_count <= 1
    assert master.escalation_level == 0
    taken = next(code for code, outcome in outcomes.items() if outcome == "taken")
    answered = db.session.scalars(select(Invitation.ticket_id).where(Invitation.used_at.is_not(None))).all()
    assert answered == [master_id if taken == joint_ticket.submission.tracking_code else follower.id]
    if results[0].outcome == "reopened":
        assert master.status == TicketStatus.REOPENED
    else:
        assert results[0].outcome == "closed" and master.status == TicketStatus.CLOSED


def unread_callback_requests(ticket) -> list[int]:
    return list(
        db.session.scalars(
            select(Notification.id).where(
                Notification.kind == "callback_request",
                Notification.ticket_id == ticket.id,
                Notification.read_at.is_(None),
            )
        )
    )


def test_the_notice_asking_for_a_callback_is_settled_once_answered(joint_ticket, people):
    """Answered on the tracking page, without opening the notice: the notice no longer asks."""
    resolve_joint(joint_ticket, people)
    assert len(unread_callback_requests(joint_ticket)) == 1
    answer(joint_ticket, solved=1, satisfaction=1)
    assert unread_callback_requests(joint_ticket) == []


def test_a_reopening_settles_every_notice_asking_about_that_resolution(joint_ticket, people, submit):
    follower = merged_follower(joint_ticket, people, submit)
    resolve_joint(joint_ticket, people)
    assert unread_callback_requests(joint_ticket) and unread_callback_requests(follower)
    answer(follower, solved=2, satisfaction=3)  # reopens the master: the master's sender is no longer asked
    assert unread_callback_requests(follower) == []
    assert unread_callback_requests(joint_ticket) == []
    resolve_joint(joint_ticket, people, "Second visit: the work now stops at 22:00.")
    assert len(unread_callback_requests(joint_ticket)) == 1 and len(unread_callback_requests(follower)) == 1


def test_a_followers_notice_still_asks_after_the_master_is_closed(joint_ticket, people, submit):
    follower = merged_follower(joint_ticket, people, submit)
    resolve_joint(joint_ticket, people)
    answer(joint_ticket, solved=1, satisfaction=1)  # the master's sender closes it
    assert unread_callback_requests(joint_ticket) == []
    assert len(unread_callback_requests(follower)) == 1  # the follower's answer is still taken
    answer(follower, solved=1, satisfaction=2)
    assert unread_callback_requests(follower) == []
