"""The airspace engine as the dispatcher's router.

``AirspaceRouter`` wraps an ``AirspaceMap``: it routes with the agencies' recorded
permissions, tells the route cache when the airspace has changed (``epoch``), and
answers, for many segments at once, which ones the map's router would fly as a plain
straight line (``clear_segments``). That last answer lets a decision skip the router for
most pairs of a dock and a scene: a segment that stays well clear (more than the
router's safety buffer plus its simplification allowance) of every zone the agency may
not enter is exactly the route the router would return. The test is those zones grown
by that clearance against all the segments, in one compiled pass (``kernels.py``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from numpy.typing import NDArray

from skyshare.airspace import AirspaceMap, Route
from skyshare.airspace.routing import VERTICAL_MARGIN_M
from skyshare.dispatch.detour import Disks
from skyshare.dispatch.kernels import segments_meet
from skyshare.domain.models import GeoPoint
from skyshare.geo import Projection

CLEARANCE_QUAD_SEGS = 8  # a grown corner's arc is drawn with 8 chords per quarter turn


class AirspaceRouter:
    """Routes through ``airspace`` for the dispatcher.

    ``permissions`` maps an agency to its recorded ``(agency, zone_id)`` grants (an ATC
    clearance for an FRZ, say). ``horizon_s``: zones active at any time within this of
    the departure count, as in ``AirspaceMap.route``. Call ``update`` with the new map
    when a restriction is created or lifted; routes of the old map are then never used.
    """

    def __init__(
        self,
        airspace: AirspaceMap,
        permissions: Mapping[str, Iterable[tuple[str, str]]] | None = None,
        *,
        horizon_s: float = 1800.0,
    ) -> None:
        self.airspace = airspace
        self.permissions = {a: frozenset(g) for a, g in (permissions or {}).items()}
        self.horizon_s = horizon_s
        self._grown: dict[tuple, Clearance | None] = {}
        self._disks: dict[tuple, Disks] = {}
        self._epoch: tuple[datetime, Hashable] | None = None

    def update(self, airspace: AirspaceMap) -> None:
        self.airspace = airspace
        self._grown.clear()
        self._disks.clear()
        self._epoch = None

    @property
    def projection(self) -> Projection:
        """The plane the map measures routes on; the dispatcher's bounds use it too."""
        return self.airspace.projection

    @property
    def min_cruise_alt_m(self) -> float:
        """Routes fly at the map's minimum cruise height (the dispatcher asks for no other)."""
        return self.airspace.min_cruise_alt_m

    @property
    def clearance_m(self) -> float:
        """Farther than this from every forbidden zone, a segment is surely not bent by the
        router: its obstacles reach at most the safety buffer plus three simplification
        tolerances beyond a zone (one for the simplified outline, two for its mitred
        growth back over the original), and it names no zone farther than buffer plus
        one tolerance as skirted."""
        return self.airspace.buffer_m + 3.0 * self.airspace.simplify_m + 1.0

    def route(self, start: GeoPoint, goal: GeoPoint, agency: str, *, at: datetime) -> Route:
        return self._route(start, goal, agency, at, remember=True)

    def route_afresh(self, start: GeoPoint, goal: GeoPoint, agency: str, *, at: datetime) -> Route:
        """``route`` solved again, not answered from the routes the map keeps: what a
        dispatcher routing every candidate from scratch pays."""
        return self._route(start, goal, agency, at, remember=False)

    def _route(
        self, start: GeoPoint, goal: GeoPoint, agency: str, at: datetime, *, remember: bool
    ) -> Route:
        return self.airspace.route(
            start,
            goal,
            agency,
            at=at,
            permissions=self.permissions.get(agency, frozenset()),
            horizon_s=self.horizon_s,
            remember=remember,
        )

    def prepare(self, starts: list[GeoPoint], agency: str, *, at: datetime) -> None:
        """Build, once, what every decision for ``agency`` uses: what each of ``starts``
        (the docks) sees around the zones, and the area ``clear_segments`` checks."""
        self._grown_zones(agency, at)
        self.airspace.router.prepare(
            self.airspace,
            starts,
            agency,
            at=at,
            permissions=self.permissions.get(agency, frozenset()),
            horizon_s=self.horizon_s,
        )

    def epoch(self, at: datetime) -> Hashable:
        """What routes depend on besides their ends: the map (its identity and version)
        and which of its timed zones are active within the horizon."""
        if self._epoch is not None and self._epoch[0] == at:
            return self._epoch[1]
        timed = self.airspace.timed_active(at, at + timedelta(seconds=self.horizon_s))
        token = (id(self.airspace), self.airspace.version, timed)
        self._epoch = (at, token)
        return token

    def clear_segments(
        self,
        x0: NDArray[np.float64],
        y0: NDArray[np.float64],
        x1: NDArray[np.float64] | float,
        y1: NDArray[np.float64] | float,
        agency: str,
        at: datetime,
    ) -> NDArray[np.bool_]:
        """For segments from (x0, y0) to (x1, y1) in the map's projected metres: True where
        the router's route is certainly the straight segment itself."""
        grown = self._grown_zones(agency, at)
        if grown is None:
            return np.ones(len(x0), bool)
        if not isinstance(x1, np.ndarray):  # one common end
            x1, y1 = np.full(len(x0), float(x1)), np.full(len(x0), float(y1))  # type: ignore[arg-type]
        ends = (np.asarray(x0, float), np.asarray(y0, float), x1, np.asarray(y1, float))
        return ~segments_meet(ends, grown.boxes, grown.part_rings, grown.ring_starts, grown.xy)

    def obstacle_disks(self, agency: str, at: datetime) -> Disks:
        """Disks inside the zones a route for ``agency`` must go around (for the lower
        bounds of ``detour.py``): the largest inscribed circle of each zone's part, and
        up to two more in what is left of a large irregular one."""
        key = (agency, self.epoch(at))
        found = self._disks.get(key)
        if found is None:
            airspace = self.airspace
            cruise = airspace.min_cruise_alt_m
            zones = airspace.forbidden(
                agency,
                at=at,
                until=at + timedelta(seconds=self.horizon_s),
                permissions=self.permissions.get(agency, frozenset()),
                heights=(cruise - VERTICAL_MARGIN_M, cruise + VERTICAL_MARGIN_M),
            )
            circles = [c for z in zones for c in inscribed_disks(z.geometry)]
            found = (
                Disks(*(np.array(col, float) for col in zip(*circles, strict=True)))
                if circles
                else Disks.none()
            )
            self._disks[key] = found
        return found

    def _grown_zones(self, agency: str, at: datetime) -> Clearance | None:
        """The zones ``agency`` may not fly through or start in, grown by ``clearance_m``:
        a segment that misses them is farther than that from all of them."""
        key = (agency, self.epoch(at))
        if key not in self._grown:
            airspace = self.airspace
            # The router refuses ends inside zones reaching from the ground to the cruise
            # band, and avoids zones in the band: this set holds both.
            zones = airspace.forbidden(
                agency,
                at=at,
                until=at + timedelta(seconds=self.horizon_s),
                permissions=self.permissions.get(agency, frozenset()),
                heights=(0.0, airspace.min_cruise_alt_m + VERTICAL_MARGIN_M),
            )
            if zones:
                # A buffer's arcs are chords inside the true offset curve: grow by the
                # radius whose chords stay outside it (plus a metre for rounding), so
                # that missing the polygon means missing every zone by ``clearance_m``.
                radius = self.clearance_m / math.cos(math.pi / (4 * CLEARANCE_QUAD_SEGS)) + 1.0
                grown = shapely.buffer(
                    [z.geometry for z in zones], radius, quad_segs=CLEARANCE_QUAD_SEGS
                )
                self._grown[key] = Clearance.of(shapely.get_parts(grown))
            else:
                self._grown[key] = None
        return self._grown[key]


