"""The small closed vocabularies of the domain."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Priority(IntEnum):
    """Call priority as emergency services grade it: P1 is immediate, P4 routine."""

    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4

    @property
    def label(self) -> str:
        return {1: "immediate", 2: "urgent", 3: "prompt", 4: "routine"}[self.value]

    @classmethod
    def parse(cls, value: object) -> Priority:
        """Accept 1, "1", "P1" or "p1"; raise ValueError otherwise."""
        text = str(value).strip().upper().removeprefix("P")
        if text.isdigit() and int(text) in {p.value for p in cls}:
            return cls(int(text))
        raise ValueError(f"unknown priority {value!r}: expected one of P1, P2, P3, P4")


class Capability(StrEnum):
    """What a drone carries."""

    THERMAL = "thermal"
    ZOOM = "zoom"
    SPOTLIGHT = "spotlight"
    LOUDSPEAKER = "loudspeaker"
    PAYLOAD = "payload"


class TaskKind(StrEnum):
    """What a drone does once on scene."""

    OVERWATCH = "overwatch"
    SEARCH = "search"
    DELIVER = "deliver"


class IncidentStatus(StrEnum):
    """An incident's lifecycle: received, a drone proposed, approved, flying, on scene, closed.

    ``UNSERVED`` means no drone can take it now (it stays visible to operators).
    """

    RECEIVED = "received"
    PROPOSED = "proposed"
    APPROVED = "approved"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    UNSERVED = "unserved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


class DroneStatus(StrEnum):
    """Where a drone is in its duty cycle."""

    DOCKED = "docked"
    CHARGING = "charging"
    LAUNCHING = "launching"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RETURNING = "returning"
    OFFLINE = "offline"
    MAINTENANCE = "maintenance"


class AssignmentStatus(StrEnum):
    """A proposal of one drone for one incident, and what became of it."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    DECLINED = "declined"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Role(StrEnum):
    """What an API key may do."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    ADMIN = "admin"
