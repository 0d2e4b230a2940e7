"""A zone made ready for computation: metric geometry, heights above ground, vectorised time.

Built once per zone and shared by every map derived from the one that built it, so that
caches keyed on compiled zones (the routing graphs) survive adding an unrelated zone.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from skyshare.airspace.zones import WEEKDAYS, CircleShape, Geozone, Ground, TimeWindow
from skyshare.geo import Projection

CIRCLE_SEGMENTS = 64
SECONDS_PER_DAY = 86_400.0


class CompiledZone:
    """One zone in projected metres. Identity matters: it is hashed by object, not by value."""

    __slots__ = ("bounds", "geometry", "index", "lower_agl", "upper_agl", "zone")

    def __init__(self, zone: Geozone, proj: Projection, ground: Ground) -> None:
        self.zone = zone
        self.geometry = metric_geometry(zone, proj)
        shapely.prepare(self.geometry)
        self.bounds = tuple(float(b) for b in self.geometry.bounds)
        self.lower_agl = ground.lower_agl(zone.lower)
        self.upper_agl = ground.upper_agl(zone.upper)
        self.index = -1  # position in the owning map, set by the map

    @property
    def id(self) -> str:
        return self.zone.id

    def spans(self, low_m: float, high_m: float) -> bool:
        """Does the zone reach into heights ``[low_m, high_m]`` above ground?"""
        return self.lower_agl < high_m and self.upper_agl > low_m

    def active_mask(self, t: NDArray[np.float64]) -> NDArray[np.bool_] | None:
        """Where the zone is active at POSIX times ``t``; None means everywhere (H24)."""
        if not self.zone.windows:
            return None
        mask = np.zeros(t.shape, dtype=bool)
        for window in self.zone.windows:
            mask |= _window_mask(window, t)
        return mask


def metric_geometry(zone: Geozone, proj: Projection) -> BaseGeometry:
    """The zone's footprint in projected metres; a circle becomes a polygon drawn around it."""
    if isinstance(zone.shape, CircleShape):
        x, y = proj.point(zone.shape.lat, zone.shape.lon)
        # Chords of a polygon inscribed in the circle would cut corners off the zone:
        # push the vertices out so that every chord lies on or outside the true circle.
        radius = zone.shape.radius_m / math.cos(math.pi / CIRCLE_SEGMENTS)
        return shapely.Point(x, y).buffer(radius, quad_segs=CIRCLE_SEGMENTS // 4)
    polygons = []
    for rings in zone.shape.polygons:
        metric_rings = []
        for ring in rings:
            coords = np.asarray(ring, dtype=float)
            mx, my = proj.to_metric(coords[:, 0], coords[:, 1])
            metric_rings.append(np.column_stack([mx, my]))
        polygons.append(shapely.Polygon(metric_rings[0], metric_rings[1:]))
    geom = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    return geom if geom.is_valid else shapely.make_valid(geom)


def posix(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError(f"time {at.isoformat()} needs a timezone (use UTC)")
    return at.timestamp()


def _window_mask(window: TimeWindow, t: NDArray[np.float64]) -> NDArray[np.bool_]:
    mask = np.ones(t.shape, dtype=bool)
    if window.start is not None:
        mask &= t >= window.start.timestamp()
    if window.end is not None:
        mask &= t < window.end.timestamp()
    if not window.schedule:
        return mask
    day_index = np.floor(t / SECONDS_PER_DAY)
    weekday = ((day_index + 3) % 7).astype(int)  # 1970-01-01 was a Thursday (MON = 0)
    second = t - day_index * SECONDS_PER_DAY
    in_schedule = np.zeros(t.shape, dtype=bool)
    for period in window.schedule:
        days = np.array([d in period.days for d in WEEKDAYS])
        begin = _seconds(period.start)
        finish = _seconds(period.end)
        if finish > begin:
            in_schedule |= days[weekday] & (second >= begin) & (second < finish)
        else:  # wraps past midnight: the tail belongs to the previous day's period
            in_schedule |= days[weekday] & (second >= begin)
            in_schedule |= days[(weekday - 1) % 7] & (second < finish)
    return mask & in_schedule


def _seconds(moment) -> float:
    return moment.hour * 3600.0 + moment.minute * 60.0 + moment.second + moment.microsecond / 1e6
