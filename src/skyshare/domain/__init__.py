"""Domain vocabulary and records: plain data, SI units, no I/O."""

from skyshare.domain.enums import (
    AssignmentStatus,
    Capability,
    DroneStatus,
    IncidentStatus,
    Priority,
    Role,
    TaskKind,
)
from skyshare.domain.errors import InputError
from skyshare.domain.kinds import DEFAULT_KINDS
from skyshare.domain.models import (
    AMBULANCE,
    FIRE,
    POLICE,
    Agency,
    Assignment,
    Drone,
    DroneModel,
    GeoPoint,
    Incident,
    IncidentKind,
    LaunchSite,
    SharingAgreement,
)
from skyshare.domain.network import Network, parse_network

__all__ = [
    "AMBULANCE",
    "DEFAULT_KINDS",
    "FIRE",
    "POLICE",
    "Agency",
    "Assignment",
    "AssignmentStatus",
    "Capability",
    "Drone",
    "DroneModel",
    "DroneStatus",
    "GeoPoint",
    "Incident",
    "IncidentKind",
    "IncidentStatus",
    "InputError",
    "LaunchSite",
    "Network",
    "Priority",
    "Role",
    "SharingAgreement",
    "TaskKind",
    "parse_network",
]
