"""The fleet view, the configuration, and the sharing ledger: plain data, validated."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from skyshare.dispatch import DispatchConfig, DroneState, FleetView, SharingLedger
from skyshare.dispatch.index import IndexCache
from skyshare.dispatch.routing import End, Ends, Path, RouteCache, StraightLineRouter
from skyshare.dispatch.sharing import FlightRecord
from skyshare.domain import DroneStatus, InputError, Priority

from .test_dispatch_world import NOW, PROJ, QUAD, at, docked, fleet_of, network, site

NET = network(
    [site("a", "police", at(0, 0)), site("b", "fire", at(1000, 0))],
    [("D-1", "a", QUAD), ("D-2", "a", QUAD), ("D-3", "b", QUAD)],
)


def test_with_states_changes_only_the_given_drones_and_keeps_the_old_view() -> None:
    before = fleet_of(NET)
    flying = DroneState("D-2", DroneStatus.RETURNING, 55.0, at(300, 400, 60.0), "a")
    after = before.with_states(flying)
    i = after.index["D-2"]
    x, y = PROJ.point(flying.position.lat, flying.position.lon)
    assert (after.x[i], after.y[i], after.alt[i], after.battery[i]) == (x, y, 60.0, 55.0)
    assert before["D-2"].status is DroneStatus.DOCKED and before.battery[i] == 100.0
    assert after.ids is before.ids  # one fleet order: one index for every view of it


def test_ready_counts_follow_changes_without_recounting() -> None:
    before = fleet_of(NET)
    assert before.ready_by_site(30.0) == {"a": 2, "b": 1}
    low = docked("D-1", NET, battery=20.0)
    away = DroneState("D-3", DroneStatus.EN_ROUTE, 90.0, at(0, 500, 60), "b", "I-1", Priority.P3)
    after = before.with_states(low, away)
    carried = after.ready_by_site(30.0)
    recounted = FleetView(list(after)).ready_by_site(30.0)
    assert {k: v for k, v in carried.items() if v} == dict(recounted) == {"a": 1}


def test_a_drone_can_join_the_view() -> None:
    small = FleetView([docked("D-1", NET)])
    grown = small.with_states(docked("D-3", NET))
    assert len(grown) == 2 and "D-3" in grown


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"battery_pct": 101.0}, "battery_pct"),
        ({"task_incident_id": "I-1"}, "task_priority"),
    ],
)
def test_a_drone_state_names_what_is_wrong(changes: dict, field: str) -> None:
    base = {
        "drone_id": "D-1",
        "status": DroneStatus.DOCKED,
        "battery_pct": 50.0,
        "position": at(0, 0),
        "home_site_id": "a",
    }
    with pytest.raises(InputError, match=field):
        DroneState(**{**base, **changes})


def test_the_same_drone_twice_is_refused() -> None:
    with pytest.raises(InputError, match="drone_id: appears twice"):
        FleetView([docked("D-1", NET), docked("D-1", NET)])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reserve_pct": 100.0}, "reserve_pct"),
        ({"top_n": 0}, "top_n"),
        ({"launch_delay_s": -1.0}, "launch_delay_s"),
        ({"scene_alt_m": {}}, "scene_alt_m"),
        ({"priority_weight": {Priority.P1: 1.0}}, "priority_weight"),
    ],
)
def test_the_configuration_names_what_is_wrong(changes: dict, field: str) -> None:
    with pytest.raises(InputError, match=field):
        DispatchConfig(**changes)


def test_the_ledger_counts_minutes_by_agency_owner_and_site_and_balances_them() -> None:
    ledger = SharingLedger()
    ledger.record_flight(NET, "D-3", "police", 600.0, "I-1")  # police flies a fire drone
    ledger.record_flight(NET, "D-1", "police", 300.0)  # its own
    ledger.record(FlightRecord("D-2", "fire", "police", "a", 120.0))
    assert ledger.minutes_by_agency() == {"fire": 2.0, "police": 15.0}
    assert ledger.minutes_by_owner() == {"fire": 10.0, "police": 7.0}
    assert ledger.minutes_by_site() == {"a": 7.0, "b": 10.0}
    assert ledger.matrix() == {
        ("fire", "police"): 2.0,
        ("police", "fire"): 10.0,
        ("police", "police"): 5.0,
    }
    # Fire gave 10 minutes and took 2; the police the other way round.
    assert ledger.balance() == {"fire": 8.0, "police": -8.0}
    other = SharingLedger()
    other.record_flight(NET, "D-3", "fire", 60.0)
    ledger.merge(other)
    assert ledger.flights == 4 and ledger.minutes_by_owner()["fire"] == 11.0
    assert ledger.to_json()["balance"] == {"fire": 8.0, "police": -8.0}


def test_the_ledger_refuses_unknown_drones_agencies_and_negative_time() -> None:
    ledger = SharingLedger()
    with pytest.raises(InputError, match="drone_id"):
        ledger.record_flight(NET, "D-9", "police", 1.0)
    with pytest.raises(InputError, match="agency"):
        ledger.record_flight(NET, "D-1", "coastguard", 1.0)
    with pytest.raises(InputError, match="seconds"):
        ledger.record_flight(NET, "D-1", "police", -1.0)
    assert ledger.flights == 0


def test_views_rebuilt_for_every_decision_share_one_index_and_keep_few() -> None:
    """A what-if simulation builds a new view (and id tuple) for every decision: they
    share one fleet index, and the cache of them stays small instead of growing, and
    being scanned, with every decision."""
    cache = IndexCache(NET)
    first = cache.get(fleet_of(NET).ids)
    for _ in range(1000):
        ids = tuple(list(fleet_of(NET).ids))  # equal, never the same object
        assert cache.get(ids) is first
    assert len(cache) <= cache.size


def test_straight_routes_in_use_leave_the_collector_nothing_to_walk() -> None:
    """A long-running dispatcher keeps up to 200,000 routes. The straight ones (most of
    them) stay plain numbers however often decisions use them: kept as paths, each was
    five objects that every full collection walked, a pause of 26-56 ms in some
    decision after 12,000 London decisions."""
    cache = RouteCache(StraightLineRouter(proj=PROJ))
    starts = [at(100.0 * k, 50.0 * (k % 7)) for k in range(2_000)]
    scene = at(-3_000.0, 9_000.0)
    x, y = PROJ.to_metric([p.lon for p in starts], [p.lat for p in starts])
    goal_x, goal_y = PROJ.point(scene.lat, scene.lon)
    ends = Ends(np.array([p.lat for p in starts]), np.array([p.lon for p in starts]), x, y)
    assert cache.prefetch(ends, End(scene.lat, scene.lon, goal_x, goal_y), "police", NOW)
    gc.collect()
    before = len(gc.get_objects())
    for start in starts:  # out, and back (a flight home from the scene)
        out = cache.path(start, scene, "police", NOW)
        back = cache.path(scene, start, "police", NOW)
        assert isinstance(out, Path) and isinstance(back, Path) and back.length_m == out.length_m
    del out, back
    gc.collect()
    kept = len(gc.get_objects()) - before
    assert kept < 50  # kept as paths: 20,000 (five objects a path, both ways)
    assert cache.calls == 0  # and none was routed
