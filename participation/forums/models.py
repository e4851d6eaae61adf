"""Proposals in the public forum and the supporters behind them."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.core.errors import Conflict
from participation.core.models import utcnow
from participation.extensions import db


class ProposalState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    THRESHOLD_REACHED = "threshold_reached"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"
    HIDDEN = "hidden"


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    UNDER_STUDY = "under_study"
    NOT_FEASIBLE = "not_feasible"


# Everyone may read these; drafts are the author's, hidden ones the author's and moderators'.
PUBLIC_STATES = {
    ProposalState.PUBLISHED,
    ProposalState.THRESHOLD_REACHED,
    ProposalState.ANSWERED,
    ProposalState.WITHDRAWN,
}
SUPPORTABLE_STATES = {ProposalState.PUBLISHED, ProposalState.THRESHOLD_REACHED, ProposalState.ANSWERED}

_ALLOWED = {
    ProposalState.DRAFT: {ProposalState.PUBLISHED, ProposalState.WITHDRAWN},
    ProposalState.PUBLISHED: {ProposalState.THRESHOLD_REACHED, ProposalState.WITHDRAWN, ProposalState.HIDDEN},
    ProposalState.THRESHOLD_REACHED: {ProposalState.ANSWERED, ProposalState.HIDDEN},
    ProposalState.ANSWERED: {ProposalState.HIDDEN},
    ProposalState.HIDDEN: set(),
    ProposalState.WITHDRAWN: set(),
}


def _enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(cls, native_enum=False, length=length)


class Proposal(db.Model):
    __tablename__ = "proposal"
    __table_args__ = (
        CheckConstraint("support_count >= 0", name="support_count_positive"),
        CheckConstraint(
            "(verdict IS NULL AND answered_at IS NULL) OR (verdict IS NOT NULL AND answered_at IS NOT NULL)",
            name="answer_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    author_is_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[ProposalState] = mapped_column(_enum(ProposalState), default=ProposalState.DRAFT, index=True)
    support_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"), unique=True)
    verdict: Mapped[Verdict | None] = mapped_column(_enum(Verdict))
    reasons: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None]
    answered_by_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    published_at: Mapped[datetime | None]
    threshold_reached_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category = relationship("Category")
    district = relationship("District")
    author = relationship("User", foreign_keys=[author_id])
    ticket = relationship("Ticket")
    answered_by_department = relationship("Department")
    supports: Mapped[list[ProposalSupport]] = relationship(back_populates="proposal", cascade="all, delete-orphan")

    def move_to(self, state: ProposalState) -> ProposalState:
        """Change state if the life cycle allows it; return the old state."""
        if state not in _ALLOWED[self.state]:
            raise Conflict(_("This proposal cannot go from %(a)s to %(b)s.", a=self.state.value, b=state.value))
        old, self.state = self.state, state
        return old


class ProposalSupport(db.Model):
    """One person's support of a proposal; withdrawing keeps the row (withdrawn_at) for the record."""

    __tablename__ = "proposal_support"
    __table_args__ = (UniqueConstraint("proposal_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]

    proposal: Mapped[Proposal] = relationship(back_populates="supports")
    user = relationship("User")

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


# -- discussion ----------------------------------------------------------------------------------


class ThreadState(enum.StrEnum):
    OPEN = "open"
    LOCKED = "locked"


class Stance(enum.StrEnum):
    FOR = "for"
    AGAINST = "against"
    NEUTRAL = "neutral"


# Proposals in these states take comments; drafts, withdrawn and hidden ones do not.
COMMENTABLE_STATES = SUPPORTABLE_STATES
MAX_DEPTH = 3


class Thread(db.Model):
    """A topic for discussion opened by the coordination centre; locking closes it to new comments and votes."""

    __tablename__ = "forum_thread"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    state: Mapped[ThreadState] = mapped_column(_enum(ThreadState), default=ThreadState.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    locked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category = relationship("Category")
    opened_by = relationship("User", foreign_keys=[opened_by_id])

    def lock(self) -> None:
        if self.state == ThreadState.LOCKED:
            raise Conflict(_("This thread is already locked."))
        self.state, self.locked_at = ThreadState.LOCKED, utcnow()

    def unlock(self) -> None:
        if self.state == ThreadState.OPEN:
            raise Conflict(_("This thread is open."))
        self.state, self.locked_at = ThreadState.OPEN, None


class Comment(db.Model):
    """A comment on a proposal or a thread; replies nest to MAX_DEPTH (deeper replies attach at the last level)."""

    __tablename__ = "forum_comment"
    __table_args__ = (
        CheckConstraint(
            "(proposal_id IS NULL AND thread_id IS NOT NULL) OR (proposal_id IS NOT NULL AND thread_id IS NULL)",
            name="one_subject",
        ),
        CheckConstraint("depth >= 1 AND depth <= 3", name="depth_range"),
        CheckConstraint("(parent_id IS NULL) = (depth = 1)", name="depth_matches_parent"),
        CheckConstraint("up_count >= 0 AND down_count >= 0", name="vote_counts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("forum_thread.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("forum_comment.id", ondelete="CASCADE"), index=True)
    # The comment answered, when it was at the deepest level and this reply was attached beside it.
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("forum_comment.id", ondelete="SET NULL"))
    depth: Mapped[int] = mapped_column(Integer, default=1)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    author_is_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    official_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    text: Mapped[str] = mapped_column(Text)
    stance: Mapped[Stance | None] = mapped_column(_enum(Stance, 10))
    up_count: Mapped[int] = mapped_column(Integer, default=0)
    down_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    edited_at: Mapped[datetime | None]

    proposal = relationship("Proposal")
    thread = relationship("Thread")
    parent = relationship("Comment", remote_side=[id], foreign_keys=[parent_id])
    reply_to = relationship("Comment", remote_side=[id], foreign_keys=[reply_to_id])
    author = relationship("User", foreign_keys=[author_id])
    official_department = relationship("Department")
    revisions: Mapped[list[CommentRevision]] = relationship(
        back_populates="comment", cascade="all, delete-orphan", order_by="CommentRevision.id"
    )

    @property
    def score(self) -> int:
        return self.up_count - self.down_count


class CommentRevision(db.Model):
    """The text a comment had before an edit: the first row holds the original."""

    __tablename__ = "forum_comment_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("forum_comment.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    stance: Mapped[Stance | None] = mapped_column(_enum(Stance, 10))
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="revisions")


class CommentVote(db.Model):
    """One account's up (+1) or down (-1) vote on a comment; removing a vote deletes the row."""

    __tablename__ = "forum_comment_vote"
    __table_args__ = (
        UniqueConstraint("comment_id", "user_id"),
        CheckConstraint("value IN (-1, 1)", name="value_up_or_down"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("forum_comment.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def comment_count_of(subject: type[Proposal] | type[Thread]):
    """A correlated count of the subject's comments, for sorting by "most discussed"."""
    column = Comment.proposal_id if subject is Proposal else Comment.thread_id
    return select(func.count(Comment.id)).where(column == subject.id).correlate(subject).scalar_subquery()
