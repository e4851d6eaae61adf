"""Weights versions, the scorecards computed with them, and the joint meeting's agenda items."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    BigInteger,
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

from participation.core.errors import Conflict
from participation.core.models import utcnow
from participation.extensions import db


class WeightsVersion(db.Model):
    """Component weights, penalty points and the shrinkage constant; every change is a new version."""

    __tablename__ = "scoring_weights"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    weights: Mapped[dict] = mapped_column(JSON)  # component -> weight (they need not sum to 100)
    penalties: Mapped[dict] = mapped_column(JSON)  # term -> points per incident
    penalty_cap: Mapped[float] = mapped_column(Float, default=20.0)
    shrink_k: Mapped[float] = mapped_column(Float, default=10.0)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Scorecard(db.Model):
    """One department's score for one period ("2026-11", or "R30" for the rolling 30 days) and role."""

    __tablename__ = "scorecard"
    __table_args__ = (UniqueConstraint("department_id", "period", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(10), index=True)
    role: Mapped[str] = mapped_column(String(8))  # lead | co
    weights_version_id: Mapped[int] = mapped_column(ForeignKey("scoring_weights.id"))
    components: Mapped[dict] = mapped_column(JSON)  # name -> {num, den, raw, city, shrunk, weight}
    penalties: Mapped[dict] = mapped_column(JSON)  # term -> {count, points}
    penalty_points: Mapped[float] = mapped_column(Float, default=0.0)
    score: Mapped[float] = mapped_column(Float)
    items: Mapped[int] = mapped_column(Integer, default=0)  # how many things were measured
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    department = relationship("Department")
    weights_version = relationship("WeightsVersion")


class ScoreContribution(db.Model):
    """One ticket's share of an open month's tallies (a component's sums) or incidents (a penalty term's
    count) for one department and role, kept so that an incremental update can replace what a changed
    ticket counted for with what it counts for now. Written by every computation of a month that is not
    yet frozen, dropped when it freezes; the sums of a month's rows are its scorecards' figures."""

    __tablename__ = "score_contribution"
    __table_args__ = (Index("ix_score_contribution_period", "period"),)

    # no foreign keys: written in bulk by the recompute; a deleted ticket's rows go with the next one
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)
    item: Mapped[str] = mapped_column(String(32), primary_key=True)  # a component or a penalty term
    num20: Mapped[int] = mapped_column(BigInteger, default=0)  # Σ value·weight (tenths × halves)
    den2: Mapped[int] = mapped_column(Integer, default=0)  # Σ weight (halves)
    count: Mapped[int] = mapped_column(Integer, default=0)  # things measured, or incidents


class AgendaStatus(enum.StrEnum):
    OPEN = "open"
    DISCUSSED = "discussed"
    DECIDED = "decided"
    DISMISSED = "dismissed"


AGENDA_STATUS_LABELS = {
    AgendaStatus.OPEN: _l("Open"),
    AgendaStatus.DISCUSSED: _l("Discussed"),
    AgendaStatus.DECIDED: _l("Decided"),
    AgendaStatus.DISMISSED: _l("Dismissed"),
}


class AgendaItem(db.Model):
    """A category × department-pair cluster on the joint meeting's agenda, and what the meeting made of it.

    open → discussed → decided, or dismissed (from open or discussed). While open, building the agenda
    again refreshes the evidence; afterwards the evidence stays what the meeting saw.
    """

    __tablename__ = "agenda_item"
    __table_args__ = (
        UniqueConstraint("period", "category_id", "dept_a_id", "dept_b_id"),
        CheckConstraint("dept_a_id < dept_b_id", name="pair_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(10))  # the unique constraint's index serves period queries
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"), index=True)
    dept_a_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"), index=True)
    dept_b_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"), index=True)
    status: Mapped[AgendaStatus] = mapped_column(
        Enum(AgendaStatus, native_enum=False, length=12), default=AgendaStatus.OPEN, index=True
    )
    severity: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[dict] = mapped_column(JSON)  # counts and the tickets behind each (agenda.compute_clusters)
    evidence_at: Mapped[datetime] = mapped_column(default=utcnow)
    discussed_at: Mapped[datetime | None]
    discussed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    dismiss_reason: Mapped[str] = mapped_column(Text, default="")
    dismissed_at: Mapped[datetime | None]
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    catalog_change: Mapped[dict | None] = mapped_column(JSON)  # {"category", "before": {lead, co}, "after": {...}}
    catalog_changed_at: Mapped[datetime | None]
    catalog_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    category = relationship("Category")
    dept_a = relationship("Department", foreign_keys=[dept_a_id])
    dept_b = relationship("Department", foreign_keys=[dept_b_id])

    @property
    def department_ids(self) -> set[int]:
        return {self.dept_a_id, self.dept_b_id}

    def _require(self, *allowed: AgendaStatus) -> None:
        if self.status not in allowed:
            raise Conflict(
                _("This agenda item is %(status)s; that cannot be done now.", status=AGENDA_STATUS_LABELS[self.status])
            )

    def refresh(self, evidence: dict, severity: float, now: datetime) -> None:
        self._require(AgendaStatus.OPEN)
        self.evidence, self.severity, self.evidence_at = evidence, severity, now

    def mark_discussed(self, user_id: int | None, now: datetime) -> None:
        self._require(AgendaStatus.OPEN)
        self.status, self.discussed_at, self.discussed_by_id = AgendaStatus.DISCUSSED, now, user_id

    def decide(self, text: str, user_id: int | None, now: datetime) -> None:
        self._require(AgendaStatus.OPEN, AgendaStatus.DISCUSSED)
        if self.discussed_at is None:  # decided at the meeting: discussed there too
            self.discussed_at, self.discussed_by_id = now, user_id
        self.status, self.decision, self.decided_at, self.decided_by_id = AgendaStatus.DECIDED, text, now, user_id

    def dismiss(self, reason: str, user_id: int | None, now: datetime) -> None:
        self._require(AgendaStatus.OPEN, AgendaStatus.DISCUSSED)
        self.status, self.dismiss_reason, self.dismissed_at, self.dismissed_by_id = (
            AgendaStatus.DISMISSED, reason, now, user_id,
        )  # fmt: skip

    def check_catalog_change(self) -> None:
        """A catalog change carries out a decision: only a decided item, and once."""
        self._require(AgendaStatus.DECIDED)
        if self.catalog_change is not None:
            raise Conflict(_("A catalog change is already recorded for this agenda item."))

    def record_catalog_change(self, change: dict, user_id: int | None, now: datetime) -> None:
        self.check_catalog_change()
        self.catalog_change, self.catalog_changed_at, self.catalog_changed_by_id = change, now, user_id