@dataclass(frozen=True)
class Clearance:
    """The area a segment must miss to be surely straight, as ``kernels.segments_meet``
    reads it: polygons (bounding boxes, rings per polygon), rings (where each starts in
    ``xy``), and the rings' points."""

    boxes: NDArray[np.float64]
    part_rings: NDArray[np.intp]
    ring_starts: NDArray[np.intp]
    xy: NDArray[np.float64]

    @classmethod
    def of(cls, polygons: Sequence[shapely.Polygon]) -> Clearance:
        rings = [ring for p in polygons for ring in (p.exterior, *p.interiors)]
        per_part = [1 + len(p.interiors) for p in polygons]
        lengths = [len(ring.coords) for ring in rings]
        return cls(
            np.ascontiguousarray(shapely.bounds(polygons), float).reshape(-1, 4),
            np.cumsum([0, *per_part]).astype(np.intp),
            np.cumsum([0, *lengths]).astype(np.intp),
            np.concatenate([np.asarray(ring.coords, float)[:, :2] for ring in rings]),
        )


def inscribed_disks(
    geometry: shapely.Geometry, extra: int = 2, min_radius_m: float = 200.0
) -> list[tuple[float, float, float]]:
    """(x, y, r) of disks inside ``geometry``: the largest one of each polygon part, then
    up to ``extra`` more of at least ``min_radius_m`` in the part minus the disks so far."""
    out = []
    for part in getattr(geometry, "geoms", [geometry]):
        rest = part
        for k in range(1 + extra):
            if rest.is_empty:
                break
            line = shapely.maximum_inscribed_circle(rest, 1.0)
            (x, y), radius = line.coords[0], line.length
            if k and radius < min_radius_m:
                break
            out.append((float(x), float(y), float(radius)))
            rest = rest.difference(shapely.Point(x, y).buffer(radius))
    return out
