"""What a person sent: submissions and their photos."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.core.models import utcnow
from participation.extensions import db


class Kind(enum.StrEnum):
    COMPLAINT = "complaint"
    PROPOSAL = "proposal"
    INQUIRY = "inquiry"
    PRAISE = "praise"


class Channel(enum.StrEnum):
    WEB = "web"
    API = "api"
    OPEN311 = "open311"
    HOTLINE = "hotline"
    FORUM = "forum"


def item_text(title: str | None, text: str | None) -> str:
    """What the text models read of an item (routing, duplicates, analysis, urgency): its title and
    text, a line apart."""
    return f"{title or ''}\n{text or ''}".strip()


class Submission(db.Model):
    __tablename__ = "submission"
    __table_args__ = (
        CheckConstraint("lat IS NULL OR (lat >= -90 AND lat <= 90)", name="lat_range"),
        CheckConstraint("lng IS NULL OR (lng >= -180 AND lng <= 180)", name="lng_range"),
        # Finding a ticket by its words: each request's character pairs (migration a4c8e2f61b93 defines
        # the function; PostgreSQL only, see routing.services.find_tickets).
        Index(
            "ix_submission_search_bigrams",
            func.search_bigrams(literal_column("title"), literal_column("text")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[Kind] = mapped_column(Enum(Kind, native_enum=False, length=16))
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    sentiment: Mapped[float | None] = mapped_column(Float)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    analysed_at: Mapped[datetime | None]
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_name: Mapped[str] = mapped_column(String(80), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=16), default=Channel.WEB)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    category = relationship("Category")
    district = relationship("District")
    user = relationship("User")
    organisation = relationship("Organisation")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="submission", cascade="all, delete-orphan")
    ticket = relationship("Ticket", back_populates="submission", uselist=False)

    @property
    def full_text(self) -> str:
        return item_text(self.title, self.text)


class StoredPhoto:
    """The columns of a photo stored re-encoded (no EXIF location) under the upload folder
    (`uploads.keep` gives their values)."""

    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    original_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(StoredPhoto, db.Model):
    """A submission's photo."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), index=True)

    submission: Mapped[Submission] = relationship(back_populates="attachments")
