"""The dispatcher over the real London zones: routes around them, shortcuts that agree.

The London airspace engine routes; ``AirspaceRouter`` adapts it. The shortcuts of the fast
dispatcher (straight routes vouched for in bulk, lower bounds around zones, pruning) must
never change a choice: checked here against the router and the naive dispatcher.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
import yaml

from skyshare.airspace import CircleShape, NoRoute, temporary_zone
from skyshare.config import REPO_ROOT
from skyshare.dispatch import (
    Dispatcher,
    DroneState,
    FleetView,
    NaiveDispatcher,
    Reason,
    Why,
)
from skyshare.dispatch.airspace_router import AirspaceRouter
from skyshare.dispatch.detour import Disks, route_length_bounds
from skyshare.domain import DroneStatus, GeoPoint, Incident, Priority, parse_network

from .test_dispatch_world import (
    CONFIG,
    NOW,
    PROJ,
    QUAD,
    at,
    fleet_of,
    incident,
    london_airspace,
    network,
    site,
)

# A fire dock west of Hyde Park (EG R157) and a scene east of it, on one grid line.
WEST_OF_R157, EAST_OF_R157 = at(-8500, 8600), at(500, 8600)
INSIDE_R157 = at(-3900, 6200)
LONG_RANGE = replace(QUAD, name="long range", battery_wh=400.0)  # 9 km out and back


def across_r157(agency: str) -> tuple:
    net = network([site("west", agency, WEST_OF_R157)], [("D-1", "west", LONG_RANGE)])
    router = AirspaceRouter(london_airspace())
    dispatcher = Dispatcher(net, router, CONFIG)
    return net, router, dispatcher


def test_the_eta_follows_the_route_around_a_zone_not_the_straight_line() -> None:
    net, router, dispatcher = across_r157("fire")
    proposal = dispatcher.propose(incident("I-1", EAST_OF_R157, agency="fire"), fleet_of(net), NOW)
    route = london_airspace().route(WEST_OF_R157, EAST_OF_R157, "fire", at=NOW)
    chosen = proposal.chosen
    assert route.length_m > 9000 * 1.04  # a real detour around Hyde Park
    assert chosen.route_length_m == pytest.approx(route.length_m)
    cruise_alt = router.min_cruise_alt_m
    vertical = cruise_alt / 2 + (cruise_alt - 30) / 1
    assert chosen.eta_s == pytest.approx(10 + vertical + route.length_m / 10, rel=1e-9)
    assert chosen.zones_skirted == ("EG R157",)
    assert Why.SKIRTS_ZONES in chosen.why
    assert "by a route skirting R157" in proposal.explanation


def test_the_police_may_cross_hyde_park_and_fly_straight() -> None:
    net, _, dispatcher = across_r157("police")
    chosen = dispatcher.propose(incident("I-1", EAST_OF_R157), fleet_of(net), NOW).chosen
    assert chosen.route_length_m == pytest.approx(9000.0, abs=1e-3)
    assert chosen.zones_skirted == ()


def test_a_scene_inside_a_zone_closed_to_the_agency_is_unserved_with_the_zone_named() -> None:
    net, _, dispatcher = across_r157("fire")
    proposal = dispatcher.propose(incident("I-1", INSIDE_R157, agency="fire"), fleet_of(net), NOW)
    assert proposal.chosen is None
    assert proposal.rejected_counts == {Reason.NO_LEGAL_ROUTE: 1}
    assert "EG R157" in proposal.unserved_reason
    police_net, _, police = across_r157("police")
    assert police.propose(incident("I-2", INSIDE_R157), fleet_of(police_net), NOW).chosen


def test_a_new_restriction_is_never_served_a_stale_route() -> None:
    net = network([site("home", "police", at(0, 0))], [("D-1", "home", QUAD)])
    router = AirspaceRouter(london_airspace())
    dispatcher = Dispatcher(net, router, CONFIG)
    scene = incident("I-1", at(0, 3000))
    straight = dispatcher.propose(scene, fleet_of(net), NOW).chosen
    centre = at(0, 1500)
    zone = temporary_zone(
        "TRA-1",
        "police cordon",
        CircleShape(centre.lon, centre.lat, 300.0),
        start=NOW - timedelta(hours=1),
        end=NOW + timedelta(hours=2),
    )
    router.update(london_airspace().add_temporary(zone))
    around = dispatcher.propose(scene, fleet_of(net), NOW).chosen
    assert straight.zones_skirted == () and around.zones_skirted == ("TRA-1",)
    assert around.route_length_m > straight.route_length_m + 50
    assert around.eta_s > straight.eta_s


# --- the shortcuts agree with the router ---------------------------------------------------


def random_pairs(n: int, seed: int) -> list[tuple[GeoPoint, GeoPoint]]:
    rng = random.Random(seed)

    def point() -> GeoPoint:
        return at(rng.uniform(-20_000, 15_000), rng.uniform(-12_000, 18_000))

    out = []
    for _ in range(n):
        a = point()
        x, y = PROJ.point(a.lat, a.lon)
        lat, lon = PROJ.latlon(x + rng.uniform(-6000, 6000), y + rng.uniform(-6000, 6000))
        out.append((a, GeoPoint(lat, lon)))
    return out


@pytest.mark.parametrize("agency", ["fire", "police"])
def test_a_vouched_straight_route_is_exactly_what_the_router_returns(agency: str) -> None:
    airspace = london_airspace()
    router = AirspaceRouter(airspace)
    pairs = random_pairs(150, seed=7)
    xy0 = np.array([PROJ.point(a.lat, a.lon) for a, _ in pairs])
    xy1 = np.array([PROJ.point(b.lat, b.lon) for _, b in pairs])
    vouched = router.clear_segments(xy0[:, 0], xy0[:, 1], xy1[:, 0], xy1[:, 1], agency, NOW)
    assert 20 < vouched.sum() < len(pairs)  # both outcomes are exercised
    for (a, b), clear, p, q in zip(pairs, vouched, xy0, xy1, strict=True):
        if clear:
            route = airspace.route(a, b, agency, at=NOW)
            assert len(route.waypoints) == 2 and route.zones_skirted == ()
            assert route.length_m == pytest.approx(math.dist(p, q), abs=1e-6)


@pytest.mark.parametrize("agency", ["fire", "ambulance"])
def test_the_bound_around_zones_never_exceeds_the_routed_length(agency: str) -> None:
    airspace = london_airspace()
    disks = AirspaceRouter(airspace).obstacle_disks(agency, NOW)
    pairs = random_pairs(120, seed=13)
    xy0 = np.array([PROJ.point(a.lat, a.lon) for a, _ in pairs])
    xy1 = np.array([PROJ.point(b.lat, b.lon) for _, b in pairs])
    bounds = route_length_bounds(xy0[:, 0], xy0[:, 1], xy1[:, 0], xy1[:, 1], disks)
    straight = np.hypot(*(xy1 - xy0).T)
    tighter = 0
    for (a, b), bound, line in zip(pairs, bounds, straight, strict=True):
        try:
            length = airspace.route(a, b, agency, at=NOW).length_m
        except NoRoute:
            continue
        assert bound <= length + 1e-6
        tighter += bound > line + 1.0
    assert tighter >= 2
    # Across Hyde Park the bound sees part of the detour a fire drone has to fly.
    (x0, y0), (x1, y1) = (PROJ.point(p.lat, p.lon) for p in (WEST_OF_R157, EAST_OF_R157))
    bound = route_length_bounds(np.array([x0]), np.array([y0]), x1, y1, disks)[0]
    routed = airspace.route(WEST_OF_R157, EAST_OF_R157, "fire", at=NOW).length_m
    assert 9000 + 10 < bound <= routed


def test_the_taut_string_around_a_unit_disk() -> None:
    disks = Disks(np.array([0.0]), np.array([0.0]), np.array([1.0]))
    bound = route_length_bounds(np.array([-2.0, -2.0]), np.array([0.0, 1.5]), 2.0, 0.0, disks)
    assert bound[0] == pytest.approx(2 * math.sqrt(3) + math.pi / 3, rel=1e-5)
    # A segment that misses the disk is bounded by its own length.
    miss = route_length_bounds(np.array([-2.0]), np.array([2.0]), 2.0, 2.0, disks)
    assert miss[0] == pytest.approx(4.0)


# --- the fast dispatcher chooses exactly as the naive one ---------------------------------


def london_world(seed: int) -> tuple:
    net = parse_network(yaml.safe_load((REPO_ROOT / "launch_sites" / "london.yaml").read_text()))
    rng = random.Random(seed)
    states = []
    for drone in net.drones.values():
        home = net.sites[drone.home_site_id].position
        roll = rng.random()
        if roll < 0.6:
            states.append(
                DroneState(
                    drone.id, DroneStatus.DOCKED, rng.uniform(35, 100), home, drone.home_site_id
                )
            )
            continue
        away = GeoPoint(
            home.lat + rng.uniform(-0.02, 0.02), home.lon + rng.uniform(-0.03, 0.03), 60
        )
        if roll < 0.8:
            states.append(
                DroneState(
                    drone.id, DroneStatus.RETURNING, rng.uniform(30, 90), away, drone.home_site_id
                )
            )
        else:
            states.append(
                DroneState(
                    drone.id,
                    DroneStatus.ON_SCENE,
                    rng.uniform(40, 90),
                    away,
                    drone.home_site_id,
                    f"busy-{drone.id}",
                    Priority(rng.choice((2, 3, 4))),
                )
            )
    kinds = ["burglary", "building_fire", "cardiac_arrest", "missing_person", "hazmat"]
    agency = {
        "burglary": "police",
        "missing_person": "police",
        "building_fire": "fire",
        "hazmat": "fire",
        "cardiac_arrest": "ambulance",
    }
    incidents = []
    for k in range(40):
        kind = rng.choice(kinds)
        lat, lon = rng.uniform(51.38, 51.62), rng.uniform(-0.40, 0.15)
        incidents.append(
            Incident(
                f"I-{k}",
                agency[kind],
                Priority(rng.choice((1, 2, 3, 4))),
                kind,
                GeoPoint(lat, lon),
                NOW + timedelta(seconds=k),
            )
        )
    return net, FleetView(states), incidents


def test_the_fast_dispatcher_makes_the_naive_dispatchers_choices() -> None:
    net, fleet, incidents = london_world(seed=21)
    fast = Dispatcher(net, AirspaceRouter(london_airspace()), CONFIG)
    naive = NaiveDispatcher(net, AirspaceRouter(london_airspace()), CONFIG)
    served = 0
    graphs = london_airspace().router.graphs._items.values()

    def recalled() -> int:  # routes the airspace engine answered from its memory
        return sum(g.routes.hits for g in graphs)

    for inc in incidents:
        a = fast.propose(inc, fleet, NOW)
        before = recalled()
        b = naive.propose(inc, fleet, NOW)
        assert recalled() == before, "the naive dispatcher must solve every route afresh"
        assert [c.drone_id for c in a.ranked] == [c.drone_id for c in b.ranked], inc.id
        assert [c.eta_s for c in a.ranked] == pytest.approx([c.eta_s for c in b.ranked])
        assert (a.displaced is None) == (b.displaced is None)
        served += a.chosen is not None
    assert served >= 20
    # ... while routing a small fraction of what the naive one routes.
    assert fast.routes.calls * 20 < naive.routes.calls
    assert fast.decider.evaluations * 10 < naive.decider.evaluations


def test_over_london_the_batch_optimum_is_the_exact_optimum() -> None:
    from scipy.optimize import linear_sum_assignment

    net, fleet, incidents = london_world(seed=5)
    dispatcher = Dispatcher(net, AirspaceRouter(london_airspace()), CONFIG)
    problem = dispatcher.batch(incidents, fleet, NOW)
    optimal = problem.optimal()
    full = problem.full_costs()
    n = len(incidents)
    dummy = np.full((n, n), np.inf)
    np.fill_diagonal(dummy, [problem.unserved_cost(r) for r in range(n)])
    matrix = np.hstack([full, dummy])
    rows, cols = linear_sum_assignment(matrix)
    assert optimal.cost == pytest.approx(float(matrix[rows, cols].sum()), rel=1e-12)
    assert sum(d is not None for d in optimal.drone_of) >= 15
