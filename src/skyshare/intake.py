"""Incident intake: one validator for every door an incident comes in by.

The API and the MQTT feed from control-room (CAD) systems both hand a plain mapping to
:func:`parse_incident_request`, so a call rejected on one door is rejected on the other
with the same field and reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from skyshare.airspace.service_area import ServiceArea
from skyshare.domain import GeoPoint, Incident, InputError, Network, Priority

MAX_DESCRIPTION = 2000
MAX_EXTERNAL_ID = 128


@dataclass(frozen=True, slots=True)
class IncidentRequest:
    """A validated call, not yet an incident: no id, no time received."""

    agency: str
    priority: Priority
    kind: str
    lat: float
    lon: float
    borough: str
    description: str = ""
    external_id: str | None = None

    def incident(self, incident_id: str, received_at: datetime) -> Incident:
        """The incident this call becomes, as received."""
        return Incident(
            id=incident_id,
            agency=self.agency,
            priority=self.priority,
            kind=self.kind,
            position=GeoPoint(self.lat, self.lon),
            received_at=received_at,
            borough=self.borough,
            description=self.description,
            external_id=self.external_id,
        )


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """A control room closing (dealt with) or cancelling (withdrawn) its call, named by
    its own incident number."""

    agency: str
    external_id: str
    reason: str
    cancel: bool = False


def parse_close_request(payload: Mapping[str, Any], agency: str) -> CloseRequest | None:
    """A control-room message that closes or cancels a call (``status`` is ``closed`` or
    ``cancelled``, and ``external_id`` names the call), or None for a new call (no
    ``status``)."""
    status = payload.get("status")
    if status is None:
        return None
    if status not in ("closed", "cancelled"):
        raise InputError(
            "status",
            f"a control room can only close a call ('closed') or cancel it ('cancelled'), "
            f"got {status!r}",
        )
    external_id = _optional_text(payload, "external_id", MAX_EXTERNAL_ID)
    if external_id is None:
        raise InputError(
            "external_id", f"is required to mark a call {status}: the control room's own number"
        )
    reason = _optional_text(payload, "reason", MAX_DESCRIPTION) or f"{status} by the control room"
    return CloseRequest(agency, external_id, reason, cancel=status == "cancelled")


def parse_incident_request(
    payload: Mapping[str, Any], network: Network, area: ServiceArea
) -> IncidentRequest:
    """Validate ``payload``; raise :class:`InputError` naming the first bad field."""
    if not isinstance(payload, Mapping):
        raise InputError("(body)", f"expected a JSON object, got {type(payload).__name__}")
    agency = _required_text(payload, "agency")
    if agency not in network.agencies:
        known = ", ".join(sorted(network.agencies))
        raise InputError("agency", f"unknown agency {agency!r}; known: {known}")
    try:
        priority = Priority.parse(_required(payload, "priority"))
    except (TypeError, ValueError):
        raise InputError(
            "priority", f"unknown priority {payload['priority']!r}; use P1 to P4"
        ) from None
    kind = _required_text(payload, "kind")
    if kind not in network.kinds:
        known = ", ".join(sorted(network.kinds))
        raise InputError("kind", f"unknown incident kind {kind!r}; known: {known}")
    lat = _coordinate(payload, "lat", 90.0)
    lon = _coordinate(payload, "lon", 180.0)
    borough = area.borough_of(lat, lon)
    if borough is None:
        raise InputError("lat", f"({lat}, {lon}) is outside the service area")
    description = _optional_text(payload, "description", MAX_DESCRIPTION) or ""
    external_id = _optional_text(payload, "external_id", MAX_EXTERNAL_ID)
    return IncidentRequest(agency, priority, kind, lat, lon, borough, description, external_id)


def _required(payload: Mapping[str, Any], name: str) -> Any:
    if payload.get(name) is None:
        raise InputError(name, "is required")
    return payload[name]


def _required_text(payload: Mapping[str, Any], name: str) -> str:
    value = _required(payload, name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(name, "must be a non-empty string")
    return value.strip()


def _optional_text(payload: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(name, "must be a string")
    if len(value) > limit:
        raise InputError(name, f"is {len(value)} characters long; the limit is {limit}")
    return value.strip() or None


def _coordinate(payload: Mapping[str, Any], name: str, limit: float) -> float:
    value = _required(payload, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(name, f"must be a number of degrees, got {value!r}")
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise InputError(name, f"{value} is out of range [-{limit:g}, {limit:g}]")
    return float(value)
