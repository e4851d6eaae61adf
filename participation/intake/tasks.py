"""Background work for intake: analyse the text, then put the ticket in the triage queue."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.extensions import db
from participation.intake.models import Submission
from participation.routing.models import TicketStatus
from participation.text import analyse

# A database or broker briefly out of reach (a lost connection, SQLite's lock held too long): tried again.
TRANSIENT = (OSError, OperationalError)


@shared_task(name="intake.analyse_submission", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def analyse_submission(submission_id: int) -> str | None:
    """Store language, sentiment and keywords, then route: dispatch when sure, else wait in triage."""
    from participation.intake.services import announce_status
    from participation.routing.services import change_status, route

    with transaction():
        # With its ticket: reading it later would first write the analysis below, a flush of its own.
        # A query, not session.get: in-process the submission is still in the session, and get would
        # hand it back without loading the ticket.
        # Locked (PostgreSQL): a second run of the same item, queued again by `analyse_pending`, waits
        # for this one and then finds it analysed.
        stmt = (
            select(Submission)
            .where(Submission.id == submission_id)
            .options(joinedload(Submission.ticket))
            .with_for_update(of=Submission)
        )
        submission = db.session.scalar(stmt)
        if submission is None or submission.analysed_at is not None:
            return None
        result = analyse(submission.full_text)
        submission.language = result.language
        submission.sentiment = result.sentiment
        submission.keywords = result.keywords
        submission.analysed_at = utcnow()
        if submission.ticket.status == TicketStatus.SUBMITTED:
            change_status(submission.ticket, TicketStatus.TRIAGE.value, None, public=True)
            announce_status(submission, TicketStatus.TRIAGE.value)
            route(submission.ticket)
        return submission.language


ANALYSER = "analyse"  # the embedded mode's background thread that analyses and routes what a commit stored


def start_embedded_analyser(app):
    """make run: analyse and route new submissions in a thread of this process, as a worker does in
    production, so that the person submitting gets an answer once the item is stored (the tracking page
    then shows the routing live). A submission whose analysis meets a database out of reach is tried
    again after 1, 2, 4, 8 and 16 seconds, as a worker retries it; those it never got to are taken up by
    `analyse_pending`."""
    from participation.core.scheduler import Background, in_process

    if not in_process(app):
        return None
    return Background(app, ANALYSER, analyse_submission, retry_on=TRANSIENT).start()


def queue_analysis(submission_ids: list[int]) -> None:
    """Hand stored submissions to the analysis: the embedded thread, else a worker (in tests and
    without the thread, Celery eager runs it here and now)."""
    from participation.core.scheduler import hand_over

    if hand_over(ANALYSER, submission_ids):
        return
    for submission_id in submission_ids:
        analyse_submission.delay(submission_id)


@shared_task(name="intake.analyse_pending", ignore_result=True)
def analyse_pending() -> int:
    """Queue again the submissions left unanalysed for ANALYSIS_RETRY_MINUTES (a task lost with a worker
    or a broker, an embedded server stopped with items still queued); returns how many.

    Only those of the last day: one whose analysis keeps failing is not tried for ever, and cannot hold
    up newer ones (the window also keeps the query on the created_at index)."""
    from datetime import timedelta

    from flask import current_app

    now = utcnow()
    before = now - timedelta(minutes=current_app.config["ANALYSIS_RETRY_MINUTES"])
    ids = list(
        db.session.scalars(
            select(Submission.id)
            .where(
                Submission.analysed_at.is_(None),
                Submission.created_at < before,
                Submission.created_at >= now - timedelta(days=1),
            )
            .order_by(Submission.id)
            .limit(500)
        )
    )
    db.session.rollback()  # nothing written here: the analysis has transactions of its own
    queue_analysis(ids)
    return len(ids)
