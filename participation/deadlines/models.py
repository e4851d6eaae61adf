"""Calendars (versioned), SLA policies, the clocks of each ticket and the checkpoints they fired."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.core.models import utcnow
from participation.extensions import db


class CalendarVersion(db.Model):
    """One saved state of the business calendar; an edit saves a new version, old ones stay."""

    __tablename__ = "calendar_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    weekdays: Mapped[list] = mapped_column(JSON, default=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    hours: Mapped[list] = mapped_column(JSON, default=lambda: [["09:00", "12:00"], ["13:30", "18:00"]])
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    days: Mapped[list[CalendarDay]] = relationship(
        back_populates="version", order_by="CalendarDay.day", cascade="all, delete-orphan"
    )


class DayKind(enum.StrEnum):
    HOLIDAY = "holiday"  # a public holiday on what would be a working day
    WORKDAY = "workday"  # a make-up working day on what would be a weekend


class CalendarDay(db.Model):
    """An exception to the weekly pattern."""

    __tablename__ = "calendar_day"
    __table_args__ = (UniqueConstraint("version_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("calendar_version.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[DayKind] = mapped_column(Enum(DayKind, native_enum=False, length=10))
    name_zh: Mapped[str] = mapped_column(String(100), default="")
    name_en: Mapped[str] = mapped_column(String(100), default="")
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)  # statutory only; official schedule pending

    version: Mapped[CalendarVersion] = relationship(back_populates="days")


class SlaPolicy(db.Model):
    """Business-time targets for a category (or the whole city when category is empty) and a priority."""

    __tablename__ = "sla_policy"
    __table_args__ = (
        UniqueConstraint("category_id", "priority"),
        # NULLs are distinct in a unique constraint: the city-wide row of a priority needs its own index.
        Index(
            "uq_sla_policy_city_priority",
            "priority",
            unique=True,
            sqlite_where=text("category_id IS NULL"),
            postgresql_where=text("category_id IS NULL"),
        ),
        CheckConstraint("sign_for_minutes > 0", name="sign_for_positive"),
        CheckConstraint("first_contact_minutes > 0", name="first_contact_positive"),
        CheckConstraint("resolve_minutes > 0", name="resolve_positive"),
        CheckConstraint("contribution_minutes > 0", name="contribution_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"), index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    sign_for_minutes: Mapped[int] = mapped_column(Integer)
    first_contact_minutes: Mapped[int] = mapped_column(Integer)
    resolve_minutes: Mapped[int] = mapped_column(Integer)
    contribution_minutes: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    category = relationship("Category")


class ClockKind(enum.StrEnum):
    SIGN_FOR = "sign_for"
    FIRST_CONTACT = "first_contact"
    RESOLVE = "resolve"
    CONTRIBUTION = "contribution"


class ClockState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"  # stopped on time
    MISSED = "missed"  # stopped late
    CANCELLED = "cancelled"  # the part or ticket ended without the work (withdrawn, merged, removed)


OPEN_CLOCK_STATES = {ClockState.RUNNING, ClockState.PAUSED}


class SlaClock(db.Model):
    """One deadline of a ticket or part, as the last recomputation left it.

    The truth is the ticket's events; this row is their summary for queries, pages and the sweep.
    """

    __tablename__ = "sla_clock"
    __table_args__ = (
        UniqueConstraint("key"),
        CheckConstraint("target_minutes > 0", name="target_positive"),
        Index("ix_sla_clock_department_stopped", "department_id", "stopped_at"),  # a department's month (scoring)
        Index("ix_sla_clock_stopped_at", "stopped_at"),  # the open month's clocks (scoring's per-ticket shares)
        Index("ix_sla_clock_due_at", "due_at"),  # clocks falling due since the scorecards' last update
        Index("ix_sla_clock_interim_due_at", "interim_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))  # ticket:part-or-dash:kind:cycle
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_part.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[ClockKind] = mapped_column(Enum(ClockKind, native_enum=False, length=20))
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[ClockState] = mapped_column(Enum(ClockState, native_enum=False, length=12), index=True)
    around_the_clock: Mapped[bool] = mapped_column(Boolean, default=False)  # urgent: 24x7
    started_at: Mapped[datetime]
    target_minutes: Mapped[int] = mapped_column(Integer)
    paused_minutes: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    interim_due_at: Mapped[datetime | None]  # set by the coordinator; replaces due_at while set
    stopped_at: Mapped[datetime | None]
    amber_at: Mapped[datetime | None]  # 75 % of the target
    level: Mapped[int] = mapped_column(Integer, default=0)  # the highest checkpoint fired
    next_level: Mapped[int | None] = mapped_column(Integer)
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    calendar_version_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_version.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    ticket = relationship("Ticket")
    part = relationship("TicketPart")
    department = relationship("Department")

    @hybrid_property
    def effective_due(self) -> datetime:
        return self.due_of(self.interim_due_at, self.due_at)

    @effective_due.inplace.expression
    @classmethod
    def _effective_due_expression(cls):
        """The same in SQL (ordering, filtering and counting by the time a clock answers to)."""
        return func.coalesce(cls.interim_due_at, cls.due_at)

    @staticmethod
    def due_of(interim_due_at: datetime | None, due_at: datetime) -> datetime:
        """The time a clock answers to: its interim due time while it has one."""
        return interim_due_at or due_at


class SlaCheckpoint(db.Model):
    """A checkpoint that fired; the unique key makes two sweeps fire it once."""

    __tablename__ = "sla_checkpoint"
    __table_args__ = (UniqueConstraint("clock_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clock.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer)  # per cent of the target: 50, 75, 90, 100, 125, 150
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)

    clock = relationship("SlaClock")
