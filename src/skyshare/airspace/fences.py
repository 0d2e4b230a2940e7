"""The fence a vehicle carries: the second line of defence if planning and monitoring fail.

For one flight: an inclusion area, and an exclusion circle or polygon for every zone in it
that the flight's agency may not enter, as MAVLink fence mission items
(``MAV_MISSION_TYPE_FENCE``). Plain data: the fleet layer turns each ``FenceItem`` into a
``MISSION_ITEM_INT`` (lat/lon as degE7, ``param1`` the vertex count or the radius,
``param2`` the inclusion group).

The inclusion area is the flight's containment: one circle around everything the sortie
plans to fly (home, the route, the task on scene, the ways back), grown by a contingency
margin, so that a flyaway is caught a few hundred metres from the planned flight, not at
the edge of the city. Only the zones reaching into it are fenced out. Where the circle
would leave the service area it is cut by the area's fence outline (a polygon of a few
more vertices); should that cut be too detailed, the whole outline is the inclusion, with
the zones within ``reach_m`` of the flight. The circle is one item where the outline took
what the exclusions left of the budget: on 63 London sorties the median fence fell from
80 items to 1 (the largest from 80 to 19), and so did the upload before take-off, one
round trip per item.

Real autopilots accept few items, so shapes are simplified to fit, always outward for an
exclusion (the simplified outline contains the zone) and for the inclusion (a flight to
the edge of the service area is not cut short):

- ArduPilot keeps fence items in a small storage area: 84 items on a Pixhawk-class board
  (``AC_PolyFence_loader::max_items``: storage size / 8, at most 255), a polygon costs 2
  bytes plus 8 per vertex, a circle 13 bytes, the return point 9. Several inclusion areas
  are intersected unless ``FENCE_OPTIONS`` bit 1 (``INCLUSION_UNION``) is set.
- PX4 keeps at most 64 fence items in its dataman (``DM_KEY_FENCE_POINTS_MAX``; 16 on
  memory-constrained boards) and treats several inclusion areas as a union.

MAVLink itself says: a vehicle must be inside all inclusion areas of one group and inside
at least one group; so each inclusion area here gets its own group.

``validate_fence`` runs before anything is returned and can check a fence read back from a
vehicle: valid simple polygons with consistent vertex counts, home inside the inclusion
area and outside every exclusion, return and rally points outside every exclusion.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from skyshare.airspace.obstacles import enclosing_simplification, polygons_of
from skyshare.airspace.routing import Route
from skyshare.airspace.zones import CircleShape, permissions_of
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint
from skyshare.geo import Projection, to_e7

if TYPE_CHECKING:
    from skyshare.airspace.airspace_map import AirspaceMap
    from skyshare.airspace.compiled import CompiledZone
    from skyshare.airspace.service_area import ServiceArea

# MAV_CMD ids (common.xml); the core does not import pymavlink.
MAV_CMD_NAV_FENCE_RETURN_POINT = 5000
# The contingency volume around a sortie's planned flight (SORA's term): GNSS error, wind
# drift, an orbit's overshoot and the way covered while a breach is acted on, with room.
CONTAINMENT_MARGIN_M = 300.0
ROUTE_CORRIDOR_M = 200.0  # no exclusion may be simplified into this much of the route
# Narrower corridors, tried in turn where zones crowd the flight and the exact outlines
# they force would not fit the autopilot: the aircraft holds its track far closer.
FALLBACK_CORRIDORS_M = (100.0, 50.0)
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION = 5003
MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION = 5004
MAV_CMD_NAV_RALLY_POINT = 5100

POLYGON_COMMANDS = (
    MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
)
CIRCLE_COMMANDS = (MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION, MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION)
INCLUSION_COMMANDS = (
    MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
)
FENCE_COMMANDS = (*POLYGON_COMMANDS, *CIRCLE_COMMANDS, MAV_CMD_NAV_FENCE_RETURN_POINT)


class FenceError(InputError):
    """A fence that must not be uploaded: ``field`` names the item or point, ``reason`` why."""


@dataclass(frozen=True, slots=True)
class FenceItem:
    """One fence mission item. ``vertex_count`` is set on every vertex of a polygon (MAVLink
    ``param1``); ``radius_m`` on circles (also ``param1``); ``inclusion_group`` is ``param2``
    of inclusion items. ``source`` says what it was drawn from (not sent)."""

    command: int
    lat: float
    lon: float
    radius_m: float = 0.0
    vertex_count: int = 0
    inclusion_group: int = 0
    source: str = ""

    @property
    def lat_e7(self) -> int:
        return to_e7(self.lat)

    @property
    def lon_e7(self) -> int:
        return to_e7(self.lon)

    @property
    def param1(self) -> float:
        return float(self.vertex_count) if self.command in POLYGON_COMMANDS else self.radius_m

    @property
    def param2(self) -> float:
        return float(self.inclusion_group) if self.command in INCLUSION_COMMANDS else 0.0


@dataclass(frozen=True, slots=True)
class AutopilotLimits:
    """What an autopilot's fence storage accepts."""

    name: str
    max_items: int
    max_polygon_vertices: int
    storage_bytes: int | None = None  # ArduPilot's fence storage; None: not limited by bytes

    def storage_needed(self, items: Sequence[FenceItem]) -> int:
        """Bytes ArduPilot's fence storage format needs for ``items`` (header and end marker
        included)."""
        total, remaining = 4 + 1, 0
        for item in items:
            if item.command in POLYGON_COMMANDS:
                if remaining <= 0:  # a new polygon: type and vertex count
                    total, remaining = total + 2, max(item.vertex_count, 1)
                total, remaining = total + 8, remaining - 1
                continue
            remaining = 0
            if item.command in CIRCLE_COMMANDS:
                total += 13
            elif item.command == MAV_CMD_NAV_FENCE_RETURN_POINT:
                total += 9
        return total


