"""Discussion in the forums: topic threads, nested comments with stances, votes, edits.

Replies nest to MAX_DEPTH; a reply to a comment at the deepest level is attached beside it (same parent)
and remembers the comment it answers in `reply_to_id`, so a conversation can go on without the page
indenting forever. Every change is announced to the proposal's or thread's room after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from sqlalchemy import func, select

from participation.accounts.models import Role
from participation.catalog.models import Category, Department
from participation.core.audit import audit
from participation.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import authorize, is_authenticated
from participation.core.sockets import publish
from participation.extensions import db
from participation.forums import spam
from participation.forums.blocks import ensure_not_blocked
from participation.forums.models import (
    COMMENTABLE_STATES,
    MAX_DEPTH,
    Comment,
    CommentRevision,
    CommentVote,
    Proposal,
    ProposalState,
    Stance,
    Thread,
    ThreadState,
    comment_count_of,
)
from participation.forums.permissions import is_moderator
from participation.forums.rooms import NAMESPACE, proposal_room, thread_room
from participation.forums.services import _code, _text_field, get_proposal

THREAD_SORTS = ("newest", "discussed")


# -- threads -------------------------------------------------------------------------------------


def get_thread(actor: Any, thread_id: int) -> Thread:
    thread = db.session.get(Thread, thread_id)
    if thread is None:
        raise NotFound(_("No such thread."))
    authorize(actor, "forums.thread.view", thread)
    return thread


def create_thread(actor: Any, payload: dict) -> Thread:
    """The coordination centre opens a topic for discussion (category optional)."""
    authorize(actor, "forums.thread.create")
    config = current_app.config
    errors: dict[str, list[str]] = {}
    for name in sorted(set(payload) - {"title", "text", "category"}):
        errors[name] = [_("Unknown field.")]
    title = _text_field(payload, "title", config["TITLE_MAX_CHARS"], errors)
    text = _text_field(payload, "text", config["SUBMISSION_MAX_CHARS"], errors)
    category = None
    code = _code(payload, "category", errors)
    if code is not None:
        category = db.session.scalar(select(Category).where(Category.code == code, Category.active))
        if category is None:
            errors["category"] = [_("Unknown category.")]
    if errors:
        raise ValidationFailed(fields=errors)
    thread = Thread(title=title, text=text, category=category, opened_by=actor, state=ThreadState.OPEN)
    db.session.add(thread)
    db.session.flush()
    audit(actor, "thread.opened", thread)
    return thread


def set_thread_locked(actor: Any, thread_id: int, locked: bool) -> Thread:
    """Lock a thread (no more comments, votes or edits) or open it again."""
    thread = get_thread(actor, thread_id)
    authorize(actor, "forums.thread.lock", thread)
    thread.lock() if locked else thread.unlock()
    audit(actor, "thread.locked" if locked else "thread.unlocked", thread)
    publish("thread.state", {"thread_id": thread.id, "state": thread.state.value}, [thread_room(thread.id)], NAMESPACE)
    return thread


@dataclass
class ThreadPage:
    items: list[Thread]
    counts: dict[int, int]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_threads(sort: str = "newest", page: int = 1, per_page: int | None = None) -> ThreadPage:
    """All threads, open and locked, newest first or most discussed first."""
    if sort not in THREAD_SORTS:
        raise ValidationFailed(fields={"sort": [_("Not one of the allowed values: %(v)s.", v=", ".join(THREAD_SORTS))]})
    per_page = per_page or current_app.config["FORUM_PAGE_SIZE"]
    total = db.session.scalar(select(func.count()).select_from(Thread)) or 0
    stmt = select(Thread)
    if sort == "discussed":
        stmt = stmt.order_by(comment_count_of(Thread).desc(), Thread.id.desc())
    else:
        stmt = stmt.order_by(Thread.id.desc())
    page = max(1, min(page, 10_000))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return ThreadPage(items, comment_counts(threads=[t.id for t in items]), total, page, per_page)


def comment_counts(proposals: list[int] | None = None, threads: list[int] | None = None) -> dict[int, int]:
    """Comments per proposal (or per thread) id, for lists."""
    column = Comment.proposal_id if proposals is not None else Comment.thread_id
    ids = proposals if proposals is not None else threads
    if not ids:
        return {}
    rows = db.session.execute(select(column, func.count()).where(column.in_(ids)).group_by(column))
    return {subject_id: n for subject_id, n in rows}


# -- commenting ----------------------------------------------------------------------------------


def _stance(payload: dict, errors: dict[str, list[str]]) -> Stance | None:
    value = payload.get("stance")
    if value is None or value == "":
        return None
    try:
        return Stance(value if isinstance(value, str) else "")
    except ValueError:
        errors["stance"] = [_("Not one of the allowed values: %(v)s.", v=", ".join(s.value for s in Stance))]
        return None


def _comment_text(payload: dict, errors: dict[str, list[str]]) -> str:
    return _text_field(payload, "text", current_app.config["FORUM_COMMENT_MAX_CHARS"], errors)


def _ensure_open(comment_or_subject: Comment | Proposal | Thread) -> None:
    """Discussion of withdrawn, hidden or draft proposals and of locked threads is closed."""
    subject = comment_or_subject
    if isinstance(subject, Comment):
        if subject.hidden:
            raise Conflict(_("This comment is hidden by a moderator."))
        subject = subject.proposal if subject.proposal_id is not None else subject.thread
    if isinstance(subject, Proposal) and subject.state not in COMMENTABLE_STATES:
        if subject.state == ProposalState.DRAFT:
            raise Conflict(_("A draft cannot be discussed before it is published."))
        raise Conflict(_("This proposal is withdrawn or hidden; its discussion is closed."))
    if isinstance(subject, Thread) and subject.state == ThreadState.LOCKED:
        raise Conflict(_("This thread is locked; its discussion is closed."))


def _official_department(actor: Any, proposal: Proposal | None) -> int | None:
    """A staff member speaks for a department: one with a part on the proposal's ticket, else their first."""
    if not actor.has_role(Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN):
        return None
    mine = actor.department_ids
    if not mine:
        return None
    ticket = proposal.ticket if proposal is not None else None
    if ticket is not None:
        if ticket.lead_department_id in mine:
            return ticket.lead_department_id
        for part in sorted(ticket.parts, key=lambda p: p.id or 0):
            if part.department_id in mine:
                return part.department_id
    return min(mine)


