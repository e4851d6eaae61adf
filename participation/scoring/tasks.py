"""Incremental scorecards: after a relevant ticket change commits, replace its tickets' shares of the open
months; the rolling 30 days are computed anew by the beat (`scoring.refresh_rolling`) and, when older
than SCORING_ROLLING_MAX_AGE, by the first page that reads them."""

from __future__ import annotations

from celery import shared_task
from flask import current_app
from sqlalchemy import event, inspect

from participation.core.uow import after_commit, on_rollback, transaction
from participation.deadlines.models import ClockState, SlaClock
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
    """The rolling 30 days of every department, computed anew (a window that moves with the clock), and
    the open months brought up to the moment (clocks that fell due since, with no change to any ticket)."""
    from participation.scoring.services import ROLLING, now, period_of, recompute, update_tickets

    with transaction():
        done = recompute(ROLLING)
        return done + update_tickets(set(), [period_of(now())])


@subscribe(order=50)
def _after_relevant_events(events: list[TicketEvent]) -> None:
    from participation.scoring.services import NOT_RELEVANT, period_of

    relevant = [e for e in events if e.type not in NOT_RELEVANT and e.at is not None]
    if relevant:
        _queue({e.ticket_id for e in relevant}, {period_of(e.at) for e in relevant})


# a clock's columns that its facts read: a change to one, whatever event brought it (the deadline
# recomputation runs on every event, and a pause past its cap ends there), updates the scorecards
_CLOCK_FACTS = ("state", "stopped_at", "due_at", "interim_due_at", "department_id", "part_id", "kind")


@event.listens_for(SlaClock, "after_insert")
def _clock_added(_mapper, _connection, clock: SlaClock) -> None:
    # a new clock running toward a later due time (every clock a dispatch starts) counts for nothing yet
    if current_app.config["SCORING_LIVE"] and _counts(clock.state, clock.effective_due):
        _clock_changed(clock)


@event.listens_for(SlaClock, "after_update")
def _clock_updated(_mapper, _connection, clock: SlaClock) -> None:
    attrs = inspect(clock).attrs
    if not current_app.config["SCORING_LIVE"] or not any(attrs[name].history.has_changes() for name in _CLOCK_FACTS):
        return

    def before(name: str):
        history = attrs[name].history
        return history.deleted[0] if history.deleted else getattr(clock, name)

    # a due time moved while the clock is still early, a part set on a running clock: nothing counted
    # before or after, nothing to update (the deadline recomputation rewrites clocks on every event)
    counted_before = _counts(before("state"), SlaClock.due_of(before("interim_due_at"), before("due_at")))
    if counted_before or _counts(clock.state, clock.effective_due):
        _clock_changed(clock)


def _counts(state, due) -> bool:
    """Whether a clock in this state with this due time counts now: stopped (met or missed), or running
    past its due time."""
    from participation.scoring.services import now

    if state in (ClockState.MET, ClockState.MISSED):
        return True
    return state == ClockState.RUNNING and due is not None and due <= now()  # aware: UTCDateTime refuses naive


def _clock_changed(clock: SlaClock) -> None:
    from participation.scoring.services import now, period_of

    _queue({clock.ticket_id}, {period_of(now())})


def _queue(tickets: set[int], periods: set[str]) -> None:
    """Update these tickets' scorecards once the transaction commits (one task for all its changes)."""
    from participation.extensions import db

    if not current_app.config["SCORING_LIVE"]:
        return
    queued = db.session.info.get(_QUEUED)
    if queued is None:
        queued = db.session.info[_QUEUED] = {"periods": set(), "tickets": set()}
        after_commit(lambda: _send(db.session.info.pop(_QUEUED, None)))
        on_rollback(db.session.info.pop, _QUEUED, None)
    queued["periods"].update(periods)
    queued["tickets"].update(tickets)


def _send(queued: dict | None) -> None:
    if queued:
        refresh.delay(sorted(queued["periods"]), sorted(queued["tickets"]))
