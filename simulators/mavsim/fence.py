"""Geofence geometry built from MAVLink fence items, and breach tests in the local frame.

Items follow the MAVLink mission-protocol fence encoding: consecutive
``MAV_CMD_NAV_FENCE_POLYGON_VERTEX_*`` items with ``param1`` = vertex count form one
polygon; ``MAV_CMD_NAV_FENCE_CIRCLE_*`` items carry the radius in ``param1``; a
``MAV_CMD_NAV_FENCE_RETURN_POINT`` is stored for the autopilot to use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulators.mavsim.frame import LocalFrame
from simulators.mavsim.mission import Item, as_int

POLY_IN = mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
POLY_OUT = mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
CIRCLE_IN = mavlink.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
CIRCLE_OUT = mavlink.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
RETURN_POINT = mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT
FENCE_COMMANDS = frozenset({POLY_IN, POLY_OUT, CIRCLE_IN, CIRCLE_OUT, RETURN_POINT})


@dataclass
class Polygon:
    inclusion: bool
    points: list[tuple[float, float]]  # (north, east) metres

    def contains(self, n: float, e: float) -> bool:
        inside = False
        pts = self.points
        j = len(pts) - 1
        for i in range(len(pts)):
            ni, ei = pts[i]
            nj, ej = pts[j]
            if (ei > e) != (ej > e) and n < (nj - ni) * (e - ei) / (ej - ei) + ni:
                inside = not inside
            j = i
        return inside


@dataclass
class Circle:
    inclusion: bool
    n: float
    e: float
    radius: float

    def contains(self, n: float, e: float) -> bool:
        return math.hypot(n - self.n, e - self.e) <= self.radius


@dataclass
class Geofence:
    """The uploaded fence, ready to test positions against."""

    zones: list[Polygon | Circle] = field(default_factory=list)
    return_point: tuple[float, float, float] | None = None  # (north, east, alt) if given

    @property
    def empty(self) -> bool:
        return not self.zones

    def breached(self, n: float, e: float, *, union_of_inclusions: bool) -> bool:
        """Outside the inclusion zones or inside an exclusion zone.

        ArduPilot requires being inside every inclusion zone; PX4 inside any one of them.
        """
        inclusions = [z for z in self.zones if z.inclusion]
        for z in self.zones:
            if not z.inclusion and z.contains(n, e):
                return True
        if not inclusions:
            return False
        if union_of_inclusions:
            return not any(z.contains(n, e) for z in inclusions)
        return not all(z.contains(n, e) for z in inclusions)


def validate(items: list[Item]) -> str | None:
    """None if ``items`` form a well-shaped fence, else why not (for the upload's ACK)."""
    i = 0
    while i < len(items):
        item = items[i]
        if item.command in (POLY_IN, POLY_OUT):
            count = as_int(item.param1)
            if count < 3:
                return f"polygon at item {i} has vertex count {count} (needs >= 3)"
            group = items[i : i + count]
            if len(group) < count or any(
                g.command != item.command or as_int(g.param1) != count for g in group
            ):
                return f"polygon at item {i} does not have {count} matching vertices"
            i += count
            continue
        if item.command in (CIRCLE_IN, CIRCLE_OUT):
            if not (math.isfinite(item.param1) and item.param1 > 0):
                return f"circle at item {i} has radius {item.param1} (needs > 0)"
        elif item.command != RETURN_POINT:
            return f"item {i} has command {item.command}, not a fence command"
        i += 1
    return None


def build(items: list[Item], frame: LocalFrame) -> Geofence:
    """Geometry from validated fence items."""
    fence = Geofence()
    i = 0
    while i < len(items):
        item = items[i]
        if item.command in (POLY_IN, POLY_OUT):
            count = as_int(item.param1)
            pts = [frame.to_ne(g.lat, g.lon) for g in items[i : i + count]]
            fence.zones.append(Polygon(item.command == POLY_IN, pts))
            i += count
            continue
        if item.command in (CIRCLE_IN, CIRCLE_OUT):
            n, e = frame.to_ne(item.lat, item.lon)
            fence.zones.append(Circle(item.command == CIRCLE_IN, n, e, float(item.param1)))
        elif item.command == RETURN_POINT:
            n, e = frame.to_ne(item.lat, item.lon)
            fence.return_point = (n, e, float(item.z))
        i += 1
    return fence
