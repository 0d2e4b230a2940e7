"""Routing: legal, shortest, explained when impossible, cached, and aware of versions."""

from __future__ import annotations

import itertools
import json
import math
import re
from datetime import UTC, datetime, timedelta
from functools import cache

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from skyshare.airspace import (
    AirspaceMap,
    CircleShape,
    Geozone,
    Limit,
    NoRoute,
    PolygonShape,
    TimeWindow,
    VerticalRef,
    ZoneKind,
    load_zones,
)
from skyshare.airspace.obstacles import ObstacleSet
from skyshare.config import REPO_ROOT
from skyshare.domain.models import GeoPoint
from skyshare.geo import projection

NOON = datetime(2025, 3, 4, 12, tzinfo=UTC)
PROJ = projection()
SHEPHERDS_BUSH = GeoPoint(51.5045, -0.2190)
PECKHAM = GeoPoint(51.4740, -0.0690)
HEATHROW = GeoPoint(51.4700, -0.4543)
HYDE_PARK = GeoPoint(51.5073, -0.1657)


@cache
def london() -> AirspaceMap:
    doc = json.loads((REPO_ROOT / "airspace" / "london.geojson").read_text())
    return AirspaceMap(load_zones(doc, "london.geojson"))


def metric_line(route) -> LineString:
    xs, ys = PROJ.to_metric([w.lon for w in route.waypoints], [w.lat for w in route.waypoints])
    return LineString(np.column_stack([xs, ys]))


def ring_around(x: float, y: float, half: float) -> tuple[tuple[float, float], ...]:
    xs = np.array([x - half, x + half, x + half, x - half])
    ys = np.array([y - half, y - half, y + half, y + half])
    lons, lats = PROJ.to_wgs84(xs, ys)
    ring = list(zip(lons.tolist(), lats.tolist(), strict=True))
    return (*ring, ring[0])


def square(zone_id: str, x: float, y: float, half: float, **fields) -> Geozone:
    fields.setdefault("kind", ZoneKind.RESTRICTED)
    return Geozone(zone_id, zone_id, shape=PolygonShape(((ring_around(x, y, half),),)), **fields)


def at_xy(x: float, y: float) -> GeoPoint:
    return GeoPoint(*PROJ.latlon(x, y))


def assert_legal(airspace: AirspaceMap, route, agency: str) -> None:
    line = metric_line(route)
    for zone in airspace.forbidden(agency, at=NOON, heights=(50.0, 70.0)):
        assert not line.intersects(zone.geometry), f"route crosses {zone.id}"


# --- London --------------------------------------------------------------------------


def test_fire_goes_around_the_central_restricted_areas_police_may_cross_them():
    airspace = london()
    fire = airspace.route(SHEPHERDS_BUSH, PECKHAM, "fire", at=NOON)
    police = airspace.route(SHEPHERDS_BUSH, PECKHAM, "police", at=NOON)
    assert_legal(airspace, fire, "fire")
    assert_legal(airspace, police, "police")
    straight = airspace.route_length_lower_bound(SHEPHERDS_BUSH, PECKHAM)
    assert straight <= police.length_m < fire.length_m
    assert "EG R157" in fire.zones_skirted
    assert "EG R157" not in police.zones_skirted
    assert fire.waypoints[0] == GeoPoint(SHEPHERDS_BUSH.lat, SHEPHERDS_BUSH.lon, 60.0)
    assert fire.waypoints[-1] == GeoPoint(PECKHAM.lat, PECKHAM.lon, 60.0)
    assert fire.cruise_alt_m == 60.0
    length = metric_line(fire).length
    assert fire.length_m == pytest.approx(length, abs=0.01)  # waypoints are rounded to degrees


def test_a_recorded_permission_opens_the_restricted_area():
    airspace = london()
    fire = airspace.route(SHEPHERDS_BUSH, PECKHAM, "fire", at=NOON)
    grants = [("fire", "EG R157"), ("fire", "EG R158")]
    allowed = airspace.route(SHEPHERDS_BUSH, PECKHAM, "fire", at=NOON, permissions=grants)
    assert allowed.length_m < fire.length_m
    assert "EG R157" not in allowed.zones_skirted


def test_no_route_out_of_an_airport_frz_and_the_reason_names_it():
    with pytest.raises(NoRoute) as caught:
        london().route(HEATHROW, PECKHAM, "police", at=NOON)
    assert caught.value.field == "from"
    assert "EG RU128A" in caught.value.reason and "LONDON HEATHROW" in caught.value.reason
    assert isinstance(caught.value, ValueError)  # an InputError: the API answers 422


