"""Indexes for reads that run all day while the history grows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Open incidents are listed every second (the escalation pass) and by every dashboard. With
only ``received_at`` indexed, each listing walked every incident ever stored to find the
few open ones (24 ms a listing with 100,000 closed in SQLite); partial indexes of the open
incidents, overall and by agency, hold just those rows. An agency's audit feed pages by
``seq``: an index on ``(agency, seq)`` replaces the one on ``agency``, with which every
page sorted all of the agency's entries.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# The condition as ``tables.OPEN_INCIDENT`` states it today (a migration keeps its own).
OPEN_INCIDENT = "status NOT IN ('closed', 'cancelled')"


def upgrade() -> None:
    condition = sa.text(OPEN_INCIDENT)
    for name, columns in (
        ("ix_incidents_open", ["received_at", "id"]),
        ("ix_incidents_open_agency", ["agency", "received_at", "id"]),
    ):
        op.create_index(
            name, "incidents", columns, sqlite_where=condition, postgresql_where=condition
        )
    op.drop_index("ix_events_agency", table_name="events")
    op.create_index("ix_events_agency_seq", "events", ["agency", "seq"])


def downgrade() -> None:
    op.drop_index("ix_events_agency_seq", table_name="events")
    op.create_index("ix_events_agency", "events", ["agency"])
    op.drop_index("ix_incidents_open_agency", table_name="incidents")
    op.drop_index("ix_incidents_open", table_name="incidents")
