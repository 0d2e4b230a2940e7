"""Shortest legal routes: around every zone the flight may not enter, with a safety buffer.

A visibility graph is built once per set of obstacles (an airspace version and the
forbidden zones of an agency at a time) and cached; a query inserts its two endpoints by
finding the corners each one sees, then combines the cached all-pairs distances. What an
endpoint sees is cached too, so many queries from one launch site cost little more than
the goal's side; and it is only looked for when the straight line between the two is
blocked (most routes in a city are straight, and that search is the costly part).

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
from skyshare.airspace.footprints import Footprints
from skyshare.airspace.obstacles import ObstacleSet
from skyshare.airspace.visibility import VisibilityGraph, rays
from skyshare.airspace.zones import Permissions
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint

if TYPE_CHECKING:
    from skyshare.airspace.airspace_map import AirspaceMap
    from skyshare.geo import Projection

VERTICAL_MARGIN_M = 10.0  # a zone within this of the cruise height is in the way
LAZY_BATCH = 8  # corners tested together when looking for the shortest route
MAX_ENDS = 4096  # route ends whose enclosing zone a setting remembers
MAX_SETTINGS = 64  # (map, agency, active timed zones, height) settings kept
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


class _Endpoint:
    """One end of a route: the lead out of the safety margin, and what it sees.

    Whether it sees a corner is a segment test against the obstacles, the costly part of
    a route; so it is tested only when a route from this end is not a straight line, and
    then (``lazy_pick``) only for the corners that could be on the shortest route. Every
    answer is kept for the next route from this end.
    """

    __slots__ = ("_clear", "_known", "_sight", "corners", "distances", "lead")

    def __init__(self, lead: tuple[XY, ...]) -> None:
        self.lead = lead  # from the query point to the point where the free path starts
        self.corners: np.ndarray | None = None  # corners it is tangent to: it may see them
        self.distances = np.zeros(0)
        self._known = np.zeros(0, bool)  # per candidate corner: tested yet?
        self._clear = np.zeros(0, bool)  # ... and seen
        self._sight: tuple[np.ndarray, np.ndarray] | None = None  # once all are tested

    @property
    def point(self) -> XY:
        return self.lead[-1]

    @property
    def seen_all(self) -> bool:
        return self.corners is not None and bool(self._known.all())

    def candidates(self, graph: VisibilityGraph) -> tuple[np.ndarray, np.ndarray]:
        """The corners it may see, and their distances (as ``visible_from`` gives them)."""
        if self.corners is None:
            x, y = self.point
            corners = np.nonzero(graph.tangent_mask(x, y))[0]
            self.distances = np.hypot(graph.xy[corners, 0] - x, graph.xy[corners, 1] - y)
            self._known = np.zeros(len(corners), bool)
            self._clear = np.zeros(len(corners), bool)
            self.corners = corners
        return self.corners, self.distances

    def sees(self, graph: VisibilityGraph, k: np.ndarray) -> np.ndarray:
        """Which of the candidates at positions ``k`` it sees, testing only new ones."""
        corners, _ = self.candidates(graph)
        todo = k[~self._known[k]]
        if len(todo):
            lines = rays(*self.point, graph.xy[corners[todo]])
            self._clear[todo] = ~graph.obstacles.blocked(lines)
            self._known[todo] = True
        return self._clear[k]

    def sight(self, graph: VisibilityGraph) -> tuple[np.ndarray, np.ndarray]:
        """The corners it sees and their distances: ``graph.visible_from(*self.point)``.
        Kept once known: a dock's is asked for by every bent route from it."""
        if self._sight is None:
            corners, distances = self.candidates(graph)
            seen = self.sees(graph, np.arange(len(corners)))
            self._sight = (corners[seen], distances[seen])
        return self._sight


class _GraphEntry:
    def __init__(self, obstacles: ObstacleSet, endpoints: int, routes: int) -> None:
        self.obstacles = obstacles
        self.graph = VisibilityGraph(obstacles)
        self.endpoints: LRU[tuple[float, float], _Endpoint] = LRU(endpoints)
        self.routes: LRU[tuple, Route] = LRU(routes)
        self._degrees: dict[str, dict[XY, tuple[float, float]]] = {}

    def corner_degrees(self, projection: Projection) -> dict[XY, tuple[float, float]]:
        """(lat, lon) of every corner, by its projected (x, y): a bent route's waypoints
        are corners, and one transform of them all costs what a few routes' would."""
        found = self._degrees.get(projection.crs)
        if found is None:
            xy = self.graph.xy
            lons, lats = projection.to_wgs84(xy[:, 0], xy[:, 1])
            corners = [(x, y) for x, y in xy.tolist()]
            found = dict(zip(corners, zip(lats.tolist(), lons.tolist(), strict=True), strict=True))
            self._degrees[projection.crs] = found
        return found


