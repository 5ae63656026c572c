"""Taught models: classifiers made from a few examples per class on a photo model's
embedding, with their examples (thumbnails and embeddings), so that every replica serves
the same taught model and it survives restarts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taught_models",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("base", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(96), nullable=True),
        sa.Column("trained", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("evaluation", sa.JSON(), nullable=True),
    )
    op.create_table(
        "taught_examples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "model_name",
            sa.String(64),
            sa.ForeignKey("taught_models.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("prediction_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(96), nullable=True),
    )
    op.create_index("ix_taught_examples_model_label", "taught_examples", ["model_name", "label"])


def downgrade() -> None:
    op.drop_index("ix_taught_examples_model_label", table_name="taught_examples")
    op.drop_table("taught_examples")
    op.drop_table("taught_models")
