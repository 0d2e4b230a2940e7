"""Coverage by legal routes, checked against figures worked out by hand and the router."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from skyshare.airspace import AirspaceMap, NoRoute, load_zones
from skyshare.airspace.service_area import parse_service_area
from skyshare.config import REPO_ROOT
from skyshare.dispatch.config import DispatchConfig
from skyshare.domain import GeoPoint, Incident, InputError, Priority
from skyshare.planning.coverage import assess_coverage
from skyshare.planning.fields import FieldSolver, Obstructions
from skyshare.planning.grid import build_grid
from skyshare.planning.response import ResponseModel
from skyshare.planning.study import Study
from tests.unit.test_planning_world import (
    MODEL,
    ORIGIN,
    PROJ,
    airspace,
    network,
    point,
    service_area,
    zone,
)

AT = datetime(2025, 3, 3, 12, tzinfo=UTC)

# A strip borough one cell high: 20 cells of 100 m, centres at x = 50, 150, ..., 1950.
# The site is at its west end, (0, 50). A zone covers x 400..600 and y -200..300, across
# the strip. Fire may not enter it; police may.
STRIP = {"Strip": (0.0, 0.0, 2000.0, 100.0)}
WALL = (400.0, -200.0, 600.0, 300.0)


def strip_study(incidents: tuple[Incident, ...] = ()) -> Study:
    return Study(
        service_area(STRIP),
        airspace([zone("WALL", WALL, free=["police"])]),
        at=AT,
        incidents=incidents,
    )


def within_for(reach_m: float) -> float:
    """The response time whose legal reach is ``reach_m`` for the test drone, by hand:
    15 s launch delay, 60 m climb at 6 m/s, cruise at 15 m/s, overwatch at 60 m."""
    return 15.0 + 60.0 / 6.0 + reach_m / 15.0


def test_response_time_is_launch_climb_and_cruise_as_the_dispatcher_counts_it() -> None:
    timing = ResponseModel(DispatchConfig()).of(MODEL)
    assert timing.seconds(1500.0) == pytest.approx(within_for(1500.0))
    assert timing.reach_m(within_for(1200.0)) == pytest.approx(1200.0)


def test_coverage_of_a_borough_behind_a_zone_matches_the_hand_count() -> None:
    # Reach 1200 m. Police fly straight through the zone: centres 50..1150, 12 of 20.
    # Fire must go round a corner of the zone: 471.70 m to (400, 300), 200 m along its
    # top, then sqrt((x - 600)^2 + 250^2) <= 528.30 m, so x <= 1065.4: the centres
    # 650..1050 (5 cells), plus 50..350 (4 cells) in plain sight: 9 of 20. The two
    # centres inside the zone (450, 550) are out of bounds for fire.
    study = strip_study()
    net = network([("dock", 0.0, 50.0, "police", 1)])
    report = assess_coverage(study, net, within_for(1200.0))
    (strip,) = report.boroughs
    assert strip.share_by_agency["police"] == pytest.approx(12 / 20)
    assert strip.share_by_agency["fire"] == pytest.approx(9 / 20)
    assert strip.area_km2 == pytest.approx(0.2)
    assert report.uncovered == []


def test_a_borough_out_of_reach_stands_out_as_uncovered() -> None:
    study = Study(
        service_area({"Near": (0, 0, 500, 500), "Far": (5000, 0, 5500, 500)}), None, at=AT
    )
    report = assess_coverage(study, network([("dock", 250.0, 250.0, "police", 1)]), 120.0)
    assert report.uncovered == ["Far"]
    assert {b.borough: b.best_share for b in report.boroughs}["Near"] == 1.0


def test_incident_cover_counts_each_call_for_its_own_agency() -> None:
    def call(k: int, x: float, agency: str) -> Incident:
        return Incident(
            f"c{k}", agency, Priority.P1, "burglary", point(x, 50.0), AT, borough="Strip"
        )

    # Fire: 300 (in sight), 500 (inside the zone: never), 1000 (round the zone: 1175 m),
    # 1500 (too far). Police: 1100 (straight, 1100 m) and 1300 (too far).
    calls = (
        call(1, 300, "fire"),
        call(2, 500, "fire"),
        call(3, 1000, "fire"),
        call(4, 1500, "fire"),
        call(5, 1100, "police"),
        call(6, 1300, "police"),
    )
    study = strip_study(calls)
    report = assess_coverage(study, network([("dock", 0.0, 50.0, "police", 1)]), within_for(1200.0))
    (strip,) = report.boroughs
    assert (strip.incidents, strip.incidents_covered) == (6, 3)


def test_a_site_inside_a_zone_it_may_not_leave_covers_nothing_and_says_why() -> None:
    study = strip_study()
    net = network([("inside", 500.0, 50.0, "police", 1)])
    report = assess_coverage(study, net, within_for(1200.0), agencies=["fire"])
    assert report.boroughs[0].share_by_agency["fire"] == 0.0
    assert "inside a zone" in report.site_notes["inside (fire)"]


def test_unknown_agency_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="agency"):
        assess_coverage(strip_study(), network([("d", 0, 50, "police", 1)]), 60.0, ["coast"])


def test_field_distances_are_the_routers_route_lengths_around_london_zones() -> None:
    """Legal distances from a dock near Heathrow's zone to cells around it agree with
    ``AirspaceMap.route`` (the router the dispatcher uses) to the millimetre."""
    zones_doc = json.loads((REPO_ROOT / "airspace" / "london.geojson").read_text())
    boroughs_doc = json.loads((REPO_ROOT / "airspace" / "london_boroughs.geojson").read_text())
    london = AirspaceMap(load_zones(zones_doc))
    area = parse_service_area(boroughs_doc)
    grid = build_grid(area, 250.0, boroughs=["Hounslow", "Hillingdon", "Ealing"])
    obstructions = Obstructions.for_agency(london, "fire", at=AT)
    solver = FieldSolver(obstructions, grid.x, grid.y, horizon_m=9000.0)
    dock = GeoPoint(51.4870, -0.3900)  # east of the Heathrow FRZ
    sx, sy = PROJ.point(dock.lat, dock.lon)
    field = solver.field_from(sx, sy).dense(len(grid))
    rng = np.random.default_rng(5)
    near = np.flatnonzero(np.hypot(grid.x - sx, grid.y - sy) < 8500)
    checked = bent = 0
    for cell in rng.choice(near, 120, replace=False):
        lat, lon = PROJ.latlon(grid.x[cell], grid.y[cell])
        try:
            route = london.route(dock, GeoPoint(lat, lon), "fire", at=AT)
        except NoRoute:
            assert not math.isfinite(field[cell])
            continue
        if route.length_m > 9000.0:
            continue
        checked += 1
        bent += len(route.waypoints) > 2
        assert field[cell] == pytest.approx(route.length_m, abs=0.01)
    assert checked >= 50 and bent >= 10  # many of them go round a zone


def test_open_sky_fields_are_straight_lines() -> None:
    study = Study(service_area(STRIP), None, at=AT)
    solver = study.solver("police", 3000.0)
    field = solver.field_from(ORIGIN[0], ORIGIN[1] + 50.0).dense(study.cells)
    assert np.allclose(field, study.grid.x - ORIGIN[0])


def test_a_recorded_permission_opens_the_zone_to_that_agency() -> None:
    # With a standing permission to enter WALL, fire flies straight like the police.
    net = replace(
        network([("dock", 0.0, 50.0, "police", 1)]), permissions=frozenset({("fire", "WALL")})
    )
    report = assess_coverage(strip_study(), net, within_for(1200.0))
    assert report.boroughs[0].share_by_agency["fire"] == pytest.approx(12 / 20)
