"""Shortest legal routes: around every zone the flight may not enter, with a safety buffer.

A visibility graph is built once per set of obstacles (an airspace version and the
forbidden zones of an agency at a time) and cached; a query inserts its two endpoints by
finding the corners each one sees, then combines the cached all-pairs distances. What an
endpoint sees is cached too, so many queries from one launch site cost little more than
the goal's side.

A start or goal within the buffer of a zone (but outside the zone) first leaves the
buffer by the shortest way, if that way does not cross the zone.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.ops import nearest_points

from skyshare.airspace.compiled import CompiledZone
from skyshare.airspace.obstacles import ObstacleSet
from skyshare.airspace.visibility import VisibilityGraph
from skyshare.airspace.zones import Permissions
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint

if TYPE_CHECKING:
    from skyshare.airspace.airspace_map import AirspaceMap

VERTICAL_MARGIN_M = 10.0  # a zone within this of the cruise height is in the way
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
XY = tuple[float, float]


class NoRoute(InputError):
    """No legal route: ``field`` is ``from`` or ``to``, ``reason`` says why."""


@dataclass(frozen=True, slots=True)
class Route:
    """A legal route. Waypoints are at ``cruise_alt_m`` above ground; take-off and landing
    are vertical at the two ends. ``zones_skirted`` lists, in the order the route passes
    them, the forbidden zones it goes around within about the safety buffer."""

    waypoints: tuple[GeoPoint, ...]
    length_m: float
    cruise_alt_m: float
    zones_skirted: tuple[str, ...]


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = make()  # outside the lock: building a graph takes a while
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class _Endpoint:
    lead: tuple[XY, ...]  # from the query point to the point where the free path starts
    visible: np.ndarray
    distances: np.ndarray

    @property
    def point(self) -> XY:
        return self.lead[-1]


class _GraphEntry:
    def __init__(self, obstacles: ObstacleSet, endpoints: int, routes: int) -> None:
        self.obstacles = obstacles
        self.graph = VisibilityGraph(obstacles)
        self.endpoints: LRU[tuple[float, float], _Endpoint] = LRU(endpoints)
        self.routes: LRU[tuple, Route] = LRU(routes)


class Router:
    """Routes with cached visibility graphs; shared by a map and the maps derived from it."""

    def __init__(
        self,
        buffer_m: float,
        simplify_m: float,
        *,
        max_graphs: int = 8,
        max_endpoints: int = 4096,
        max_routes: int = 16384,
    ) -> None:
        self.buffer_m = buffer_m
        self.simplify_m = simplify_m
        self._sizes = (max_endpoints, max_routes)
        self.graphs: LRU[frozenset[CompiledZone], _GraphEntry] = LRU(max_graphs)

    def graph_for(self, zones: frozenset[CompiledZone]) -> _GraphEntry:
        ordered = sorted(zones, key=lambda z: z.id)
        return self.graphs.get_or_make(
            zones,
            lambda: _GraphEntry(ObstacleSet(ordered, self.buffer_m, self.simplify_m), *self._sizes),
        )

    def route(
        self,
        airspace: AirspaceMap,
        start: GeoPoint,
        goal: GeoPoint,
        agency: str,
        *,
        at: datetime,
        permissions: Permissions = frozenset(),
        cruise_alt_m: float | None = None,
        horizon_s: float = 1800.0,
        cached: bool = True,
    ) -> Route:
        cruise = airspace.min_cruise_alt_m if cruise_alt_m is None else float(cruise_alt_m)
        if not 0 < cruise <= airspace.ceiling_m:
            raise InputError(
                "cruise_alt_m", f"{cruise} m is not within (0, {airspace.ceiling_m}] m"
            )
        _check_position("from", start)
        _check_position("to", goal)
        until = at + timedelta(seconds=horizon_s)
        low, high = cruise - VERTICAL_MARGIN_M, cruise + VERTICAL_MARGIN_M
        in_the_way = airspace.forbidden(
            agency, at=at, until=until, permissions=permissions, heights=(low, high)
        )
        climbing = airspace.forbidden(
            agency, at=at, until=until, permissions=permissions, heights=(0.0, high)
        )
        p = airspace.projection.point(start.lat, start.lon)
        g = airspace.projection.point(goal.lat, goal.lon)
        _refuse_inside(airspace, "from", "start", p, climbing, agency)
        _refuse_inside(airspace, "to", "goal", g, climbing, agency)

        if not cached:
            entry = _GraphEntry(
                ObstacleSet(sorted(in_the_way, key=lambda z: z.id), self.buffer_m, self.simplify_m),
                1,
                1,
            )
        else:
            entry = self.graph_for(frozenset(in_the_way))
        key = (start.lat, start.lon, goal.lat, goal.lon, cruise)
        return entry.routes.get_or_make(
            key, lambda: self._solve(airspace, entry, start, goal, p, g, cruise, agency)
        )

    def _endpoint(self, entry: _GraphEntry, xy: XY, field: str, what: str) -> _Endpoint:
        return entry.endpoints.get_or_make(xy, lambda: _find_endpoint(entry, xy, field, what))

    def _solve(
        self,
        airspace: AirspaceMap,
        entry: _GraphEntry,
        start: GeoPoint,
        goal: GeoPoint,
        p: XY,
        g: XY,
        cruise: float,
        agency: str,
    ) -> Route:
        a = self._endpoint(entry, p, "from", "start")
        b = self._endpoint(entry, g, "to", "goal")
        if _clear(entry.obstacles, a.point, b.point):
            middle: list[XY] = []
        else:
            middle = _via_corners(entry, a, b, g, agency)
        points = _dedupe([*a.lead, *middle, *reversed(b.lead)])
        if len(points) == 1:  # start == goal: a route still has a start and a goal
            points.append(points[0])
        line = LineString(points)
        skirted = entry.obstacles.zones_near(line, self.buffer_m + self.simplify_m + 1.0)
        skirted.sort(key=lambda z: line.project(nearest_points(line, z.geometry)[0]))
        lons, lats = airspace.projection.to_wgs84(
            np.array([x for x, _ in points]), np.array([y for _, y in points])
        )
        waypoints = [
            GeoPoint(float(la), float(lo), cruise) for la, lo in zip(lats, lons, strict=True)
        ]
        waypoints[0] = GeoPoint(start.lat, start.lon, cruise)
        waypoints[-1] = GeoPoint(goal.lat, goal.lon, cruise)
        length = float(sum(math.dist(u, v) for u, v in itertools.pairwise(points)))
        return Route(tuple(waypoints), length, cruise, tuple(z.id for z in skirted))


def _check_position(field: str, point: GeoPoint) -> None:
    if not (math.isfinite(point.lat) and -90.0 <= point.lat <= 90.0):
        raise NoRoute(field, f"latitude {point.lat} is outside [-90, 90]")
    if not (math.isfinite(point.lon) and -180.0 <= point.lon <= 180.0):
        raise NoRoute(field, f"longitude {point.lon} is outside [-180, 180]")


def _refuse_inside(
    airspace: AirspaceMap, field: str, what: str, xy: XY, zones: list[CompiledZone], agency: str
) -> None:
    forbidden = {id(z) for z in zones}
    hits = airspace.tree.query(shapely.Point(xy), predicate="intersects")
    for i in sorted(int(h) for h in hits):
        zone = airspace.compiled[i]
        if id(zone) in forbidden:
            raise NoRoute(
                field,
                f"{what} is inside forbidden zone {zone.id} ({zone.zone.name}): "
                f"{zone.zone.entry.explain(agency)}",
            )


def _find_endpoint(entry: _GraphEntry, xy: XY, field: str, what: str) -> _Endpoint:
    obstacles = entry.obstacles
    lead: tuple[XY, ...] = (xy,)
    around = obstacles.containing(*xy)
    if around is not None:
        # Inside the safety margin: step out to the nearest edge of the margin, if that
        # step does not itself enter a zone.
        edge = nearest_points(around.boundary, shapely.Point(xy))[0]
        exit_xy = (float(edge.x), float(edge.y))
        crossed = obstacles.zones_crossed(LineString([xy, exit_xy]))
        if crossed:
            names = ", ".join(f"{z.id} ({z.zone.name})" for z in crossed)
            raise NoRoute(
                field,
                f"{what} is within the {obstacles.buffer_m:g} m safety margin of {names} "
                "and cannot leave it without crossing the zone",
            )
        lead = (xy, exit_xy)
    visible, distances = entry.graph.visible_from(*lead[-1])
    return _Endpoint(lead, visible, distances)


def _clear(obstacles: ObstacleSet, a: XY, b: XY) -> bool:
    if a == b:
        return True
    return not bool(obstacles.blocked(np.array([LineString([a, b])]))[0])


def _via_corners(entry: _GraphEntry, a: _Endpoint, b: _Endpoint, goal: XY, agency: str) -> list[XY]:
    graph = entry.graph
    if not len(a.visible):
        raise NoRoute(
            "from", f"unreachable: the start is cut off for {agency} by {_near(entry, a.point)}"
        )
    if len(b.visible):
        total = (
            a.distances[:, None] + graph.dist[np.ix_(a.visible, b.visible)] + b.distances[None, :]
        )
        best = np.unravel_index(int(np.argmin(total)), total.shape)
        if math.isfinite(float(total[best])):
            corners = graph.path(int(a.visible[best[0]]), int(b.visible[best[1]]))
            return [tuple(map(float, graph.xy[c])) for c in corners]
    raise NoRoute("to", f"unreachable: the goal is cut off for {agency} by {_near(entry, goal)}")


def _near(entry: _GraphEntry, xy: XY) -> str:
    """The (at most three) forbidden zones nearest a point, for an error message."""
    point = shapely.Point(xy)
    near = sorted(entry.obstacles.zones, key=lambda z: z.geometry.distance(point))
    return ", ".join(z.id for z in near[:3]) or "forbidden zones"


def _dedupe(points: list[XY]) -> list[XY]:
    out = [points[0]]
    for p in points[1:]:
        if p != out[-1]:
            out.append(p)
    return out
