"""Moderation: flags, the moderators' queue, and the one service call for every moderator's action.

Reaching FORUM_FLAGS_TO_HIDE open flags hides an item pending review; the spam check (`spam.py`)
holds suspect posts the same way. Moderators hide (with a reason), restore, edit (the earlier text is
kept as a revision), dismiss flags, and block accounts for a time. Each action is a `ModerationAction`
row, visible to the person concerned with its reason, and an audit entry; rooms hear hide/restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from participation.accounts.models import User
from participation.core.audit import audit
from participation.core.errors import Conflict, NotFound, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import authorize
from participation.core.sockets import publish
from participation.extensions import db
from participation.forums import discussion
from participation.forums.blocks import ensure_not_blocked
from participation.forums.models import (
    Comment,
    CommentRevision,
    Flag,
    ModerationAction,
    ModerationKind,
    Proposal,
    ProposalRevision,
    ProposalState,
    UserBlock,
)
from participation.forums.rooms import NAMESPACE, proposal_room
from participation.forums.services import get_proposal

KINDS = ("proposal", "comment", "user")
ITEM_ACTIONS = ("hide", "restore", "edit", "dismiss")
REASON_MAX = 2000
MAX_BLOCK_DAYS = 365

Item = Proposal | Comment


def _reason(value: Any, errors: dict[str, list[str]]) -> str:
    reason = value.strip() if isinstance(value, str) else ""
    if not reason:
        errors["reason"] = [_("Give a reason.")]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [_("At most %(n)s characters.", n=REASON_MAX)]
    return reason


def _load(actor: Any, kind: str, item_id: int) -> Item:
    """An item the actor may see (hidden proposals are not found by others)."""
    if kind == "proposal":
        return get_proposal(actor, item_id)
    if kind == "comment":
        return discussion.get_comment(actor, item_id)
    raise NotFound()


def _target(item: Item) -> dict[str, int | None]:
    if isinstance(item, Proposal):
        return {"proposal_id": item.id, "comment_id": None}
    return {"proposal_id": None, "comment_id": item.id}


def _open_flags(item: Item):
    column = Flag.proposal_id if isinstance(item, Proposal) else Flag.comment_id
    return select(Flag).where(column == item.id, Flag.resolved_at.is_(None))


def _is_hidden(item: Item) -> bool:
    return item.state == ProposalState.HIDDEN if isinstance(item, Proposal) else item.hidden


def _record(kind: ModerationKind, item: Item | None, actor: Any, reason: str, **extra: Any) -> ModerationAction:
    target = _target(item) if item is not None else {}
    user_id = extra.pop("user_id", None) or (item.author_id if item is not None else None)
    action = ModerationAction(kind=kind, user_id=user_id, moderator_id=getattr(actor, "id", None), reason=reason)
    for name, value in {**target, **extra}.items():
        setattr(action, name, value)
    db.session.add(action)
    return action


def _announce(item: Item, hidden: bool) -> None:
    """Tell the item's room, after commit, that it was hidden or restored (no text of a hidden item)."""
    if isinstance(item, Proposal):
        event = "proposal.hidden" if hidden else "proposal.restored"
        publish(event, {"proposal_id": item.id}, [proposal_room(item.id)], NAMESPACE)
        return
    data = (
        {"comment_id": item.id, "proposal_id": item.proposal_id, "thread_id": item.thread_id}
        if hidden
        else discussion.live_comment_out(item)
    )
    publish("comment.hidden" if hidden else "comment.restored", data, [discussion.room_of(item)], NAMESPACE)


# -- flags ---------------------------------------------------------------------------------------


