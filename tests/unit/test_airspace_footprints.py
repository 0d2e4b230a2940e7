"""The route's point and segment queries give the STRtree's answers, on the London zones."""

from __future__ import annotations

import json

import numpy as np
import shapely

from skyshare.airspace import AirspaceMap, load_zones
from skyshare.airspace.footprints import Footprints
from skyshare.config import REPO_ROOT


def london_geometries() -> list[shapely.Geometry]:
    doc = json.loads((REPO_ROOT / "airspace" / "london.geojson").read_text())
    return [c.geometry for c in AirspaceMap(load_zones(doc, "london.geojson")).compiled]


def test_points_held_and_lines_passing_near_are_those_the_tree_finds() -> None:
    geometries = london_geometries()
    footprints, tree = Footprints(geometries), shapely.STRtree(geometries)
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = shapely.total_bounds(geometries)
    points = np.column_stack([rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000)])
    # Zone corners too: a point on an outline is held.
    corners = shapely.get_coordinates(shapely.boundary(geometries[:10]))[::7]
    held = 0
    for x, y in [*points.tolist(), *corners.tolist()]:
        expected = sorted(tree.query(shapely.Point(x, y), predicate="intersects").tolist())
        assert footprints.holding(x, y) == expected
        held += bool(expected)
    assert held > 100  # the sample does reach into zones
    near = 0
    starts, ends, distances = points[:600], points[600:1200], rng.uniform(0, 500, 600)
    for (ax, ay), (bx, by), distance in zip(
        starts.tolist(), ends.tolist(), distances.tolist(), strict=True
    ):
        line = shapely.LineString([(ax, ay), (bx, by)])
        for d in (0.0, distance):
            expected = sorted(tree.query(line, predicate="dwithin", distance=d).tolist())
            assert footprints.near(line, d) == expected
            near += bool(expected)
    assert near > 100


def test_no_polygons_hold_or_pass_nothing() -> None:
    empty = Footprints([])
    assert empty.holding(0.0, 0.0) == [] and empty.near(shapely.LineString([(0, 0), (1, 1)])) == []
