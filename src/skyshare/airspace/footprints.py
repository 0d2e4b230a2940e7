"""Point and segment queries over a few dozen prepared polygons, at a route's pace.

A route asks which zone holds each of its ends, and which zones its line passes near.
With the tens of polygons of a city, comparing bounding boxes in plain Python and testing
the few that match, prepared and vectorised, costs a fraction of an STRtree query's call
overhead; the answers are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely


class Footprints:
    """Prepared polygons (in a fixed order) and their bounding boxes."""

    def __init__(self, geometries: Sequence[shapely.Geometry]) -> None:
        self.geometries = np.array(geometries, dtype=object)
        shapely.prepare(self.geometries)
        bounds = shapely.bounds(self.geometries) if len(geometries) else np.zeros((0, 4))
        self._boxes = [tuple(box) for box in bounds.tolist()]

    def holding(self, x: float, y: float) -> list[int]:
        """Positions (ascending) of the polygons that hold the point, outline included."""
        boxed = self._boxed((x, y, x, y), 0.0)
        if not boxed:
            return boxed
        hit = shapely.intersects_xy(self.geometries[boxed], x, y).tolist()
        return [k for k, h in zip(boxed, hit, strict=True) if h]

    def near(self, line: shapely.Geometry, distance_m: float = 0.0) -> list[int]:
        """Positions (ascending) of the polygons within ``distance_m`` of ``line`` (at 0:
        those it touches)."""
        boxed = self._boxed(line.bounds, distance_m)
        if not boxed:
            return boxed
        some = self.geometries[boxed]
        # ``dwithin`` costs three times ``intersects``, which is the same test at 0 m.
        hit = (
            shapely.dwithin(some, line, distance_m)
            if distance_m > 0
            else shapely.intersects(some, line)
        ).tolist()
        return [k for k, h in zip(boxed, hit, strict=True) if h]

    def _boxed(self, box: tuple[float, float, float, float], margin: float) -> list[int]:
        """Positions of the polygons whose boxes, grown by ``margin``, meet ``box``."""
        x0, y0, x1, y1 = box
        return [
            k
            for k, (a0, b0, a1, b1) in enumerate(self._boxes)
            if a0 - margin <= x1 and x0 <= a1 + margin and b0 - margin <= y1 and y0 <= b1 + margin
        ]
