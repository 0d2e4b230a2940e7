"""Vehicle fences: what goes in, within autopilot limits, and the checks before upload."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pytest
import shapely
from pymavlink.dialects.v20 import common as mavlink
from shapely.geometry import Point, Polygon

from skyshare.airspace import (
    AirspaceMap,
    CircleShape,
    Geozone,
    PolygonShape,
    ZoneKind,
    fences,
    load_zones,
)
from skyshare.airspace.fences import (
    ARDUPILOT,
    COMMON,
    PX4,
    PX4_CONSTRAINED,
    FenceError,
    FenceItem,
    build_fence,
    validate_fence,
)
from skyshare.airspace.service_area import parse_service_area
from skyshare.airspace.sortie import SortiePlan, plan_return, plan_sortie
from skyshare.config import REPO_ROOT
from skyshare.domain import TaskKind
from skyshare.domain.models import GeoPoint
from skyshare.geo import projection

NOON = datetime(2025, 3, 4, 12, tzinfo=UTC)
PROJ = projection()
HOME = GeoPoint(51.5045, -0.2190)  # Shepherd's Bush
INCL = fences.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
EXCL = fences.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
CIRCLE_EXCL = fences.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION


@cache
def london() -> AirspaceMap:
    doc = json.loads((REPO_ROOT / "airspace" / "london.geojson").read_text())
    return AirspaceMap(load_zones(doc, "london.geojson"))


@cache
def service_area():
    doc = json.loads((REPO_ROOT / "airspace" / "london_boroughs.geojson").read_text())
    return parse_service_area(doc)


def shapes_of(items, commands) -> list:
    """Metric shapes of the polygons and circles among ``items`` with these commands."""
    out, i = [], 0
    while i < len(items):
        item = items[i]
        if item.command in fences.CIRCLE_COMMANDS:
            if item.command in commands:
                # drawn around the true circle, so that containment is not lost to chords
                radius = item.radius_m / math.cos(math.pi / 64)
                out.append(Point(PROJ.point(item.lat, item.lon)).buffer(radius, quad_segs=16))
            i += 1
        elif item.command in fences.POLYGON_COMMANDS:
            run = items[i : i + item.vertex_count]
            if item.command in commands:
                out.append(Polygon([PROJ.point(v.lat, v.lon) for v in run]))
            i += item.vertex_count
        else:
            i += 1
    return out


def test_mav_cmd_ids_match_the_mavlink_definitions():
    assert fences.MAV_CMD_NAV_FENCE_RETURN_POINT == mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT
    assert INCL == mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
    assert EXCL == mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
    assert fences.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION == mavlink.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
    assert CIRCLE_EXCL == mavlink.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
    assert fences.MAV_CMD_NAV_RALLY_POINT == mavlink.MAV_CMD_NAV_RALLY_POINT


@pytest.mark.parametrize("limits", [COMMON, ARDUPILOT, PX4, PX4_CONSTRAINED])
def test_a_fire_fence_excludes_the_nearby_zones_within_the_autopilot_s_limits(limits):
    plan = build_fence(
        london(),
        service_area(),
        agency="fire",
        at=NOON,
        home=HOME,
        return_point=GeoPoint(51.5000, -0.2200),
        rally_points=[GeoPoint(51.5100, -0.2300)],
        limits=limits,
        containment_m=None,  # the whole service area: every zone within 10 km goes in
    )
    assert len(plan.items) <= limits.max_items
    if limits.storage_bytes:
        assert limits.storage_needed(plan.items) <= limits.storage_bytes
    assert {"EG R157", "EG R158", "EG RU143A"} <= set(plan.excluded_zones)
    # Every excluded zone lies inside its exclusion shapes: simplification only grows them.
    exclusion = shapely.union_all(shapes_of(plan.items, (EXCL, CIRCLE_EXCL)))
    for zone_id in plan.excluded_zones:
        zone = next(c for c in london().compiled if c.id == zone_id)
        assert exclusion.buffer(0.5).contains(zone.geometry), zone_id
    # The inclusion polygon holds the whole service area.
    (inclusion,) = shapes_of(plan.items, (INCL,))
    assert inclusion.buffer(0.5).contains(service_area().geometry)
    assert all(item.vertex_count <= limits.max_polygon_vertices for item in plan.items)
    assert [r.command for r in plan.rally_points] == [fences.MAV_CMD_NAV_RALLY_POINT]


def test_police_fences_leave_out_the_areas_police_may_enter():
    plan = build_fence(
        london(), service_area(), agency="police", at=NOON, home=HOME, containment_m=None
    )
    assert "EG RU143A" in plan.excluded_zones
    assert not {"EG R157", "EG R158"} & set(plan.excluded_zones)


def test_ardupilot_gets_the_union_option_and_the_ceiling():
    plan = build_fence(
        london(), service_area(), agency="fire", at=NOON, home=HOME, limits=ARDUPILOT
    )
    assert int(plan.params["FENCE_OPTIONS"]) & 2  # INCLUSION_UNION
    assert plan.params["FENCE_ALT_MAX"] == 120.0
    assert build_fence(
        london(), service_area(), agency="fire", at=NOON, home=HOME, limits=PX4
    ).params == {"GF_MAX_VER_DIST": 120.0}


def test_two_inclusion_areas_get_their_own_groups_and_mean_their_union():
    a = shapely.box(520_000, 170_000, 530_000, 180_000)
    b = shapely.box(540_000, 170_000, 550_000, 180_000)
    home_in_b = GeoPoint(*PROJ.latlon(545_000, 175_000))
    plan = build_fence(
        AirspaceMap([]),
        shapely.MultiPolygon([a, b]),
        agency="fire",
        at=NOON,
        home=home_in_b,
        reach_m=50_000,
        containment_m=None,
    )
    groups = {item.inclusion_group for item in plan.items if item.command == INCL}
    assert groups == {1, 2}


def test_a_round_zone_that_would_swallow_home_goes_in_as_a_polygon():
    # A long thin zone: its bounding circle covers home, the zone itself does not.
    lats, lons = [], []
    for x, y in [(530_000, 180_000), (534_000, 180_000), (534_000, 180_300), (530_000, 180_300)]:
        lat, lon = PROJ.latlon(x, y)
        lats.append(lat)
        lons.append(lon)
    ring = (*zip(lons, lats, strict=True), (lons[0], lats[0]))
    zone = Geozone("THIN", "Thin", ZoneKind.RESTRICTED, PolygonShape(((ring,),)))
    home = GeoPoint(*PROJ.latlon(532_000, 181_000))  # 700 m north of the zone's middle
    area = shapely.box(520_000, 170_000, 545_000, 190_000)
    plan = build_fence(
        AirspaceMap([zone]),
        area,
        agency="fire",
        at=NOON,
        home=home,
        limits=PX4_CONSTRAINED,
        containment_m=None,
    )
    assert plan.excluded_zones == ("THIN",)
    assert any(item.command == EXCL for item in plan.items)


def test_a_circle_zone_becomes_one_exclusion_circle():
    lat, lon = PROJ.latlon(530_000, 180_000)
    zone = Geozone("CIR", "Circle", ZoneKind.TEMPORARY, CircleShape(lon, lat, 400.0))
    plan = build_fence(
        AirspaceMap([zone]),
        shapely.box(520_000, 170_000, 545_000, 190_000),
        agency="fire",
        at=NOON,
        home=GeoPoint(*PROJ.latlon(525_000, 175_000)),
        containment_m=None,
    )
    circles = [i for i in plan.items if i.command == CIRCLE_EXCL]
    assert len(circles) == 1 and circles[0].radius_m == pytest.approx(400.0)


# --- validation ----------------------------------------------------------------------


def square_items(command, x, y, half, *, group=0, source="") -> list[FenceItem]:
    corners = [
        (x - half, y - half),
        (x + half, y - half),
        (x + half, y + half),
        (x - half, y + half),
    ]
    return [
        FenceItem(
            command, *PROJ.latlon(cx, cy), vertex_count=4, inclusion_group=group, source=source
        )
        for cx, cy in corners
    ]


INSIDE = square_items(INCL, 530_000, 180_000, 5_000, group=1)
KEEP_OUT = square_items(EXCL, 532_000, 180_000, 500, source="ZONE")
HOME_OK = GeoPoint(*PROJ.latlon(528_000, 180_000))


def test_a_good_fence_passes():
    validate_fence([*INSIDE, *KEEP_OUT], home=HOME_OK)


@pytest.mark.parametrize(
    ("items", "kwargs", "field", "words"),
    [
        (
            [*INSIDE, *KEEP_OUT],
            {"home": GeoPoint(*PROJ.latlon(540_000, 180_000))},
            "home",
            "outside every inclusion area",
        ),
        (
            [*INSIDE, *KEEP_OUT],
            {"home": GeoPoint(*PROJ.latlon(532_000, 180_000))},
            "home",
            "inside the exclusion area at items[4] (ZONE)",
        ),
        (
            [*INSIDE, *KEEP_OUT],
            {"return_point": GeoPoint(*PROJ.latlon(532_100, 180_000))},
            "return_point",
            "inside the exclusion",
        ),
        (
            [*INSIDE, *KEEP_OUT],
            {"rally_points": [HOME_OK, GeoPoint(*PROJ.latlon(531_800, 179_900))]},
            "rally_points[1]",
            "inside the exclusion",
        ),
        (
            [*INSIDE, replace(KEEP_OUT[0], vertex_count=5), *KEEP_OUT[1:]],
            {},
            "items[4]",
            "do not all belong to it",
        ),
        (
            [replace(v, vertex_count=5) for v in INSIDE] + [replace(INSIDE[0], vertex_count=5)],
            {},
            "items[0]",
            "closed implicitly",
        ),
        ([INSIDE[0], INSIDE[2], INSIDE[1], INSIDE[3]], {}, "items[0]", "Self-intersection"),
        ([replace(v, vertex_count=2) for v in INSIDE[:2]], {}, "items[0]", "at least 3 vertices"),
        (
            [*INSIDE, *square_items(INCL, 531_000, 180_000, 5_000, group=1)],
            {},
            "items",
            "share an inclusion group",
        ),
        (
            [*INSIDE, FenceItem(CIRCLE_EXCL, *PROJ.latlon(531_000, 181_000), radius_m=0)],
            {},
            "items[4]",
            "radius must be positive",
        ),
        (
            [
                *INSIDE,
                FenceItem(fences.MAV_CMD_NAV_FENCE_RETURN_POINT, 51.5, -0.1),
                FenceItem(fences.MAV_CMD_NAV_FENCE_RETURN_POINT, 51.5, -0.1),
            ],
            {},
            "items[5]",
            "more than one fence return point",
        ),
        ([*INSIDE, FenceItem(16, 51.5, -0.1)], {}, "items[4]", "not a fence item"),
        (INSIDE * 20, {}, "items", "accepts at most 64"),
    ],
)
def test_a_bad_fence_is_refused_before_upload(items, kwargs, field, words):
    kwargs.setdefault("home", HOME_OK)
    with pytest.raises(FenceError) as caught:
        validate_fence(items, **kwargs)
    assert caught.value.field == field
    assert words in caught.value.reason


def test_several_inclusion_areas_are_a_union_when_validating():
    other = square_items(INCL, 560_000, 180_000, 2_000, group=2)
    home_in_other = GeoPoint(*PROJ.latlon(560_500, 180_000))
    validate_fence([*INSIDE, *other], home=home_in_other)


def test_ardupilot_storage_is_counted_in_bytes():
    items = square_items(INCL, 530_000, 180_000, 5_000, group=1)
    circle = FenceItem(CIRCLE_EXCL, 51.5, -0.1, radius_m=10)
    assert ARDUPILOT.storage_needed(items) == 4 + 2 + 4 * 8 + 1
    assert ARDUPILOT.storage_needed([*items, circle]) == 4 + 2 + 32 + 13 + 1
    many = [replace(circle, lat=51.5 + i * 1e-3) for i in range(60)]
    with pytest.raises(FenceError, match="bytes of fence storage"):
        validate_fence(many, home=HOME_OK, limits=ARDUPILOT)
    assert np.isclose(items[0].param1, 4) and items[0].param2 == 1
    assert circle.param1 == 10 and circle.lat_e7 == 515_000_000


def test_a_fence_leaves_every_path_to_be_flown_clear_and_says_where_a_line_breaches_it():
    # Shepherd's Bush to Bloomsbury for fire: around Hyde Park (EG R157), which it may not
    # enter. Given as a path (e.g. the way home), not the route, it is still kept clear.
    goal = GeoPoint(51.5200, -0.1300)
    around = london().route(HOME, goal, "fire", at=NOON)
    assert "EG R157" in around.zones_skirted
    plan = build_fence(
        london(), service_area(), agency="fire", at=NOON, home=HOME, paths=[around.waypoints]
    )
    assert fences.breaches_along(plan.items, around.waypoints, proj=PROJ) == []
    straight = fences.breaches_along(plan.items, [HOME, goal], proj=PROJ)
    assert any("EG R157" in reason for reason in straight)
    far_away = GeoPoint(51.9, -0.1)  # beyond the service area
    assert "leaves the inclusion area" in fences.breaches_along(
        plan.items, [HOME, far_away], proj=PROJ
    )


def london_sortie(agency: str, dock: GeoPoint, scene: GeoPoint, task: TaskKind) -> SortiePlan:
    """A sortie from ``dock`` and back, with no recorded permissions, for ArduPilot."""
    return plan_sortie(
        london(),
        service_area(),
        agency=agency,
        at=NOON,
        permissions=frozenset(),
        start=dock,
        scene=scene,
        dock=dock,
        task=task,
        limits=ARDUPILOT,
    )


def fence_in_the_whole_area(plan: SortiePlan, agency: str, home: GeoPoint) -> fences.FencePlan:
    """The fence ``plan`` would carry with the whole service area as its inclusion."""
    return build_fence(
        london(),
        service_area(),
        agency=agency,
        at=NOON,
        home=home,
        route=plan.route,
        paths=[plan.on_scene, *(r.waypoints for r in plan.home)],
        limits=ARDUPILOT,
        containment_m=None,
    )


def test_where_zones_crowd_a_flight_the_fence_narrows_its_corridor_to_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hammersmith to Wimbledon for police skirts the heliport and its neighbours. Fenced
    in the whole service area, their exact outlines within 200 m of every path would need
    more than ArduPilot holds. Kept exact only within 50 m, they fit, and no path to be
    flown touches them. The sortie's own containment circle holds only the heliport, so it
    keeps the full corridor."""
    dock = GeoPoint(51.496087, -0.224294)  # lfb-hammersmith
    plan = london_sortie("police", dock, GeoPoint(51.438, -0.2032), TaskKind.OVERWATCH)
    assert plan.fence.excluded_zones == ("EG RU143A",) and plan.fence.notes == ()
    paths = (plan.route.waypoints, plan.on_scene, *(r.waypoints for r in plan.home))

    def whole_area_fence() -> fences.FencePlan:
        return fence_in_the_whole_area(plan, "police", dock)

    fence = whole_area_fence()
    assert any("exact only within 50 m" in note for note in fence.notes)
    assert ARDUPILOT.storage_needed(fence.items) <= ARDUPILOT.storage_bytes
    for path in paths:
        assert fences.breaches_along(fence.items, path, proj=PROJ, limits=ARDUPILOT) == []
    monkeypatch.setattr(fences, "FALLBACK_CORRIDORS_M", ())
    with pytest.raises(FenceError):  # the full corridor alone does not fit
        whole_area_fence()