def test_no_route_into_hyde_park_for_fire_but_for_police():
    with pytest.raises(NoRoute) as caught:
        london().route(SHEPHERDS_BUSH, HYDE_PARK, "fire", at=NOON)
    assert caught.value.field == "to"
    assert "EG R157" in caught.value.reason
    assert london().route(SHEPHERDS_BUSH, HYDE_PARK, "police", at=NOON).length_m > 0


def test_routes_from_one_site_reuse_the_graph_and_the_site_s_visibility():
    airspace = AirspaceMap(london().zones)  # a fresh cache
    goals = [GeoPoint(51.45 + 0.01 * i, -0.05 - 0.01 * i) for i in range(5)]
    for goal in goals:
        airspace.route(SHEPHERDS_BUSH, goal, "fire", at=NOON)
    assert airspace.router.graphs.misses == 1 and len(airspace.router.graphs) == 1  # built once
    (entry,) = airspace.router.graphs._items.values()
    assert entry.endpoints.misses == 1 + len(goals)  # the site once, each goal once
    assert entry.endpoints.hits == len(goals) - 1
    # Ambulance has the same forbidden zones as fire: the same graph serves it.
    airspace.route(SHEPHERDS_BUSH, goals[0], "ambulance", at=NOON)
    assert airspace.router.graphs.misses == 1


def test_an_uncached_route_equals_the_cached_one():
    airspace = london()
    cached = airspace.route(SHEPHERDS_BUSH, PECKHAM, "fire", at=NOON)
    fresh = airspace.route_uncached(SHEPHERDS_BUSH, PECKHAM, "fire", at=NOON)
    assert fresh == cached


def test_routes_do_not_depend_on_which_ends_were_prepared_beforehand():
    # A fresh end's view of the corners is tested only as far as the route needs; a
    # prepared end (a launch site at start-up) has seen everything. Same routes either way.
    ends = [SHEPHERDS_BUSH, PECKHAM, HYDE_PARK, GeoPoint(51.53, -0.10), GeoPoint(51.49, -0.14)]
    lazy, prepared = AirspaceMap(london().zones), AirspaceMap(london().zones)
    prepared.router.prepare(prepared, ends, "fire", at=NOON)
    for start, goal in itertools.permutations(ends, 2):
        try:
            expected = prepared.route(start, goal, "fire", at=NOON)
        except NoRoute as refused:
            with pytest.raises(NoRoute, match=re.escape(refused.reason)):
                lazy.route(start, goal, "fire", at=NOON)
            continue
        assert lazy.route(start, goal, "fire", at=NOON) == expected


# --- versions and temporary restrictions ---------------------------------------------


def test_a_temporary_restriction_reroutes_and_lifting_it_restores_the_route():
    start, goal = at_xy(520_000, 170_000), at_xy(524_000, 170_000)
    base = AirspaceMap([square("FAR", 540_000, 190_000, 500)])
    before = base.route(start, goal, "police", at=NOON)
    assert before.length_m == pytest.approx(4000, abs=1e-3)
    blocker = square(
        "TMP",
        522_000,
        170_000,
        300,
        kind=ZoneKind.TEMPORARY,
        windows=(TimeWindow(NOON, NOON + timedelta(hours=2)),),
    )
    blocked = base.add_temporary(blocker)
    assert blocked.version == base.version + 1
    detour = blocked.route(start, goal, "police", at=NOON)
    assert detour.length_m > before.length_m
    assert detour.zones_skirted == ("TMP",)
    assert_legal(blocked, detour, "police")
    lifted = blocked.remove("TMP")
    assert lifted.version == blocked.version + 1
    assert lifted.route(start, goal, "police", at=NOON).length_m == pytest.approx(4000)
    assert base.route(start, goal, "police", at=NOON) == before  # the old map is unchanged


def test_a_restriction_that_starts_during_the_flight_counts_one_far_ahead_does_not():
    start, goal = at_xy(520_000, 170_000), at_xy(524_000, 170_000)
    soon = square(
        "SOON",
        522_000,
        170_000,
        300,
        kind=ZoneKind.TEMPORARY,
        windows=(TimeWindow(NOON + timedelta(minutes=10), NOON + timedelta(hours=1)),),
    )
    later = square(
        "LATER",
        522_000,
        170_000,
        300,
        kind=ZoneKind.TEMPORARY,
        windows=(TimeWindow(NOON + timedelta(hours=3), NOON + timedelta(hours=4)),),
    )
    assert AirspaceMap([soon]).route(start, goal, "fire", at=NOON).length_m > 4000
    assert AirspaceMap([later]).route(start, goal, "fire", at=NOON).length_m == pytest.approx(4000)


def test_a_zone_below_the_cruise_height_is_overflown_but_not_taken_off_from():
    low = square("LOW", 522_000, 170_000, 300, upper=Limit(30.0, VerticalRef.AGL))
    airspace = AirspaceMap([low])
    route = airspace.route(at_xy(520_000, 170_000), at_xy(524_000, 170_000), "fire", at=NOON)
    assert route.length_m == pytest.approx(4000)
    with pytest.raises(NoRoute, match="start is inside forbidden zone LOW"):
        airspace.route(at_xy(522_000, 170_000), at_xy(524_000, 170_000), "fire", at=NOON)


