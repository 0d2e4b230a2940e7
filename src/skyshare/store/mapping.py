"""Conversions between domain records and table rows. Nothing else knows both shapes."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from skyshare.domain import (
    Assignment,
    AssignmentStatus,
    DroneStatus,
    GeoPoint,
    Incident,
    IncidentStatus,
    LaunchSite,
    Priority,
)
from skyshare.domain.errors import InputError
from skyshare.domain.events import Event, EventType
from skyshare.store.columns import to_utc
from skyshare.store.records import (
    DroneState,
    StoredDrone,
    StoredEvent,
    StoredRestriction,
    StoredSite,
)
from skyshare.store.tables import (
    AssignmentRow,
    DroneRow,
    EventRow,
    IncidentRow,
    RestrictionRow,
    SiteRow,
)

E = TypeVar("E", bound=Enum)


def site_fields(site: LaunchSite) -> dict[str, Any]:
    return {
        "name": site.name,
        "borough": site.borough,
        "owner": site.owner,
        "shared": site.shared,
        "dock_capacity": site.dock_capacity,
        "lat": site.position.lat,
        "lon": site.position.lon,
        "alt_m": site.position.alt_m,
        "illustrative": site.illustrative,
        "source": site.source,
    }


def stored_site(row: SiteRow) -> StoredSite:
    site = LaunchSite(
        id=row.id,
        name=row.name,
        position=GeoPoint(row.lat, row.lon, row.alt_m),
        borough=row.borough,
        owner=row.owner,
        shared=row.shared,
        dock_capacity=row.dock_capacity,
        illustrative=row.illustrative,
        source=row.source,
    )
    return StoredSite(site, row.retired)


def stored_drone(row: DroneRow) -> StoredDrone:
    return StoredDrone(row.id, row.model, row.owner, row.home_site_id, row.retired)


def drone_state_fields(state: DroneState) -> dict[str, Any]:
    return {
        "status": _member(DroneStatus, state.status, "status").value,
        "battery_pct": state.battery_pct,
        "lat": state.lat,
        "lon": state.lon,
        "alt_m": state.alt_m,
        "incident_id": state.incident_id,
        "state_updated_at": to_utc(state.updated_at, "updated_at"),
        "docked_at": state.docked_at,
    }


def drone_state(row: DroneRow) -> DroneState:
    return DroneState(
        drone_id=row.id,
        status=DroneStatus(row.status),
        battery_pct=row.battery_pct,
        lat=row.lat,
        lon=row.lon,
        alt_m=row.alt_m,
        incident_id=row.incident_id,
        updated_at=row.state_updated_at,
        docked_at=row.docked_at,
    )


def incident_fields(incident: Incident) -> dict[str, Any]:
    return {
        "agency": incident.agency,
        "external_id": incident.external_id,
        "priority": int(_member(Priority, incident.priority, "priority")),
        "kind": incident.kind,
        "lat": incident.position.lat,
        "lon": incident.position.lon,
        "alt_m": incident.position.alt_m,
        "received_at": to_utc(incident.received_at, "received_at"),
        "status": _member(IncidentStatus, incident.status, "status").value,
        "borough": incident.borough,
        "description": incident.description,
    }


def incident(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id,
        agency=row.agency,
        priority=Priority(row.priority),
        kind=row.kind,
        position=GeoPoint(row.lat, row.lon, row.alt_m),
        received_at=row.received_at,
        status=IncidentStatus(row.status),
        borough=row.borough,
        description=row.description,
        external_id=row.external_id,
    )


def assignment_fields(assignment: Assignment) -> dict[str, Any]:
    return {
        "incident_id": assignment.incident_id,
        "drone_id": assignment.drone_id,
        "site_id": assignment.site_id,
        "eta_s": assignment.eta_s,
        "reason": assignment.reason,
        "status": _member(AssignmentStatus, assignment.status, "status").value,
        "candidates": plain_json("candidates", list(assignment.candidates)),
        "proposed_at": None
        if assignment.proposed_at is None
        else to_utc(assignment.proposed_at, "proposed_at"),
    }


def assignment(row: AssignmentRow) -> Assignment:
    return Assignment(
        id=row.id,
        incident_id=row.incident_id,
        drone_id=row.drone_id,
        site_id=row.site_id,
        eta_s=row.eta_s,
        reason=row.reason,
        status=AssignmentStatus(row.status),
        candidates=tuple(row.candidates),
        proposed_at=row.proposed_at,
    )


def stored_event(row: EventRow) -> StoredEvent:
    event = Event(
        type=EventType(row.type),
        at=row.at,
        actor=row.actor,
        subject=row.subject,
        agency=row.agency,
        data=row.data,
    )
    return StoredEvent(row.seq, event, row.prev_hash, row.hash)


def restriction_fields(r: StoredRestriction) -> dict[str, Any]:
    return {
        "feature": plain_json("feature", r.feature),
        "created_by": r.created_by,
        "created_at": to_utc(r.created_at, "created_at"),
        "starts_at": _optional_utc(r.starts_at, "starts_at"),
        "ends_at": _optional_utc(r.ends_at, "ends_at"),
        "lifted_at": _optional_utc(r.lifted_at, "lifted_at"),
    }


def restriction(row: RestrictionRow) -> StoredRestriction:
    return StoredRestriction(
        id=row.id,
        feature=row.feature,
        created_by=row.created_by,
        created_at=row.created_at,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        lifted_at=row.lifted_at,
    )


def plain_json(field: str, value: Any) -> Any:
    """``value`` as it will read back from a JSON column; refuses what JSON cannot carry."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InputError(field, f"must be plain JSON: {exc}") from None


def _member(enum: type[E], value: Any, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(str(m.value) for m in enum)
        raise InputError(field, f"unknown value {value!r} (known: {known})") from None


def _optional_utc(value: datetime | None, field: str) -> datetime | None:
    return None if value is None else to_utc(value, field)