class _Setting:
    """What every query with one map, agency, set of active zones and cruise height
    shares: the graph, and which zone (if any) holds each end already seen (docks are
    ends again and again)."""

    __slots__ = ("_holding", "airspace", "climbing", "entry", "footprints")

    def __init__(
        self, airspace: AirspaceMap, entry: _GraphEntry, climbing: list[CompiledZone]
    ) -> None:
        self.airspace = airspace  # the map itself: its id alone could be reused once freed
        self.entry = entry
        self.climbing = climbing  # zones an end may not be inside, in map order
        self.footprints = Footprints([z.geometry for z in self.climbing])
        self._holding: LRU[XY, CompiledZone | None] = LRU(MAX_ENDS)

    def zone_holding(self, xy: XY) -> CompiledZone | None:
        """The first zone (in map order) holding the point among those an end of a route
        may not be inside, if any."""
        return self._holding.get_or_make(xy, lambda: self._first_holding(xy))

    def _first_holding(self, xy: XY) -> CompiledZone | None:
        hits = self.footprints.holding(*xy)
        return self.climbing[hits[0]] if hits else None


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
        self._settings: dict[tuple, _Setting] = {}  # small, insertion-ordered; see _setting
        self._xy: dict[tuple[str, float, float], XY] = {}  # see _metric

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
        remember: bool = True,
    ) -> Route:
        """``cached``: use the graph kept for this setting (off: build one, as the
        benchmark's baseline does); ``remember``: keep the route and answer the same query
        from memory (off: solve it again, as a dispatcher routing from scratch does)."""
        cruise = airspace.min_cruise_alt_m if cruise_alt_m is None else float(cruise_alt_m)
        if not 0 < cruise <= airspace.ceiling_m:
            raise InputError(
                "cruise_alt_m", f"{cruise} m is not within (0, {airspace.ceiling_m}] m"
            )
        _check_position("from", start)
        _check_position("to", goal)
        p = self._metric(airspace, start)
        g = self._metric(airspace, goal)
        if not cached:
            in_the_way, climbing = _forbidden(airspace, agency, at, permissions, cruise, horizon_s)
            climbing_ids = frozenset(id(z) for z in climbing)
            _refuse_inside(airspace, "from", "start", p, climbing_ids, agency)
            _refuse_inside(airspace, "to", "goal", g, climbing_ids, agency)
            entry = _GraphEntry(
                ObstacleSet(sorted(in_the_way, key=lambda z: z.id), self.buffer_m, self.simplify_m),
                1,
                1,
            )
        else:
            setting = self._setting(airspace, agency, at, permissions, cruise, horizon_s)
            _refuse("from", "start", setting.zone_holding(p), agency)
            _refuse("to", "goal", setting.zone_holding(g), agency)
            entry = setting.entry
        if not remember:
            return self._solve(airspace, entry, start, goal, p, g, cruise, agency)
        key = (start.lat, start.lon, goal.lat, goal.lon, cruise)
        return entry.routes.get_or_make(
            key, lambda: self._solve(airspace, entry, start, goal, p, g, cruise, agency)
        )

    def prepare(
        self,
        airspace: AirspaceMap,
        points: list[GeoPoint],
        agency: str,
        *,
        at: datetime,
        permissions: Permissions = frozenset(),
        horizon_s: float = 1800.0,
    ) -> None:
        """Build the graph and its corners' degrees, and find, for each of ``points``, the
        zone holding it (if any) and what it sees (at the map's minimum cruise height), so
        that routes from them later cost little: for launch sites, at start-up."""
        cruise = airspace.min_cruise_alt_m
        setting = self._setting(airspace, agency, at, permissions, cruise, horizon_s)
        entry = setting.entry
        entry.corner_degrees(airspace.projection)
        for point in points:
            xy = self._metric(airspace, point)
            setting.zone_holding(xy)
            try:
                self._endpoint(entry, xy, "from", "start").sight(entry.graph)
            except NoRoute:
                continue

    def _setting(
        self,
        airspace: AirspaceMap,
        agency: str,
        at: datetime,
        permissions: Permissions,
        cruise: float,
        horizon_s: float,
    ) -> _Setting:
        """The graph and the zones refused as ends for one query's map, agency, time and
        height: kept, because routes come many at a time with the same ones and sifting
        the map's zones each time cost as much as a short route. Time matters only through
        which timed zones are active, so that is what the key holds."""
        timed = airspace.timed_active(at, at + timedelta(seconds=horizon_s))
        key = (id(airspace), agency, timed, permissions, cruise, horizon_s)
        found = self._settings.get(key)
        if found is None or found.airspace is not airspace:
            in_the_way, climbing = _forbidden(airspace, agency, at, permissions, cruise, horizon_s)
            entry = self.graph_for(frozenset(in_the_way))
            found = _Setting(airspace, entry, climbing)
            if len(self._settings) >= MAX_SETTINGS:
                self._settings.pop(next(iter(self._settings)), None)
            self._settings[key] = found
        return found

    def _metric(self, airspace: AirspaceMap, point: GeoPoint) -> XY:
        """The point in the map's projected metres, remembered by CRS and degrees (the
        same docks and scenes come back again and again; a transform costs microseconds)."""
        key = (airspace.projection.crs, point.lat, point.lon)
        xy = self._xy.get(key)
        if xy is None:
            if len(self._xy) >= MAX_ENDS:
                self._xy.clear()
            xy = self._xy[key] = airspace.projection.point(point.lat, point.lon)
        return xy

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
        line = shapely.linestrings(points)
        skirted = entry.obstacles.zones_near(line, self.buffer_m + self.simplify_m + 1.0)
        if len(skirted) > 1:
            skirted = _in_passing_order(line, skirted)
        # The ends are the query's own degrees; only the points between need projecting.
        waypoints = [
            GeoPoint(start.lat, start.lon, cruise),
            *_degrees(airspace, entry, points[1:-1], cruise),
            GeoPoint(goal.lat, goal.lon, cruise),
        ]
        length = float(sum(math.dist(u, v) for u, v in itertools.pairwise(points)))
        return Route(tuple(waypoints), length, cruise, tuple(z.id for z in skirted))


