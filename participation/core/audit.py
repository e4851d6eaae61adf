"""Audit trail: one row per state change, written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from participation.core.models import utcnow
from participation.extensions import db


class AuditLog(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


def audit(actor: Any, action: str, target: Any = None, **payload: Any) -> AuditLog:
    """Record that actor did `action` to target, inside the current transaction."""
    actor_id = getattr(actor, "id", None) if getattr(actor, "is_authenticated", False) else None
    entry = AuditLog(
        actor_id=actor_id,
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=str(getattr(target, "id", "")) if target is not None else None,
        payload=payload,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)
    return entry
