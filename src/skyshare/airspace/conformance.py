"""Conformance: is a flight where it may be, how deep is it where it may not, and since when.

``check_positions`` takes many positions of ONE flight (or of many flights of one agency)
as numpy arrays and answers for all of them at once. A coarse lon/lat grid first drops the
positions far from every zone (they need no projection and no test); the rest are
projected to metres, a bounding-box mask per candidate zone (found in the map's STRtree)
picks the points worth testing, and the zone's prepared geometry tests them
(``shapely.contains_xy``). Heights are metres above ground; times are POSIX seconds (UTC).
The depth inside a zone is computed when first asked for, for the violating positions.

``ExcursionTracker`` counts and times a flight's excursions with the ASTM F3548-21
conformance figures as defaults: an excursion that lasts more than 10 s, or more than 18
excursions within an hour of flight, makes the flight non-conforming.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from skyshare.airspace.zones import Permissions

if TYPE_CHECKING:
    from skyshare.airspace.airspace_map import AirspaceMap
    from skyshare.airspace.compiled import CompiledZone
    from skyshare.geo import Projection

CEILING = -2  # zone index meaning "above the ceiling"
NO_ZONE = -1


@dataclass(frozen=True)
class ConformanceReport:
    """One entry per position. ``zone_index`` indexes ``zone_ids`` (-1: none; the first zone
    in map order when several apply); ``depth_m`` is how far inside that zone the position
    is, horizontally; ``since`` is when the current run of violations began (NaN while
    conforming); ``above_ceiling_m`` is the height over the ceiling (0 if under it)."""

    zone_index: NDArray[np.int32]
    zone_ids: tuple[str, ...]
    above_ceiling_m: NDArray[np.float64]
    since: NDArray[np.float64]
    x: NDArray[np.float64] = field(repr=False, compare=False)  # metres; NaN if not projected
    y: NDArray[np.float64] = field(repr=False, compare=False)
    geometries: Sequence[BaseGeometry] = field(repr=False, compare=False, default=())

    @property
    def violating(self) -> NDArray[np.bool_]:
        return (self.zone_index >= 0) | (self.above_ceiling_m > 0)

    @cached_property
    def depth_m(self) -> NDArray[np.float64]:
        depth = np.zeros(len(self.zone_index))
        for index in np.unique(self.zone_index[self.zone_index >= 0]):
            chosen = self.zone_index == index
            inside = shapely.points(self.x[chosen], self.y[chosen])
            depth[chosen] = shapely.distance(self.geometries[int(index)].boundary, inside)
        return depth

    def zone_at(self, i: int) -> str | None:
        index = int(self.zone_index[i])
        return self.zone_ids[index] if index >= 0 else None


class NearGrid:
    """Cells of a lon/lat grid that lie near some zone: positions elsewhere are clear.

    Each zone marks the cells under its bounding box (taken around the projected box, so
    curved in lon/lat, plus a margin); a position in an unmarked cell is in no zone.
    """

    def __init__(
        self,
        zones: Sequence[CompiledZone],
        proj: Projection,
        cells: int = 512,
        margin_deg: float = 0.001,
    ) -> None:
        self.cells = cells
        self.mask: NDArray[np.bool_] | None = None
        if not zones:
            return
        side = np.linspace(0.0, 1.0, 17)
        boxes = []
        for zone in zones:
            x0, y0, x1, y1 = zone.bounds
            xs = np.concatenate(
                [x0 + (x1 - x0) * side, np.full(17, x1), x1 - (x1 - x0) * side, np.full(17, x0)]
            )
            ys = np.concatenate(
                [np.full(17, y0), y0 + (y1 - y0) * side, np.full(17, y1), y1 - (y1 - y0) * side]
            )
            lon, lat = proj.to_wgs84(xs, ys)
            boxes.append(
                (
                    lon.min() - margin_deg,
                    lat.min() - margin_deg,
                    lon.max() + margin_deg,
                    lat.max() + margin_deg,
                )
            )
        b = np.array(boxes)
        self.lon0, self.lat0 = float(b[:, 0].min()), float(b[:, 1].min())
        self.dlon = (float(b[:, 2].max()) - self.lon0) / cells
        self.dlat = (float(b[:, 3].max()) - self.lat0) / cells
        self.mask = np.zeros((cells, cells), dtype=bool)
        for lon0, lat0, lon1, lat1 in b:
            i0, i1 = self._cell(lon0, self.lon0, self.dlon), self._cell(lon1, self.lon0, self.dlon)
            j0, j1 = self._cell(lat0, self.lat0, self.dlat), self._cell(lat1, self.lat0, self.dlat)
            self.mask[max(j0, 0) : j1 + 1, max(i0, 0) : i1 + 1] = True

    @staticmethod
    def _cell(value: float, origin: float, step: float) -> int:
        return int(np.floor((value - origin) / step))

    def near(self, lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.bool_]:
        if self.mask is None:
            return np.zeros(len(lat), dtype=bool)
        i = np.floor((lon - self.lon0) / self.dlon)
        j = np.floor((lat - self.lat0) / self.dlat)
        inside = (i >= 0) & (i < self.cells) & (j >= 0) & (j < self.cells)
        out = np.zeros(len(lat), dtype=bool)
        out[inside] = self.mask[j[inside].astype(np.intp), i[inside].astype(np.intp)]
        return out


def as_arrays(*values: ArrayLike) -> list[NDArray[np.float64]]:
    arrays = [np.atleast_1d(np.asarray(v, dtype=float)) for v in values]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return [np.broadcast_to(a, shape).ravel() for a in arrays]


def check_positions(
    airspace: AirspaceMap,
    lat: ArrayLike,
    lon: ArrayLike,
    alt_m: ArrayLike,
    t: ArrayLike,
    *,
    agency: str,
    permissions: Permissions = frozenset(),
) -> ConformanceReport:
    """Check positions (degrees, metres above ground, POSIX seconds) for ``agency``.

    ``since`` assumes the positions are one flight's track in time order.
    """
    lat_a, lon_a, alt_a, t_a = as_arrays(lat, lon, alt_m, t)
    n = len(lat_a)
    near = np.nonzero(airspace.near_grid.near(lat_a, lon_a))[0]
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    zone_index = np.full(n, NO_ZONE, dtype=np.int32)
    if len(near):
        x[near], y[near] = airspace.projection.to_metric(lon_a[near], lat_a[near])
        zone_index[near] = zone_hits(
            airspace,
            x[near],
            y[near],
            alt_a[near],
            t_a[near],
            agency=agency,
            permissions=permissions,
        )
    return _report(airspace, zone_index, x, y, alt_a, t_a)


def check_xy(
    airspace: AirspaceMap,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    alt_m: NDArray[np.float64],
    t: NDArray[np.float64],
    *,
    agency: str,
    permissions: Permissions = frozenset(),
) -> ConformanceReport:
    """``check_positions`` for positions already in the map's projected metres."""
    zone_index = zone_hits(airspace, x, y, alt_m, t, agency=agency, permissions=permissions)
    return _report(airspace, zone_index, x, y, alt_m, t)