def _in_passing_order(line: LineString, zones: list[CompiledZone]) -> list[CompiledZone]:
    """``zones`` in the order ``line`` passes them: by where along it each comes nearest
    (ties keep their order)."""
    nearest = shapely.get_point(shapely.shortest_line(line, [z.geometry for z in zones]), 0)
    along = shapely.line_locate_point(line, nearest).tolist()
    return [zones[k] for k in sorted(range(len(zones)), key=along.__getitem__)]


def _degrees(
    airspace: AirspaceMap, entry: _GraphEntry, points: list[XY], cruise: float
) -> list[GeoPoint]:
    """The points in degrees at ``cruise``: corners from the graph's table, any other
    (a lead out of a safety margin) by the map's projection."""
    if not points:
        return []
    corners = entry.corner_degrees(airspace.projection)
    found = [corners.get(p) for p in points]
    others = [p for p, f in zip(points, found, strict=True) if f is None]
    if others:
        lons, lats = airspace.projection.to_wgs84(
            np.array([x for x, _ in others]), np.array([y for _, y in others])
        )
        rest = iter(zip(lats.tolist(), lons.tolist(), strict=True))
        found = [f if f is not None else next(rest) for f in found]
    return [GeoPoint(lat, lon, cruise) for lat, lon in found]  # type: ignore[misc]


def _forbidden(
    airspace: AirspaceMap,
    agency: str,
    at: datetime,
    permissions: Permissions,
    cruise: float,
    horizon_s: float,
) -> tuple[list[CompiledZone], list[CompiledZone]]:
    """The zones in the way at cruise height, and those in the way of the climb."""
    until = at + timedelta(seconds=horizon_s)
    high = cruise + VERTICAL_MARGIN_M
    in_the_way = airspace.forbidden(
        agency,
        at=at,
        until=until,
        permissions=permissions,
        heights=(cruise - VERTICAL_MARGIN_M, high),
    )
    climbing = airspace.forbidden(
        agency, at=at, until=until, permissions=permissions, heights=(0.0, high)
    )
    return in_the_way, climbing


def _check_position(field: str, point: GeoPoint) -> None:
    if not (math.isfinite(point.lat) and -90.0 <= point.lat <= 90.0):
        raise NoRoute(field, f"latitude {point.lat} is outside [-90, 90]")
    if not (math.isfinite(point.lon) and -180.0 <= point.lon <= 180.0):
        raise NoRoute(field, f"longitude {point.lon} is outside [-180, 180]")


def _refuse_inside(
    airspace: AirspaceMap, field: str, what: str, xy: XY, forbidden: frozenset[int], agency: str
) -> None:
    _refuse(field, what, _zone_holding(airspace, xy, forbidden), agency)


