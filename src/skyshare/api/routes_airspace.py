"""Airspace for operators: may we fly here, the legal route, and temporary restrictions.

The airspace engine is pure; this module only reads the request, asks the runtime's
current ``AirspaceMap`` (``Runtime.airspace``) and answers. Creating and lifting a
restriction are state changes, so they go through the runtime
(``Runtime.create_restriction`` / ``Runtime.lift_restriction``), which records and
publishes the events.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from skyshare.airspace import AirspaceMap, NoRoute, zone_to_feature
from skyshare.airspace.restrictions import is_temporary, parse_restriction
from skyshare.api.auth import ALL_AGENCIES, Principal
from skyshare.api.deps import commanding_principal, current_principal, get_runtime, require_agency
from skyshare.domain import GeoPoint
from skyshare.runtime.runtime import Runtime

router = APIRouter(prefix="/api/v1/airspace", tags=["airspace"])


class RestrictionIn(BaseModel):
    """A temporary restriction: a circle (lat, lon, radius_m) or a GeoJSON Polygon, with an
    expiry. Field rules are checked by skyshare.airspace.restrictions."""

    name: str = Field(examples=["Grenfell Road fire scene"])
    lat: float | None = Field(default=None, examples=[51.5138])
    lon: float | None = Field(default=None, examples=[-0.2157])
    radius_m: float | None = Field(default=None, examples=[800.0])
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon (lon, lat)")
    lower_m: float = Field(default=0.0, description="metres above ground")
    upper_m: float | None = Field(default=None, description="metres above ground; null: no top")
    starts_at: str | None = Field(default=None, description="ISO 8601 with timezone; default now")
    expires_at: str | None = Field(default=None, description="ISO 8601 with timezone")
    duration_s: float | None = Field(default=None, description="instead of expires_at")
    free: list[str] | None = Field(
        default=None, description="agencies that may enter freely; default: the caller's"
    )
    with_permission: list[str] | None = Field(
        default=None, description='agencies that may enter with a recorded permission; "*": any'
    )
    authority: str | None = None
    reason: str | None = None


async def current_airspace(runtime: Runtime = Depends(get_runtime)) -> AirspaceMap:
    """The live map: published zones plus the temporary restrictions in force."""
    return runtime.airspace


def _permissions(runtime: Runtime) -> frozenset[tuple[str, str]]:
    return runtime.airspace_permissions()


def _invalid(where: str, field: str, reason: str) -> HTTPException:
    """422 in the shape FastAPI uses for its own validation errors."""
    return HTTPException(
        422,  # (the constant was renamed across Starlette versions)
        detail=[{"loc": [where, field], "msg": reason, "type": "value_error"}],
    )


def _agency(principal: Principal, runtime: Runtime, agency: str | None) -> str:
    chosen = agency or principal.agency
    if chosen == ALL_AGENCIES:
        raise _invalid("query", "agency", "is required for a key that acts for every agency")
    if chosen not in runtime.network.agencies:
        known = ", ".join(sorted(runtime.network.agencies))
        raise _invalid("query", "agency", f"unknown agency {chosen!r}; known: {known}")
    return chosen


def _point(field: str, text: str) -> GeoPoint:
    parts = text.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise _invalid("query", field, f"expected LAT,LON in degrees, got {text!r}") from None
    if not -90 <= lat <= 90:
        raise _invalid("query", field, f"latitude {lat} is outside [-90, 90]")
    if not -180 <= lon <= 180:
        raise _invalid("query", field, f"longitude {lon} is outside [-180, 180]")
    return GeoPoint(lat, lon)


@router.get("/check", summary="May this agency fly here now? If not, which zone forbids it")
async def check(
    lat: float = Query(ge=-90, le=90, description="WGS84 degrees"),
    lon: float = Query(ge=-180, le=180, description="WGS84 degrees"),
    alt: float = Query(60.0, ge=0, description="metres above ground"),
    agency: str | None = Query(None, description="default: the caller's agency"),
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
    airspace: AirspaceMap = Depends(current_airspace),
) -> dict[str, Any]:
    who = _agency(principal, runtime, agency)
    now = runtime.clock.now()
    result = airspace.check(lat, lon, alt, who, at=now, permissions=_permissions(runtime))
    return {
        "allowed": result.allowed,
        "agency": who,
        "at": now.isoformat(),
        "lat": lat,
        "lon": lon,
        "alt_m": alt,
        "zones": [
            {
                "id": b.zone_id,
                "name": b.name,
                "kind": b.kind,
                "reason": b.reason,
                "depth_m": round(b.depth_m, 1),
            }
            for b in result.breaches
        ],
        "above_ceiling_m": result.above_ceiling_m,
        "ceiling_m": result.ceiling_m,
        "reasons": result.reasons,
        "airspace_version": airspace.version,
    }


@router.get(
    "/route",
    summary="The legal route as a GeoJSON Feature (LineString); 422 with the reason if none",
)
def route(
    start: str = Query(alias="from", description="LAT,LON", examples=["51.5045,-0.2190"]),
    goal: str = Query(alias="to", description="LAT,LON", examples=["51.4740,-0.0690"]),
    agency: str | None = Query(None, description="default: the caller's agency"),
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
    airspace: AirspaceMap = Depends(current_airspace),
) -> dict[str, Any]:
    who = _agency(principal, runtime, agency)
    a, b = _point("from", start), _point("to", goal)
    now = runtime.clock.now()
    try:
        found = airspace.route(a, b, who, at=now, permissions=_permissions(runtime))
    except NoRoute as refused:
        raise _invalid("query", refused.field, refused.reason) from None
    return {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[w.lon, w.lat] for w in found.waypoints],
        },
        "properties": {
            "agency": who,
            "length_m": round(found.length_m, 1),
            "straight_line_m": round(airspace.route_length_lower_bound(a, b), 1),
            "cruise_alt_m": found.cruise_alt_m,
            "zones_skirted": list(found.zones_skirted),
            "at": now.isoformat(),
            "airspace_version": airspace.version,
        },
    }


@router.get("/restrictions", summary="Temporary restrictions not yet expired (GeoJSON)")
async def list_restrictions(
    _: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
    airspace: AirspaceMap = Depends(current_airspace),
) -> dict[str, Any]:
    now = runtime.clock.now()
    live = [
        z
        for z in airspace.zones
        if is_temporary(z) and (z.expires_at is None or z.expires_at > now)
    ]
    return {
        "type": "FeatureCollection",
        "airspace_version": airspace.version,
        "features": [zone_to_feature(z) for z in live],
    }


@router.post(
    "/restrictions",
    status_code=status.HTTP_201_CREATED,
    summary="Create a temporary restriction (with expiry); flights it cuts get an event",
)
async def create_restriction(
    body: RestrictionIn,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    zone = parse_restriction(
        body.model_dump(exclude_unset=True),
        zone_id=f"TR-{uuid.uuid4().hex[:8]}",
        now=runtime.clock.now(),
        created_by=principal.name,
        agency=principal.agency,
    )
    cut = await runtime.create_restriction(zone, actor=principal.name)
    return {**zone_to_feature(zone), "flights_cut": cut}


@router.delete(
    "/restrictions/{zone_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Lift a temporary restriction",
)
async def lift_restriction(
    zone_id: str,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
    airspace: AirspaceMap = Depends(current_airspace),
) -> Response:
    if zone_id not in airspace:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no restriction {zone_id}")
    zone = airspace.zone(zone_id)
    if not is_temporary(zone):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"{zone_id} is published airspace, not a temporary restriction",
        )
    require_agency(principal, str(zone.extra.get("agency", ALL_AGENCIES)))
    await runtime.lift_restriction(zone_id, actor=principal.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
