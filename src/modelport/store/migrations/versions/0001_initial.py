"""Predictions and the feedback on them.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("input_kind", sa.String(16), nullable=False),
        sa.Column("input_image", sa.LargeBinary(), nullable=False),
        sa.Column("input_mime", sa.String(32), nullable=False),
        sa.Column("upload", sa.LargeBinary(), nullable=True),
        sa.Column("predictions", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
    )
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])
    op.create_index("ix_predictions_model_created_at", "predictions", ["model", "created_at"])
    op.create_table(
        "feedback",
        sa.Column(
            "prediction_id",
            sa.String(32),
            sa.ForeignKey("predictions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_is_correct", "feedback", ["is_correct"])


def downgrade() -> None:
    op.drop_index("ix_feedback_is_correct", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_predictions_model_created_at", table_name="predictions")
    op.drop_index("ix_predictions_created_at", table_name="predictions")
    op.drop_table("predictions")