CIRCLE_INCL = fences.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION


def inclusion_disc(plan: fences.FencePlan) -> shapely.Geometry:
    """The one inclusion circle of ``plan``, in projected metres."""
    (circle,) = [i for i in plan.items if i.command in fences.INCLUSION_COMMANDS]
    assert circle.command == CIRCLE_INCL
    return Point(PROJ.point(circle.lat, circle.lon)).buffer(circle.radius_m, quad_segs=64)


def test_a_sortie_is_fenced_in_a_circle_around_all_it_flies_and_the_zones_in_it():
    # Shepherd's Bush to Bloomsbury for fire, around Hyde Park (EG R157).
    plan = london_sortie("fire", HOME, GeoPoint(51.5200, -0.1300), TaskKind.SEARCH)
    disc = inclusion_disc(plan.fence)
    flown = [plan.route.waypoints, plan.on_scene, *(r.waypoints for r in plan.home)]
    margin = fences.CONTAINMENT_MARGIN_M - 5.0  # chords, and the plane's scale off true
    for path in flown:
        line = shapely.LineString([PROJ.point(p.lat, p.lon) for p in path])
        assert disc.contains(line.buffer(margin)), "a flown line is near the circle's edge"
    # Every zone fire may not enter that reaches into the circle is fenced out, no other.
    forbidden = london().forbidden("fire", at=NOON, until=NOON, permissions=frozenset())
    inside = {z.id for z in forbidden if z.geometry.intersects(disc)}
    assert "EG R157" in inside and set(plan.fence.excluded_zones) == inside
    # A flyaway is caught a few hundred metres beyond the flight, not at the city's edge.
    scene = plan.route.waypoints[-1]
    astray = GeoPoint(*PROJ.latlon(*np.add(PROJ.point(scene.lat, scene.lon), (0.0, 3_000.0))))
    assert "leaves the inclusion area" in fences.breaches_along(
        plan.fence.items, [scene, astray], proj=PROJ
    )
    # Fewer items to upload than the service area with every zone within 10 km of it.
    whole = fence_in_the_whole_area(plan, "fire", HOME)
    assert len(plan.fence.items) < len(whole.items)
    assert set(plan.fence.excluded_zones) < set(whole.excluded_zones)