def zone_hits(
    airspace: AirspaceMap,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    alt_m: NDArray[np.float64],
    t: NDArray[np.float64],
    *,
    agency: str,
    permissions: Permissions = frozenset(),
) -> NDArray[np.int32]:
    """For each metric position, the first zone (map order) it breaches, or -1."""
    zone_index = np.full(len(x), NO_ZONE, dtype=np.int32)
    if not len(x):
        return zone_index
    box = shapely.box(x.min(), y.min(), x.max(), y.max())
    # Reverse map order, so that the first zone in map order is written last and wins.
    for i in np.sort(airspace.tree.query(box))[::-1]:
        compiled = airspace.compiled[int(i)]
        if compiled.zone.may_enter(agency, permissions):
            continue
        x0, y0, x1, y1 = compiled.bounds
        mask = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        mask &= (alt_m >= compiled.lower_agl) & (alt_m <= compiled.upper_agl)
        idx = np.nonzero(mask)[0]
        if not len(idx):
            continue
        active = compiled.active_mask(t[idx])
        if active is not None:
            idx = idx[active]
        idx = idx[shapely.contains_xy(compiled.geometry, x[idx], y[idx])]
        zone_index[idx] = i
    return zone_index


def _report(
    airspace: AirspaceMap,
    zone_index: NDArray[np.int32],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    alt_m: NDArray[np.float64],
    t: NDArray[np.float64],
) -> ConformanceReport:
    above = np.maximum(alt_m - airspace.ceiling_m, 0.0)
    violating = (zone_index >= 0) | (above > 0)
    geometries = [c.geometry for c in airspace.compiled]
    return ConformanceReport(
        zone_index, airspace.ids, above, _since(violating, t), x, y, geometries
    )


