"""The callback loop: after each resolution the submitter (and every merged follower) is asked how it went;
"not solved" or "dissatisfied" reopens the ticket once, a second time escalates it to the coordinator (a
follower's answer acts on the master it was merged into); every result is stored on the ticket for the
scorecard. A callback is answered while the resolution it asks about stands: once the ticket is reopened
(or otherwise no longer resolved) an answer from a page left open is refused and changes nothing."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from participation.core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied
from participation.core.labels import UNHAPPY, UNHAPPY_AGAIN, UNSOLVED, UNSOLVED_AGAIN
from participation.core.permissions import SYSTEM, can, is_authenticated
from participation.extensions import db
from participation.intake.models import Channel
from participation.routing.hooks import subscribe
from participation.routing.models import OPEN_STATUSES, Ticket, TicketEvent, TicketStatus
from participation.surveys import services
from participation.surveys.models import CallbackResult, Invitation, Survey, SurveyStatus

CALLBACK_CODE = "CALLBACK"
SATISFIED, BASICALLY, DISSATISFIED = 1, 2, 3
SOLVED, NOT_SOLVED = 1, 2


def callback_definition() -> dict:
    """The built-in callback survey (a city may edit its draft and publish a new version; keep these names)."""

    def label(zh: str, en: str) -> dict:
        return {"zh": zh, "en": en}

    return {
        "code": CALLBACK_CODE,
        "title": label("诉求办理回访", "How was your request handled?"),
        "questions": [
            {
                "name": "solved",
                "type": "single",
                "label": label("您反映的问题解决了吗？", "Was the problem solved?"),
                "choices": [
                    {"code": SOLVED, "label": label("已解决", "Solved")},
                    {"code": NOT_SOLVED, "label": label("未解决", "Not solved")},
                ],
                "required": True,
            },
            {
                "name": "satisfaction",
                "type": "single",
                "label": label("您对办理结果满意吗？", "Are you satisfied with the outcome?"),
                "choices": [
                    {"code": SATISFIED, "label": label("满意", "Satisfied")},
                    {"code": BASICALLY, "label": label("基本满意", "Basically satisfied")},
                    {"code": DISSATISFIED, "label": label("不满意", "Dissatisfied")},
                ],
                "required": True,
            },
            {
                "name": "rating",
                "type": "rating5",
                "label": label("请为办理过程打分（1–5）", "Rate how it was handled (1–5)"),
                "required": False,
            },
            {
                "name": "comment",
                "type": "text",
                "label": label("还有什么想告诉我们的？", "Anything else you want to tell us?"),
                "required": False,
            },
        ],
    }


def ensure_callback_survey() -> Survey:
    """The callback survey, created and published on first use."""
    survey = db.session.scalar(select(Survey).where(Survey.code == CALLBACK_CODE))
    if survey is None:
        survey, _created = services.save_definition(
            SYSTEM, callback_definition(), distribution="callback", anonymous=False
        )
        services.publish_survey(SYSTEM, CALLBACK_CODE)
    return survey


@subscribe(order=30)
def _ask_after_resolution(events: list[TicketEvent]) -> None:
    """Each resolution asks the submitter and the senders of merged duplicates for a callback."""
    for event in events:
        if event.type != "status.resolved":
            continue
        ticket = event.ticket
        survey = ensure_callback_survey()
        round_ = ticket.reopen_count + 1
        from participation.routing.duplicates import callback_recipients

        for submission in callback_recipients(ticket):
            asked = db.session.scalar(
                select(Invitation.id).where(
                    Invitation.survey_id == survey.id,
                    Invitation.ticket_id == submission.ticket.id,
                    Invitation.round == round_,
                )
            )
            if asked is not None:
                continue
            services.new_invitation(survey, ticket_id=submission.ticket.id, user_id=submission.user_id, round=round_)
            from participation.notifications.rules import tell_submitter

            tell_submitter(submission.ticket, "callback_request", f"ev{event.id}:callback:{submission.ticket.id}")


def _settle_requests(master: Ticket, own: Ticket | None = None) -> None:
    """What the callback notices of the master's latest resolution asked is no longer asked: of one sender
    (`own`, who answered), or of all of them (the resolution no longer stands). They are marked read and
    e-mails held back by quiet hours are not sent, like the notice of a waiting pause that ended."""
    from participation.notifications import services as notifications

    resolved = db.session.scalar(
        select(func.max(TicketEvent.id)).where(
            TicketEvent.ticket_id == master.id, TicketEvent.type == "status.resolved"
        )
    )
    if resolved is not None:
        notifications.withdraw(f"ev{resolved}:callback" + (f":{own.id}" if own is not None else ""))


@subscribe(order=31)
def _settle_after_reopening(events: list[TicketEvent]) -> None:
    """A reopened ticket's resolution no longer stands: nobody is asked about it any more."""
    for event in events:
        if event.type == "status.reopened":
            _settle_requests(event.ticket)


def _latest_invitation(ticket: Ticket) -> Invitation | None:
    """The callback of this ticket's latest resolution, answered or not."""
    survey = db.session.scalar(select(Survey).where(Survey.code == CALLBACK_CODE))
    if survey is None:
        return None
    return db.session.scalar(
        select(Invitation)
        .where(Invitation.survey_id == survey.id, Invitation.ticket_id == ticket.id)
        .order_by(Invitation.round.desc(), Invitation.id.desc())
        .limit(1)
    )


def _master_of(ticket: Ticket) -> Ticket:
    from participation.routing.duplicates import root_master

    return root_master(ticket) if ticket.master_id else ticket