def _add_comment(actor: Any, subject: Proposal | Thread, payload: dict) -> Comment:
    authorize(actor, "forums.comment.create", subject)
    ensure_not_blocked(actor)
    _ensure_open(subject)
    errors: dict[str, list[str]] = {}
    for name in sorted(set(payload) - {"text", "stance", "parent"}):
        errors[name] = [_("Unknown field.")]
    text = _comment_text(payload, errors)
    stance = _stance(payload, errors)
    parent = None
    parent_id = payload.get("parent")
    if parent_id not in (None, ""):
        if isinstance(parent_id, str) and parent_id.isdigit():
            parent_id = int(parent_id)
        parent = db.session.get(Comment, parent_id) if isinstance(parent_id, int) and parent_id > 0 else None
        same = parent is not None and (
            parent.proposal_id == subject.id if isinstance(subject, Proposal) else parent.thread_id == subject.id
        )
        if not same:
            errors["parent"] = [_("No such comment here.")]
            parent = None
    if errors:
        raise ValidationFailed(fields=errors)
    reply_to = None
    if parent is not None and parent.depth >= MAX_DEPTH:
        reply_to, parent = parent, parent.parent
    comment = Comment(
        text=text,
        stance=stance,
        parent=parent,
        reply_to=reply_to,
        depth=(parent.depth + 1) if parent is not None else 1,
        author=actor,
        author_is_enterprise=actor.has_role(Role.ENTERPRISE),
        official_department_id=_official_department(actor, subject if isinstance(subject, Proposal) else None),
    )
    if isinstance(subject, Proposal):
        comment.proposal = subject
    else:
        comment.thread = subject
    suspicion = spam.suspect(actor, text)
    db.session.add(comment)
    db.session.flush()
    audit(actor, "comment.created", comment, stance=stance.value if stance else None)
    if suspicion:
        spam.hold(comment, suspicion)  # stored, hidden pending review; nobody else hears of it yet
    else:
        publish("comment.created", live_comment_out(comment), [room_of(comment)], NAMESPACE)
    return comment


def comment_on_proposal(actor: Any, proposal_id: int, payload: dict) -> Comment:
    """Comment on (or reply within) a published proposal's discussion."""
    return _add_comment(actor, get_proposal(actor, proposal_id), payload)