def flag(actor: Any, kind: str, item_id: int, reason: Any) -> Flag:
    """Report an item; at FORUM_FLAGS_TO_HIDE open flags it is hidden pending a moderator's review."""
    item = _load(actor, kind, item_id)
    authorize(actor, "forums.flag", item)
    ensure_not_blocked(actor)
    errors: dict[str, list[str]] = {}
    text = _reason(reason, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    column = Flag.proposal_id if isinstance(item, Proposal) else Flag.comment_id
    if db.session.scalar(select(Flag.id).where(column == item.id, Flag.user_id == actor.id)) is not None:
        raise Conflict(_("You have already reported this."))
    row = Flag(user_id=actor.id, reason=text, **_target(item))
    db.session.add(row)
    db.session.flush()
    audit(actor, f"{kind}.flagged", item, reason=text)
    count = db.session.scalar(select(func.count()).select_from(_open_flags(item).subquery())) or 0
    if count >= current_app.config["FORUM_FLAGS_TO_HIDE"] and not _is_hidden(item):
        why = _("Reported by %(n)s people; hidden until a moderator reviews it.", n=count)
        item.hide(why, pending=True)
        _record(ModerationKind.AUTO_HIDE, item, None, why)
        audit(None, f"{kind}.auto_hidden", item, flags=count)
        _announce(item, hidden=True)
    return row


# -- the moderators' actions ---------------------------------------------------------------------


def moderate(actor: Any, kind: str, target_id: int, action: str, payload: dict) -> ModerationAction:
    """Every moderator's action: hide | restore | edit | dismiss on a proposal or comment, block on a user.

    payload: "reason" (always required); "text" (and "title" for proposals, "stance"? for comments)
    for edit; "days" for block.
    """
    if kind not in KINDS:
        raise NotFound()
    if kind == "user":
        return _block(actor, target_id, action, payload)
    item = _load(actor, kind, target_id)
    authorize(actor, "forums.moderate", item)
    errors: dict[str, list[str]] = {}
    if action not in ITEM_ACTIONS:
        errors["action"] = [_("Not one of the allowed values: %(v)s.", v=", ".join(ITEM_ACTIONS))]
    reason = _reason(payload.get("reason"), errors)
    if action == "edit":
        changes = _edit_fields(item, payload, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    now = utcnow()
    if action == "hide":
        item.hide(reason)
        done = _record(ModerationKind.HIDE, item, actor, reason)
        _announce(item, hidden=True)
    elif action == "restore":
        item.restore()
        done = _record(ModerationKind.RESTORE, item, actor, reason)
        _announce(item, hidden=False)
    elif action == "edit":
        _apply_edit(actor, item, changes)
        done = _record(ModerationKind.EDIT, item, actor, reason)
    else:  # dismiss: the reports were unfounded; a hidden item stays hidden but leaves the queue
        item.review_pending = False
        done = _record(ModerationKind.DISMISS, item, actor, reason)
    if action != "edit":
        for row in db.session.scalars(_open_flags(item)):
            row.resolved_at = now
    audit(actor, f"{kind}.moderated", item, decision=action, reason=reason)
    return done


def _edit_fields(item: Item, payload: dict, errors: dict[str, list[str]]) -> dict:
    from participation.forums.services import _text_field

    config = current_app.config
    if isinstance(item, Proposal):
        title = {"title": payload.get("title", item.title)}
        return {
            "title": _text_field(title, "title", config["TITLE_MAX_CHARS"], errors),
            "text": _text_field(payload, "text", config["SUBMISSION_MAX_CHARS"], errors),
        }
    return {"text": _text_field(payload, "text", config["FORUM_COMMENT_MAX_CHARS"], errors)}


def _apply_edit(actor: Any, item: Item, changes: dict) -> None:
    """Keep the earlier text as a revision, then change it."""
    if isinstance(item, Proposal):
        db.session.add(ProposalRevision(proposal_id=item.id, title=item.title, text=item.text, editor_id=actor.id))
        item.title, item.text = changes["title"], changes["text"]
        return
    item.revisions.append(CommentRevision(text=item.text, stance=item.stance, editor_id=actor.id))
    item.text, item.edited_at = changes["text"], utcnow()
    db.session.flush()
    if not item.hidden:
        publish("comment.edited", discussion.comment_out(item), [discussion.room_of(item)], NAMESPACE)


def _block(actor: Any, user_id: int, action: str, payload: dict) -> ModerationAction:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such account."))
    authorize(actor, "forums.moderate", user)
    errors: dict[str, list[str]] = {}
    if action != "block":
        errors["action"] = [_("Not one of the allowed values: %(v)s.", v="block")]
    reason = _reason(payload.get("reason"), errors)
    days = payload.get("days")
    if isinstance(days, str) and days.strip().isdigit():
        days = int(days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_BLOCK_DAYS:
        errors["days"] = [_("A whole number of days from 1 to %(n)s.", n=MAX_BLOCK_DAYS)]
    if errors:
        raise ValidationFailed(fields=errors)
    until = utcnow() + timedelta(days=days)
    db.session.add(UserBlock(user_id=user.id, until=until, reason=reason, by_id=actor.id))
    done = _record(ModerationKind.BLOCK, None, actor, reason, user_id=user.id, until=until)
    audit(actor, "user.blocked", user, until=until.isoformat(), reason=reason)
    return done


# -- reading -------------------------------------------------------------------------------------


@dataclass
class QueueEntry:
    kind: str
    item: Item
    flags: list[Flag] = field(default_factory=list)
    held: ModerationAction | None = None

    @property
    def author(self):
        return self.item.author


def queue(actor: Any) -> list[QueueEntry]:
    """Items with open flags or awaiting review (auto-hidden, suspected spam), oldest first."""
    authorize(actor, "forums.moderate")
    entries: dict[tuple[str, int], QueueEntry] = {}
    for model, kind, column in (
        (Proposal, "proposal", Flag.proposal_id),
        (Comment, "comment", Flag.comment_id),
    ):
        flagged = select(column).where(column.is_not(None), Flag.resolved_at.is_(None))
        stmt = select(model).where(or_(model.review_pending.is_(True), model.id.in_(flagged))).order_by(model.id)
        for item in db.session.scalars(stmt):
            entry = QueueEntry(kind, item, list(db.session.scalars(_open_flags(item).order_by(Flag.id))))
            held = ModerationAction.proposal_id if kind == "proposal" else ModerationAction.comment_id
            entry.held = db.session.scalar(
                select(ModerationAction)
                .where(held == item.id, ModerationAction.kind.in_([ModerationKind.HOLD, ModerationKind.AUTO_HIDE]))
                .order_by(ModerationAction.id.desc())
                .limit(1)
            )
            entries[(kind, item.id)] = entry
    return list(entries.values())


def queue_out(entry: QueueEntry) -> dict:
    item = entry.item
    return {
        "kind": entry.kind,
        "id": item.id,
        "title": item.title if isinstance(item, Proposal) else None,
        "text": item.text,
        "author": {"id": item.author_id, "name": item.author.display_name if item.author else None},
        "hidden": _is_hidden(item),
        "review_pending": item.review_pending,
        "reason": item.hidden_reason,
        "held_by": entry.held.kind.value if entry.held else None,
        "flags": [{"reason": f.reason, "at": f.created_at.isoformat()} for f in entry.flags],
    }


def mine(actor: Any) -> list[ModerationAction]:
    """What moderation did to the actor's posts and account, newest first."""
    if getattr(actor, "id", None) is None:
        return []
    stmt = select(ModerationAction).where(ModerationAction.user_id == actor.id)
    return list(db.session.scalars(stmt.order_by(ModerationAction.id.desc())))


def action_out(action: ModerationAction) -> dict:
    if action.proposal_id is not None:
        target = {"type": "proposal", "id": action.proposal_id}
    elif action.comment_id is not None:
        target = {"type": "comment", "id": action.comment_id}
    else:
        target = {"type": "account", "id": action.user_id}
    return {
        "id": action.id,
        "action": action.kind.value,
        "target": target,
        "reason": action.reason,
        "by_moderator": action.moderator_id is not None,
        "until": action.until.isoformat() if action.until else None,
        "at": action.created_at.isoformat(),
    }


def notices(actor: Any, item: Item) -> list[ModerationAction]:
    """The moderation history of one item, for its author's (and moderators') eyes on its page."""
    from participation.forums.permissions import is_moderator

    if getattr(actor, "id", None) is None or (item.author_id != actor.id and not is_moderator(actor)):
        return []
    column = ModerationAction.proposal_id if isinstance(item, Proposal) else ModerationAction.comment_id
    return list(db.session.scalars(select(ModerationAction).where(column == item.id).order_by(ModerationAction.id)))
