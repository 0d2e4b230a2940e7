"""Events: every state change in SkyShare is one of these.

Events are the spine of the system. The runtime creates them, the store appends them to
the hash-chained audit log in the same transaction as the change they describe, and the
bus publishes them (``skyshare/v1/events/<type>`` on MQTT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    INCIDENT_RECEIVED = "incident_received"
    INCIDENT_REJECTED = "incident_rejected"
    INCIDENT_CLOSED = "incident_closed"
    INCIDENT_CANCELLED = "incident_cancelled"  # withdrawn: sent in error, a duplicate, a hoax
    INCIDENT_UNSERVED = "incident_unserved"
    DISPATCH_PROPOSED = "dispatch_proposed"
    DISPATCH_APPROVED = "dispatch_approved"
    DISPATCH_DECLINED = "dispatch_declined"
    DISPATCH_PREEMPTED = "dispatch_preempted"
    DISPATCH_AUTO_APPROVED = "dispatch_auto_approved"
    DISPATCH_PROVISIONAL = "dispatch_provisional"  # flying while the operator decides
    DISPATCH_ESCALATED = "dispatch_escalated"
    DISPATCH_WITHDRAWN = "dispatch_withdrawn"  # stored while in doubt, never acted on
    DRONE_LAUNCHED = "drone_launched"
    DRONE_ON_SCENE = "drone_on_scene"
    DRONE_RETURNING = "drone_returning"
    DRONE_LANDED = "drone_landed"
    DRONE_STATUS = "drone_status"
    COMMAND_SENT = "command_sent"
    COMMAND_RESULT = "command_result"
    GEOFENCE_BREACH = "geofence_breach"
    CONFORMANCE_ALERT = "conformance_alert"
    LINK_LOST = "link_lost"
    LINK_REGAINED = "link_regained"
    BATTERY_LOW = "battery_low"
    RESTRICTION_CREATED = "restriction_created"
    RESTRICTION_REMOVED = "restriction_removed"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened.

    ``actor`` is who caused it (an API key's name, ``dispatcher``, ``cad:<agency>``,
    ``fleet``); ``subject`` is what it is about (an incident, drone or zone id);
    ``agency`` is the agency whose business it is, when there is one. ``data`` is plain
    JSON-serialisable detail.
    """

    type: EventType
    at: datetime
    actor: str
    subject: str
    agency: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": str(self.type),
            "at": self.at.isoformat(),
            "actor": self.actor,
            "subject": self.subject,
            "agency": self.agency,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Event:
        return cls(
            type=EventType(doc["type"]),
            at=datetime.fromisoformat(doc["at"]),
            actor=doc["actor"],
            subject=doc["subject"],
            agency=doc.get("agency"),
            data=dict(doc.get("data") or {}),
        )
