"""Who made each prediction and gave each correction; people, API tokens, rate limits.

Feedback given before this revision came from anonymous callers, and models that learn
(digits-knn) learned from it at once: it becomes "suggested" (awaiting an operator's
review, left out of ``modelport train --with-feedback`` until accepted), and its label is
marked as learned so that accepting it does not teach the model the same thing twice.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as table:
        table.add_column(sa.Column("owner", sa.String(96), nullable=True))
    op.create_index("ix_predictions_owner_created_at", "predictions", ["owner", "created_at"])
    with op.batch_alter_table("feedback") as table:
        table.add_column(sa.Column("given_by", sa.String(96), nullable=True))
        table.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="suggested")
        )
        table.add_column(sa.Column("reviewed_by", sa.String(96), nullable=True))
        table.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("learned_label", sa.String(255), nullable=True))
    op.create_index("ix_feedback_status_created_at", "feedback", ["status", "created_at"])
    feedback = sa.table(
        "feedback",
        sa.column("label", sa.String),
        sa.column("is_correct", sa.Boolean),
        sa.column("learned_label", sa.String),
    )
    op.execute(
        feedback.update()
        .where(feedback.c.is_correct == sa.false())
        .values(learned_label=feedback.c.label)
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "rate_limits",
        sa.Column("bucket", sa.String(128), primary_key=True),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_index("ix_feedback_status_created_at", table_name="feedback")
    with op.batch_alter_table("feedback") as table:
        for column in ("learned_label", "reviewed_at", "reviewed_by", "status", "given_by"):
            table.drop_column(column)
    op.drop_index("ix_predictions_owner_created_at", table_name="predictions")
    with op.batch_alter_table("predictions") as table:
        table.drop_column("owner")
