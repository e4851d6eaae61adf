"""Research projects (the scope of their pseudonyms) and export jobs (request, progress, the bundle)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.core.models import utcnow
from participation.extensions import db


class ResearchProject(db.Model):
    """A researcher's project: its code keys the pseudonyms, so they are stable within it and differ across."""

    __tablename__ = "research_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # the bundle can be downloaded until expires_at
    FAILED = "failed"  # no file is offered
    EXPIRED = "expired"  # the bundle was removed after its time


class ExportJob(db.Model):
    """One requested export: what (dataset, filters, options), why (purpose), and how far it got."""

    __tablename__ = "export_job"
    __table_args__ = (CheckConstraint("rows_done >= 0", name="rows_done_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("research_project.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(30))  # survey-responses | callbacks | scorecards
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id", ondelete="SET NULL"))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)  # period_from/to, district, category, department
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # formats, dates, k, quasi-identifiers, text...
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[ExportStatus] = mapped_column(
        Enum(ExportStatus, native_enum=False, length=10), default=ExportStatus.QUEUED, index=True
    )
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # rows, suppressed, generalised to, files
    error: Mapped[str] = mapped_column(Text, default="")
    file_name: Mapped[str | None] = mapped_column(String(120))  # under EXPORT_FOLDER, only once complete
    file_size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # a running job older than EXPORT_STALE_SECONDS has died
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    downloads: Mapped[int] = mapped_column(Integer, default=0)

    project: Mapped[ResearchProject] = relationship()

    @property
    def progress(self) -> float:
        """Share of rows written, 0..1 (1 once done)."""
        if self.status == ExportStatus.DONE:
            return 1.0
        if not self.rows_total:
            return 0.0
        return min(1.0, self.rows_done / self.rows_total)