def no_longer_waiting(invitation: Invitation, ticket: Ticket) -> str | None:
    """Why this callback can no longer be answered, or None while the resolution it asks about stands (for
    a follower, its master's resolution; a master closed since by its own sender's answer still takes the
    followers' answers, for the scorecard)."""
    master = _master_of(ticket)
    if invitation.used_at is not None:
        return _("This callback has already been answered.")
    if master.status in OPEN_STATUSES or invitation.round <= master.reopen_count:
        return _(
            "This request has been reopened and is being handled again, so there is nothing to answer now: "
            "you will be asked again when it is resolved."
        )
    if master.status == TicketStatus.RESOLVED or (master.status == TicketStatus.CLOSED and master.id != ticket.id):
        return None
    return _("This request is no longer waiting for a callback answer.")


def pending_invitation(ticket: Ticket) -> Invitation | None:
    """The unanswered callback of this ticket's latest resolution, while that resolution stands."""
    invitation = _latest_invitation(ticket)
    if invitation is None or no_longer_waiting(invitation, ticket) is not None:
        return None
    return invitation


def answer_reopens(ticket: Ticket) -> bool:
    """Whether "not solved" or "dissatisfied" would reopen the request now: its master (itself, or the
    request a follower was merged into) is resolved; a closed master cannot be reopened."""
    return _master_of(ticket).status == TicketStatus.RESOLVED


def why_not_answer(submission) -> str:
    """What someone who may not answer this request's callback is told: the sender answers it (see the rule
    surveys.callback.answer); only a request sent from an account has an account to sign in with."""
    if submission.user_id is None and submission.organisation_id is None and submission.channel == Channel.FORUM:
        return _(
            "This proposal was sent to the departments from the public forum on behalf of an author who has "
            "since left, so its callback is answered through the city coordination centre."
        )
    if submission.user_id is None and submission.organisation_id is None:
        return _(
            "This request was sent without an account, so its callback is answered by its sender: with the "
            "tracking code, or by phone through the city coordination centre."
        )
    return _("Sign in with the account that sent this request to answer.")


def answer_by_tracking_code(actor: Any, code: str, answers: Any, language: str = "zh"):
    """The sender answers that request's callback (as a hotline callback would ask them): whoever holds the
    tracking code of a request sent without an account, the signed-in sender of one sent from an account."""
    from participation.intake.services import get_by_code

    submission = get_by_code(code)
    invitation = _latest_invitation(submission.ticket)
    if invitation is None:
        raise NotFound(_("There is no callback waiting for this request."))
    # No actor at all is the platform's own call (demo data, scripts); a web request always has one, if
    # only the anonymous visitor.
    if actor is not None and not can(actor, "surveys.callback.answer", submission):
        message = why_not_answer(submission)
        raise PermissionDenied(message) if is_authenticated(actor) else NotAuthenticated(message)
    reason = no_longer_waiting(invitation, submission.ticket)
    if reason is not None:
        raise Conflict(reason)
    survey = db.session.get(Survey, invitation.survey_id)
    if survey.status != SurveyStatus.OPEN:
        raise Conflict(_("This survey is closed."))
    return services.answer(actor, survey.code, answers, invitation=invitation, language=language)


def record_callback(invitation: Invitation, response, answers: dict) -> CallbackResult | None:
    """Store the result on the ticket; "not solved"/"dissatisfied" reopens it once, then escalates it to the
    coordinator. A follower's answer is stored on its master (and noted on its own ticket): its unhappy
    answer reopens the master as the master's sender's would, a happy one leaves the closing to the
    master's sender."""
    from participation.routing import services as routing

    own = db.session.get(Ticket, invitation.ticket_id)
    if own is None or "satisfaction" not in answers or "solved" not in answers:
        return None
    master = _master_of(own)
    follower = master.id != own.id
    unhappy = answers["solved"] == NOT_SOLVED or answers["satisfaction"] == DISSATISFIED
    result = CallbackResult(
        ticket_id=master.id,
        response_id=response.id,
        round=invitation.round,
        follower=follower,
        solved=answers["solved"] == SOLVED,
        satisfaction=answers["satisfaction"],
        rating=answers.get("rating"),
        lead_department_id=master.lead_department_id,
    )
    db.session.add(result)
    payload = {
        "round": invitation.round,
        "solved": result.solved,
        "satisfaction": result.satisfaction,
        "rating": result.rating,
        "comment": str(answers.get("comment") or "")[:2000],
        "follower": follower,
    }
    if follower:
        payload["follower_id"] = own.id
    if master.status != TicketStatus.RESOLVED or (follower and not unhappy):
        result.outcome = "recorded"
        routing.record(master, "callback.recorded", None, **payload)
    elif not unhappy:
        result.outcome = "closed"
        routing.change_status(master, TicketStatus.CLOSED.value, None, public=True, **payload)
        routing._announce(master, "callback", public=True)
    elif master.reopen_count == 0:
        result.outcome = "reopened"
        routing.record(master, "callback.recorded", None, **payload)
        routing.reopen(SYSTEM, master.id, UNSOLVED if not result.solved else UNHAPPY)
    else:
        result.outcome = "escalated"
        routing.record(master, "callback.recorded", None, **payload)
        routing.reopen(SYSTEM, master.id, UNSOLVED_AGAIN if not result.solved else UNHAPPY_AGAIN)
        master.escalation_level = 2
        from participation.core.models import utcnow

        master.escalated_at = utcnow()
        routing.record(master, "callback.escalated", None, **payload)
    if follower:
        routing.record(own, "callback.recorded", None, master_id=master.id, outcome=result.outcome, **payload)
    _settle_requests(master, own)
    return result


def results_of(ticket: Ticket) -> list[CallbackResult]:
    return list(
        db.session.scalars(
            select(CallbackResult).where(CallbackResult.ticket_id == ticket.id).order_by(CallbackResult.id)
        )
    )
