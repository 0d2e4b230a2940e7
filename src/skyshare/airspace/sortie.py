"""What a sortie will fly, under one agency's rules, and the fence around all of it.

Pure planning for ``skyshare.runtime.flights``: the route to the scene, the task on scene
(an orbit that keeps clear of zones the agency may not enter, or a lawnmower search flown
by legal legs), the ways home to the dock, and a fence that none of them fights. The way
home is planned again when the sortie ends, and checked against the fence on board.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely

from skyshare.airspace.airspace_map import AirspaceMap
from skyshare.airspace.compiled import CompiledZone
from skyshare.airspace.fences import (
    AutopilotLimits,
    FenceError,
    FencePlan,
    breaches_along,
    build_fence,
)
from skyshare.airspace.routing import NoRoute, Route
from skyshare.airspace.service_area import ServiceArea
from skyshare.domain import GeoPoint, TaskKind

ORBIT_RADIUS_M = 60.0
ORBIT_CLEARANCE_M = 20.0  # an orbit keeps this far from a zone the agency may not enter
MIN_ORBIT_RADIUS_M = 10.0  # below this the drone hovers over the scene instead
ORBIT_RING_POINTS = 32  # the orbit as a closed line, for the fence
ROUTE_HORIZON_S = 1800.0  # zones active this soon count for a sortie's routes
SEARCH_SPACING_M = 60.0
SEARCH_HALF_SIDE_M = 150.0
LEG_TOLERANCE_M = 8.0  # a leg's end counts as reached this close
RETURN_CLEARANCE_M = 25.0  # the way home keeps this far inside the fence on board, or a new one


@dataclass(frozen=True)
class SortiePlan:
    """Everything one sortie will fly, under one agency's rules, and the fence around it."""

    route: Route  # from where the drone is to the scene
    on_scene: tuple[GeoPoint, ...]  # the task: the orbit's ring or the search's legs
    orbit_radius_m: float  # 0: hover over the scene (no room to orbit, or no orbit)
    home: tuple[Route, ...]  # the ways to the dock from the scene and from the task's end
    fence: FencePlan


@dataclass(frozen=True)
class ReturnPlan:
    """The way to the dock, and a fence to upload first if the one on board would fight it."""

    route: Route
    fence: FencePlan | None
    problem: str = ""  # why no fence for the way home could be made, if none could


def plan_sortie(
    airspace: AirspaceMap,
    area: ServiceArea,
    *,
    agency: str,
    at: datetime,
    permissions: frozenset[tuple[str, str]],
    start: GeoPoint,
    scene: GeoPoint,
    dock: GeoPoint,
    task: TaskKind,
    limits: AutopilotLimits,
    aircraft_home: GeoPoint | None = None,
) -> SortiePlan:
    """The route, the task on scene and the way to ``dock``, all legal for ``agency``, and
    a fence that none of them fights. The fence also holds ``aircraft_home`` (where the
    autopilot's own failsafe return flies), if given. Raises ``NoRoute`` or
    ``FenceError``."""

    def route(a: GeoPoint, b: GeoPoint) -> Route:
        return airspace.route(
            a, b, agency, at=at, permissions=permissions, horizon_s=ROUTE_HORIZON_S
        )

    out = route(start, scene)
    until = at + timedelta(seconds=ROUTE_HORIZON_S)  # the zones the routes count
    forbidden = airspace.forbidden(agency, at=at, until=until, permissions=permissions)
    radius = 0.0
    on_scene: tuple[GeoPoint, ...] = (scene,)
    if task is TaskKind.OVERWATCH:
        radius = orbit_radius(airspace, forbidden, scene)
        on_scene = orbit_ring(airspace, scene, radius) if radius else (scene,)
    elif task is TaskKind.SEARCH:
        on_scene = search_legs(route, scene)
    ends = [scene] if on_scene[-1] == scene else [scene, on_scene[-1]]
    home = tuple(route(end, dock) for end in ends)
    fence = build_fence(
        airspace,
        area,
        limits=limits,
        agency=agency,
        at=at,
        home=start,
        route=out,
        paths=[on_scene, *(r.waypoints for r in home), _points(aircraft_home)],
        permissions=permissions,
    )
    return SortiePlan(out, on_scene, radius, home, fence)


