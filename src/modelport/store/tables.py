"""The two tables: predictions as they were made, and the feedback people gave on them.

Migration 0001 creates exactly these; a change here needs a new migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

LABEL_LENGTH = 255


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

    feedback: Mapped[FeedbackRow | None] = relationship(
        back_populates="prediction", uselist=False, lazy="joined"
    )

    __table_args__ = (
        Index("ix_predictions_created_at", "created_at"),
        Index("ix_predictions_model_created_at", "model", "created_at"),
    )


class FeedbackRow(Base):
    """One answer per prediction (the latest wins): the label people say is right."""

    __tablename__ = "feedback"

    prediction_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    is_correct: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    prediction: Mapped[PredictionRow] = relationship(back_populates="feedback")

    __table_args__ = (Index("ix_feedback_is_correct", "is_correct"),)