def test_where_the_circle_would_leave_the_service_area_it_is_cut_by_the_area_s_outline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    area = shapely.box(520_000, 170_000, 545_000, 190_000)

    def fence_at(x: float, y: float) -> fences.FencePlan:
        home = GeoPoint(*PROJ.latlon(x, y))
        return build_fence(AirspaceMap([]), area, agency="fire", at=NOON, home=home)

    middle = fence_at(530_000, 180_000)
    assert [i.command for i in middle.items] == [CIRCLE_INCL]
    assert middle.items[0].radius_m == fences.CONTAINMENT_MARGIN_M  # home alone, and margin
    # 100 m from the area's west edge: the circle is cut by the area's outline (the area
    # grown by 200 m), still holding all of the circle that lies in the area.
    edge = fence_at(520_100, 180_000)
    (cut,) = shapes_of(edge.items, (INCL,))
    circle = Point(520_100, 180_000).buffer(fences.CONTAINMENT_MARGIN_M, quad_segs=64)
    assert cut.buffer(0.5).contains(circle.intersection(area))
    assert cut.bounds[0] >= 520_000 - 200.0 - 1.0 and len(edge.items) < 20
    # Were the cut shape too detailed, the whole area's outline would be the inclusion.
    monkeypatch.setattr(fences, "MAX_CLIPPED_VERTICES", 3)
    (outline,) = shapes_of(fence_at(520_100, 180_000).items, (INCL,))
    assert outline.buffer(0.5).contains(area)


