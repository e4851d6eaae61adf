"""Tickets (the unit of work) and their append-only event history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.core.errors import Conflict
from participation.core.models import utcnow
from participation.extensions import db


class TicketStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    TRIAGE = "triage"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = {
    TicketStatus.SUBMITTED,
    TicketStatus.TRIAGE,
    TicketStatus.DISPATCHED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.REOPENED,
}

_ALLOWED = {
    TicketStatus.SUBMITTED: {TicketStatus.TRIAGE, TicketStatus.WITHDRAWN, TicketStatus.REJECTED},
    TicketStatus.TRIAGE: {
        TicketStatus.DISPATCHED,
        TicketStatus.WITHDRAWN,
        TicketStatus.REJECTED,
        TicketStatus.DUPLICATE,
    },
    TicketStatus.DISPATCHED: {TicketStatus.IN_PROGRESS, TicketStatus.WITHDRAWN, TicketStatus.DUPLICATE},
    TicketStatus.IN_PROGRESS: {TicketStatus.RESOLVED, TicketStatus.WITHDRAWN},
    TicketStatus.RESOLVED: {TicketStatus.CLOSED, TicketStatus.REOPENED},
    TicketStatus.REOPENED: {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED},
}


class Ticket(db.Model):
    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), unique=True)
    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, native_enum=False, length=20), default=TicketStatus.SUBMITTED, index=True
    )
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    submission = relationship("Submission", back_populates="ticket")
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    def move_to(self, status: TicketStatus) -> TicketStatus:
        """Change status if the life cycle allows it; return the old status."""
        if status not in _ALLOWED.get(self.status, set()):
            raise Conflict(f"A ticket cannot go from {self.status.value} to {status.value}.")
        old, self.status = self.status, status
        return old

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketEvent(db.Model):
    """Append-only: nothing here is ever updated or deleted."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    type: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    public: Mapped[bool] = mapped_column(Boolean, default=False)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
