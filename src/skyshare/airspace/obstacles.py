"""Forbidden zones grown by the safety buffer and simplified: what a route must go around.

Simplifying must never shrink a zone: a polygon simplified with tolerance ``tol`` (Douglas-
Peucker keeps every dropped vertex within ``tol`` of the new outline) and then grown by
``tol`` with mitred corners contains the original, and keeps about the simplified vertex
count. ``enclosing_simplification`` does that and checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from skyshare.airspace.compiled import CompiledZone
from skyshare.airspace.footprints import Footprints

EROSION_M = 0.05  # segments may touch an obstacle's outline, never cross its inside


def enclosing_simplification(geom: BaseGeometry, tolerance_m: float) -> BaseGeometry:
    """``geom`` with fewer vertices, guaranteed to contain it."""
    if tolerance_m <= 0:
        return geom
    simple = shapely.simplify(geom, tolerance_m, preserve_topology=True)
    grown = simple.buffer(tolerance_m, join_style="mitre", mitre_limit=2.0)
    if grown.is_valid and grown.contains(geom):
        return grown
    return geom.buffer(tolerance_m, quad_segs=2)  # rare: fall back to a plain, larger outline


def polygons_of(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


class ObstacleSet:
    """The zones a flight must avoid, each grown by ``buffer_m``, merged where they overlap."""

    def __init__(self, zones: Sequence[CompiledZone], buffer_m: float, simplify_m: float) -> None:
        self.zones = tuple(zones)
        self.buffer_m = buffer_m
        self.simplify_m = simplify_m
        grown = [
            enclosing_simplification(z.geometry.buffer(buffer_m, quad_segs=2), simplify_m)
            for z in self.zones
        ]
        union = shapely.union_all(grown) if grown else shapely.Polygon()
        self.polygons = [shapely.orient_polygons(p) for p in polygons_of(union)]
        # Parallel to ``polygons`` (an empty one is simply never hit by the tree).
        self._eroded = np.array(
            [p.buffer(-EROSION_M, join_style="mitre") for p in self.polygons], dtype=object
        )
        shapely.prepare(self._eroded)
        self._tree = shapely.STRtree(self._eroded)  # for many segments at once
        self._insides = Footprints(self._eroded)  # for one point at a time
        self._footprints = Footprints([z.geometry for z in self.zones])

    def blocked(self, lines: NDArray[np.object_]) -> NDArray[np.bool_]:
        """Which segments cross the inside of an obstacle."""
        result = np.zeros(len(lines), dtype=bool)
        if len(lines) and len(self._eroded):
            # Pairs whose boxes meet, then the test from the obstacle's prepared side: a
            # query predicate would prepare the segment instead, at twice the cost.
            line, obstacle = self._tree.query(lines)
            hit = shapely.intersects(self._eroded[obstacle], lines[line])
            result[line[hit]] = True
        return result

    def containing(self, x: float, y: float) -> Polygon | None:
        """The obstacle whose inside holds the point, if any (obstacles do not overlap)."""
        hits = self._insides.holding(x, y)
        return self.polygons[hits[0]] if hits else None

    def zones_crossed(self, line: LineString) -> list[CompiledZone]:
        return self.zones_near(line, 0.0)

    def zones_near(self, line: LineString, distance_m: float) -> list[CompiledZone]:
        """The (unbuffered) zones within ``distance_m`` of ``line``, in their order."""
        return [self.zones[i] for i in self._footprints.near(line, distance_m)]
