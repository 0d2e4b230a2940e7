"""The service area: the boroughs a network serves, in metres, with the river put back.

Borough boundary files such as the GLA's "excluding MHW" layer leave the tidal Thames
out of every borough, yet an incident on the river (a water rescue) is inside London.
The service area therefore closes gaps narrower than ``river_gap_m`` that lie between two
or more boroughs (a morphological closing kept only where it bridges boroughs, so the
outer boundary is not smoothed), and a point in such a gap belongs to its nearest borough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from skyshare.domain.errors import InputError
from skyshare.geo import Projection, projection


@dataclass(frozen=True)
class Borough:
    name: str
    code: str
    geometry: BaseGeometry  # projected metres


class ServiceArea:
    """Boroughs in projected metres; answers "is this point served, and by which borough?"."""

    def __init__(self, boroughs: Sequence[Borough], proj: Projection, river_gap_m: float = 500.0):
        if not boroughs:
            raise InputError("features", "a service area needs at least one borough")
        self.boroughs = list(boroughs)
        self.projection = proj
        geoms = [b.geometry for b in self.boroughs]
        self._tree = STRtree(geoms)
        union = shapely.union_all(geoms)
        closed = union.buffer(river_gap_m).buffer(-river_gap_m)
        gaps = [g for g in getattr(closed.difference(union), "geoms", [closed.difference(union)])]
        bridging = [
            g for g in gaps if len(self._tree.query(g, predicate="dwithin", distance=1.0)) >= 2
        ]
        self.geometry: BaseGeometry = shapely.union_all([union, *bridging])
        shapely.prepare(self.geometry)
        # Each call asks which borough holds it: with its outline prepared, the test
        # against the few boroughs whose boxes hold the point costs microseconds, not
        # the tens a full point-in-polygon walk of thousands of vertices does.
        for geometry in geoms:
            shapely.prepare(geometry)

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.boroughs]

    def contains(self, lat: float, lon: float) -> bool:
        x, y = self.projection.point(lat, lon)
        return bool(shapely.contains_xy(self.geometry, x, y))

    def contains_many(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        x, y = self.projection.to_metric(lon, lat)
        return shapely.contains_xy(self.geometry, x, y)

    def borough_of(self, lat: float, lon: float) -> str | None:
        """The borough containing the point, else the nearest one if the point is served."""
        x, y = self.projection.point(lat, lon)
        point = shapely.Point(x, y)
        # The boxes that hold it, in the tree's order, then the first outline that does
        # (as ``query(point, predicate="intersects")`` would, on the prepared outlines).
        for i in self._tree.query(point).tolist():
            borough = self.boroughs[i]
            if shapely.intersects_xy(borough.geometry, x, y):
                return borough.name
        if not shapely.contains_xy(self.geometry, x, y):
            return None
        return self.boroughs[int(self._tree.query_nearest(point)[0])].name

    def to_geojson(self, tolerance_m: float = 0.0) -> dict[str, Any]:
        """The boroughs as a WGS84 FeatureCollection, optionally simplified for drawing."""
        features = []
        for b in self.boroughs:
            geom = b.geometry.simplify(tolerance_m) if tolerance_m else b.geometry
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": b.name, "code": b.code},
                    "geometry": mapping(_to_wgs84(geom, self.projection)),
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def geometry_of(self, name: str) -> BaseGeometry:
        for b in self.boroughs:
            if b.name == name:
                return b.geometry
        raise KeyError(name)


def parse_service_area(
    doc: Any, source: str = "<boroughs>", proj: Projection | None = None
) -> ServiceArea:
    """Build a ``ServiceArea`` from a GeoJSON FeatureCollection of borough polygons."""
    proj = proj or projection()
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise InputError("type", "expected a GeoJSON FeatureCollection", source=source)
    boroughs = []
    for i, feature in enumerate(doc.get("features") or []):
        props = feature.get("properties") or {}
        item = f"features[{i}] ({props.get('name', '?')})"
        name = props.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError("properties.name", "is required", source=source, item=item)
        try:
            geom = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                "geometry", f"not a GeoJSON geometry ({exc})", source=source, item=item
            ) from None
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InputError(
                "geometry", f"expected a Polygon, got {geom.geom_type}", source=source, item=item
            )
        if not geom.is_valid:
            raise InputError("geometry", shapely.is_valid_reason(geom), source=source, item=item)
        metric = shapely.transform(
            geom, lambda c: np.column_stack(proj.to_metric(c[:, 0], c[:, 1]))
        )
        boroughs.append(Borough(name.strip(), str(props.get("gss_code", "")), metric))
    return ServiceArea(boroughs, proj)


def _to_wgs84(geom: BaseGeometry, proj: Projection) -> BaseGeometry:
    return shapely.transform(geom, lambda c: np.column_stack(proj.to_wgs84(c[:, 0], c[:, 1])))
