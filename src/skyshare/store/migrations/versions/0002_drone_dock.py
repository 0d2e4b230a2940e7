"""Drones remember the dock they are on when it is not their home.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

A drone back from a sortie lands on the nearest dock with a free slot, which may not be
its home; after a restart it must still be known to be there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("drones", sa.Column("docked_at", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drones") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("docked_at")