def comment_on_thread(actor: Any, thread_id: int, payload: dict) -> Comment:
    """Comment on (or reply within) an open thread."""
    return _add_comment(actor, get_thread(actor, thread_id), payload)


def get_comment(actor: Any, comment_id: int) -> Comment:
    """A comment whose proposal or thread the actor may see."""
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(_("No such comment."))
    try:
        if comment.proposal_id is not None:
            get_proposal(actor, comment.proposal_id)
        else:
            get_thread(actor, comment.thread_id)
    except NotFound:
        raise NotFound(_("No such comment.")) from None
    return comment


def edit_comment(actor: Any, comment_id: int, payload: dict) -> Comment:
    """The author corrects a comment; the text it had before is kept as a revision."""
    comment = get_comment(actor, comment_id)
    authorize(actor, "forums.comment.edit", comment)
    ensure_not_blocked(actor)
    _ensure_open(comment)
    errors: dict[str, list[str]] = {}
    for name in sorted(set(payload) - {"text", "stance"}):
        errors[name] = [_("Unknown field.")]
    text = _comment_text(payload, errors)
    stance = _stance(payload, errors) if "stance" in payload else comment.stance
    if errors:
        raise ValidationFailed(fields=errors)
    if text == comment.text and stance == comment.stance:
        return comment
    comment.revisions.append(CommentRevision(text=comment.text, stance=comment.stance, editor_id=actor.id))
    comment.text, comment.stance, comment.edited_at = text, stance, utcnow()
    db.session.flush()
    audit(actor, "comment.edited", comment)
    publish("comment.edited", comment_out(comment), [room_of(comment)], NAMESPACE)
    return comment


# -- votes ---------------------------------------------------------------------------------------


def vote(actor: Any, comment_id: int, value: Any) -> Comment:
    """Vote a comment up (1) or down (-1), or remove one's vote (0); one vote per account."""
    comment = get_comment(actor, comment_id)
    authorize(actor, "forums.comment.vote", comment)
    if isinstance(value, bool) or value not in (1, -1, 0):
        raise ValidationFailed(fields={"value": [_("Not one of the allowed values: %(v)s.", v="1, -1, 0")]})
    ensure_not_blocked(actor)
    if comment.author_id == actor.id:
        raise PermissionDenied(_("You cannot vote on your own comment."))
    _ensure_open(comment)
    row = db.session.scalar(
        select(CommentVote).where(CommentVote.comment_id == comment.id, CommentVote.user_id == actor.id)
    )
    if value == 0:
        if row is None:
            return comment
        db.session.delete(row)
    elif row is None:
        db.session.add(CommentVote(comment_id=comment.id, user_id=actor.id, value=value))
    elif row.value == value:
        return comment
    else:
        row.value = value
    db.session.flush()
    comment.up_count, comment.down_count = _tally(comment.id)
    audit(actor, "comment.voted", comment, value=value)
    publish("comment.votes", votes_out(comment), [room_of(comment)], NAMESPACE)
    return comment


def _tally(comment_id: int) -> tuple[int, int]:
    stmt = select(CommentVote.value, func.count()).where(CommentVote.comment_id == comment_id)
    rows = dict(db.session.execute(stmt.group_by(CommentVote.value)).all())
    return rows.get(1, 0), rows.get(-1, 0)


def my_votes(actor: Any, comment_ids: list[int]) -> dict[int, int]:
    """The actor's votes on these comments: comment id -> 1 or -1."""
    if not is_authenticated(actor) or getattr(actor, "id", None) is None or not comment_ids:
        return {}
    rows = db.session.execute(
        select(CommentVote.comment_id, CommentVote.value).where(
            CommentVote.user_id == actor.id, CommentVote.comment_id.in_(comment_ids)
        )
    )
    return {comment_id: value for comment_id, value in rows}


# -- reading -------------------------------------------------------------------------------------


def room_of(comment: Comment) -> str:
    return proposal_room(comment.proposal_id) if comment.proposal_id is not None else thread_room(comment.thread_id)


@dataclass
class Node:
    comment: Comment
    replies: list[Node]


def comment_tree(subject: Proposal | Thread) -> list[Node]:
    """The subject's comments as a tree, oldest first at each level."""
    column = Comment.proposal_id if isinstance(subject, Proposal) else Comment.thread_id
    comments = list(db.session.scalars(select(Comment).where(column == subject.id).order_by(Comment.id)))
    nodes = {c.id: Node(c, []) for c in comments}
    roots: list[Node] = []
    for comment in comments:
        parent = nodes.get(comment.parent_id) if comment.parent_id is not None else None
        (parent.replies if parent is not None else roots).append(nodes[comment.id])
    return roots


