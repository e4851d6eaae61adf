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
from participation.intake.models import StoredPhoto


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
    # Moderation: the state to return to on restore, the public reason, and whether a moderator must look.
    state_before_hidden: Mapped[ProposalState | None] = mapped_column(_enum(ProposalState))
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    review_pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    category = relationship("Category")
    district = relationship("District")
    author = relationship("User", foreign_keys=[author_id])
    ticket = relationship("Ticket")
    answered_by_department = relationship("Department")
    supports: Mapped[list[ProposalSupport]] = relationship(back_populates="proposal", cascade="all, delete-orphan")
    photos: Mapped[list[ProposalPhoto]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="ProposalPhoto.id"
    )

    def move_to(self, state: ProposalState) -> ProposalState:
        """Change state if the life cycle allows it; return the old state."""
        if state not in _ALLOWED[self.state]:
            raise Conflict(_("This proposal cannot go from %(a)s to %(b)s.", a=self.state.value, b=state.value))
        old, self.state = self.state, state
        return old

    def hide(self, reason: str, pending: bool = False) -> None:
        """Take the proposal out of public view; `restore` brings back the state it had."""
        if self.state == ProposalState.HIDDEN:
            raise Conflict(_("This proposal is already hidden."))
        if self.state in (ProposalState.DRAFT, ProposalState.WITHDRAWN):
            raise Conflict(_("Only a published proposal can be hidden."))
        self.state_before_hidden = self.move_to(ProposalState.HIDDEN)
        self.hidden_reason, self.review_pending = reason, pending

    def restore(self) -> None:
        if self.state != ProposalState.HIDDEN or self.state_before_hidden is None:
            raise Conflict(_("This proposal is not hidden."))
        self.state, self.state_before_hidden = self.state_before_hidden, None
        self.hidden_reason, self.review_pending = None, False


class ProposalPhoto(StoredPhoto, db.Model):
    """A photo of a proposal, checked and stored by intake's upload code (re-encoded, no EXIF)."""

    __tablename__ = "proposal_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)

    proposal: Mapped[Proposal] = relationship(back_populates="photos")


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
    # Moderation: hidden comments stay in the tree as a placeholder; the author sees the reason.
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    review_pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

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

    @property
    def hidden(self) -> bool:
        return self.hidden_at is not None

    def hide(self, reason: str, pending: bool = False) -> None:
        if self.hidden_at is not None:
            raise Conflict(_("This comment is already hidden."))
        self.hidden_at, self.hidden_reason, self.review_pending = utcnow(), reason, pending

    def restore(self) -> None:
        if self.hidden_at is None:
            raise Conflict(_("This comment is not hidden."))
        self.hidden_at, self.hidden_reason, self.review_pending = None, None, False


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


# -- moderation ----------------------------------------------------------------------------------


class ModerationKind(enum.StrEnum):
    HIDE = "hide"
    RESTORE = "restore"
    EDIT = "edit"
    DISMISS = "dismiss"  # the reports were unfounded
    BLOCK = "block"
    AUTO_HIDE = "auto_hide"  # enough open flags
    HOLD = "hold"  # the spam check held a new post for review


class Flag(db.Model):
    """Someone's report that a proposal or a comment breaks the rules; one per account and item."""

    __tablename__ = "forum_flag"
    __table_args__ = (
        CheckConstraint(
            "(proposal_id IS NULL AND comment_id IS NOT NULL) OR (proposal_id IS NOT NULL AND comment_id IS NULL)",
            name="one_target",
        ),
        UniqueConstraint("proposal_id", "user_id"),
        UniqueConstraint("comment_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("forum_comment.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)

    user = relationship("User")


class ModerationAction(db.Model):
    """What a moderator (or the platform, moderator_id NULL) did to an item or an account, and why."""

    __tablename__ = "forum_moderation_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ModerationKind] = mapped_column(_enum(ModerationKind))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("forum_comment.id", ondelete="CASCADE"), index=True)
    # The person concerned: the item's author, or the blocked account.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime | None]  # for blocks
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    proposal = relationship("Proposal")
    comment = relationship("Comment")
    moderator = relationship("User", foreign_keys=[moderator_id])


class ProposalRevision(db.Model):
    """The title and text a proposal had before a moderator's edit: the first row holds the original."""

    __tablename__ = "forum_proposal_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserBlock(db.Model):
    """An account may not post, support, vote or flag in the forums until `until`."""

    __tablename__ = "forum_user_block"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    until: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def comment_count_of(subject: type[Proposal] | type[Thread]):
    """A correlated count of the subject's comments, for sorting by "most discussed"."""
    column = Comment.proposal_id if subject is Proposal else Comment.thread_id
    return select(func.count(Comment.id)).where(column == subject.id).correlate(subject).scalar_subquery()
