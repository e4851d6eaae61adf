"""Incremental scorecards: after a relevant ticket change commits, replace its tickets' shares of the open
months; the rolling 30 days are computed anew by the beat (`scoring.refresh_rolling`) and, when older
than SCORING_ROLLING_MAX_AGE, by the first page that reads them."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from participation.core.uow import after_commit, on_rollback, transaction
from participation.routing.hooks import subscribe
from participation.routing.models import TicketEvent

_QUEUED = "participation.scoring.queued"


@shared_task(name="scoring.refresh", ignore_result=True)
def refresh(periods: list[str], ticket_ids: list[int] | None = None) -> int:
    """Recompute the given periods (frozen months stay as they are).

    With `ticket_ids`, an incremental update: only those tickets' facts are read again and their shares
    of the open months replaced (see services.update_tickets).
    """
    from participation.scoring.services import recompute, update_tickets

    with transaction():
        if ticket_ids is not None:
            return update_tickets(set(ticket_ids), periods)
        return sum(recompute(period) for period in periods)


@shared_task(name="scoring.refresh_rolling", ignore_result=True)
def refresh_rolling() -> int:
    """The rolling 30 days of every department, computed anew (a window that moves with the clock)."""
    from participation.scoring.services import ROLLING, recompute

    with transaction():
        return recompute(ROLLING)


@subscribe(order=50)
def _after_relevant_events(events: list[TicketEvent]) -> None:
    from participation.extensions import db
    from participation.scoring.services import NOT_RELEVANT, period_of

    if not current_app.config["SCORING_LIVE"]:
        return
    relevant = [e for e in events if e.type not in NOT_RELEVANT and e.at is not None]
    if not relevant:
        return
    queued = db.session.info.get(_QUEUED)
    if queued is None:
        queued = db.session.info[_QUEUED] = {"periods": set(), "tickets": set()}
        after_commit(lambda: _send(db.session.info.pop(_QUEUED, None)))
        on_rollback(db.session.info.pop, _QUEUED, None)
    queued["periods"].update(period_of(e.at) for e in relevant)
    queued["tickets"].update(e.ticket_id for e in relevant)


def _send(queued: dict | None) -> None:
    if queued:
        refresh.delay(sorted(queued["periods"]), sorted(queued["tickets"]))
