"""The discrete-event simulation, deciding with the live Dispatcher."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.dispatch.routing import StraightLineRouter
from skyshare.domain import (
    Agency,
    DroneModel,
    Incident,
    IncidentKind,
    InputError,
    Priority,
    TaskKind,
)
from skyshare.planning.des import SimulationConfig, simulate
from skyshare.planning.erlang import erlang_c, mean_wait_s, servers_for
from skyshare.planning.fleet import Target, size_fleet
from skyshare.planning.metrics import summarise
from skyshare.planning.scenario import with_drone_counts
from tests.unit.test_planning_world import PROJ, network, point

START = datetime(2025, 3, 3, tzinfo=UTC)


def dispatcher(net, **config) -> Dispatcher:
    return Dispatcher(net, StraightLineRouter(60.0, PROJ), DispatchConfig(**config))


def call(
    k: int,
    seconds: float,
    x: float,
    y: float = 0.0,
    *,
    agency: str = "police",
    priority: Priority = Priority.P2,
    kind: str = "burglary",
) -> Incident:
    return Incident(
        f"c{k:05d}",
        agency,
        priority,
        kind,
        point(x, y),
        START + timedelta(seconds=seconds),
        borough="B",
    )


def run(
    net,
    calls,
    *,
    days: float = 1.0,
    config: SimulationConfig | None = None,
    on_scene=None,
    **dispatch,
):
    return simulate(
        net,
        dispatcher(net, **dispatch),
        calls,
        start=START,
        duration_s=days * 86400,
        config=config,
        on_scene_s=on_scene,
    )


def test_one_call_is_reached_in_launch_climb_and_cruise_time() -> None:
    # 15 s dock, 60 m climb at 6 m/s, 1500 m at 15 m/s, overwatch at 60 m: 125 s.
    net = network([("dock", 0.0, 0.0, "police", 1)])
    (outcome,) = run(net, [call(1, 100.0, 1500.0)]).calls
    assert outcome.response_s == pytest.approx(125.0, abs=0.5)
    assert outcome.site_id == "dock" and not outcome.waited


def test_operator_approval_is_added_when_the_agency_does_not_auto_launch() -> None:
    net = network([("dock", 0.0, 0.0, "police", 1)], auto_launch=False)
    config = SimulationConfig(approval_delay_s=30.0)
    (outcome,) = run(net, [call(1, 100.0, 1500.0)], config=config).calls
    assert outcome.response_s == pytest.approx(155.0, abs=0.5)


def test_a_second_call_waits_for_the_only_drone_and_a_late_one_is_given_up() -> None:
    net = network([("dock", 0.0, 0.0, "police", 1)])
    config = SimulationConfig(max_wait_s=3600.0)
    first, second = run(net, [call(1, 0.0, 1000.0), call(2, 10.0, -1000.0)], config=config).calls
    assert not first.waited and second.waited
    # The drone stays 10 minutes on scene (a burglary overwatch) before it is free again.
    assert second.wait_s > 600.0
    assert second.response_s == pytest.approx(second.wait_s + 15 + 10 + 1000 / 15, abs=60)
    impatient = SimulationConfig(max_wait_s=300.0)
    _, dropped = run(net, [call(1, 0.0, 1000.0), call(2, 10.0, -1000.0)], config=impatient).calls
    assert dropped.response_s is None and "no drone free" in dropped.unserved_reason


def test_a_call_no_drone_could_ever_take_is_unserved_at_once_with_the_reason() -> None:
    net = network([("dock", 0.0, 0.0, "police", 1)])
    far = call(1, 0.0, 40_000.0)  # beyond the battery's round trip
    needs_payload = call(2, 60.0, 500.0, kind="cardiac_arrest")
    outcomes = run(net, [far, needs_payload]).calls
    assert all(o.response_s is None and not o.waited for o in outcomes)
    assert "payload" in outcomes[1].unserved_reason


def test_a_p1_call_takes_the_drone_from_a_p4_call_which_waits_again() -> None:
    net = network([("dock", 0.0, 0.0, "police", 1)])
    routine = call(1, 0.0, 3000.0, priority=Priority.P4)
    urgent = call(2, 20.0, -800.0, priority=Priority.P1, kind="firearms")
    by_id = {o.incident_id: o for o in run(net, [routine, urgent]).calls}
    assert by_id[urgent.id].response_s is not None
    assert by_id[routine.id].preempted == 1
    # It is reached later, after the P1 job.
    assert by_id[routine.id].arrived_s > by_id[urgent.id].arrived_s


def test_flight_minutes_are_booked_to_the_agency_that_flew() -> None:
    net = network([("fire-dock", 0.0, 0.0, "fire", 1)])
    result = run(net, [call(1, 0.0, 1000.0, agency="police")])
    summary = summarise(result)
    assert summary.minutes_by_agency.get("police", 0) > 10  # 10 min on scene and flights
    assert summary.minutes_by_owner.get("fire", 0) == pytest.approx(
        summary.minutes_by_agency["police"]
    )
    assert 0 < summary.utilisation < 1


def test_a_drone_that_lands_at_another_dock_flies_home() -> None:
    # The only drone is based at "home"; the call is next to "spare", where it lands.
    net = network([("home", 0.0, 0.0, "police", 1), ("spare", 3000.0, 0.0, "police", 0)])
    net = replace(net, drones={k: d for k, d in net.drones.items() if d.home_site_id == "home"})
    result = run(net, [call(1, 0.0, 2900.0)])
    assert result.repositions == 1


# --- queueing against Erlang C --------------------------------------------------------------


def queue_network(servers: int, mean_service_s: float):
    """Calls at the dock itself, drones that climb and fly in no time and whose battery
    never matters: each call holds a drone for exactly its (exponential) time on scene."""
    quick = DroneModel("instant", 50.0, 1000.0, 1000.0, 1e6, 1e7, 100.0, 100.0, frozenset())
    net = network([("dock", 0.0, 0.0, "police", servers)], ("police",), model=quick)
    kinds = {"job": IncidentKind("job", TaskKind.OVERWATCH, frozenset(), mean_service_s)}
    return replace(
        net, kinds=kinds, agencies={"police": Agency("police", "police", frozenset(Priority))}
    )


def batch_means(values: np.ndarray, batches: int = 20) -> tuple[float, float]:
    """Mean and the half-width of its ~99% interval from batch means."""
    means = np.array([b.mean() for b in np.array_split(values, batches)])
    return float(values.mean()), 2.86 * float(means.std(ddof=1)) / np.sqrt(batches)


def test_queueing_matches_the_erlang_c_formula_for_an_m_m_2_queue() -> None:
    servers, mean_service, load = 2, 600.0, 0.5
    rate = load * servers / mean_service
    rng = np.random.default_rng(2025)
    n = 4000
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = rng.exponential(mean_service, n)
    calls = [
        Incident(
            f"c{k:05d}",
            "police",
            Priority.P2,
            "job",
            point(0.0, 0.0),
            START + timedelta(seconds=float(arrivals[k])),
        )
        for k in range(n)
    ]
    net = queue_network(servers, mean_service)
    result = run(
        net,
        calls,
        days=arrivals[-1] / 86400,
        config=SimulationConfig(approval_delay_s=0.0, max_wait_s=1e9, retry_s=1e9),
        on_scene={c.id: float(s) for c, s in zip(calls, service, strict=True)},
        launch_delay_s=0.0,
    )
    waits = np.array([c.wait_s for c in result.calls])
    assert np.all(np.isfinite(waits))  # nobody was turned away

    p_wait = erlang_c(servers, rate * mean_service)  # 1/3
    mean_wait = mean_wait_s(servers, rate, 1 / mean_service)  # 200 s
    waited, waited_ci = batch_means((waits > 1e-6).astype(float))
    mean, mean_ci = batch_means(waits)
    assert abs(waited - p_wait) <= waited_ci
    assert abs(mean - mean_wait) <= mean_ci
    # and not merely because the intervals are wide:
    assert waited_ci < 0.06 and mean_ci < 0.3 * mean_wait
    # Those who wait, wait an exponential time of mean 1/(c mu - lambda) = 600 s.
    assert np.mean(waits[waits > 1e-6]) == pytest.approx(600.0, rel=0.2)


def test_erlang_c_known_values() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.5) == 1.0  # unstable
    assert servers_for(1.0, 0.4) == 2


# --- fleet sizing ----------------------------------------------------------------------------


def test_target_parsing_names_the_field() -> None:
    assert Target.parse("90% within 120s") == Target(0.9, 120.0)
    assert Target.parse("80 % within 3 min") == Target(0.8, 180.0)
    with pytest.raises(InputError, match="target"):
        Target.parse("most within soon")


def test_fleet_sizing_adds_drones_where_calls_queue_until_the_target_is_met() -> None:
    # Calls every 5 minutes next to one dock, each holding a drone ~12 minutes: one drone
    # cannot keep up.
    net = network([("dock", 0.0, 0.0, "police", 1)], ("police",))
    calls = [call(k, 300.0 * k, 300.0 * ((-1) ** k)) for k in range(96)]
    plan = size_fleet(
        net,
        lambda n: dispatcher(n),
        calls,
        target=Target(0.9, 120.0),
        start=START,
        duration_s=8 * 3600.0,
    )
    assert plan.feasible and plan.met
    assert plan.counts["dock"] >= 2
    assert plan.summary is not None and plan.summary.overall.within_share >= 0.9
    # One drone fewer misses the target (the answer is the least that works).
    smaller = with_drone_counts(net, {"dock": plan.counts["dock"] - 1})
    short = summarise(run(smaller, calls, days=8 / 24), 120.0)
    assert short.overall.within_share < 0.9


def test_a_target_beyond_the_sites_reach_is_reported_not_chased() -> None:
    net = network([("dock", 0.0, 0.0, "police", 1)], ("police",))
    calls = [call(k, 600.0 * k, 5000.0) for k in range(5)]  # 5 km: ~370 s away
    plan = size_fleet(
        net,
        lambda n: dispatcher(n),
        calls,
        target=Target(0.9, 120.0),
        start=START,
        duration_s=3600.0,
    )
    assert not plan.feasible and plan.ceiling == 0.0 and plan.runs == 0
