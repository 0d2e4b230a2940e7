"""What the dispatcher needs from a router, a straight-line router, and a route cache.

The dispatcher depends on the small ``Router`` protocol below, not on a concrete airspace
engine: ``skyshare.airspace``'s ``AirspaceMap`` satisfies it, and so does
``StraightLineRouter`` (open sky, for tests and for networks with no zone data).

A route is reduced to a ``Path``: horizontal legs (length and unit direction, for the
wind) whose lengths add up to the router's ``length_m``, plus the cruise altitude and
the zones it skirts. Paths are cached by (start, goal, agency): every drone docked at
one site shares one route to a scene, and the route back to a dock is the route out
reversed, so a decision calls the router only a few times.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint
from skyshare.geo import Projection, projection

EARTH_RADIUS_M = 6_371_008.8


class RouteLike(Protocol):
    """The part of a route the dispatcher reads."""

    @property
    def waypoints(self) -> tuple[GeoPoint, ...]: ...

    @property
    def length_m(self) -> float: ...

    @property
    def cruise_alt_m(self) -> float: ...

    @property
    def zones_skirted(self) -> tuple[str, ...]: ...


class Router(Protocol):
    """Finds a legal route for ``agency`` at time ``at``; raises ``InputError`` (the
    airspace engine's ``NoRoute``) when there is none."""

    def route(self, start: GeoPoint, goal: GeoPoint, agency: str, *, at: datetime) -> RouteLike: ...


@dataclass(frozen=True, slots=True)
class StraightRoute:
    """A route that is the straight line from start to goal."""

    waypoints: tuple[GeoPoint, ...]
    length_m: float
    cruise_alt_m: float
    zones_skirted: tuple[str, ...] = ()


class StraightLineRouter:
    """Open sky: every route is the straight line, at one cruise altitude.

    Lengths are measured on the same projected plane the dispatcher uses for its lower
    bounds, so a straight route's length equals its lower bound exactly.
    """

    def __init__(self, cruise_alt_m: float = 60.0, proj: Projection | None = None) -> None:
        if not cruise_alt_m > 0:
            raise InputError("cruise_alt_m", f"must be positive, got {cruise_alt_m}")
        self.cruise_alt_m = cruise_alt_m
        self.projection = proj or projection()

    @property
    def min_cruise_alt_m(self) -> float:
        return self.cruise_alt_m

    def clear_segments(
        self,
        x0: NDArray,
        y0: NDArray,
        x1: NDArray | float,
        y1: NDArray | float,
        agency: str,
        at: datetime,
    ) -> NDArray[np.bool_]:
        return np.ones(len(x0), bool)

    def route(self, start: GeoPoint, goal: GeoPoint, agency: str, *, at: datetime) -> StraightRoute:
        x0, y0 = self.projection.point(start.lat, start.lon)
        x1, y1 = self.projection.point(goal.lat, goal.lon)
        return StraightRoute((start, goal), math.hypot(x1 - x0, y1 - y0), self.cruise_alt_m)


@dataclass(frozen=True, slots=True)
class Leg:
    """One straight horizontal leg: its length and its unit direction (east, north)."""

    length_m: float
    east: float
    north: float


@dataclass(frozen=True, slots=True)
class Path:
    """A route as the flight model reads it."""

    legs: tuple[Leg, ...]
    length_m: float
    cruise_alt_m: float
    zones_skirted: tuple[str, ...]
    waypoints: tuple[GeoPoint, ...]

    @classmethod
    def of(cls, route: RouteLike) -> Path:
        """Legs from the waypoints (local flat-earth directions, good to a fraction of a
        degree over a city), scaled so that they add up to the router's own length."""
        points = route.waypoints
        raw = [leg for a, b in itertools.pairwise(points) if (leg := flat_leg(a, b))]
        total = sum(r[0] for r in raw)
        scale = route.length_m / total if total > 0 else 0.0
        legs = tuple(Leg(length * scale, east, north) for length, east, north in raw)
        return cls(
            legs,
            float(route.length_m),
            float(route.cruise_alt_m),
            tuple(route.zones_skirted),
            tuple(points),
        )

    def reversed(self) -> Path:
        legs = tuple(Leg(leg.length_m, -leg.east, -leg.north) for leg in reversed(self.legs))
        return Path(
            legs, self.length_m, self.cruise_alt_m, self.zones_skirted, self.waypoints[::-1]
        )


def flat_leg(a: GeoPoint, b: GeoPoint) -> tuple[float, float, float] | None:
    """Length (m) and unit direction (east, north) from ``a`` to ``b`` on the local flat
    earth; None where they coincide."""
    dx = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    dy = math.radians(b.lat - a.lat)
    norm = math.hypot(dx, dy)
    return (norm * EARTH_RADIUS_M, dx / norm, dy / norm) if norm > 0 else None


@dataclass(frozen=True, slots=True)
class NoPath:
    """The router found no legal route; ``reason`` is its message and ``field`` the end at
    fault as the router named it (the airspace engine says ``from`` or ``to``)."""

    reason: str
    field: str = ""

    def reversed(self) -> NoPath:
        swap = {"from": "to", "to": "from"}
        return NoPath(self.reason, swap.get(self.field, self.field))


PathSource = Callable[[GeoPoint, GeoPoint, str, datetime], "Path | NoPath"]
"""A function giving the path from start to goal for an agency at a time."""

Prefetch = Callable[["Ends", "End", str, datetime], bool]
"""``RouteCache.prefetch``: straight routes from many starts to one goal at once; True if
every route is then known to be straight."""


def ground_point(p: GeoPoint) -> GeoPoint:
    """The position on the ground: routes are horizontal, altitude is the flight model's."""
    return p if p.alt_m == 0.0 else GeoPoint(p.lat, p.lon)


class RouteCache:
    """Routes by (start, goal, agency), looked up in both directions.

    Keys are the ends' degrees (altitude does not matter: routes are horizontal) and
    the agency. ``epoch`` (by default the router's own ``epoch`` method, if it has one)
    is part of the key: a function of the time that changes whenever routes would (the
    airspace's version, the timed zones active), so a new restriction is never served
    a stale route. ``clear()`` drops everything.

    A router may also offer ``clear_segments(x0, y0, x1, y1, agency, at)`` (which
    segments it would fly straight) and ``min_cruise_alt_m``; ``prefetch`` then fills
    the cache with straight routes for many pairs at once, without routing them.
    """

    def __init__(
        self,
        router: Router,
        *,
        symmetric: bool = True,
        max_entries: int = 200_000,
        epoch: Callable[[datetime], Hashable] | None = None,
    ) -> None:
        self.router = router
        self.symmetric = symmetric
        self.max_entries = max_entries
        self.epoch = epoch if epoch is not None else getattr(router, "epoch", None)
        # A straight route vouched for is kept as its length alone (a float, which the
        # garbage collector does not track: thousands are vouched for, and it is the
        # longest-lived state of a service), flown at the cruise altitude its key's epoch
        # token maps to.
        # Ordered, to drop the oldest when full in constant time: a plain dict's first
        # key is found by scanning past every slot freed at its front, which made each
        # store of a long-running dispatcher cost a scan of up to ~100,000 slots.
        self._paths: OrderedDict[tuple, Path | NoPath | float] = OrderedDict()
        self._cruise: dict[Hashable, float] = {}
        self._unvouched: set[tuple] = set()  # pairs clear_segments would not vouch for
        self.calls = 0  # router calls made, for benchmarks and tests
        self.straight = 0  # straight routes vouched for by clear_segments

    def __len__(self) -> int:
        """Routes kept (straight ones vouched for included)."""
        return len(self._paths)

    def clear(self) -> None:
        self._paths.clear()
        self._unvouched.clear()
        self._cruise.clear()

    def token(self, at: datetime) -> Hashable:
        return None if self.epoch is None else self.epoch(at)

    def _store(self, key: tuple, found: Path | NoPath | float) -> None:
        if len(self._paths) >= self.max_entries:
            self._paths.popitem(last=False)
        self._paths[key] = found

    def path(self, start: GeoPoint, goal: GeoPoint, agency: str, at: datetime) -> Path | NoPath:
        token = self.token(at)
        key = (start.lat, start.lon, goal.lat, goal.lon, agency, token)
        found = self._paths.get(key)
        if found is None and self.symmetric:
            back = self._paths.get((goal.lat, goal.lon, start.lat, start.lon, agency, token))
            if back is not None:
                found = back if isinstance(back, float) else back.reversed()
                self._store(key, found)
        if found is None:
            found = fresh_path(self.router, ground_point(start), ground_point(goal), agency, at)
            self.calls += 1
            self._store(key, found)
        elif isinstance(found, float):
            # Made afresh at each use, not kept: a kept ``Path`` is five objects the
            # collector walks for as long as the cache holds it (after 12,000 London
            # decisions, 190,000 of them, and each full collection a pause of 26-56 ms).
            found = straight_path(key, found, self._cruise[token])
        return found

    def prefetch(self, starts: Ends, goal: End, agency: str, at: datetime) -> bool:
        """Cache straight routes from each of ``starts`` to ``goal`` that the router vouches
        it would fly straight (known routes are kept); the rest are routed when asked for.
        True if every route is now known to be straight: then no bound of their lengths
        can be tighter than the straight line."""
        clear_segments = getattr(self.router, "clear_segments", None)
        cruise = getattr(self.router, "min_cruise_alt_m", None)
        if clear_segments is None or cruise is None:
            return False
        token = self.token(at)
        paths = self._paths
        lat0, lon0 = starts.lat.tolist(), starts.lon.tolist()
        lat1, lon1 = goal.lat, goal.lon
        todo, seen = [], set()
        straight = True
        for k, start in enumerate(zip(lat0, lon0, strict=True)):
            if start in seen:
                continue
            seen.add(start)
            key = (*start, lat1, lon1, agency, token)
            back = (lat1, lon1, *start, agency, token)
            found = paths.get(key)
            if found is None:
                found = paths.get(back)
            if found is None:
                if key in self._unvouched or back in self._unvouched:
                    straight = False
                else:
                    todo.append(k)
            elif not isinstance(found, float) and not is_straight(found):
                straight = False
        if not todo:
            return straight  # every route is known already: no need to ask
        at_ = np.array(todo, np.intp)
        x0, y0 = starts.x[at_], starts.y[at_]
        clear = clear_segments(x0, y0, goal.x, goal.y, agency, at)
        length = np.hypot(goal.x - x0, goal.y - y0).tolist()
        if len(self._unvouched) > self.max_entries:
            self._unvouched.clear()
        self._cruise[token] = float(cruise)
        for j, ok in enumerate(clear.tolist()):
            k = todo[j]
            key = (lat0[k], lon0[k], lat1, lon1, agency, token)
            if ok:
                self._store(key, length[j])
                self.straight += 1
            else:
                self._unvouched.add(key)
                straight = False
        return straight


def is_straight(found: Path | NoPath) -> bool:
    """A route that is the straight line between its ends."""
    return isinstance(found, Path) and len(found.waypoints) == 2


class End(NamedTuple):
    """One end of many segments: degrees and projected metres."""

    lat: float
    lon: float
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Ends:
    """Ends of many segments: degrees and projected metres, as numpy arrays."""

    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]


def straight_path(key: tuple, length_m: float, cruise_alt_m: float) -> Path:
    """The ``Path`` of a straight route kept under ``key`` (its ends' degrees first)."""
    lat0, lon0, lat1, lon1 = key[:4]
    a, b = GeoPoint(lat0, lon0, cruise_alt_m), GeoPoint(lat1, lon1, cruise_alt_m)
    # ``Path.of`` for two points, without its loop: a decision makes several.
    raw = flat_leg(a, b)
    legs = () if raw is None else (Leg(raw[0] * (length_m / raw[0]), raw[1], raw[2]),)
    return Path(legs, float(length_m), float(cruise_alt_m), (), (a, b))


def fresh_path(
    router: Router,
    start: GeoPoint,
    goal: GeoPoint,
    agency: str,
    at: datetime,
    *,
    route: Callable[..., RouteLike] | None = None,
) -> Path | NoPath:
    """Ask the router (or its ``route`` method given), turning its "no legal route" into
    a ``NoPath``."""
    try:
        return Path.of((route or router.route)(start, goal, agency, at=at))
    except InputError as exc:
        return NoPath(exc.reason, exc.field)
