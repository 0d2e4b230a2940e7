"""Domain records. Plain frozen dataclasses in SI units: metres, seconds, watts, watt-hours.

Positions are WGS84 degrees with named fields (``lat``, ``lon``) so that nobody has to
remember which order a tuple is in; altitudes are metres above the take-off point unless
a field says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from skyshare.domain.enums import (
    AssignmentStatus,
    Capability,
    DroneStatus,
    IncidentStatus,
    Priority,
    TaskKind,
)

POLICE = "police"
FIRE = "fire"
AMBULANCE = "ambulance"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 position. ``alt_m`` is metres above ground level."""

    lat: float
    lon: float
    alt_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Agency:
    """An emergency service that shares the network. More can be added in the network file.

    ``auto_launch`` lists the priorities whose proposals launch without an operator;
    ``provisional_launch`` lets a P1 drone lift and fly while the operator decides.
    """

    id: str
    name: str
    auto_launch: frozenset[Priority] = frozenset()
    provisional_launch: bool = False


@dataclass(frozen=True, slots=True)
class DroneModel:
    """Performance of one airframe type, as the dispatcher needs it."""

    name: str
    cruise_speed_mps: float
    climb_rate_mps: float
    descent_rate_mps: float
    endurance_s: float
    battery_wh: float
    hover_power_w: float
    cruise_power_w: float
    capabilities: frozenset[Capability]
    max_payload_kg: float = 0.0

    def has(self, needed: frozenset[Capability]) -> bool:
        return needed <= self.capabilities


@dataclass(frozen=True, slots=True)
class LaunchSite:
    """A dock that drones launch from and land at.

    ``illustrative`` marks a site whose location was chosen for the model network, not
    taken from a real facility; ``source`` says where a real one came from.
    """

    id: str
    name: str
    position: GeoPoint
    borough: str
    owner: str
    shared: bool
    dock_capacity: int
    illustrative: bool = False
    source: str = ""


@dataclass(frozen=True, slots=True)
class Drone:
    """One aircraft of the fleet, based at a home site."""

    id: str
    model: DroneModel
    home_site_id: str
    owner: str
    status: DroneStatus = DroneStatus.DOCKED
    battery_pct: float = 100.0
    position: GeoPoint | None = None


@dataclass(frozen=True, slots=True)
class SharingAgreement:
    """Which agencies may fly an owner's drones, and for which priorities."""

    owner: str
    users: frozenset[str]
    priorities: frozenset[Priority] = frozenset(Priority)

    def allows(self, agency: str, priority: Priority) -> bool:
        return agency in self.users and priority in self.priorities


@dataclass(frozen=True, slots=True)
class IncidentKind:
    """What a kind of call needs from a drone, and how long it stays on scene."""

    name: str
    task: TaskKind
    capabilities: frozenset[Capability]
    on_scene_s: float


@dataclass(frozen=True, slots=True)
class Incident:
    """A call from a control room. ``received_at`` is timezone-aware UTC."""

    id: str
    agency: str
    priority: Priority
    kind: str
    position: GeoPoint
    received_at: datetime
    status: IncidentStatus = IncidentStatus.RECEIVED
    borough: str = ""
    description: str = ""
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A drone proposed for (and perhaps flying to) an incident, with the reason why."""

    id: str
    incident_id: str
    drone_id: str
    site_id: str
    eta_s: float
    reason: str
    status: AssignmentStatus = AssignmentStatus.PROPOSED
    candidates: tuple[dict[str, object], ...] = field(default=())
    # When it was proposed (timezone-aware UTC): an unanswered proposal escalates that long
    # after. None for proposals stored before the time was kept.
    proposed_at: datetime | None = None