def test_a_fence_for_the_way_home_also_holds_where_the_autopilot_would_return():
    # Re-fenced on its way to another dock, the aircraft may still lose its link, and its
    # failsafe then flies to its own home (Shepherd's Bush): the new circle holds it too.
    for aircraft_home in (None, HOME):
        back = plan_return(
            london(),
            service_area(),
            agency="fire",
            at=NOON,
            permissions=frozenset(),
            here=GeoPoint(51.5200, -0.1300),
            dock=GeoPoint(51.5230, -0.1250),
            on_board=None,
            limits=ARDUPILOT,
            aircraft_home=aircraft_home,
        )
        assert back.fence is not None
        outside = fences.breaches_along(back.fence.items, [HOME], proj=PROJ)
        assert outside == ([] if aircraft_home else ["leaves the inclusion area"])


def test_warming_the_outlines_stops_between_outlines_once_asked() -> None:
    """Start-up fits the service area's outlines in a thread, which cannot be cancelled: it
    asks between outlines whether the service is stopping (each takes about 0.3 s)."""
    area = Polygon([(0, 0), (9_000, 0), (9_000, 9_000), (0, 9_000)])
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 1  # the service stops once the first outline is fitted

    assert fences.warm_inclusion_outlines(area, ARDUPILOT, stop=stop) == 1
    assert len(asked) == 2
    # The clip's, then every budget up to the 84 items ArduPilot holds: 80, 72, ..., 8.
    assert fences.warm_inclusion_outlines(area, ARDUPILOT) == 11
