"""Tickets (the unit of work), their parts (one per department), disputes, and the event history."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from participation.core.errors import Conflict
from participation.core.models import utcnow
from participation.extensions import db


def _enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(cls, native_enum=False, length=length)


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
    TicketStatus.DISPATCHED: {
        TicketStatus.IN_PROGRESS,
        TicketStatus.TRIAGE,
        TicketStatus.WITHDRAWN,
        TicketStatus.REJECTED,
        TicketStatus.DUPLICATE,
    },
    TicketStatus.IN_PROGRESS: {
        TicketStatus.RESOLVED,
        TicketStatus.DISPATCHED,  # the lead changed: the new lead signs for it again
        TicketStatus.TRIAGE,
        TicketStatus.WITHDRAWN,
    },
    TicketStatus.RESOLVED: {TicketStatus.CLOSED, TicketStatus.REOPENED},
    TicketStatus.REOPENED: {
        TicketStatus.IN_PROGRESS,
        TicketStatus.RESOLVED,
        TicketStatus.DISPATCHED,
        TicketStatus.TRIAGE,
        TicketStatus.WITHDRAWN,
    },
}


class PartRole(enum.StrEnum):
    LEAD = "lead"
    CO = "co"


class PartStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DONE = "done"
    WAIVED = "waived"
    RETURN_REQUESTED = "return_requested"
    ENDED = "ended"  # over: the department left (`departed`), or the ticket closed for everyone


ACTIVE_PART_STATUSES = {PartStatus.PENDING, PartStatus.ACCEPTED, PartStatus.DONE, PartStatus.RETURN_REQUESTED}
FINISHED_PART_STATUSES = {PartStatus.DONE, PartStatus.WAIVED, PartStatus.ENDED}


class TicketCategory(db.Model):
    """A category the ticket is about; exactly one is primary."""

    __tablename__ = "ticket_category"
    # A category's tickets, newest first: the duplicate check reads a busy category's latest open tickets.
    __table_args__ = (Index("ix_ticket_category_category_ticket", "category_id", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), primary_key=True)
    primary: Mapped[bool] = mapped_column(Boolean, default=False)

    category = relationship("Category")


class Ticket(db.Model):
    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), unique=True)
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus), default=TicketStatus.SUBMITTED, index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    public_reply: Mapped[str] = mapped_column(Text, default="")
    public_reply_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    routing_confidence: Mapped[float | None] = mapped_column(Float)
    suggestions: Mapped[list] = mapped_column(JSON, default=list)
    dispatched_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    master_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"), index=True)
    merged_at: Mapped[datetime | None]
    duplicate_candidates: Mapped[list] = mapped_column(JSON, default=list)  # [{"ticket_id", "score"}]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # 0 none, 1 department head, 2 coordinator
    escalated_at: Mapped[datetime | None]
    paused_since: Mapped[datetime | None]  # set while a pause runs (the events hold the history)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    submission = relationship("Submission", back_populates="ticket")
    master: Mapped[Ticket | None] = relationship(remote_side=[id], back_populates="followers")
    followers: Mapped[list[Ticket]] = relationship(back_populates="master", order_by="Ticket.id")
    lead_department = relationship("Department")
    district = relationship("District")
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )
    parts: Mapped[list[TicketPart]] = relationship(
        back_populates="ticket", order_by="TicketPart.id", cascade="all, delete-orphan"
    )
    category_links: Mapped[list[TicketCategory]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    def move_to(self, status: TicketStatus) -> TicketStatus:
        """Change status if the life cycle allows it; return the old status."""
        if status not in _ALLOWED.get(self.status, set()):
            from participation.core.labels import status_label

            if status == self.status:  # done already, from another page or a second click
                raise Conflict(_("This ticket is already %(status)s.", status=status_label(status.value)))
            raise Conflict(
                _(
                    "A ticket cannot go from %(a)s to %(b)s.",
                    a=status_label(self.status.value),
                    b=status_label(status.value),
                )
            )
        old, self.status = self.status, status
        return old

    def merge_into(self, master: Ticket, now: datetime) -> TicketStatus:
        """Become a duplicate of master, an open ticket that is nobody's duplicate; return the old status."""
        from participation.core.labels import status_label

        if master.id == self.id:
            raise Conflict(
                _("A ticket cannot be merged into itself."), fields={"master_id": [_("Choose another ticket.")]}
            )
        if master.master_id is not None or not master.is_open:
            raise Conflict(
                _(
                    "Ticket #%(id)s is %(status)s; merge only into an open ticket.",
                    id=master.id,
                    status=status_label(master.status.value),
                ),
                fields={"master_id": [_("Choose an open ticket.")]},
            )
        old = self.move_to(TicketStatus.DUPLICATE)
        self.master, self.merged_at = master, now
        return old

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def active_parts(self) -> list[TicketPart]:
        return [p for p in self.parts if p.status in ACTIVE_PART_STATUSES or p.status == PartStatus.WAIVED]

    @property
    def lead_part(self) -> TicketPart | None:
        return next((p for p in self.parts if p.role == PartRole.LEAD and p.status != PartStatus.ENDED), None)

    @property
    def primary_category(self):
        return next((link.category for link in self.category_links if link.primary), None)

    @property
    def categories(self) -> list:
        links = sorted(self.category_links, key=lambda link: (not link.primary, link.category.code))
        return [link.category for link in links]

    def part_for(self, department_id: int) -> TicketPart | None:
        return next((p for p in self.parts if p.department_id == department_id and p.status != PartStatus.ENDED), None)