ARDUPILOT = AutopilotLimits(
    "ardupilot", max_items=84, max_polygon_vertices=255, storage_bytes=84 * 8
)
PX4 = AutopilotLimits("px4", max_items=64, max_polygon_vertices=64)
PX4_CONSTRAINED = AutopilotLimits("px4", max_items=16, max_polygon_vertices=16)
COMMON = AutopilotLimits("any", max_items=64, max_polygon_vertices=64, storage_bytes=84 * 8)
"""Fits both ArduPilot on a Pixhawk-class board and PX4: the default."""


@dataclass(frozen=True)
class FencePlan:
    """The fence for one flight, ready for upload, and the parameters it relies on."""

    items: tuple[FenceItem, ...]
    rally_points: tuple[FenceItem, ...]  # MAV_MISSION_TYPE_RALLY items
    params: dict[str, float]
    excluded_zones: tuple[str, ...]
    limits: AutopilotLimits
    notes: tuple[str, ...] = field(default=())


def build_fence(
    airspace: AirspaceMap,
    service_area: ServiceArea | BaseGeometry,
    *,
    agency: str,
    at: datetime,
    home: GeoPoint,
    permissions: Sequence[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
    route: Route | None = None,
    paths: Sequence[Sequence[GeoPoint]] = (),
    return_point: GeoPoint | None = None,
    rally_points: Sequence[GeoPoint] = (),
    reach_m: float = 10_000.0,
    inclusion_margin_m: float = 200.0,
    horizon_s: float = 3600.0,
    limits: AutopilotLimits = COMMON,
    min_inclusion_vertices: int = 8,
    containment_m: float | None = CONTAINMENT_MARGIN_M,
) -> FencePlan:
    """The fence for a flight of ``agency`` from ``home`` (along ``route`` if given).

    ``paths`` are further lines the aircraft will fly (the task on scene, the way back to
    its dock): like the route, no exclusion is simplified into their corridor. The
    inclusion area is the circle around home, the route, the paths and the return and
    rally points, grown by ``containment_m`` and cut by the service area grown by
    ``inclusion_margin_m``; or, if the cut is too detailed (or ``containment_m`` is None),
    that grown service area. Zones count if they reach into the circle or, with the
    service area, lie within ``reach_m`` of home, the route or a path; and if they are
    active at any time in ``[at, at + horizon_s]``. Raises ``FenceError`` if the fence
    cannot be made to fit ``limits`` or fails validation.
    """
    proj = airspace.projection
    area = service_area if isinstance(service_area, BaseGeometry) else service_area.geometry
    lines = [line for line in [route.waypoints if route else (), *paths] if line]
    points = [p for p in (home, return_point, *rally_points) if p]
    projected = _metric_lines(proj, [*lines, *([p] for p in points)])
    flown, ends = projected[: len(lines)], projected[len(lines) :]  # lines; then points
    home_xy = (ends[0].x, ends[0].y)
    flying = shapely.GeometryCollection([*ends, *flown])
    disc = (
        None
        if containment_m is None
        else _containment(flying, area, containment_m, inclusion_margin_m)
    )
    if disc is None:
        shapely.prepare(flying)
    # Within reach: reaching into the circle or, with the service area, within ``reach_m``
    # of what is flown. Asked as a distance, not by intersecting a union of buffers.
    origin, reach = (flying, reach_m) if disc is None else (Point(disc.x, disc.y), disc.radius)

    def within_reach(shapes: Sequence[BaseGeometry]) -> list[bool]:
        return shapely.dwithin(np.asarray(shapes, dtype=object), origin, reach).tolist()

    forbidden = airspace.forbidden(
        agency,
        at=at,
        until=at + timedelta(seconds=horizon_s),
        permissions=permissions_of(permissions),
    )
    near = within_reach([z.geometry for z in forbidden])
    zones = [z for z, close in zip(forbidden, near, strict=True) if close]
    zones.sort(key=lambda z: z.geometry.distance(Point(home_xy)))
    # What no exclusion may cover: home, the return and rally points and, so that the
    # aircraft's fence never fights the planned route, the route itself.
    keep_out: list[BaseGeometry] = list(ends)
    error: FenceError | None = None
    for corridor in (ROUTE_CORRIDOR_M, *FALLBACK_CORRIDORS_M):
        # A corridor, not just the line: the aircraft orbits and turns off the line. (Only
        # exclusions read it: with no zone near, there is nothing to keep it from.)
        corridors = [line.buffer(corridor) for line in flown] if zones else []
        try:
            plan = _fit_fence(
                airspace,
                disc or area,
                zones,
                keep_out + corridors,
                within_reach,
                home=home,
                return_point=return_point,
                rally_points=rally_points,
                limits=limits,
                min_inclusion_vertices=min_inclusion_vertices,
                inclusion_margin_m=inclusion_margin_m,
            )
        except FenceError as exc:
            error = error or exc  # the widest corridor's reason is the one to report
            continue
        if corridor < ROUTE_CORRIDOR_M:
            note = f"zones kept exact only within {corridor:g} m of the flight, to fit"
            plan = replace(plan, notes=(*plan.notes, note))
        return plan
    assert error is not None
    raise error


CLIP_OUTLINE_VERTICES = 64  # the service area's outline a containment circle is cut by
MAX_CLIPPED_VERTICES = 40  # more, and the outline of the whole area is the inclusion


@dataclass(frozen=True)
class _Disc:
    """A flight's containment circle, in projected metres. Where it would leave the service
    area, ``clipped`` is the inclusion instead: a polygon around the circle (16 sides)
    cut by the service area's fence outline, so holding all of the circle that lies in
    the area."""

    x: float
    y: float
    radius: float
    clipped: Polygon | None = None

    def items(self) -> int:
        return 1 if self.clipped is None else len(self.clipped.exterior.coords) - 1


def _containment(
    flying: BaseGeometry, area: BaseGeometry, margin_m: float, area_margin_m: float
) -> _Disc | None:
    """The smallest circle around everything ``flying``, grown by ``margin_m``, clipped
    where it leaves the fence outline of the service ``area`` (grown by ``area_margin_m``);
    None if the clipped shape has too many vertices or parts (the outline is then the
    inclusion)."""
    centre = shapely.minimum_bounding_circle(flying).centroid
    disc = _Disc(centre.x, centre.y, shapely.minimum_bounding_radius(flying) + margin_m)
    outlines = [
        _inclusion_outline(part, CLIP_OUTLINE_VERTICES, area_margin_m) for part in polygons_of(area)
    ]
    # Room for the circle with its outside margin of ``_areas``' 64-gon (which holds it).
    room = disc.radius / math.cos(math.pi / 64)
    if any(
        outline.contains(centre) and outline.boundary.distance(centre) >= room
        for outline in outlines
    ):
        return disc
    ngon = regular_polygon(centre.x, centre.y, disc.radius / math.cos(math.pi / 16), 16)
    clipped = shapely.union_all([ngon.intersection(outline) for outline in outlines])
    if not isinstance(clipped, Polygon) or clipped.is_empty:
        return None
    clipped = shapely.set_precision(Polygon(clipped.exterior), 0.01)  # no slivers of vertices
    if not isinstance(clipped, Polygon) or len(clipped.exterior.coords) - 1 > MAX_CLIPPED_VERTICES:
        return None
    return replace(disc, clipped=clipped)


def _fit_fence(
    airspace: AirspaceMap,
    inclusion: BaseGeometry | _Disc,
    zones: list[CompiledZone],
    keep_out: list[BaseGeometry],
    within_reach: Callable[[Sequence[BaseGeometry]], list[bool]],
    *,
    home: GeoPoint,
    return_point: GeoPoint | None,
    rally_points: Sequence[GeoPoint],
    limits: AutopilotLimits,
    min_inclusion_vertices: int,
    inclusion_margin_m: float,
) -> FencePlan:
    """The fence with no exclusion simplified into ``keep_out``; FenceError if it cannot
    be made to fit ``limits``."""
    proj = airspace.projection
    exclusions = [_Exclusion(z, keep_out) for z in zones]
    budget = limits.max_items - (1 if return_point else 0)
    areas: list[Polygon] | _Disc
    if isinstance(inclusion, _Disc):
        areas, least = inclusion, inclusion.items()  # the items the inclusion needs
    else:
        parts = polygons_of(inclusion)
        areas = [p for p, close in zip(parts, within_reach(parts), strict=True) if close] or parts
        least = min_inclusion_vertices * len(areas)
    # Too many items? Turn the farthest polygons into circles until the inclusion fits.
    for exclusion in reversed(exclusions):
        if budget - sum(e.items for e in exclusions) >= least:
            break
        exclusion.as_circle_if_possible()
    spare = budget - sum(e.items for e in exclusions)
    if spare < least:
        raise FenceError(
            "exclusions",
            f"{len(exclusions)} zones near the flight need {budget - spare} fence items; "
            f"{limits.name} accepts {limits.max_items} in all, leaving too few for the "
            "inclusion area",
        )
    items, notes = _assemble(
        proj, areas, exclusions, spare, limits, inclusion_margin_m, return_point
    )
    rally = tuple(
        FenceItem(MAV_CMD_NAV_RALLY_POINT, p.lat, p.lon, source="rally") for p in rally_points
    )
    validate_fence(
        items,
        home=home,
        return_point=return_point,
        rally_points=rally_points,
        limits=limits,
        proj=proj,
    )
    return FencePlan(
        items,
        rally,
        fence_params(limits, airspace.ceiling_m),
        tuple(e.zone.id for e in exclusions),
        limits,
        tuple(notes),
    )


@functools.cache
def _unit_polygon(sides: int) -> np.ndarray:
    angles = np.linspace(0.0, 2 * math.pi, sides, endpoint=False)
    return np.column_stack([np.cos(angles), np.sin(angles)])


def regular_polygon(x: float, y: float, radius: float, sides: int) -> Polygon:
    """The polygon of ``sides`` vertices on the circle of ``radius`` around (x, y): inside
    the circle, and holding the circle of ``radius * cos(pi / sides)``."""
    return Polygon(_unit_polygon(sides) * radius + (x, y))


def _metric_line(proj: Projection, points: Sequence[GeoPoint]) -> BaseGeometry:
    """A flown line in projected metres (a point if it has one position)."""
    return _metric_lines(proj, [points])[0]


def _metric_lines(proj: Projection, lines: Sequence[Sequence[GeoPoint]]) -> list[BaseGeometry]:
    """``_metric_line`` of each, projected together (one transform, not one per line)."""
    flat = [p for line in lines for p in line]
    xs, ys = proj.to_metric([p.lon for p in flat], [p.lat for p in flat])
    coords = np.column_stack([xs, ys])
    out: list[BaseGeometry] = []
    start = 0
    for line in lines:
        part = coords[start : start + len(line)]
        start += len(line)
        out.append(shapely.LineString(part) if len(part) > 1 else Point(part[0]))
    return out


def breaches_along(
    items: Sequence[FenceItem],
    path: Sequence[GeoPoint],
    *,
    proj: Projection,
    limits: AutopilotLimits = COMMON,
    clearance_m: float = 0.0,
) -> list[str]:
    """Why an aircraft carrying fence ``items`` would breach it flying ``path`` straight
    from point to point, or coming within ``clearance_m`` of the fence (it turns wide and
    drifts): the exclusions it enters, or that it leaves every inclusion. Empty if it
    would not. Judged as ``validate_fence`` reads the items: circles drawn safe side,
    inclusion areas a union."""
    if not path:
        return []
    line = _metric_line(proj, path)
    if clearance_m > 0:
        line = line.buffer(clearance_m)
    areas = _areas(items, limits, proj)
    inclusions = [a.geometry for a in areas if a.inclusion]
    reasons = [
        f"enters the exclusion at items[{a.first_item}] "
        f"({items[a.first_item].source or 'exclusion'})"
        for a in areas
        if not a.inclusion and a.geometry.intersects(line)
    ]
    if inclusions and not shapely.union_all(inclusions).covers(line):
        reasons.append("leaves the inclusion area")
    return reasons


@dataclass(frozen=True)
class _Outline:
    """One part of a zone: its exact outline, that outline simplified outward to at most
    8 vertices, and the area the simplification adds."""

    exact: Polygon
    simple: Polygon
    added: BaseGeometry


@dataclass(frozen=True)
class _ZoneShapes:
    """The ways one zone can go into a fence. They depend on the zone alone, so they are
    worked out once per zone (about a millisecond of geometry each), not once per sortie."""

    circle: tuple[float, float, float]  # x, y, radius: encloses the zone
    circle_added: BaseGeometry  # what the circle adds beyond the zone
    roundish: bool  # the circle adds little: the zone goes in as a circle
    outlines: tuple[_Outline, ...]


@lru_cache(maxsize=4096)
def _shapes_of(zone: CompiledZone) -> _ZoneShapes:
    shape = zone.zone.shape
    if isinstance(shape, CircleShape):
        centre = zone.geometry.centroid
        circle = (centre.x, centre.y, shape.radius_m)
    else:
        disc = shapely.minimum_bounding_circle(zone.geometry)
        radius = shapely.minimum_bounding_radius(zone.geometry) + 1.0
        circle = (disc.centroid.x, disc.centroid.y, radius)
    disc = Point(circle[:2]).buffer(circle[2], quad_segs=16)
    circle_added = disc.difference(zone.geometry).buffer(-1.0)  # slivers are not area
    roundish = math.pi * circle[2] ** 2 <= 1.2 * zone.geometry.area
    outlines = tuple(_outline(part, 8) for part in polygons_of(zone.geometry))
    for geometry in (circle_added, *(o.added for o in outlines)):
        shapely.prepare(geometry)  # each sortie asks whether it reaches its keep-out
    return _ZoneShapes(circle, circle_added, roundish, outlines)


def warm_zone_shapes(zones: Iterable[CompiledZone]) -> None:
    """Work out how each zone goes into a fence now, at start-up, not on a first sortie."""
    for zone in zones:
        _shapes_of(zone)


def _outline(part: Polygon, max_vertices: int) -> _Outline:
    exact = Polygon(part.exterior)  # autopilots take no holes; filling them is safe
    tolerance = 5.0
    simple = enclosing_simplification(exact, tolerance)
    while not isinstance(simple, Polygon) or len(simple.exterior.coords) - 1 > max_vertices:
        tolerance *= 1.5
        simple = enclosing_simplification(exact, tolerance)
        if tolerance > 5_000:
            simple = exact.convex_hull.minimum_rotated_rectangle
            break
    return _Outline(exact, simple, simple.difference(exact))


class _Exclusion:
    """How one zone goes into this fence: a circle (1 item) or polygons (their vertices).
    A circle or a simplification that would cover home, a return point or the flown
    corridor is not used: the exact outline is."""

    def __init__(self, zone: CompiledZone, keep_out: list[BaseGeometry]) -> None:
        self.zone = zone
        shapes = _shapes_of(zone)

        def reaches(added: BaseGeometry) -> bool:
            return any(added.intersects(g) for g in keep_out)

        self.circle = None if reaches(shapes.circle_added) else shapes.circle
        # Round zones go in as circles; others as polygons of at most 8 vertices.
        self.use_circle = self.circle is not None and shapes.roundish
        self.polygons = [o.exact if reaches(o.added) else o.simple for o in shapes.outlines]

    @property
    def items(self) -> int:
        return 1 if self.use_circle else sum(len(p.exterior.coords) - 1 for p in self.polygons)

    def as_circle_if_possible(self) -> None:
        if self.circle is not None:
            self.use_circle = True


def _assemble(
    proj: Projection,
    inclusion: list[Polygon] | _Disc,
    exclusions: list[_Exclusion],
    spare: int,
    limits: AutopilotLimits,
    margin_m: float,
    return_point: GeoPoint | None,
) -> tuple[tuple[FenceItem, ...], list[str]]:
    notes: list[str] = []
    areas = 1 if isinstance(inclusion, _Disc) else len(inclusion)
    per_area = min(limits.max_polygon_vertices, spare // areas)
    while True:
        items = _inclusion_items(proj, inclusion, per_area, margin_m)
        for exclusion in exclusions:
            if exclusion.use_circle:
                assert exclusion.circle is not None
                x, y, r = exclusion.circle
                lat, lon = proj.latlon(x, y)
                items.append(
                    FenceItem(
                        MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
                        lat,
                        lon,
                        radius_m=r,
                        source=exclusion.zone.id,
                    )
                )
            else:
                for polygon in exclusion.polygons:
                    items += _polygon_items(
                        proj,
                        polygon,
                        MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
                        0,
                        exclusion.zone.id,
                    )
        if return_point is not None:
            items.append(
                FenceItem(
                    MAV_CMD_NAV_FENCE_RETURN_POINT,
                    return_point.lat,
                    return_point.lon,
                    source="return point",
                )
            )
        over = (
            0
            if limits.storage_bytes is None
            else limits.storage_needed(items) - limits.storage_bytes
        )
        if over <= 0 or per_area <= 3 or isinstance(inclusion, _Disc):
            break
        per_area -= max(1, math.ceil(over / 8))  # ArduPilot's storage is full: fewer vertices
        notes.append(
            f"inclusion reduced to {per_area} vertices to fit {limits.storage_bytes} bytes"
        )
    return tuple(items), notes


def _inclusion_items(
    proj: Projection, inclusion: list[Polygon] | _Disc, per_area: int, margin_m: float
) -> list[FenceItem]:
    """The containment circle, or the outline of each service-area part near the flight
    (grown by ``margin_m``, at most ``per_area`` vertices) in an inclusion group of its own."""
    if isinstance(inclusion, _Disc) and inclusion.clipped is not None:
        return _polygon_items(
            proj,
            inclusion.clipped,
            MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            1,
            "containment in the service area",
        )
    if isinstance(inclusion, _Disc):
        lat, lon = proj.latlon(inclusion.x, inclusion.y)
        circle = FenceItem(
            MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
            lat,
            lon,
            radius_m=inclusion.radius,
            inclusion_group=1,
            source="containment",
        )
        return [circle]
    items: list[FenceItem] = []
    for group, area in enumerate(inclusion, start=1):
        outline = _inclusion_outline(area, per_area, margin_m)
        items += _polygon_items(
            proj, outline, MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, group, "service area"
        )
    return items


_FITTED: dict[tuple[int, int, float], tuple[Polygon, Polygon]] = {}


def _inclusion_outline(area: Polygon, max_vertices: int, margin_m: float) -> Polygon:
    """The service area grown by ``margin_m`` and simplified outward to ``max_vertices``.

    Cached per area object: the boundary of a city has thousands of vertices.
    """
    # Budgets rounded down to a multiple of 8, so that a handful of outlines serves every
    # flight (fitting one costs hundreds of ms) at the price of a few vertices of detail.
    max_vertices = max(8, max_vertices - max_vertices % 8)
    key = (id(area), max_vertices, margin_m)
    cached = _FITTED.get(key)
    if cached is not None and cached[0] is area:  # the same object, not a reused id
        return cached[1]
    grown = Polygon(Polygon(area.exterior).buffer(margin_m, join_style="mitre").exterior)
    outline = _fit(grown, max_vertices)
    if len(_FITTED) > 256:
        _FITTED.clear()
    _FITTED[key] = (area, outline)
    return outline


def warm_inclusion_outlines(
    service_area: ServiceArea | BaseGeometry,
    limits: AutopilotLimits = COMMON,
    margin_m: float = 200.0,
    *,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Fit the service area's outline for every vertex budget a fence may give it, so that
    no flight pays for it; the one containment circles are cut by first. ``stop`` is
    asked between outlines (each takes a third of a second for London): once it says so,
    the rest are left to the flights that need them. Returns how many were fitted."""
    area = service_area if isinstance(service_area, BaseGeometry) else service_area.geometry
    # An outline never gets more vertices than the fence has items (ArduPilot takes 255
    # a polygon, but only 84 items in all).
    most = min(limits.max_polygon_vertices, limits.max_items)
    budgets = sorted(range(8, most + 1, 8), reverse=True)
    count = 0
    for polygon in polygons_of(area):
        for budget in [CLIP_OUTLINE_VERTICES, *budgets]:
            if stop():
                return count
            _inclusion_outline(polygon, budget, margin_m)
            count += 1
    return count


def _fit(polygon: Polygon, max_vertices: int) -> Polygon:
    """``polygon`` simplified outward to at most (and close to) ``max_vertices`` vertices."""

    def attempt(tolerance: float) -> Polygon | None:
        candidate = enclosing_simplification(polygon, tolerance)
        if not isinstance(candidate, Polygon):
            return None
        candidate = Polygon(candidate.exterior)
        return candidate if len(candidate.exterior.coords) - 1 <= max_vertices else None

    low, high = 0.0, 10.0
    best = attempt(high)
    while best is None:
        low, high = high, high * 2
        if high > 100_000:
            return polygon.convex_hull.minimum_rotated_rectangle
        best = attempt(high)
    for _ in range(8):  # the smallest tolerance that fits keeps the most detail
        middle = (low + high) / 2
        fitted = attempt(middle)
        if fitted is None:
            low = middle
        else:
            high, best = middle, fitted
    return best


def _polygon_items(
    proj: Projection, polygon: Polygon, command: int, group: int, source: str
) -> list[FenceItem]:
    coords = np.asarray(shapely.orient_polygons(polygon).exterior.coords)[:-1]  # no closing repeat
    lons, lats = proj.to_wgs84(coords[:, 0], coords[:, 1])
    n = len(coords)
    return [
        FenceItem(
            command, float(la), float(lo), vertex_count=n, inclusion_group=group, source=source
        )
        for la, lo in zip(lats, lons, strict=True)
    ]


def fence_params(limits: AutopilotLimits, ceiling_m: float) -> dict[str, float]:
    """Parameters the fence relies on (ArduPilot ``FENCE_*``, PX4 ``GF_*``; for ``any``,
    both: the fleet layer sets those its autopilot has)."""
    ardupilot = {
        "FENCE_ENABLE": 1.0,
        "FENCE_TYPE": 1.0 + 4.0,  # 1: maximum altitude, 4: the uploaded areas (not 2: home circle)
        "FENCE_ALT_MAX": ceiling_m,
        "FENCE_OPTIONS": 2.0,  # bit 1, INCLUSION_UNION: several inclusion areas are a union
    }
    px4 = {"GF_MAX_VER_DIST": ceiling_m}
    if limits.name == "px4":
        return px4
    return ardupilot if limits.name == "ardupilot" else {**ardupilot, **px4}


# --- validation -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Area:
    geometry: BaseGeometry
    first_item: int
    inclusion: bool
    group: int


def validate_fence(
    items: Sequence[FenceItem],
    *,
    home: GeoPoint,
    return_point: GeoPoint | None = None,
    rally_points: Sequence[GeoPoint] = (),
    limits: AutopilotLimits = COMMON,
    proj: Projection | None = None,
) -> None:
    """Refuse a fence an autopilot would mishandle; raises ``FenceError`` naming the item."""
    from skyshare.geo import projection

    proj = proj or projection()
    if len(items) > limits.max_items:
        raise FenceError(
            "items", f"{len(items)} items; {limits.name} accepts at most {limits.max_items}"
        )
    if limits.storage_bytes is not None and limits.storage_needed(items) > limits.storage_bytes:
        raise FenceError(
            "items",
            f"needs {limits.storage_needed(items)} bytes of fence storage; "
            f"{limits.name} has {limits.storage_bytes}",
        )
    areas = _areas(items, limits, proj)
    returns = [i for i, it in enumerate(items) if it.command == MAV_CMD_NAV_FENCE_RETURN_POINT]
    if len(returns) > 1:
        raise FenceError(f"items[{returns[1]}]", "more than one fence return point")
    inclusions = [a for a in areas if a.inclusion]
    groups = [a.group for a in inclusions]
    if len(set(groups)) != len(groups):
        raise FenceError(
            "items",
            "several inclusion areas share an inclusion group, so an "
            "autopilot would intersect them: give each its own group for a union",
        )
    union = shapely.union_all([a.geometry for a in inclusions]) if inclusions else None
    points: list[tuple[str, GeoPoint]] = [("home", home)]
    if return_point is not None:
        points.append(("return_point", return_point))
    elif returns:
        it = items[returns[0]]
        points.append((f"items[{returns[0]}] (return point)", GeoPoint(it.lat, it.lon)))
    points += [(f"rally_points[{i}]", p) for i, p in enumerate(rally_points)]
    for name, point in points:
        xy = Point(proj.point(point.lat, point.lon))
        if union is not None and not union.covers(xy):
            raise FenceError(name, "is outside every inclusion area")
        for area in areas:
            if not area.inclusion and area.geometry.intersects(xy):
                raise FenceError(
                    name,
                    f"is inside the exclusion area at items[{area.first_item}] "
                    f"({items[area.first_item].source or 'exclusion'})",
                )


def _areas(items: Sequence[FenceItem], limits: AutopilotLimits, proj: Projection) -> list[_Area]:
    areas: list[_Area] = []
    i = 0
    while i < len(items):
        item = items[i]
        field = f"items[{i}]"
        if item.command not in FENCE_COMMANDS:
            raise FenceError(field, f"command {item.command} is not a fence item")
        if not (
            math.isfinite(item.lat)
            and -90 <= item.lat <= 90
            and math.isfinite(item.lon)
            and -180 <= item.lon <= 180
        ):
            raise FenceError(field, f"position ({item.lat}, {item.lon}) is not a valid lat/lon")
        if item.command in CIRCLE_COMMANDS:
            if not (math.isfinite(item.radius_m) and item.radius_m > 0):
                raise FenceError(field, f"circle radius must be positive, got {item.radius_m}")
            x, y = proj.point(item.lat, item.lon)
            inclusion = item.command == MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
            # Err on the safe side: an inclusion drawn inside the circle, an exclusion around it.
            radius = item.radius_m if inclusion else item.radius_m / math.cos(math.pi / 64)
            areas.append(
                _Area(regular_polygon(x, y, radius, 64), i, inclusion, item.inclusion_group)
            )
            i += 1
            continue
        if item.command == MAV_CMD_NAV_FENCE_RETURN_POINT:
            i += 1
            continue
        n = item.vertex_count
        if n < 3:
            raise FenceError(field, f"a polygon needs at least 3 vertices, vertex_count is {n}")
        if n > limits.max_polygon_vertices:
            raise FenceError(
                field,
                f"{n} vertices; {limits.name} accepts at most "
                f"{limits.max_polygon_vertices} per polygon",
            )
        run = items[i : i + n]
        if len(run) < n or any(v.command != item.command or v.vertex_count != n for v in run):
            raise FenceError(
                field,
                f"polygon announces {n} vertices but the following items do not all belong to it",
            )
        if any(v.inclusion_group != item.inclusion_group for v in run):
            raise FenceError(field, "vertices of one polygon carry different inclusion groups")
        xs, ys = proj.to_metric([v.lon for v in run], [v.lat for v in run])
        xy = list(zip(xs.tolist(), ys.tolist(), strict=True))
        if xy[0] == xy[-1]:
            raise FenceError(
                field,
                "the last vertex repeats the first: MAVLink fence polygons are closed implicitly",
            )
        if len(set(xy)) < n:
            raise FenceError(field, "polygon repeats a vertex")
        polygon = Polygon(xy)
        if not polygon.is_valid or polygon.area <= 0:
            reason = shapely.is_valid_reason(polygon) if not polygon.is_valid else "no area"
            raise FenceError(field, f"invalid polygon: {reason}")
        areas.append(
            _Area(
                polygon,
                i,
                item.command == MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                item.inclusion_group,
            )
        )
        i += n
    return areas


def describe(plan: FencePlan) -> dict[str, Any]:
    """A JSON-friendly summary (counts by kind) for logs and the API."""
    kinds: dict[str, int] = {}
    for item in plan.items:
        kinds[str(item.command)] = kinds.get(str(item.command), 0) + 1
    return {
        "items": len(plan.items),
        "by_command": kinds,
        "excluded_zones": list(plan.excluded_zones),
        "params": plan.params,
        "limits": plan.limits.name,
    }