def naive_check(
    airspace: AirspaceMap,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    alt_m: NDArray[np.float64],
    t: NDArray[np.float64],
    *,
    agency: str,
    permissions: Permissions = frozenset(),
) -> NDArray[np.int32]:
    """The plain loop (every point against every zone): the reference and the baseline.

    Returns the index of the first zone each position violates (-1 for none).
    """
    from datetime import UTC, datetime

    out = np.full(len(x), NO_ZONE, dtype=np.int32)
    for k in range(len(x)):
        point = shapely.Point(float(x[k]), float(y[k]))
        when = datetime.fromtimestamp(float(t[k]), UTC)
        for i, compiled in enumerate(airspace.compiled):
            zone = compiled.zone
            if (
                not zone.may_enter(agency, permissions)
                and compiled.lower_agl <= alt_m[k] <= compiled.upper_agl
                and zone.active_at(when)
                and compiled.geometry.contains(point)
            ):
                out[k] = i
                break
    return out


def _since(violating: NDArray[np.bool_], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """For each violating sample, the time its run of consecutive violations began."""
    since = np.full(len(t), np.nan)
    if not len(t):
        return since
    starts = violating & ~np.concatenate([[False], violating[:-1]])
    run = np.cumsum(starts) - 1
    start_times = t[starts]
    since[violating] = start_times[run[violating]]
    return since


@dataclass(frozen=True)
class Lookahead:
    """Per position: seconds until the first breach along the velocity vector (``inf``:
    none within the horizon; 0: already in breach), and what would be breached."""

    seconds_to_breach: NDArray[np.float64]
    zone_index: NDArray[np.int32]  # -2: the ceiling; -1: nothing
    zone_ids: tuple[str, ...]

    def warning(self, i: int) -> str | None:
        s = float(self.seconds_to_breach[i])
        if not np.isfinite(s):
            return None
        index = int(self.zone_index[i])
        what = "the ceiling" if index == CEILING else f"zone {self.zone_ids[index]}"
        return f"breach of {what} in {s:.0f} s" if s > 0 else f"in breach of {what}"


def lookahead(
    airspace: AirspaceMap,
    lat: ArrayLike,
    lon: ArrayLike,
    alt_m: ArrayLike,
    t: ArrayLike,
    v_north: ArrayLike,
    v_east: ArrayLike,
    v_up: ArrayLike = 0.0,
    *,
    agency: str,
    permissions: Permissions = frozenset(),
    horizon_s: float = 30.0,
    step_s: float = 1.0,
) -> Lookahead:
    """Project each position along its velocity (m/s) and find the first breach ahead."""
    lat_a, lon_a, alt_a, t_a, vn, ve, vu = as_arrays(lat, lon, alt_m, t, v_north, v_east, v_up)
    x, y = airspace.projection.to_metric(lon_a, lat_a)
    taus = np.arange(0.0, horizon_s + 1e-9, step_s)
    n, k = len(x), len(taus)
    report = check_xy(
        airspace,
        (x[:, None] + ve[:, None] * taus).ravel(),
        (y[:, None] + vn[:, None] * taus).ravel(),
        (alt_a[:, None] + vu[:, None] * taus).ravel(),
        (t_a[:, None] + taus).ravel(),
        agency=agency,
        permissions=permissions,
    )
    zone = report.zone_index.reshape(n, k)
    zone = np.where((zone < 0) & (report.above_ceiling_m.reshape(n, k) > 0), CEILING, zone)
    breach = zone != NO_ZONE
    first = np.argmax(breach, axis=1)
    any_breach = breach.any(axis=1)
    seconds = np.where(any_breach, taus[first], np.inf)
    which = np.where(any_breach, zone[np.arange(n), first], NO_ZONE).astype(np.int32)
    return Lookahead(seconds, which, report.zone_ids)


class Conformance(StrEnum):
    CONFORMING = "conforming"
    EXCURSION = "excursion"  # out of bounds, not (yet) long or often enough to escalate
    NONCONFORMING = "nonconforming"


@dataclass(frozen=True)
class ConformanceState:
    status: Conformance
    excursions: int  # since the flight began
    excursions_last_hour: int
    excursion_s: float  # duration of the current excursion (0 when none)
    since: float | None  # when the current excursion began
    zone_id: str | None
    reason: str
    changed: bool  # did the status change with this update?


@dataclass
class ExcursionTracker:
    """Excursions of one flight, fed with (time, violating) samples in time order."""

    flight_id: str
    max_excursion_s: float = 10.0
    max_excursions_per_hour: int = 18
    window_s: float = 3600.0
    excursions: int = field(default=0, init=False)
    _starts: deque[float] = field(default_factory=deque, init=False, repr=False)
    _since: float | None = field(default=None, init=False, repr=False)
    _zone: str | None = field(default=None, init=False, repr=False)
    _last_t: float | None = field(default=None, init=False, repr=False)
    _status: Conformance = field(default=Conformance.CONFORMING, init=False)

    def update(self, t: float, violating: bool, zone_id: str | None = None) -> ConformanceState:
        if self._last_t is not None and t < self._last_t:
            raise ValueError(f"flight {self.flight_id}: sample at {t} is older than {self._last_t}")
        self._last_t = t
        if violating and self._since is None:
            self._since = t
            self.excursions += 1
            self._starts.append(t)
        elif not violating:
            self._since = None
        if violating and zone_id is not None:
            self._zone = zone_id
        elif not violating:
            self._zone = None
        while self._starts and self._starts[0] <= t - self.window_s:
            self._starts.popleft()

        duration = 0.0 if self._since is None else t - self._since
        recent = len(self._starts)
        if duration > self.max_excursion_s:
            status = Conformance.NONCONFORMING
            reason = f"out of bounds for {duration:.0f} s (limit {self.max_excursion_s:g} s)"
        elif recent > self.max_excursions_per_hour:
            status = Conformance.NONCONFORMING
            reason = f"{recent} excursions in the last hour (limit {self.max_excursions_per_hour})"
        elif self._since is not None:
            status = Conformance.EXCURSION
            reason = f"out of bounds for {duration:.0f} s"
        else:
            status, reason = Conformance.CONFORMING, ""
        changed = status is not self._status
        self._status = status
        return ConformanceState(
            status, self.excursions, recent, duration, self._since, self._zone, reason, changed
        )

    def update_many(
        self, t: ArrayLike, violating: ArrayLike, zone_ids: list[str | None] | None = None
    ) -> list[ConformanceState]:
        times = np.atleast_1d(np.asarray(t, dtype=float))
        flags = np.atleast_1d(np.asarray(violating, dtype=bool))
        zones = zone_ids or [None] * len(times)
        return [
            self.update(float(a), bool(b), c) for a, b, c in zip(times, flags, zones, strict=True)
        ]

    @property
    def status(self) -> Conformance:
        return self._status
