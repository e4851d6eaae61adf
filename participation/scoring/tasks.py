"""Incremental scorecards: after a relevant ticket change commits, recompute its month (and the rolling 30 days)."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from participation.core.uow import after_commit, transaction
from participation.routing.hooks import subscribe
from participation.routing.models import TicketEvent

_QUEUED = "participation.scoring.queued"


@shared_task(name="scoring.refresh", ignore_result=True)
def refresh(periods: list[str]) -> int:
    """Recompute the given periods (frozen months stay as they are)."""
    from participation.scoring.services import recompute

    done = 0
    with transaction():
        for period in periods:
            done += recompute(period)
    return done


@subscribe(order=50)
def _after_relevant_events(events: list[TicketEvent]) -> None:
    from participation.extensions import db
    from participation.scoring.services import RELEVANT, ROLLING, period_of

    if not current_app.config["SCORING_LIVE"]:
        return
    periods = {period_of(e.at) for e in events if e.type in RELEVANT and e.at is not None}
    if not periods:
        return
    queued: set[str] = db.session.info.setdefault(_QUEUED, set())
    new = sorted(periods - queued)
    if new:
        queued.update(new)
        after_commit(refresh.delay, [*new, ROLLING])
        after_commit(db.session.info.pop, _QUEUED, None)
