"""The airspace a network flies in: its zones, the ceiling, and the questions asked of them.

An ``AirspaceMap`` is immutable. Adding a temporary restriction or lifting one returns a
new map with ``version`` one higher; the new map shares the compiled zones and the route
cache of the old one, so the routing graphs of agencies the change does not touch stay
warm. Everything is computed in projected metres (British National Grid by default);
positions come and go in WGS84 degrees.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike

from skyshare.airspace import conformance as _conformance
from skyshare.airspace.compiled import CompiledZone, posix
from skyshare.airspace.geojson_io import zones_to_geojson
from skyshare.airspace.routing import Route, Router
from skyshare.airspace.zones import Geozone, Ground, permissions_of
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint
from skyshare.geo import DEFAULT_CRS, Projection, projection

MAX_FORBIDDEN_KEPT = 256  # (agency, permissions, heights, timed zones active) answers kept


@dataclass(frozen=True, slots=True)
class ZoneBreach:
    """Why one zone forbids a position to an agency."""

    zone_id: str
    name: str
    kind: str
    reason: str
    depth_m: float  # how far inside the zone, horizontally


@dataclass(frozen=True, slots=True)
class PositionCheck:
    """May an agency fly at a position now? If not, which zones forbid it and why."""

    allowed: bool
    breaches: tuple[ZoneBreach, ...]
    above_ceiling_m: float
    ceiling_m: float

    @property
    def reasons(self) -> list[str]:
        out = [f"{b.zone_id} ({b.name}): {b.reason}" for b in self.breaches]
        if self.above_ceiling_m > 0:
            out.append(f"{self.above_ceiling_m:.0f} m above the {self.ceiling_m:g} m ceiling")
        return out


class AirspaceMap:
    """Zones plus the ceiling, minimum cruise height and routing buffer of a deployment."""

    def __init__(
        self,
        zones: Iterable[Geozone],
        *,
        ceiling_m: float = 120.0,
        min_cruise_alt_m: float = 60.0,
        buffer_m: float = 50.0,
        simplify_m: float = 20.0,
        crs: str = DEFAULT_CRS,
        ground: Ground = Ground(),
        version: int = 1,
        _compiled: Sequence[CompiledZone] | None = None,
        _router: Router | None = None,
    ) -> None:
        if not 0 < min_cruise_alt_m <= ceiling_m:
            raise InputError(
                "min_cruise_alt_m", f"{min_cruise_alt_m} m must be within (0, {ceiling_m}] m"
            )
        if buffer_m < 0 or simplify_m < 0:
            raise InputError("buffer_m", "the buffer and the simplification must be >= 0")
        self.ceiling_m = float(ceiling_m)
        self.min_cruise_alt_m = float(min_cruise_alt_m)
        self.buffer_m = float(buffer_m)
        self.simplify_m = float(simplify_m)
        self.crs = crs
        self.ground = ground
        self.version = version
        self.projection: Projection = projection(crs)
        if _compiled is None:
            zones = tuple(zones)
            _refuse_duplicates(zones)
            _compiled = [CompiledZone(z, self.projection, ground) for z in zones]
        self.compiled: tuple[CompiledZone, ...] = tuple(_compiled)
        self.zones: tuple[Geozone, ...] = tuple(c.zone for c in self.compiled)
        self.ids: tuple[str, ...] = tuple(z.id for z in self.zones)
        self._by_id = {c.id: c for c in self.compiled}
        self.tree = shapely.STRtree([c.geometry for c in self.compiled])
        self.near_grid = _conformance.NearGrid(self.compiled, self.projection)
        self.router = _router or Router(self.buffer_m, self.simplify_m)
        self._timed = tuple(c for c in self.compiled if c.zone.windows)
        self._active: tuple[datetime, datetime, tuple[bool, ...]] | None = None
        self._forbidden: dict[tuple, list[CompiledZone]] = {}

    # --- the zones -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.compiled)

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._by_id

    def zone(self, zone_id: str) -> Geozone:
        try:
            return self._by_id[zone_id].zone
        except KeyError:
            raise InputError("zone_id", f"no zone {zone_id!r} in this airspace") from None

    def add_temporary(self, zone: Geozone) -> AirspaceMap:
        """A new map (version + 1) with ``zone`` added."""
        if zone.id in self._by_id:
            raise InputError("id", f"a zone {zone.id!r} already exists")
        compiled = CompiledZone(zone, self.projection, self.ground)
        return self._derive([*self.compiled, compiled])

    def remove(self, zone_id: str) -> AirspaceMap:
        """A new map (version + 1) without the zone ``zone_id``."""
        self.zone(zone_id)
        return self._derive([c for c in self.compiled if c.id != zone_id])

    def without_expired(self, at: datetime) -> AirspaceMap:
        """This map without the zones that have ended by ``at`` (itself if none has)."""
        keep = [c for c in self.compiled if c.zone.expires_at is None or c.zone.expires_at > at]
        return self if len(keep) == len(self.compiled) else self._derive(keep)

    def _derive(self, compiled: list[CompiledZone]) -> AirspaceMap:
        return AirspaceMap(
            (),
            ceiling_m=self.ceiling_m,
            min_cruise_alt_m=self.min_cruise_alt_m,
            buffer_m=self.buffer_m,
            simplify_m=self.simplify_m,
            crs=self.crs,
            ground=self.ground,
            version=self.version + 1,
            _compiled=compiled,
            _router=self.router,
        )

    def to_geojson(self, **members: Any) -> dict[str, Any]:
        return zones_to_geojson(self.zones, **members)

    # --- who may fly where -----------------------------------------------------------

    def timed_active(self, at: datetime, until: datetime) -> tuple[bool, ...]:
        """Which of the zones with time windows are active at some time in ``[at, until]``
        (in map order): all that time changes about the map. The last answer is kept,
        since every route and fence of a decision asks the same."""
        last = self._active
        if last is not None and last[0] == at and last[1] == until:
            return last[2]
        active = tuple(c.zone.active_during(at, until) for c in self._timed)
        self._active = (at, until, active)
        return active

    def forbidden(
        self,
        agency: str,
        *,
        at: datetime,
        permissions: Iterable[tuple[str, str]] = frozenset(),
        until: datetime | None = None,
        heights: tuple[float, float] | None = None,
    ) -> list[CompiledZone]:
        """Zones ``agency`` may not enter that are active at some time in ``[at, until]``
        and reach into ``heights`` (metres above ground; default: ground to ceiling)."""
        grants = permissions_of(permissions)
        low, high = heights if heights is not None else (0.0, self.ceiling_m)
        finish = until or at
        # Time matters only through which timed zones are active: that is in the key, so
        # the answer is kept for every sortie and fence of the same agency and heights.
        key = (agency, grants, low, high, self.timed_active(at, finish))
        found = self._forbidden.get(key)
        if found is None:
            if len(self._forbidden) >= MAX_FORBIDDEN_KEPT:
                self._forbidden.clear()
            found = self._forbidden[key] = [
                c
                for c in self.compiled
                if not c.zone.may_enter(agency, grants)
                and c.spans(low, high)
                and c.zone.active_during(at, finish)
            ]
        return list(found)

    def check(
        self,
        lat: float,
        lon: float,
        alt_m: float,
        agency: str,
        *,
        at: datetime,
        permissions: Iterable[tuple[str, str]] = frozenset(),
    ) -> PositionCheck:
        """May ``agency`` fly at this position (metres above ground) at ``at``?"""
        grants = permissions_of(permissions)
        x, y = self.projection.point(lat, lon)
        point = shapely.Point(x, y)
        breaches = []
        for i in self.tree.query(point, predicate="intersects"):
            c = self.compiled[int(i)]
            zone = c.zone
            if zone.may_enter(agency, grants) or not zone.active_at(at):
                continue
            if not c.lower_agl <= alt_m <= c.upper_agl:
                continue
            depth = float(shapely.distance(c.geometry.boundary, point))
            breaches.append(
                ZoneBreach(zone.id, zone.name, str(zone.kind), zone.entry.explain(agency), depth)
            )
        above = max(0.0, alt_m - self.ceiling_m)
        breaches.sort(key=lambda b: b.zone_id)
        return PositionCheck(not breaches and above == 0, tuple(breaches), above, self.ceiling_m)

    def check_positions(
        self,
        lat: ArrayLike,
        lon: ArrayLike,
        alt_m: ArrayLike,
        t: ArrayLike,
        *,
        agency: str,
        permissions: Iterable[tuple[str, str]] = frozenset(),
    ) -> _conformance.ConformanceReport:
        """Vectorised conformance of many positions (``t`` in POSIX seconds, UTC)."""
        return _conformance.check_positions(
            self, lat, lon, alt_m, t, agency=agency, permissions=permissions_of(permissions)
        )

    def lookahead(
        self,
        lat: ArrayLike,
        lon: ArrayLike,
        alt_m: ArrayLike,
        t: ArrayLike,
        v_north: ArrayLike,
        v_east: ArrayLike,
        v_up: ArrayLike = 0.0,
        *,
        agency: str,
        permissions: Iterable[tuple[str, str]] = frozenset(),
        horizon_s: float = 30.0,
        step_s: float = 1.0,
    ) -> _conformance.Lookahead:
        """Seconds until each position, flying on at its velocity, would breach."""
        return _conformance.lookahead(
            self,
            lat,
            lon,
            alt_m,
            t,
            v_north,
            v_east,
            v_up,
            agency=agency,
            permissions=permissions_of(permissions),
            horizon_s=horizon_s,
            step_s=step_s,
        )

    # --- routes ----------------------------------------------------------------------

    def route(
        self,
        start: GeoPoint,
        goal: GeoPoint,
        agency: str,
        *,
        at: datetime,
        permissions: Iterable[tuple[str, str]] = frozenset(),
        cruise_alt_m: float | None = None,
        horizon_s: float = 1800.0,
        remember: bool = True,
    ) -> Route:
        """The shortest legal route; raises ``NoRoute`` (field ``from``/``to``) if none.

        Zones count if they are active at any time from ``at`` to ``at + horizon_s``.
        ``remember=False`` solves it again rather than answering from the routes kept.
        """
        posix(at)  # refuses a naive datetime with a clear message
        return self.router.route(
            self,
            start,
            goal,
            agency,
            at=at,
            permissions=permissions_of(permissions),
            cruise_alt_m=cruise_alt_m,
            horizon_s=horizon_s,
            remember=remember,
        )

    def route_uncached(
        self,
        start: GeoPoint,
        goal: GeoPoint,
        agency: str,
        *,
        at: datetime,
        permissions: Iterable[tuple[str, str]] = frozenset(),
        cruise_alt_m: float | None = None,
        horizon_s: float = 1800.0,
    ) -> Route:
        """``route`` building its graph from scratch: the baseline for the benchmark."""
        return self.router.route(
            self,
            start,
            goal,
            agency,
            at=at,
            permissions=permissions_of(permissions),
            cruise_alt_m=cruise_alt_m,
            horizon_s=horizon_s,
            cached=False,
        )

    def route_length_lower_bound(self, start: GeoPoint, goal: GeoPoint) -> float:
        """The straight-line distance in metres: no legal route is shorter."""
        x0, y0 = self.projection.point(start.lat, start.lon)
        x1, y1 = self.projection.point(goal.lat, goal.lon)
        return math.hypot(x1 - x0, y1 - y0)

    def route_length_lower_bounds(
        self, start_lat: ArrayLike, start_lon: ArrayLike, goal_lat: ArrayLike, goal_lon: ArrayLike
    ) -> np.ndarray:
        """``route_length_lower_bound`` for arrays of pairs (broadcast), in metres."""
        x0, y0 = self.projection.to_metric(start_lon, start_lat)
        x1, y1 = self.projection.to_metric(goal_lon, goal_lat)
        return np.hypot(x1 - x0, y1 - y0)


def _refuse_duplicates(zones: Sequence[Geozone]) -> None:
    seen: set[str] = set()
    for zone in zones:
        if zone.id in seen:
            raise InputError("id", f"duplicate zone id {zone.id!r}")
        seen.add(zone.id)
