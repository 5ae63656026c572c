"""What models learned lives in the database: when each correction was learned, and a
revision per model that every replica watches to learn the same thing within a second.

Corrections learned before this revision keep their order by when they were given.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as table:
        table.add_column(sa.Column("learned_at", sa.DateTime(timezone=True), nullable=True))
    feedback = sa.table(
        "feedback",
        sa.column("created_at", sa.DateTime),
        sa.column("learned_label", sa.String),
        sa.column("learned_at", sa.DateTime),
    )
    op.execute(
        feedback.update()
        .where(feedback.c.learned_label.is_not(None))
        .values(learned_at=feedback.c.created_at)
    )
    op.create_table(
        "learning_revisions",
        sa.Column("model", sa.String(64), primary_key=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("learning_revisions")
    with op.batch_alter_table("feedback") as table:
        table.drop_column("learned_at")
