"""Blocked accounts: a moderator's block stops posting, supporting, voting and flagging until it ends."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from participation.core.errors import PermissionDenied
from participation.core.models import utcnow
from participation.core.templating import dt
from participation.extensions import db
from participation.forums.models import UserBlock


def active_block(user_id: int | None) -> UserBlock | None:
    """The block in force for this account that ends last, if any."""
    if user_id is None:
        return None
    stmt = select(UserBlock).where(UserBlock.user_id == user_id, UserBlock.until > utcnow())
    return db.session.scalar(stmt.order_by(UserBlock.until.desc()).limit(1))


def ensure_not_blocked(actor: Any) -> None:
    """Refuse (403) with the end of the block (in the city's time, as every forum time) and its reason."""
    block = active_block(getattr(actor, "id", None))
    if block is not None:
        raise PermissionDenied(
            _(
                "Your account is blocked from posting in the forums until %(until)s. Reason: %(reason)s",
                until=dt(block.until),
                reason=block.reason,
            )
        )
