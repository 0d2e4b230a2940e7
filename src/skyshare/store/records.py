"""What the store hands back besides domain objects, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from skyshare.domain import DroneStatus, Incident, LaunchSite
from skyshare.domain.events import Event


@dataclass(frozen=True)
class DroneState:
    """A drone's last known live state. ``updated_at`` is timezone-aware UTC."""

    drone_id: str
    status: DroneStatus
    battery_pct: float
    lat: float | None
    lon: float | None
    alt_m: float | None
    incident_id: str | None
    updated_at: datetime
    docked_at: str | None = None  # the dock it is on, when that is not its home


@dataclass(frozen=True)
class StoredEvent:
    """An event as the audit log holds it: its place in the chain and the chain hashes."""

    seq: int
    event: Event
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class StoredRestriction:
    """A temporary airspace restriction. ``feature`` is a GeoJSON Feature (RFC 7946).

    It is in force from ``starts_at`` (or creation, when None) until the earlier of
    ``ends_at`` (its expiry) and ``lifted_at`` (when someone lifted it).
    """

    id: str
    feature: dict[str, Any]
    created_by: str
    created_at: datetime
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    lifted_at: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        started = (self.starts_at or self.created_at) <= at
        return started and all(end is None or at < end for end in (self.ends_at, self.lifted_at))


@dataclass(frozen=True)
class StoredSite:
    """A launch site as last synced from the network; ``retired`` once it left it."""

    site: LaunchSite
    retired: bool


@dataclass(frozen=True)
class StoredDrone:
    """A drone as last synced from the network; ``retired`` once it left it."""

    id: str
    model: str
    owner: str
    home_site_id: str
    retired: bool


@dataclass(frozen=True)
class ChainCheck:
    """The verdict on the audit log: ``first_bad_seq`` is where the chain first breaks."""

    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class WriterProgress:
    """How far one writer's numbered writes were processed: every write up to
    ``last_number`` was committed, except the numbers in ``failed``."""

    last_number: int = 0
    failed: frozenset[int] = frozenset()


class StoreError(Exception):
    """Base of the errors the store raises on purpose."""


class DuplicateIncident(StoreError):
    """The agency already sent an incident with this external id; ``existing`` is it."""

    def __init__(self, existing: Incident) -> None:
        self.existing = existing
        super().__init__(
            f"agency {existing.agency!r} already sent external_id {existing.external_id!r}: "
            f"incident {existing.id}"
        )

    def __reduce__(self) -> tuple[Any, ...]:  # pickled by what it was made of
        return (type(self), (self.existing,))


class NotFound(StoreError, LookupError):
    """A record that an update refers to does not exist."""

    def __init__(self, kind: str, record_id: str) -> None:
        self.kind = kind
        self.record_id = record_id
        super().__init__(f"no {kind} with id {record_id!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.record_id))