def _zone_holding(airspace: AirspaceMap, xy: XY, forbidden: frozenset[int]) -> CompiledZone | None:
    """The first zone (in map order) holding the point among those (by ``id``) an end of
    a route may not be inside, if any."""
    hits = airspace.tree.query(shapely.Point(xy), predicate="intersects")
    for i in sorted(int(h) for h in hits):
        zone = airspace.compiled[i]
        if id(zone) in forbidden:
            return zone
    return None


def _refuse(field: str, what: str, zone: CompiledZone | None, agency: str) -> None:
    if zone is not None:
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
    return _Endpoint(lead)


def _clear(obstacles: ObstacleSet, a: XY, b: XY) -> bool:
    if a == b:
        return True
    return not bool(obstacles.blocked(shapely.linestrings([[a, b]]))[0])


def _via_corners(entry: _GraphEntry, a: _Endpoint, b: _Endpoint, goal: XY, agency: str) -> list[XY]:
    """The corners of the shortest route from ``a`` to ``b`` via the graph: of every pair
    of a corner ``a`` sees and one ``b`` sees, the first (in corner order) of least total.

    One end must see all its corners (a launch site has, from start-up); the other's are
    tested in order of the least total through each, until the best is known (``lazy``).
    """
    graph = entry.graph
    if a.seen_all or not b.seen_all:
        lazy = _lazy_corners(graph, a, b, rows_lazy=False)
    else:
        lazy = _lazy_corners(graph, b, a, rows_lazy=True)
    if lazy is not None:
        return lazy
    # None of the corners tested leads anywhere: find the fault as the full search does.
    a_visible, a_distances = a.sight(graph)
    if not len(a_visible):
        raise NoRoute(
            "from", f"unreachable: the start is cut off for {agency} by {_near(entry, a.point)}"
        )
    b_visible, b_distances = b.sight(graph)
    if len(b_visible):
        total = (
            a_distances[:, None] + _block(graph.dist, a_visible, b_visible) + b_distances[None, :]
        )
        best = np.unravel_index(int(np.argmin(total)), total.shape)
        if math.isfinite(float(total[best])):
            corners = graph.path(int(a_visible[best[0]]), int(b_visible[best[1]]))
            return _points(graph, corners)
    raise NoRoute("to", f"unreachable: the goal is cut off for {agency} by {_near(entry, goal)}")


def _lazy_corners(
    graph: VisibilityGraph, full: _Endpoint, lazy: _Endpoint, *, rows_lazy: bool
) -> list[XY] | None:
    """The full search's answer, testing few of ``lazy``'s corners; None if it found none.

    The totals are the full search's matrix with every candidate of ``lazy`` in place of
    the corners it sees (same sums, same order, so the same floats). A candidate's least
    total is its least if it is seen; so testing candidates in order of that figure, the
    first one seen gives the least total T, and only candidates at exactly T may tie with
    it. The argmin of the matrix restricted to the seen candidates at most T (kept in
    corner order) is then the full argmin: row-major order, the same first minimum.
    """
    f_visible, f_distances = full.sight(graph)
    candidates, c_distances = lazy.candidates(graph)
    if not len(f_visible) or not len(candidates):
        return None
    if rows_lazy:  # ``lazy`` is the start
        total = (
            c_distances[:, None] + _block(graph.dist, candidates, f_visible) + f_distances[None, :]
        )
        least = total.min(axis=1)
    else:
        total = (
            f_distances[:, None] + _block(graph.dist, f_visible, candidates) + c_distances[None, :]
        )
        least = total.min(axis=0)
    order = np.argsort(least, kind="stable")
    best = math.inf
    for start in range(0, len(order), LAZY_BATCH):
        batch = order[start : start + LAZY_BATCH]
        if least[batch[0]] > best or not math.isfinite(float(least[batch[0]])):
            break
        seen = batch[lazy.sees(graph, batch)]
        if len(seen):
            best = min(best, float(least[seen].min()))
    if not math.isfinite(best):
        return None
    ties = np.flatnonzero(least <= best)
    chosen = ties[lazy.sees(graph, ties)]  # still in corner order
    if rows_lazy:
        part = total[chosen, :]
        i, j = divmod(int(np.argmin(part)), part.shape[1])
        first, last = int(candidates[chosen[i]]), int(f_visible[j])
    else:
        part = total[:, chosen]
        i, j = divmod(int(np.argmin(part)), part.shape[1])
        first, last = int(f_visible[i]), int(candidates[chosen[j]])
    return _points(graph, graph.path(first, last))


def _block(dist: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``dist[np.ix_(rows, cols)]``, without ``ix_``'s overhead."""
    return dist[rows[:, None], cols]


def _points(graph: VisibilityGraph, corners: list[int]) -> list[XY]:
    return [(x, y) for x, y in graph.xy[corners].tolist()]


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