def test_an_enclosed_goal_is_unreachable():
    outer = ring_around(530_000, 180_000, 2000)
    inner = tuple(reversed(ring_around(530_000, 180_000, 1000)))
    moat = Geozone("MOAT", "Moat", ZoneKind.PROHIBITED, PolygonShape(((outer, inner),)))
    airspace = AirspaceMap([moat])
    with pytest.raises(NoRoute) as caught:
        airspace.route(at_xy(520_000, 180_000), at_xy(530_000, 180_000), "police", at=NOON)
    assert caught.value.field == "to"
    assert "unreachable" in caught.value.reason and "MOAT" in caught.value.reason
    # Inside the moat, a short hop is still possible.
    hop = airspace.route(at_xy(529_800, 180_000), at_xy(530_200, 180_000), "police", at=NOON)
    assert hop.length_m == pytest.approx(400)


def test_a_start_within_the_buffer_steps_out_without_entering_the_zone():
    zone = square("SQ", 530_000, 180_000, 500)
    airspace = AirspaceMap([zone], buffer_m=100.0)
    start = at_xy(529_470, 180_000)  # 30 m west of the zone, inside its 100 m buffer
    goal = at_xy(531_000, 180_000)
    route = airspace.route(start, goal, "fire", at=NOON)
    assert_legal(airspace, route, "fire")
    assert route.length_m > 1530


def test_cruise_heights_outside_the_configured_band_are_refused():
    with pytest.raises(ValueError, match="cruise_alt_m"):
        london().route(SHEPHERDS_BUSH, PECKHAM, "fire", at=NOON, cruise_alt_m=150.0)


# --- properties: legal and no longer than the exact visibility-graph path --------------


def exact_shortest_length(
    obstacles: ObstacleSet, p: tuple[float, float], g: tuple[float, float]
) -> float:
    """The textbook answer: a full visibility graph over every obstacle vertex, Dijkstra."""
    vertices = [p, g]
    for polygon in obstacles.polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            vertices += [tuple(c) for c in ring.coords[:-1]]
    pairs = list(itertools.combinations(range(len(vertices)), 2))
    lines = shapely.linestrings([[vertices[i], vertices[j]] for i, j in pairs])
    blocked = obstacles.blocked(np.array(lines))
    graph = nx.Graph()
    for (i, j), is_blocked in zip(pairs, blocked, strict=True):
        if not is_blocked:
            graph.add_edge(i, j, weight=math.dist(vertices[i], vertices[j]))
    try:
        return nx.dijkstra_path_length(graph, 0, 1)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return math.inf


@st.composite
def airspaces(draw):
    zones = []
    for i in range(draw(st.integers(1, 5))):
        x = draw(st.floats(525_000, 535_000))
        y = draw(st.floats(175_000, 185_000))
        if draw(st.booleans()):
            lat, lon = PROJ.latlon(x, y)
            zones.append(
                Geozone(
                    f"C{i}",
                    f"C{i}",
                    ZoneKind.FRZ,
                    CircleShape(lon, lat, draw(st.floats(200, 1500))),
                )
            )
        else:
            zones.append(square(f"S{i}", x, y, draw(st.floats(200, 1500))))
    return AirspaceMap(zones, buffer_m=draw(st.sampled_from([0.0, 50.0])), simplify_m=20.0)


points = st.tuples(st.floats(522_000, 538_000), st.floats(172_000, 188_000))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(airspaces(), points, points)
def test_routes_are_legal_and_as_short_as_the_exact_visibility_path(airspace, a, b):
    in_the_way = airspace.forbidden("fire", at=NOON, heights=(50.0, 70.0))
    obstacles = ObstacleSet(
        sorted(in_the_way, key=lambda z: z.id), airspace.buffer_m, airspace.simplify_m
    )
    assume(obstacles.containing(*a) is None and obstacles.containing(*b) is None)
    start, goal = at_xy(*a), at_xy(*b)
    p, g = PROJ.point(start.lat, start.lon), PROJ.point(goal.lat, goal.lon)
    exact = exact_shortest_length(obstacles, p, g)
    try:
        route = airspace.route(start, goal, "fire", at=NOON)
    except NoRoute as refused:
        assert math.isinf(exact), refused
        return
    assert_legal(airspace, route, "fire")
    assert route.length_m <= exact + 1e-6
    assert route.length_m >= exact - 1e-6  # and it is the shortest, not just short
    assert route.length_m >= airspace.route_length_lower_bound(start, goal) - 1e-6
