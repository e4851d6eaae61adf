"""React to new ticket events inside the same transaction, just before it commits.

Deadlines recompute the ticket's clocks and notifications write their in-app rows and
outbox e-mails here, so that each reacts to every transition from one place and
everything commits (or rolls back) together with the change itself.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from participation.routing.models import TicketEvent

_PENDING = "participation.new_ticket_events"
_subscribers: list[tuple[int, Callable[[list[TicketEvent]], None]]] = []
MAX_ROUNDS = 5  # a subscriber may record events of its own; they get their round too


def subscribe(order: int) -> Callable:
    """Register fn(events) to run before commit with the transaction's new TicketEvents (lower order first)."""

    def decorate(fn: Callable[[list[TicketEvent]], None]) -> Callable[[list[TicketEvent]], None]:
        if all(existing is not fn for _o, existing in _subscribers):
            _subscribers.append((order, fn))
            _subscribers.sort(key=lambda item: item[0])
        return fn

    return decorate


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context) -> None:
    new = [obj for obj in session.new if isinstance(obj, TicketEvent)]
    if new:
        session.info.setdefault(_PENDING, []).extend(new)


@event.listens_for(Session, "before_commit")
def _dispatch(session: Session) -> None:
    if session.in_nested_transaction():
        return
    for _round in range(MAX_ROUNDS):
        session.flush()
        events = session.info.pop(_PENDING, [])
        if not events:
            return
        events.sort(key=lambda e: e.id)
        for _order, fn in _subscribers:
            fn(events)
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