class TicketPart(db.Model):
    """One department's share of a ticket, with its own state."""

    __tablename__ = "ticket_part"
    __table_args__ = (
        UniqueConstraint("ticket_id", "department_id"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    role: Mapped[PartRole] = mapped_column(_enum(PartRole, 8))
    status: Mapped[PartStatus] = mapped_column(_enum(PartStatus), default=PartStatus.PENDING, index=True)
    status_before_return: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(default=utcnow)  # given (again) to the department
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    done_at: Mapped[datetime | None]
    contribution: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None]
    rating_note: Mapped[str] = mapped_column(Text, default="")
    # Ended because the department left the ticket (a return upheld, the part removed, swapped out as
    # lead), not because the ticket closed for everyone (withdrawn, rejected, merged): it no longer sees it.
    departed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    ticket: Mapped[Ticket] = relationship(back_populates="parts")
    department = relationship("Department")

    def _require(self, *allowed: PartStatus) -> None:
        from participation.core.labels import part_status_label

        if self.status not in allowed:
            raise Conflict(
                _("This part is %(status)s; that cannot be done now.", status=part_status_label(self.status.value))
            )

    def accept(self, user_id: int, now: datetime) -> None:
        if self.status == PartStatus.ACCEPTED:  # a colleague signed first, or a second click
            raise Conflict(_("This part has already been signed for."))
        self._require(PartStatus.PENDING)
        self.status, self.accepted_at, self.accepted_by_id = PartStatus.ACCEPTED, now, user_id

    def contribute(self, note: str, now: datetime) -> None:
        if self.role != PartRole.CO:
            raise Conflict(_("The lead department finishes its part by resolving the ticket."))
        self._require(PartStatus.ACCEPTED)
        self.status, self.contribution, self.done_at = PartStatus.DONE, note, now

    def request_return(self) -> None:
        self._require(PartStatus.PENDING, PartStatus.ACCEPTED)
        self.status_before_return, self.status = self.status.value, PartStatus.RETURN_REQUESTED

    def overrule(self, now: datetime) -> None:
        self._require(PartStatus.RETURN_REQUESTED)
        self.status, self.status_before_return = PartStatus.ACCEPTED, None
        self.accepted_at = self.accepted_at or now

    def end(self) -> None:
        """The ticket closed for everyone (withdrawn, rejected, merged): the part ends, the department
        keeps sight of the ticket."""
        self._require(PartStatus.PENDING, PartStatus.ACCEPTED, PartStatus.RETURN_REQUESTED, PartStatus.WAIVED)
        self.status = PartStatus.ENDED

    def leave(self) -> None:
        """The department leaves the ticket (a return upheld, removed, swapped out as lead)."""
        self.end()
        self.departed = True

    def waive(self) -> None:
        if self.role != PartRole.CO:
            raise Conflict(_("Only a co-handling part can be waived."))
        self._require(PartStatus.PENDING, PartStatus.ACCEPTED, PartStatus.RETURN_REQUESTED)
        self.status = PartStatus.WAIVED

    def finish_lead(self, now: datetime) -> None:
        self._require(PartStatus.ACCEPTED)
        self.status, self.done_at = PartStatus.DONE, now

    def reopen(self) -> None:
        self._require(PartStatus.DONE)
        self.status, self.done_at = PartStatus.ACCEPTED, None

    def rate(self, rating: int, note: str) -> None:
        if self.role != PartRole.CO:
            raise Conflict(_("Only co-handling contributions are rated."))
        self._require(PartStatus.DONE)
        if self.rating is not None:  # a stale page or a resubmitted form must not rewrite the scorecard's input
            raise Conflict(_("This contribution has already been rated (★ %(n)s).", n=self.rating))
        self.rating, self.rating_note = rating, note


class DisputeKind(enum.StrEnum):
    RETURN = "return"
    TRANSFER = "transfer"


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    OVERRULED = "overruled"


class Dispute(db.Model):
    """A part returned as "not our responsibility", or a transfer request; the coordinator rules."""

    __tablename__ = "dispute"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("ticket_part.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[DisputeKind] = mapped_column(_enum(DisputeKind, 10))
    reason: Mapped[str] = mapped_column(Text)
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    status: Mapped[DisputeStatus] = mapped_column(_enum(DisputeStatus, 10), default=DisputeStatus.OPEN, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ruled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    ruled_at: Mapped[datetime | None]
    ruling_note: Mapped[str] = mapped_column(Text, default="")

    ticket = relationship("Ticket")
    part = relationship("TicketPart")
    department = relationship("Department", foreign_keys=[department_id])
    suggested_department = relationship("Department", foreign_keys=[suggested_department_id])


class TicketEvent(db.Model):
    """Append-only: nothing here is ever updated or deleted."""

    __tablename__ = "ticket_event"
    __table_args__ = (Index("ix_ticket_event_type_at", "type", "at"),)  # the reopenings and pauses of a period

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
    actor = relationship("User")
    department = relationship("Department")


class TrainingExample(db.Model):
    """A dispatcher-confirmed (or imported) routing decision the router learns from."""

    __tablename__ = "training_example"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    categories: Mapped[list] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20), default="dispatcher")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RouterModel(db.Model):
    """A trained router, stored so every process (web, worker) uses the same one."""

    __tablename__ = "router_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    examples: Mapped[int] = mapped_column(Integer, default=0)
    catalog_stamp: Mapped[str] = mapped_column(String(64))
    blob: Mapped[bytes] = mapped_column(db.LargeBinary)
