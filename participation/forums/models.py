"""Proposals in the public forum and the supporters behind them."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
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
