"""Coordinates: WGS84 degrees <-> metres on a plane, distances, and MAVLink's integer degrees.

GeoJSON orders positions lon, lat; MAVLink carries degrees as int32 times 1e7. The
metric plane is the British National Grid (EPSG:27700) by default, which is exact to
well under a metre across London; another city passes its own projected CRS.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_CRS = "EPSG:27700"


class Projection:
    """A WGS84 <-> projected-metres transform, vectorised over numpy arrays."""

    def __init__(self, crs: str = DEFAULT_CRS) -> None:
        self.crs = crs
        self._forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inverse = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        self.prepare()

    def prepare(self) -> None:
        """Build the calling thread's PROJ pipelines now. pyproj makes them per thread, on
        first use, at about 150 ms each: a service calls this on its event loop's thread at
        start-up, or its first incident and first launch pay for it."""
        self._forward.transform(0.0, 51.5)
        self._inverse.transform(0.0, 0.0)

    def to_metric(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
        """Degrees (lon, lat) to metres (x east, y north)."""
        x, y = self._forward.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def to_wgs84(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
        """Metres (x, y) back to degrees (lon, lat)."""
        lon, lat = self._inverse.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def point(self, lat: float, lon: float) -> tuple[float, float]:
        """One position to (x, y) metres, as plain floats."""
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def latlon(self, x: float, y: float) -> tuple[float, float]:
        """One (x, y) back to (lat, lon), as plain floats."""
        lon, lat = self._inverse.transform(x, y)
        return float(lat), float(lon)


@lru_cache(maxsize=8)
def projection(crs: str = DEFAULT_CRS) -> Projection:
    """The shared projection for ``crs`` (building a transformer costs milliseconds)."""
    return Projection(crs)


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> NDArray:
    """Great-circle distance in metres, vectorised."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def to_e7(degrees: float) -> int:
    """Degrees to MAVLink's int32 degE7."""
    return round(degrees * 1e7)


def from_e7(value: int) -> float:
    """MAVLink's int32 degE7 to degrees."""
    return value / 1e7
