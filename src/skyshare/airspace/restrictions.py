"""Temporary restrictions: reading an operator's request, and which flights one cuts.

A request is plain data (an API body): a name, a circle (``lat``, ``lon``, ``radius_m``) or
a GeoJSON ``geometry`` (Polygon), optional heights, when it starts (default: now) and when
it expires (``expires_at`` or ``duration_s``), and who may enter. The caller supplies the
id and the time: the core invents neither.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from shapely.geometry import LineString

from skyshare.airspace.parsing import Item
from skyshare.airspace.routing import Route
from skyshare.airspace.zones import (
    ANY_AGENCY,
    CircleShape,
    EntryRule,
    Geozone,
    Limit,
    PolygonShape,
    VerticalRef,
    ZoneKind,
    temporary_zone,
)

if TYPE_CHECKING:
    from skyshare.airspace.airspace_map import AirspaceMap

MAX_DURATION = timedelta(days=30)


def parse_restriction(
    payload: Any, *, zone_id: str, now: datetime, created_by: str = "", agency: str = ""
) -> Geozone:
    """A temporary ``Geozone`` from a request; ``InputError`` names the field and the reason.

    ``agency`` (the creator's) may enter by default: a restriction usually clears the sky
    around that agency's own scene.
    """
    check = Item("", "")
    body = check.mapping("(body)", payload)
    name = check.text("name", body.get("name")).strip()
    shape = _shape(check, body)
    lower = Limit(check.number("lower_m", body.get("lower_m", 0.0)) or 0.0, VerticalRef.AGL)
    upper_value = check.number("upper_m", body.get("upper_m"), allow_none=True)
    upper = Limit(math.inf if upper_value is None else upper_value, VerticalRef.AGL)
    if lower.value_m < 0:
        raise check.fail("lower_m", "must be >= 0")
    if upper.value_m <= lower.value_m:
        raise check.fail("upper_m", f"must be above lower_m ({lower.value_m:g} m)")

    start = check.instant("starts_at", body.get("starts_at")) or now
    end = _expiry(check, body, start)
    if end <= now:
        raise check.fail("expires_at", "is already past")
    if end - start > MAX_DURATION:
        raise check.fail(
            "expires_at", f"a temporary restriction lasts at most {MAX_DURATION.days} days"
        )

    default_free = [agency] if agency and agency != ANY_AGENCY else []
    free = _agencies(check, "free", body.get("free", default_free))
    allowed = _agencies(check, "with_permission", body.get("with_permission", [ANY_AGENCY]))
    authority = check.text("authority", body.get("authority"), required=False) or (
        f"{agency} incident command" if agency else "the issuing authority"
    )
    extra: dict[str, Any] = {}
    if body.get("reason") is not None:
        extra["reason"] = check.text("reason", body.get("reason"), required=False)
    if created_by:
        extra["created_by"] = created_by
    if agency:
        extra["agency"] = agency
    extra["created_at"] = now.isoformat()
    return temporary_zone(
        zone_id,
        name,
        shape,
        start=start,
        end=end,
        lower=lower,
        upper=upper,
        entry=EntryRule(free, allowed, authority),
        extra=extra,
    )


def _shape(check: Item, body: Mapping[str, Any]) -> CircleShape | PolygonShape:
    if body.get("geometry") is not None:
        if any(k in body for k in ("lat", "lon", "radius_m")):
            raise check.fail("geometry", "give either a geometry or lat/lon/radius_m, not both")
        geometry = check.mapping("geometry", body["geometry"])
        if geometry.get("type") != "Polygon":
            raise check.fail("geometry.type", f"expected Polygon, got {geometry.get('type')!r}")
        return check.polygon_shape("geometry.coordinates", "Polygon", geometry.get("coordinates"))
    for name in ("lat", "lon", "radius_m"):
        if body.get(name) is None:
            raise check.fail(name, "is required (or give a GeoJSON Polygon as geometry)")
    lat = check.number("lat", body["lat"])
    lon = check.number("lon", body["lon"])
    radius = check.number("radius_m", body["radius_m"])
    assert lat is not None and lon is not None and radius is not None
    if not -90 <= lat <= 90:
        raise check.fail("lat", f"{lat} is outside [-90, 90]")
    if not -180 <= lon <= 180:
        raise check.fail("lon", f"{lon} is outside [-180, 180]")
    if not 0 < radius <= 50_000:
        raise check.fail("radius_m", f"{radius} is outside (0, 50000] m")
    return CircleShape(lon, lat, radius)


def _expiry(check: Item, body: Mapping[str, Any], start: datetime) -> datetime:
    if body.get("expires_at") is not None and body.get("duration_s") is not None:
        raise check.fail("expires_at", "give either expires_at or duration_s, not both")
    if body.get("duration_s") is not None:
        seconds = check.number("duration_s", body["duration_s"])
        assert seconds is not None
        if seconds <= 0:
            raise check.fail("duration_s", "must be positive")
        return start + timedelta(seconds=seconds)
    end = check.instant("expires_at", body.get("expires_at"))
    if end is None:
        raise check.fail(
            "expires_at", "is required (or give duration_s): a restriction must expire"
        )
    if end <= start:
        raise check.fail("expires_at", "must be after starts_at")
    return end


def _agencies(check: Item, field: str, value: Any) -> frozenset[str]:
    items = check.sequence(field, value)
    return frozenset(check.text(f"{field}[{i}]", a).strip() for i, a in enumerate(items))


@dataclass(frozen=True)
class ActiveFlight:
    """A flight in the air or about to be, with the route it is flying."""

    flight_id: str
    agency: str
    route: Route
    permissions: frozenset[tuple[str, str]] = frozenset()


def flights_cut(
    airspace: AirspaceMap,
    zone_id: str,
    flights: Iterable[ActiveFlight],
    *,
    at: datetime,
    horizon_s: float = 3600.0,
) -> list[str]:
    """The flights whose route crosses ``zone_id`` while it is active and forbidden to them.

    The caller raises an event for each, so the flight can be re-routed or recalled.
    """
    compiled = next(c for c in airspace.compiled if c.id == zone_id)
    zone = compiled.zone
    if not zone.active_during(at, at + timedelta(seconds=horizon_s)):
        return []
    cut = []
    for flight in flights:
        if zone.may_enter(flight.agency, flight.permissions):
            continue
        cruise = flight.route.cruise_alt_m
        if not compiled.spans(0.0, cruise + 10.0):
            continue
        points = flight.route.waypoints
        xs, ys = airspace.projection.to_metric([p.lon for p in points], [p.lat for p in points])
        line = LineString(np.column_stack([xs, ys])) if len(points) > 1 else None
        if line is not None and line.intersects(compiled.geometry):
            cut.append(flight.flight_id)
    return sorted(cut)


def is_temporary(zone: Geozone) -> bool:
    return zone.kind is ZoneKind.TEMPORARY