def _points(point: GeoPoint | None) -> tuple[GeoPoint, ...]:
    return () if point is None else (point,)


def plan_return(
    airspace: AirspaceMap,
    area: ServiceArea,
    *,
    agency: str,
    at: datetime,
    permissions: frozenset[tuple[str, str]],
    here: GeoPoint,
    dock: GeoPoint,
    on_board: FencePlan | None,
    limits: AutopilotLimits,
    aircraft_home: GeoPoint | None = None,
) -> ReturnPlan:
    """The legal way from ``here`` to ``dock`` for ``agency``; with a new fence if the one
    on board (None: unknown) would be breached on it. A new fence also holds
    ``aircraft_home``, if given. Raises ``NoRoute``."""
    route = airspace.route(here, dock, agency, at=at, permissions=permissions)
    path = (here, *route.waypoints)
    if on_board is not None and not breaches_along(
        on_board.items,
        path,
        proj=airspace.projection,
        limits=on_board.limits,
        clearance_m=RETURN_CLEARANCE_M,
    ):
        return ReturnPlan(route, None)
    try:
        fence = build_fence(
            airspace,
            area,
            limits=limits,
            agency=agency,
            at=at,
            home=here,
            route=route,
            paths=[_points(aircraft_home)],
            permissions=permissions,
        )
    except FenceError as exc:
        return ReturnPlan(route, None, str(exc))
    return ReturnPlan(route, fence)


def orbit_radius(
    airspace: AirspaceMap, forbidden: Sequence[CompiledZone], scene: GeoPoint
) -> float:
    """The orbit's radius: ``ORBIT_RADIUS_M``, smaller where a zone the agency may not
    enter is near; 0 (hover) where not even ``MIN_ORBIT_RADIUS_M`` fits."""
    centre = shapely.Point(airspace.projection.point(scene.lat, scene.lon))
    clearance = min((z.geometry.distance(centre) for z in forbidden), default=math.inf)
    radius = min(ORBIT_RADIUS_M, clearance - ORBIT_CLEARANCE_M)
    return radius if radius >= MIN_ORBIT_RADIUS_M else 0.0


def orbit_ring(airspace: AirspaceMap, scene: GeoPoint, radius_m: float) -> tuple[GeoPoint, ...]:
    """The orbit as a closed line (a little outside the circle, as the aircraft drifts)."""
    proj = airspace.projection
    x, y = proj.point(scene.lat, scene.lon)
    reach = radius_m + 2 * LEG_TOLERANCE_M
    angles = np.linspace(0.0, 2 * math.pi, ORBIT_RING_POINTS + 1)
    lons, lats = proj.to_wgs84(x + reach * np.cos(angles), y + reach * np.sin(angles))
    return tuple(GeoPoint(lat, lon) for lat, lon in zip(lats.tolist(), lons.tolist(), strict=True))


def search_legs(
    route: Callable[[GeoPoint, GeoPoint], Route], scene: GeoPoint
) -> tuple[GeoPoint, ...]:
    """The lawnmower over the scene, flown by legal legs: a corner inside a zone the agency
    may not enter is left out, and a leg that would cross one goes around it."""
    points: list[GeoPoint] = []
    here = scene
    for lat, lon in lawnmower(scene, SEARCH_HALF_SIDE_M, SEARCH_SPACING_M):
        try:
            leg = route(here, GeoPoint(lat, lon))
        except NoRoute:
            continue
        points += leg.waypoints[1:]
        here = leg.waypoints[-1]
    return tuple(GeoPoint(p.lat, p.lon) for p in points) or (scene,)


def lawnmower(centre: GeoPoint, half_side_m: float, spacing_m: float) -> list[tuple[float, float]]:
    """Back-and-forth legs over a square around ``centre``, ``spacing_m`` apart."""
    per_deg_lat = 111_320.0
    per_deg_lon = per_deg_lat * math.cos(math.radians(centre.lat))
    points = []
    rows = int(2 * half_side_m // spacing_m) + 1
    for row in range(rows):
        north = -half_side_m + row * spacing_m
        ends = (-half_side_m, half_side_m) if row % 2 == 0 else (half_side_m, -half_side_m)
        for east in ends:
            points.append((centre.lat + north / per_deg_lat, centre.lon + east / per_deg_lon))
    return points
