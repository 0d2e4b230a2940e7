"""Several pending incidents at once: optimal beats greedy, and equals the exact optimum."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from skyshare.dispatch import Dispatcher, DroneState, StraightLineRouter, Why
from skyshare.domain import DroneStatus, Incident, InputError, Priority

from .test_dispatch_world import (
    CONFIG,
    NOW,
    QUAD,
    at,
    fleet_of,
    incident,
    network,
    site,
)

ROUTER = StraightLineRouter(cruise_alt_m=50.0)


def eta_from(distance_m: float) -> float:
    return 10 + 25 + distance_m / 10 + 20


# D-1 is a little nearer the first call; the second call has only D-1 near it.
TWO = network(
    [site("west", "police", at(0, 0)), site("east", "police", at(2000, 0))],
    [("D-1", "west", QUAD), ("D-2", "east", QUAD)],
)
FIRST = incident("I-1", at(900, 0))


def later(inc: Incident, seconds: float) -> Incident:
    return replace(inc, received_at=NOW + timedelta(seconds=seconds))


def test_the_optimal_assignment_beats_the_greedy_rule_on_a_crafted_case() -> None:
    dispatcher = Dispatcher(TWO, ROUTER, CONFIG)
    pending = [FIRST, later(incident("I-2", at(-1000, 0)), 5)]
    problem = dispatcher.batch(pending, fleet_of(TWO), NOW)
    greedy, optimal = problem.greedy(), problem.optimal()
    weight = CONFIG.weight(Priority.P2)
    # Greedy: the first call takes D-1 (900 m), the second is left with D-2 (3000 m).
    assert greedy.cost == pytest.approx(weight * (eta_from(900) + eta_from(3000)))
    # Optimal: D-2 to the first (1100 m), D-1 to the second (1000 m).
    assert optimal.cost == pytest.approx(weight * (eta_from(1100) + eta_from(1000)))
    proposals = dispatcher.assign(pending, fleet_of(TWO), NOW)
    assert proposals["I-1"].chosen.drone_id == "D-2"
    assert proposals["I-2"].chosen.drone_id == "D-1"
    assert Why.BATCH in proposals["I-1"].chosen.why
    assert "assigned together with 1 other pending incident" in proposals["I-1"].explanation


def test_a_p1_outweighs_a_p4_when_there_is_one_drone() -> None:
    one = network([site("home", "police", at(0, 0))], [("D-1", "home", QUAD)])
    pending = [
        incident("I-p4", at(0, 500), priority=Priority.P4),
        later(incident("I-p1", at(0, 2000), priority=Priority.P1), 9),
    ]
    proposals = Dispatcher(one, ROUTER, CONFIG).assign(pending, fleet_of(one), NOW)
    assert proposals["I-p1"].chosen.drone_id == "D-1"
    assert proposals["I-p4"].chosen is None
    assert "assigned to other pending incidents" in proposals["I-p4"].unserved_reason


def test_no_drone_goes_to_two_incidents_and_every_incident_gets_an_answer() -> None:
    net = network(
        [site(f"s{k}", "police", at(700 * k, 0)) for k in range(4)],
        [(f"D-{k}", f"s{k}", QUAD) for k in range(4)],
    )
    rng = np.random.default_rng(3)
    pending = [
        later(
            incident(
                f"I-{k}",
                at(*rng.uniform(-1000, 3000, 2)),
                priority=Priority(int(rng.integers(1, 5))),
            ),
            k,
        )
        for k in range(7)
    ]
    proposals = Dispatcher(net, ROUTER, CONFIG).assign(pending, fleet_of(net), NOW)
    assert set(proposals) == {i.id for i in pending}
    chosen = [p.chosen.drone_id for p in proposals.values() if p.chosen is not None]
    assert sorted(chosen) == ["D-0", "D-1", "D-2", "D-3"]
    assert sum(p.chosen is None for p in proposals.values()) == 3


def test_lazy_refinement_finds_the_optimum_of_the_full_exact_matrix() -> None:
    net = network(
        [
            site(f"s{k}", "police", at(*np.random.default_rng(k).uniform(-3000, 3000, 2)))
            for k in range(6)
        ],
        [(f"D-{k}-{j}", f"s{k}", QUAD) for k in range(6) for j in range(2)],
    )
    rng = np.random.default_rng(11)
    pending = [
        later(
            incident(
                f"I-{k}",
                at(*rng.uniform(-4000, 4000, 2)),
                priority=Priority(int(rng.integers(1, 5))),
            ),
            k,
        )
        for k in range(15)
    ]
    problem = Dispatcher(net, ROUTER, CONFIG).batch(pending, fleet_of(net), NOW)
    optimal = problem.optimal()
    full = problem.full_costs()
    dummy = np.full((len(pending), len(pending)), np.inf)
    np.fill_diagonal(dummy, [problem.unserved_cost(r) for r in range(len(pending))])
    matrix = np.hstack([full, dummy])
    rows, cols = linear_sum_assignment(matrix)
    assert optimal.cost == pytest.approx(float(matrix[rows, cols].sum()), rel=1e-12)
    assert problem.cost_of(optimal.drone_of, full) == pytest.approx(optimal.cost, rel=1e-12)
    assert optimal.cost <= problem.greedy().cost + 1e-9


def test_a_later_batch_reuses_the_routes_of_the_earlier_one() -> None:
    class CountingRouter(StraightLineRouter):
        def clear_segments(self, *args, **kwargs):  # no shortcut: every route is asked for
            return np.zeros(len(args[0]), bool)

    router = CountingRouter(cruise_alt_m=50.0)
    dispatcher = Dispatcher(TWO, router, CONFIG)
    first = dispatcher.assign([FIRST], fleet_of(TWO), NOW)
    calls = dispatcher.routes.calls
    second = dispatcher.assign([FIRST, later(incident("I-2", at(-1000, 0)), 5)], fleet_of(TWO), NOW)
    assert first["I-1"].chosen.drone_id == "D-1" and second["I-1"].chosen.drone_id == "D-2"
    # Only the new incident's routes were asked for.
    assert dispatcher.routes.calls - calls <= 2


def test_the_same_incident_twice_in_a_batch_is_refused() -> None:
    with pytest.raises(InputError, match="pending: incident 'I-1' appears twice"):
        Dispatcher(TWO, ROUTER, CONFIG).assign([FIRST, FIRST], fleet_of(TWO), NOW)


def test_a_p1_in_a_batch_still_preempts_a_busy_drone_of_a_p4_task() -> None:
    net = network(
        [site("far", "police", at(0, -3000))], [("free", "far", QUAD), ("busy", "far", QUAD)]
    )
    busy = DroneState(
        "busy", DroneStatus.ON_SCENE, 90.0, at(0, 900, 50.0), "far", "I-low", Priority.P4
    )
    pending = [incident("I-p1", at(0, 1000), priority=Priority.P1), later(FIRST, 3)]
    proposals = Dispatcher(net, ROUTER, CONFIG).assign(pending, fleet_of(net, busy), NOW)
    assert proposals["I-p1"].chosen.drone_id == "busy"
    assert proposals["I-p1"].displaced.incident_id == "I-low"
    assert proposals["I-1"].chosen.drone_id == "free"
    assignment = proposals["I-p1"].assignment("A-1", NOW)
    assert (assignment.drone_id, assignment.incident_id) == ("busy", "I-p1")
    assert assignment.proposed_at == NOW
    assert assignment.candidates[0]["preempts"] == "I-low"
