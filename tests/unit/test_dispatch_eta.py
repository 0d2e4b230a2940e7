"""Flight time and energy: hand-checked figures for a drone flying 1 km north in open sky.

The quad climbs at 2 m/s, descends at 1 m/s, cruises at 10 m/s; hover 200 W, cruise 180 W,
100 Wh battery; climbing draws 1.2 x hover, descending 0.8 x hover. The router flies at
50 m; overwatch works at 30 m; launch takes 10 s.
"""

from __future__ import annotations

import math

import pytest
from pyproj import Geod

from skyshare.dispatch import Dispatcher, Reason, StraightLineRouter, Wind
from skyshare.domain import DroneStatus, InputError

from .test_dispatch_world import (
    CONFIG,
    NOW,
    QUAD,
    at,
    docked,
    fleet_of,
    incident,
    network,
    site,
)

ROUTER = StraightLineRouter(cruise_alt_m=50.0)
NET = network([site("home", "police", at(0, 0))], [("q1", "home", QUAD)])

# Out: climb 50 m (25 s), cruise 1000 m (100 s), descend to 30 m (20 s), after a 10 s launch.
ETA_S = 10 + 25 + 100 + 20
OUT_WH = (25 * 240 + 100 * 180 + 20 * 160) / 3600  # 7.5556 Wh of 100 Wh
# Back: climb 30 -> 50 m (10 s), cruise 1000 m (100 s), descend 50 m (50 s).
BACK_WH = (10 * 240 + 100 * 180 + 50 * 160) / 3600  # 7.8889 Wh
SCENE_PCT_PER_S = 200 / 3600  # hovering on a 100 Wh battery


def propose(kind: str = "watch", wind: Wind = Wind(), battery: float = 100.0):
    dispatcher = Dispatcher(NET, ROUTER, CONFIG)
    fleet = fleet_of(NET, docked("q1", NET, battery))
    return dispatcher.propose(incident("I-1", at(0, 1000), kind), fleet, NOW, wind=wind)


def test_eta_is_launch_climb_cruise_and_descent() -> None:
    chosen = propose().chosen
    assert chosen is not None
    assert chosen.eta_s == pytest.approx(ETA_S, abs=1e-6)
    assert chosen.sortie.out.vertical_s == pytest.approx(45.0)
    assert chosen.sortie.out.cruise_s == pytest.approx(100.0, abs=1e-6)


def test_energy_follows_the_power_curve_through_the_whole_sortie() -> None:
    sortie = propose().chosen.sortie
    assert sortie.out.energy_wh == pytest.approx(OUT_WH, abs=1e-6)
    assert sortie.battery_on_arrival_pct == pytest.approx(100 - OUT_WH, abs=1e-6)
    assert sortie.on_scene_wh == pytest.approx(300 * 200 / 3600)
    assert sortie.back.energy_wh == pytest.approx(BACK_WH, abs=1e-6)
    landing = 100 - OUT_WH - 300 * 200 / 3600 - BACK_WH
    assert sortie.battery_on_landing_pct == pytest.approx(landing, abs=1e-6)
    # It could stay until only the way home and the 20 % reserve are left.
    station = (100 - OUT_WH - BACK_WH - 20) / SCENE_PCT_PER_S
    assert sortie.station_s == pytest.approx(station, abs=1e-6)


def test_a_search_pattern_draws_cruise_power() -> None:
    sortie = propose("search").chosen.sortie
    assert sortie.on_scene_wh == pytest.approx(600 * 180 / 3600)


def track_wind(along_mps: float, across_mps: float) -> Wind:
    """A wind of these components along and across the track from home to the scene (which
    is grid north, 1.5 degrees east of true north here)."""
    a, b = at(0, 0), at(0, 1000)
    azimuth, _, _ = Geod(ellps="WGS84").inv(a.lon, a.lat, b.lon, b.lat)
    east, north = math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth))
    return Wind(along_mps * east + across_mps * north, along_mps * north - across_mps * east)


def test_a_headwind_slows_the_cruise_and_a_crosswind_less_so() -> None:
    headwind = propose(wind=track_wind(-6.0, 0.0)).chosen
    crosswind = propose(wind=track_wind(0.0, 6.0)).chosen
    tailwind = propose(wind=track_wind(6.0, 0.0)).chosen
    assert headwind.sortie.out.cruise_s == pytest.approx(1000 / 4, rel=1e-4)  # 10 - 6
    assert crosswind.sortie.out.cruise_s == pytest.approx(1000 / 8, rel=1e-4)  # sqrt(100 - 36)
    assert tailwind.sortie.out.cruise_s == pytest.approx(1000 / 16, rel=1e-4)
    # Home again with the wind the other way round.
    assert headwind.sortie.back.cruise_s == pytest.approx(1000 / 16, rel=1e-4)
    assert headwind.eta_s == pytest.approx(10 + 25 + 250 + 20, rel=1e-4)


def test_a_wind_stronger_than_the_drone_rules_it_out() -> None:
    proposal = propose(wind=track_wind(-12.0, 0.0))
    assert proposal.chosen is None
    assert proposal.rejected_counts == {Reason.WIND: 1}
    assert "wind" in proposal.unserved_reason


def test_wind_from_a_report_blows_away_from_where_it_comes() -> None:
    westerly = Wind.from_report(10.0, 270.0)
    assert westerly.east_mps == pytest.approx(10.0)
    assert westerly.north_mps == pytest.approx(0.0, abs=1e-9)
    assert Wind.from_report(5.0, 0.0).north_mps == pytest.approx(-5.0)
    with pytest.raises(InputError, match="speed_mps"):
        Wind.from_report(-1.0, 0.0)


def test_battery_must_cover_out_scene_back_and_the_reserve() -> None:
    # A search cannot be handed over: 600 s at 180 W is 30 % of the battery.
    needed = OUT_WH + 30.0 + BACK_WH + 20.0
    assert propose("search", battery=math.ceil(needed)).chosen is not None
    short = propose("search", battery=math.floor(needed))
    assert short.chosen is None
    assert short.rejected_counts == {Reason.LOW_BATTERY: 1}
    assert "needed" in short.rejected[0].detail


def test_an_overwatch_may_go_short_of_battery_if_it_stays_long_enough_for_relief() -> None:
    # 50 % cannot watch the full 5 minutes (needs 52.1 %) but can stay over 2 minutes.
    chosen = propose(battery=50.0).chosen
    assert chosen is not None and chosen.sortie.needs_relief
    assert chosen.sortie.on_scene_s == pytest.approx((50 - OUT_WH - BACK_WH - 20) / SCENE_PCT_PER_S)
    assert chosen.battery_on_landing_pct == pytest.approx(20.0)
    assert chosen.score_s == pytest.approx(ETA_S + CONFIG.relief_penalty_s)
    # Below two minutes on scene it is not worth sending.
    assert propose(battery=40.0).chosen is None


def test_an_airborne_drone_starts_at_its_height_without_a_launch_delay() -> None:
    dispatcher = Dispatcher(NET, ROUTER, CONFIG)
    state = docked("q1", NET, 80.0)
    returning = type(state)("q1", DroneStatus.RETURNING, 80.0, at(0, 400, alt_m=50.0), "home")
    chosen = dispatcher.propose(incident("I-1", at(0, 1000)), fleet_of(NET, returning), NOW).chosen
    assert chosen.airborne
    assert chosen.eta_s == pytest.approx(600 / 10 + 20, abs=1e-6)  # no launch, no climb