def flatten(tree: list[Node]) -> list[Comment]:
    out: list[Comment] = []
    for node in tree:
        out.append(node.comment)
        out.extend(flatten(node.replies))
    return out


def _department_out(department: Department | None) -> dict | None:
    if department is None:
        return None
    names = {"name_zh": department.name_zh, "name_en": department.name_en}
    return {"code": department.code, "name": department.name, **names}


def votes_out(comment: Comment) -> dict:
    return {
        "comment_id": comment.id,
        "proposal_id": comment.proposal_id,
        "thread_id": comment.thread_id,
        "up": comment.up_count,
        "down": comment.down_count,
        "score": comment.score,
    }


def may_see_hidden(actor: Any, comment: Comment) -> bool:
    """The author of a hidden comment and the moderators still read it (with the reason)."""
    if not is_authenticated(actor) or getattr(actor, "id", None) is None:
        return False
    return comment.author_id == actor.id or is_moderator(actor)


def comment_out(comment: Comment, mine: dict[int, int] | None = None, viewer: Any = None) -> dict:
    """The public JSON of a comment: the author's display name, marks, stance and votes; nothing private.

    A hidden comment keeps its place in the tree; others get no text, only `hidden: true`.
    """
    reply_to = comment.reply_to
    out = {
        "id": comment.id,
        "proposal_id": comment.proposal_id,
        "thread_id": comment.thread_id,
        "parent_id": comment.parent_id,
        "reply_to_id": comment.reply_to_id,
        "reply_to_author": (reply_to.author.display_name if reply_to and reply_to.author else None),
        "depth": comment.depth,
        "author": comment.author.display_name if comment.author else None,
        "author_is_enterprise": comment.author_is_enterprise,
        "official": comment.official_department_id is not None,
        "department": _department_out(comment.official_department),
        "stance": comment.stance.value if comment.stance else None,
        "text": comment.text,
        "up": comment.up_count,
        "down": comment.down_count,
        "score": comment.score,
        "created_at": comment.created_at.isoformat(),
        "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
    }
    if mine is not None:
        out["my_vote"] = mine.get(comment.id, 0)
    out["hidden"] = comment.hidden
    if comment.hidden:
        if may_see_hidden(viewer, comment):
            out["moderation"] = {"reason": comment.hidden_reason, "review_pending": comment.review_pending}
        else:
            out.update(text=None, stance=None, author=None, department=None, reply_to_author=None)
    return out


def live_comment_out(comment: Comment) -> dict:
    """The public JSON of a comment as the live pages receive it: the same moments, given in the city's
    time zone ("2026-03-02T01:30:00+08:00"), since the page shows the start of `created_at` as it is, and
    every forum time is the city's."""
    out = comment_out(comment)
    for name in ("created_at", "edited_at"):
        moment = getattr(comment, name)
        out[name] = to_user_timezone(moment).isoformat() if moment else None
    return out


def tree_out(tree: list[Node], mine: dict[int, int] | None = None, viewer: Any = None) -> list[dict]:
    return [{**comment_out(n.comment, mine, viewer), "replies": tree_out(n.replies, mine, viewer)} for n in tree]


def thread_out(thread: Thread, actor: Any = None, comments: bool = False) -> dict:
    out: dict = {
        "id": thread.id,
        "title": thread.title,
        "text": thread.text,
        "category": thread.category.code if thread.category else None,
        "state": thread.state.value,
        "opened_by": thread.opened_by.display_name if thread.opened_by else None,
        "created_at": thread.created_at.isoformat(),
        "locked_at": thread.locked_at.isoformat() if thread.locked_at else None,
    }
    if comments:
        tree = comment_tree(thread)
        mine = my_votes(actor, [c.id for c in flatten(tree)]) if is_authenticated(actor) else None
        out["comments"] = tree_out(tree, mine, actor)
    return out


def proposal_comments_out(proposal: Proposal, actor: Any = None) -> list[dict]:
    tree = comment_tree(proposal)
    mine = my_votes(actor, [c.id for c in flatten(tree)]) if is_authenticated(actor) else None
    return tree_out(tree, mine, actor)
