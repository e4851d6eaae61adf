"""Delivering the e-mail outbox: claim a row atomically, send it, record the outcome; retry with backoff."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import or_, select, update

from participation.extensions import db
from participation.notifications import services
from participation.notifications.mail import backend, build, is_permanent
from participation.notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)


def _claim(message_id: int, now: datetime) -> bool:
    """Move one due pending row to 'sending'; only the caller whose update matched may send it."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(status=OutboxStatus.SENDING, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: base, 2 × base, 4 × base, ... up to the cap."""
    config = current_app.config
    seconds = config["MAIL_RETRY_BASE_SECONDS"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, config["MAIL_RETRY_MAX_SECONDS"]))


def _failed(message: OutboxMessage, error: Exception, now: datetime) -> str:
    message.attempts += 1
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    message.claimed_at = None
    if is_permanent(error) or message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        message.status = OutboxStatus.FAILED
        log.error(
            "e-mail %s to %s failed for good after %s attempts: %s",
            message.id,
            message.recipient,
            message.attempts,
            message.last_error,
        )
    else:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now + backoff(message.attempts)
        log.warning("e-mail %s failed (attempt %s), retry at %s", message.id, message.attempts, message.next_attempt_at)
    db.session.commit()
    return message.status.value


def send_one(message_id: int, now: datetime | None = None) -> str:
    """Send one outbox e-mail if it is due and nobody else has claimed it: 'sent', 'pending', 'failed' or 'skipped'."""
    now = now or services.clock()
    if not _claim(message_id, now):
        return "skipped"
    message = db.session.get(OutboxMessage, message_id)
    try:
        backend().send(build(message, current_app.config))
    except Exception as error:  # every failure is recorded on the row; nothing is lost
        db.session.rollback()
        message = db.session.get(OutboxMessage, message_id)
        return _failed(message, error, now)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING)
        .values(
            status=OutboxStatus.SENT,
            sent_at=services.clock(),
            claimed_at=None,
            attempts=OutboxMessage.attempts + 1,
            last_error="",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return "sent"


MAILER = "mail"  # the embedded mode's background thread that sends the e-mails a commit queued


def start_embedded_mailer(app):
    """make run: send queued e-mails from a thread of this process, one by one (the outbox's periodic
    flush still retries whatever fails or is left)."""
    from participation.core.scheduler import Background, in_process

    if not in_process(app):
        return None
    return Background(app, MAILER, send_one).start()


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver(message_id: int) -> str:
    """Send one outbox e-mail (queued after the commit that wrote it)."""
    return send_one(message_id)


def release_stale_claims(now: datetime) -> int:
    """Claims older than the timeout belong to a worker that died: count the attempt and free them."""
    config = current_app.config
    stale = now - timedelta(seconds=config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    rows = list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < stale)
        )
    )
    for message in rows:
        _failed(message, RuntimeError("the worker sending it stopped; sending again"), now)
    return len(rows)


def _due(now: datetime, *conditions) -> list[int]:
    """The pending e-mails due by now, oldest first, one batch."""
    return list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now, *conditions)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(current_app.config["OUTBOX_BATCH"])
        )
    )


def flush(now: datetime | None = None) -> dict:
    """Free stale claims, then send every due pending e-mail here and now (oldest first, one batch):
    `flask notifications flush`."""
    now = now or services.clock()
    released = release_stale_claims(now)
    due = _due(now)
    db.session.commit()
    outcomes: dict[str, int] = {"released": released}
    for message_id in due:
        outcome = send_one(message_id, now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(name="notifications.flush_outbox", ignore_result=True)
def flush_outbox() -> dict:
    """The beat job: free stale claims, then give each due e-mail (a retry, the end of quiet hours, one
    whose delivery was lost) a delivery of its own, queued behind routing like every e-mail. A slow or
    hung mail server then holds up one e-mail at a time, never a worker process for a whole batch.
    An e-mail queued twice all the same is sent once: its delivery claims it first."""
    now = services.clock()
    released = release_stale_claims(now)
    # Not those whose own delivery, queued at their commit, is still on its way behind other work: a
    # retry, one held back (quiet hours, a failed one sent again), or one whose delivery is long overdue.
    lost = now - timedelta(seconds=current_app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    due = _due(
        now,
        or_(
            OutboxMessage.attempts > 0,
            OutboxMessage.next_attempt_at > OutboxMessage.created_at,
            OutboxMessage.created_at <= lost,
        ),
    )
    db.session.commit()
    services.send_later(due)
    return {"released": released, "queued": len(due)}
