"""Surveys, their frozen versions, reusable answer code sets, invitations, responses and answers,
and the callback results stored on tickets."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.core.models import utcnow
from participation.extensions import db


def _enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length)


class Distribution(enum.StrEnum):
    PUBLIC = "public"  # anyone, anonymous, one response per browser session
    INVITATION = "invitation"  # one-use tokens
    CALLBACK = "callback"  # sent to the submitter when a ticket is resolved


class SurveyStatus(enum.StrEnum):
    DRAFT = "draft"  # never published
    OPEN = "open"  # a published version takes responses
    CLOSED = "closed"


class Survey(db.Model):
    """A survey: its editable draft definition and, once published, its frozen versions."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    distribution: Mapped[Distribution] = mapped_column(_enum(Distribution), default=Distribution.PUBLIC)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)  # no link between invitation and response
    status: Mapped[SurveyStatus] = mapped_column(_enum(SurveyStatus), default=SurveyStatus.DRAFT, index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)  # a department's own
    draft: Mapped[dict] = mapped_column(JSON)  # the definition being edited (file format)
    draft_changed: Mapped[bool] = mapped_column(Boolean, default=True)  # differs from the latest version
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_version.id", use_alter=True, ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[SurveyVersion]] = relationship(
        back_populates="survey", order_by="SurveyVersion.number", foreign_keys="SurveyVersion.survey_id"
    )
    current_version: Mapped[SurveyVersion | None] = relationship(foreign_keys=[current_version_id], post_update=True)
    department = relationship("Department")

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_zh


class SurveyVersion(db.Model):
    """A published definition, frozen: answers point to the version they answered."""

    __tablename__ = "survey_version"
    __table_args__ = (UniqueConstraint("survey_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    survey: Mapped[Survey] = relationship(back_populates="versions", foreign_keys=[survey_id])


class AnswerCodeSet(db.Model):
    """A reusable list of answer choices with integer codes (e.g. a five-point agreement scale)."""

    __tablename__ = "answer_code_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label_zh: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    choices: Mapped[list] = mapped_column(JSON)  # [{"code": int, "label": {"zh", "en"}}]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Invitation(db.Model):
    """A one-use link to a survey; only the token's hash is stored."""

    __tablename__ = "survey_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)  # callback: which resolution this asks about
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_response.id", ondelete="SET NULL"))

    survey: Mapped[Survey] = relationship()
    ticket = relationship("Ticket")


class ResponseStatus(enum.StrEnum):
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"


class Response(db.Model):
    """One person's answers to one version; incomplete ones are kept but never counted as complete."""

    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("survey_id", "session_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_version.id"), index=True)
    status: Mapped[ResponseStatus] = mapped_column(
        _enum(ResponseStatus, 12), default=ResponseStatus.INCOMPLETE, index=True
    )
    channel: Mapped[Distribution] = mapped_column(_enum(Distribution))
    session_hash: Mapped[str | None] = mapped_column(String(64))  # public: one response per browser session
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(index=True)

    survey: Mapped[Survey] = relationship()
    version: Mapped[SurveyVersion] = relationship()
    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="Answer.id"
    )


class Answer(db.Model):
    """One value: a code (single, Likert, rating, NPS; one row per chosen code for multiple) or a text."""

    __tablename__ = "survey_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64), index=True)
    value_int: Mapped[int | None] = mapped_column(Integer)
    value_text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")


class CallbackResult(db.Model):
    """What the submitter said after a resolution: stored on the ticket for the scorecard."""

    __tablename__ = "callback_result"
    __table_args__ = (
        UniqueConstraint("ticket_id", "round", "response_id"),
        CheckConstraint("satisfaction IN (1, 2, 3)", name="satisfaction_code"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_response.id", ondelete="SET NULL"))
    round: Mapped[int] = mapped_column(Integer, default=1)
    follower: Mapped[bool] = mapped_column(Boolean, default=False)  # a merged duplicate's sender answered
    solved: Mapped[bool]
    satisfaction: Mapped[int] = mapped_column(Integer)  # 1 satisfied, 2 basically satisfied, 3 dissatisfied
    rating: Mapped[int | None] = mapped_column(Integer)
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="closed")  # closed | reopened | escalated
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    ticket = relationship("Ticket")
