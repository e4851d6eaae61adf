"""The spam and abuse check of new proposals and comments.

A suspect post is stored but hidden pending review (it appears in the moderators' queue with the
reason), never refused: a false alarm costs a delay, not a lost post. The rules, in order:

- **links**: more than FORUM_MAX_LINKS URLs (``http://``, ``https://`` or ``www.``) in the text;
- **rate**: the account already posted FORUM_SPAM_RATE proposals and comments in the last
  FORUM_SPAM_RATE_SECONDS seconds;
- **repeated text**: the same or nearly the same text (difflib ratio at least FORUM_SPAM_SIMILARITY,
  after folding case and white space) as one of the account's proposals or comments of the last
  FORUM_SPAM_REPEAT_HOURS hours.
"""

from __future__ import annotations

import re
from datetime import timedelta
from difflib import SequenceMatcher
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from participation.core.audit import audit
from participation.core.models import utcnow
from participation.extensions import db
from participation.forums.models import Comment, ModerationAction, ModerationKind, Proposal

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
RECENT_TEXTS = 50


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def suspect(actor: Any, text: str, exclude_proposal: int | None = None) -> str | None:
    """Why this new post by `actor` looks like spam, or None."""
    config = current_app.config
    if not config["FORUM_SPAM_CHECK"]:
        return None
    links = len(_URL.findall(text))
    if links > config["FORUM_MAX_LINKS"]:
        return _("Spam check: %(n)s links (at most %(m)s).", n=links, m=config["FORUM_MAX_LINKS"])
    user_id = getattr(actor, "id", None)
    if user_id is None:
        return None
    now = utcnow()
    since = now - timedelta(seconds=config["FORUM_SPAM_RATE_SECONDS"])
    proposals = select(func.count()).select_from(Proposal).where(Proposal.author_id == user_id)
    if exclude_proposal is not None:
        proposals = proposals.where(Proposal.id != exclude_proposal)
    recent = (db.session.scalar(proposals.where(Proposal.created_at >= since)) or 0) + (
        db.session.scalar(
            select(func.count()).select_from(Comment).where(Comment.author_id == user_id, Comment.created_at >= since)
        )
        or 0
    )
    if recent >= config["FORUM_SPAM_RATE"]:
        return _("Spam check: %(n)s posts within %(s)s seconds.", n=recent + 1, s=config["FORUM_SPAM_RATE_SECONDS"])
    folded = _fold(text)
    since = now - timedelta(hours=config["FORUM_SPAM_REPEAT_HOURS"])
    earlier = select(Proposal.title, Proposal.text).where(Proposal.author_id == user_id, Proposal.created_at >= since)
    if exclude_proposal is not None:
        earlier = earlier.where(Proposal.id != exclude_proposal)
    rows = db.session.execute(earlier.order_by(Proposal.id.desc()).limit(RECENT_TEXTS))
    texts = [f"{title}\n{body}" for title, body in rows]
    texts += db.session.scalars(
        select(Comment.text)
        .where(Comment.author_id == user_id, Comment.created_at >= since)
        .order_by(Comment.id.desc())
        .limit(RECENT_TEXTS)
    )
    for other in texts:
        other = _fold(other)
        if other == folded or SequenceMatcher(None, other, folded).ratio() >= config["FORUM_SPAM_SIMILARITY"]:
            return _("Spam check: the same text was posted recently.")
    return None


def hold(item: Proposal | Comment, reason: str) -> ModerationAction:
    """Hide a suspect post pending review and record why (the platform acts, not a moderator)."""
    item.hide(reason, pending=True)
    is_proposal = isinstance(item, Proposal)
    action = ModerationAction(
        kind=ModerationKind.HOLD,
        proposal_id=item.id if is_proposal else None,
        comment_id=None if is_proposal else item.id,
        user_id=item.author_id,
        reason=reason,
    )
    db.session.add(action)
    audit(None, "proposal.held" if is_proposal else "comment.held", item, reason=reason)
    return action
