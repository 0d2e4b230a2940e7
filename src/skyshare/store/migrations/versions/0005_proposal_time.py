"""When each proposal was made.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

An unanswered proposal escalates that long after it was made, so that the next
candidate's proposal, after a decline, escalates in its turn. Proposals stored before
this column have none (escalation then counts from the call's arrival, as it used to).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("assignments", sa.Column("proposed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("assignments", "proposed_at")
