"""The tables, as SQLModel classes. Alembic migrations (``migrations/versions``) create them.

The classes are storage rows, not the domain: ``mapping.py`` converts between the two, so
the domain stays plain frozen dataclasses. Enumerations are stored as their text values
(no native database enums, which need a migration for every new member), timestamps as
timezone-aware UTC, positions as ``lat``/``lon``/``alt_m`` columns.

When a table changes, add a migration: ``tests/integration/test_store.py`` checks that
the migrated schema and these classes agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from skyshare.domain.enums import IncidentStatus
from skyshare.store.columns import UTCDateTime, json_column_type

# Named constraints, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# "Still open", as SQL. The partial indexes of open incidents hold the rows it selects,
# and a planner uses one only for a query that states the same condition with the same
# constants (a bound parameter does not match), so ``queries.py`` uses this very text.
OPEN_INCIDENT = "status NOT IN ({})".format(
    ", ".join(f"'{s.value}'" for s in IncidentStatus if not s.is_open)
)


def open_incidents_index(name: str, *columns: str) -> Index:
    condition = text(OPEN_INCIDENT)
    return Index(name, *columns, sqlite_where=condition, postgresql_where=condition)


# A registry of our own, so that other SQLModel users in the process cannot add tables here.
store_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class StoreRow(SQLModel, registry=store_registry):
    """Base of every table in the store."""


class SiteRow(StoreRow, table=True):
    __tablename__ = "sites"

    id: str = Field(primary_key=True, sa_type=String)
    name: str = Field(sa_type=String)
    borough: str = Field(sa_type=String)
    owner: str = Field(sa_type=String)
    shared: bool
    dock_capacity: int
    lat: float
    lon: float
    alt_m: float
    illustrative: bool
    source: str = Field(sa_type=String)
    # Sites that left the network stay, so that old assignments still name them.
    retired: bool = False


class DroneRow(StoreRow, table=True):
    """A drone of the network and its last known live state."""

    __tablename__ = "drones"

    id: str = Field(primary_key=True, sa_type=String)
    model: str = Field(sa_type=String)
    owner: str = Field(sa_type=String)
    home_site_id: str = Field(foreign_key="sites.id", sa_type=String)
    retired: bool = False
    status: str = Field(sa_type=String)
    battery_pct: float
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    incident_id: str | None = Field(default=None, sa_type=String)
    state_updated_at: datetime = Field(sa_type=UTCDateTime)
    docked_at: str | None = Field(default=None, sa_type=String)  # a dock not its home


class IncidentRow(StoreRow, table=True):
    __tablename__ = "incidents"
    # The database itself refuses a second incident with the same external id from the
    # same agency, so that two control-room posts racing each other cannot both win.
    # Open incidents, newest first, overall and by agency: read every second (the
    # escalation pass) and by every dashboard, while the closed ones pile up for years.
    __table_args__ = (
        UniqueConstraint("agency", "external_id"),
        open_incidents_index("ix_incidents_open", "received_at", "id"),
        open_incidents_index("ix_incidents_open_agency", "agency", "received_at", "id"),
    )

    id: str = Field(primary_key=True, sa_type=String)
    agency: str = Field(index=True, sa_type=String)
    external_id: str | None = Field(default=None, sa_type=String)
    priority: int
    kind: str = Field(sa_type=String)
    lat: float
    lon: float
    alt_m: float
    received_at: datetime = Field(index=True, sa_type=UTCDateTime)
    status: str = Field(sa_type=String)
    borough: str = Field(sa_type=String)
    description: str = Field(sa_type=String)


class AssignmentRow(StoreRow, table=True):
    __tablename__ = "assignments"

    # A surrogate key that grows with each insert keeps an incident's proposals in order.
    row_id: int | None = Field(default=None, primary_key=True, sa_type=Integer)
    id: str = Field(unique=True, sa_type=String)
    incident_id: str = Field(foreign_key="incidents.id", index=True, sa_type=String)
    drone_id: str = Field(foreign_key="drones.id", sa_type=String)
    site_id: str = Field(foreign_key="sites.id", sa_type=String)
    eta_s: float
    reason: str = Field(sa_type=String)
    status: str = Field(sa_type=String)
    candidates: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(json_column_type(), nullable=False)
    )
    proposed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EventRow(StoreRow, table=True):
    """One entry of the audit log. Never updated or deleted (database triggers refuse)."""

    __tablename__ = "events"
    # An agency's audit feed pages by seq: without seq in the index, every page sorted
    # all of that agency's entries.
    __table_args__ = (Index("ix_events_agency_seq", "agency", "seq"),)

    seq: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    type: str = Field(sa_type=String)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(sa_type=String)
    subject: str = Field(index=True, sa_type=String)
    agency: str | None = Field(default=None, sa_type=String)
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(json_column_type(), nullable=False)
    )
    prev_hash: str = Field(sa_type=String)
    hash: str = Field(sa_type=String)


class AuditHeadRow(StoreRow, table=True):
    """The one row naming the last event of the chain; appenders lock it to stay in line."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_type=Integer, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)
    hash: str = Field(sa_type=String)


class RestrictionRow(StoreRow, table=True):
    """A temporary airspace restriction, created and lifted live."""

    __tablename__ = "restrictions"

    id: str = Field(primary_key=True, sa_type=String)
    feature: dict[str, Any] = Field(sa_column=Column(json_column_type(), nullable=False))
    created_by: str = Field(sa_type=String)
    created_at: datetime = Field(sa_type=UTCDateTime)
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WriterProgressRow(StoreRow, table=True):
    """Per writer (a service's session): the last of its numbered writes processed, and
    the recent ones that failed (``Tx.note_progress``, ``Store.note_failure``)."""

    __tablename__ = "writer_progress"

    session: str = Field(primary_key=True, sa_type=String)
    last_number: int = Field(sa_type=BigInteger)
    failed: str = Field(default="", sa_type=String)  # numbers, space-separated


metadata = store_registry.metadata
