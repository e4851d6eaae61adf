"""Departments, districts (a tree) and categories: the city's catalog."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.core.i18n import Bilingual
from participation.core.models import utcnow
from participation.extensions import db

category_co = Table(
    "category_co",
    db.metadata,
    Column("category_id", ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)


class Department(Bilingual, db.Model):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class District(Bilingual, db.Model):
    __tablename__ = "district"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[District | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[District]] = relationship(back_populates="parent", order_by="District.code")
    office: Mapped[Department | None] = relationship()

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.parent.depth + 1


class Category(Bilingual, db.Model):
    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("respond_hours > 0", name="respond_positive"),
        CheckConstraint("resolve_days > 0", name="resolve_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    examples: Mapped[list] = mapped_column(JSON, default=list)
    respond_hours: Mapped[int] = mapped_column(default=24)
    resolve_days: Mapped[int] = mapped_column(default=15)
    district_co: Mapped[bool] = mapped_column(Boolean, default=False)
    enterprise_only: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lead: Mapped[Department] = relationship(foreign_keys=[lead_id])
    co: Mapped[list[Department]] = relationship(secondary=category_co, order_by="Department.code")
