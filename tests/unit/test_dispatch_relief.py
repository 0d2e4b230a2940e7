"""Relief of a long overwatch: the handover is planned before the drone on scene must leave.

The quad on scene hovers at 200 W on a 100 Wh battery (0.0556 % a second); the way home
from the scene costs 7.889 %; it must land with 20 %. The relief quad at home is 155 s
away (see test_dispatch_eta).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from skyshare.dispatch import Dispatcher, DroneState, StraightLineRouter
from skyshare.domain import DroneStatus, InputError, Priority

from .test_dispatch_world import CONFIG, NOW, QUAD, at, fleet_of, incident, network, site

ROUTER = StraightLineRouter(cruise_alt_m=50.0)
NET = network([site("home", "police", at(0, 0))], [("D-1", "home", QUAD), ("D-2", "home", QUAD)])
SCENE = at(0, 1000)
BACK_PCT = (10 * 240 + 100 * 180 + 50 * 160) / 3600
PER_S = 200 / 3600
RELIEF_ETA = 10 + 25 + 100 + 20


def on_scene(battery: float) -> DroneState:
    return DroneState(
        "D-1", DroneStatus.ON_SCENE, battery, at(0, 1000, 30.0), "home", "I-1", Priority.P2
    )


def plan(battery: float, needed_s: float):
    dispatcher = Dispatcher(NET, ROUTER, CONFIG)
    return dispatcher.plan_relief(
        incident("I-1", SCENE, kind="long_watch"),
        "D-1",
        fleet_of(NET, on_scene(battery)),
        NOW,
        needed_until=NOW + timedelta(seconds=needed_s),
    )


def test_the_relief_launches_to_arrive_a_minute_before_the_drone_on_scene_must_leave() -> None:
    relief = plan(50.0, 3600)
    station = (50.0 - BACK_PCT - 20.0) / PER_S  # 398 s
    assert relief.needed
    assert relief.must_leave_at == NOW + timedelta(seconds=station)
    assert relief.relief.drone_id == "D-2"
    assert relief.relief.eta_s == pytest.approx(RELIEF_ETA)
    launch = station - CONFIG.handover_overlap_s - RELIEF_ETA
    assert (relief.launch_at - NOW).total_seconds() == pytest.approx(launch)
    assert (relief.arrives_at - NOW).total_seconds() == pytest.approx(station - 60.0)
    assert relief.handover_at == relief.arrives_at
    assert relief.gap_s == 0.0
    # The relief cannot watch the remaining 54 minutes either: plan again later.
    assert relief.further_relief
    assert relief.to_json()["relief_drone_id"] == "D-2"
    assert "D-2 launches at 12:03:03 and relieves D-1 at 12:05:38" in relief.explanation


def test_no_relief_when_the_drone_on_scene_lasts_until_the_end() -> None:
    relief = plan(50.0, 300)
    assert not relief.needed and relief.relief is None
    assert "no relief needed" in relief.explanation


def test_a_relief_that_cannot_make_it_in_time_leaves_a_gap_it_reports() -> None:
    relief = plan(35.0, 3600)
    station = (35.0 - BACK_PCT - 20.0) / PER_S  # 128 s: less than the relief's 155 s ETA
    assert relief.launch_at == NOW
    assert relief.gap_s == pytest.approx(RELIEF_ETA - station)
    assert "uncovered for 27 s" in relief.explanation


def test_no_relief_available_is_said_plainly() -> None:
    dispatcher = Dispatcher(NET, ROUTER, CONFIG)
    busy = DroneState("D-2", DroneStatus.EN_ROUTE, 90.0, at(0, 100, 50), "home", "I-2", Priority.P1)
    relief = dispatcher.plan_relief(
        incident("I-1", SCENE, kind="long_watch"),
        "D-1",
        fleet_of(NET, on_scene(50.0), busy),
        NOW,
        needed_until=NOW + timedelta(hours=1),
    )
    assert relief.needed and relief.relief is None
    assert relief.explanation.startswith("no relief available: no drone can serve: 1 busy")


def test_an_unknown_drone_on_scene_is_refused() -> None:
    with pytest.raises(InputError, match="on_scene_drone_id"):
        Dispatcher(NET, ROUTER, CONFIG).plan_relief(
            incident("I-1", SCENE), "D-9", fleet_of(NET), NOW, needed_until=NOW
        )
