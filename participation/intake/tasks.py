"""Background work for intake: analyse the text, then put the ticket in the triage queue."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.extensions import db
from participation.intake.models import Submission
from participation.routing.models import TicketStatus
from participation.text import analyse


@shared_task(name="intake.analyse_submission", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def analyse_submission(submission_id: int) -> str | None:
    """Store language, sentiment and keywords, then route: dispatch when sure, else wait in triage."""
    from participation.intake.services import announce_status
    from participation.routing.services import change_status, route

    with transaction():
        # With its ticket: reading it later would first write the analysis below, a flush of its own.
        # A query, not session.get: in-process the submission is still in the session, and get would
        # hand it back without loading the ticket.
        stmt = select(Submission).where(Submission.id == submission_id).options(joinedload(Submission.ticket))
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
