"""How far each writer's numbered writes have been processed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

The service numbers its writes and sends them to a store process. If that process dies,
the writes it had not answered may or may not have been committed; this row, updated in
the same transaction as the writes, tells which, so that each is committed exactly once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "writer_progress",
        sa.Column("session", sa.String(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("session", name="pk_writer_progress"),
    )


def downgrade() -> None:
    op.drop_table("writer_progress")
