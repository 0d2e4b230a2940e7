"""A flat local frame (metres north/east of a vehicle's home) and back to WGS84 degrees.

An equirectangular approximation is exact to centimetres over the few kilometres a
vehicle flies from home and costs a multiply, which matters at hundreds of vehicles
ticking ten times a second (pyproj would cost microseconds per call).
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8
_DEG = math.pi / 180.0


class LocalFrame:
    """North/east metres around an origin; up is metres above the origin's altitude."""

    __slots__ = ("_m_per_deg_lat", "_m_per_deg_lon", "alt0", "lat0", "lon0")

    def __init__(self, lat0: float, lon0: float, alt0: float) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self.alt0 = alt0
        self._m_per_deg_lat = EARTH_RADIUS_M * _DEG
        self._m_per_deg_lon = EARTH_RADIUS_M * _DEG * math.cos(lat0 * _DEG)

    def to_ne(self, lat: float, lon: float) -> tuple[float, float]:
        return (lat - self.lat0) * self._m_per_deg_lat, (lon - self.lon0) * self._m_per_deg_lon

    def to_latlon(self, north: float, east: float) -> tuple[float, float]:
        return self.lat0 + north / self._m_per_deg_lat, self.lon0 + east / self._m_per_deg_lon


def bearing_deg(dn: float, de: float) -> float:
    """Compass bearing of a north/east vector, 0..360."""
    return math.degrees(math.atan2(de, dn)) % 360.0
