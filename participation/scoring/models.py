"""Weights versions and the scorecards computed with them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
