"""Ticket operations available so far: open a ticket for a submission, and move it along its life cycle."""

from __future__ import annotations

from typing import Any

from participation.core.permissions import is_authenticated
from participation.extensions import db
from participation.routing.models import Ticket, TicketEvent, TicketStatus


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", None) if is_authenticated(actor) else None


def record(
    ticket: Ticket,
    type_: str,
    actor: Any = None,
    *,
    old: str | None = None,
    new: str | None = None,
    public: bool = False,
    **payload: Any,
) -> TicketEvent:
    """Append one event to the ticket's history."""
    event = TicketEvent(
        ticket=ticket,
        type=type_,
        actor_id=_actor_id(actor),
        from_status=old,
        to_status=new,
        payload=payload,
        public=public,
    )
    db.session.add(event)
    return event


def open_ticket(submission: Any, actor: Any = None) -> Ticket:
    """Every submission becomes a ticket, first in status `submitted`."""
    ticket = Ticket(submission=submission, status=TicketStatus.SUBMITTED)
    db.session.add(ticket)
    record(ticket, "submitted", actor, new=TicketStatus.SUBMITTED.value, public=True)
    return ticket


def change_status(
    ticket: Ticket, status: str, actor: Any = None, *, public: bool = True, **payload: Any
) -> TicketEvent:
    """Move the ticket (the model refuses illegal moves) and record it."""
    new = TicketStatus(status)
    old = ticket.move_to(new)
    return record(ticket, f"status.{new.value}", actor, old=old.value, new=new.value, public=public, **payload)
