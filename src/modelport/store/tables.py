"""Predictions as they were made and the feedback people gave on them (migration 0001);
who made and gave them, the people and tokens that sign in, and the rate-limit counters
(migration 0002); what models learned from corrections, with a revision per model that
replicas watch (migration 0003); taught models and their examples (migration 0004). A change
here needs a new migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

LABEL_LENGTH = 255
OWNER_LENGTH = 96
NAME_LENGTH = 64
TRUSTED_STATUSES = ("trusted", "accepted")


class Base(DeclarativeBase):
    pass


class PredictionRow(Base):
    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(64))
    input_kind: Mapped[str] = mapped_column(String(16))
    # Sketches: the drawing as sent; photos: a thumbnail of at most 256 px.
    input_image: Mapped[bytes] = mapped_column(LargeBinary)
    input_mime: Mapped[str] = mapped_column(String(32))
    # The whole upload, only when MODELPORT_KEEP_UPLOADS is on.
    upload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    predictions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    label: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    score: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    # Who made it: a visitor's anonymous id, "user:<name>" or "token:<id>"; None for
    # predictions made before 0002 (then only teachers and operators see them).
    owner: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), nullable=True)

    feedback: Mapped[FeedbackRow | None] = relationship(
        back_populates="prediction", uselist=False, lazy="joined"
    )

    __table_args__ = (
        Index("ix_predictions_created_at", "created_at"),
        Index("ix_predictions_model_created_at", "model", "created_at"),
        Index("ix_predictions_owner_created_at", "owner", "created_at"),
    )


class FeedbackRow(Base):
    """One answer per prediction (the latest wins): the label people say is right.

    ``status``: "trusted" (a teacher's or operator's), "suggested" (a visitor's, awaiting
    review), "accepted" or "rejected" (a visitor's, reviewed by ``reviewed_by``).
    ``learned_label`` is what a model learned from this prediction, so a repeat adds nothing.
    """

    __tablename__ = "feedback"

    prediction_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    is_correct: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    given_by: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="suggested")
    reviewed_by: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    learned_label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH), nullable=True)
    learned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    prediction: Mapped[PredictionRow] = relationship(back_populates="feedback")

    @property
    def trusted(self) -> bool:
        return self.status in TRUSTED_STATUSES

    __table_args__ = (
        Index("ix_feedback_is_correct", "is_correct"),
        Index("ix_feedback_status_created_at", "status", "created_at"),
    )


class LearningRevisionRow(Base):
    """Counts the changes to what a model learned, so that every worker of every replica
    notices one by reading a single row."""

    __tablename__ = "learning_revisions"

    model: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class TaughtModelRow(Base):
    """A classifier taught from examples on top of a photo model's embedding; served once
    ``trained`` (its head is fitted from the examples by every worker that serves it)."""

    __tablename__ = "taught_models"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    base: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), nullable=True)
    trained: Mapped[bool] = mapped_column(Boolean, default=False)
    # Leave-one-out accuracy and confusion counts when last trained (JSON), for its card.
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    examples: Mapped[list[TaughtExampleRow]] = relationship(
        back_populates="model", cascade="all, delete-orphan", passive_deletes=True
    )


class TaughtExampleRow(Base):
    """One example of a class: its thumbnail (JPEG) and its embedding (float32 bytes)."""

    __tablename__ = "taught_examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(
        String(NAME_LENGTH), ForeignKey("taught_models.name", ondelete="CASCADE")
    )
    label: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    source: Mapped[str] = mapped_column(String(16))
    prediction_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), nullable=True)

    model: Mapped[TaughtModelRow] = relationship(back_populates="examples")

    __table_args__ = (Index("ix_taught_examples_model_label", "model_name", "label"),)


class UserRow(Base):
    """A person who signs in: a teacher or an operator (visitors need no account)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # werkzeug.security's salted, slow hash; never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """An API token for a program: only its SHA-256 is kept (the token is long and random)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so that a list can say which token is which.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RateLimitRow(Base):
    """A fixed-window request counter per client and kind of request, shared by workers."""

    __tablename__ = "rate_limits"

    bucket: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(Integer)
