"""Who may go, who can go, who goes and why: reason codes, ranking, cover, preemption."""

from __future__ import annotations

import pytest

from skyshare.dispatch import (
    Demand,
    DispatchConfig,
    Dispatcher,
    DroneState,
    Reason,
    StraightLineRouter,
    Why,
)
from skyshare.domain import DroneStatus, InputError, Priority, SharingAgreement

from .test_dispatch_world import (
    CARRIER,
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
SCENE = at(0, 1000)


def eta_from(distance_m: float) -> float:
    """A docked quad's ETA over ``distance_m`` of open sky (see test_dispatch_eta)."""
    return 10 + 25 + distance_m / 10 + 20


# --- who may go, who can go ----------------------------------------------------------------

MIXED = network(
    [
        site("pol", "police", at(0, 0)),
        site("fir", "fire", at(0, 3000)),
        site("amb", "ambulance", at(0, -3000), shared=False),
    ],
    [
        ("p-quad", "pol", QUAD),
        ("p-carrier", "pol", CARRIER),
        ("p-busy", "pol", QUAD),
        ("p-offline", "pol", QUAD),
        ("p-flat", "pol", QUAD),
        ("f-quad", "fir", QUAD),
        ("a-quad", "amb", QUAD),
    ],
    [SharingAgreement("fire", frozenset({"police"}), frozenset({Priority.P1}))],
)


def mixed_fleet(**battery: float):
    home = MIXED.sites["pol"].position
    return fleet_of(
        MIXED,
        docked("p-quad", MIXED, battery.get("p_quad", 100.0)),
        docked("p-flat", MIXED, 25.0),
        DroneState("p-busy", DroneStatus.EN_ROUTE, 90.0, at(0, 200, 50), "pol", "I-9", Priority.P1),
        DroneState("p-offline", DroneStatus.OFFLINE, 100.0, home, "pol"),
    )


def test_each_drone_passed_over_has_a_reason_code_and_a_checkable_detail() -> None:
    dispatcher = Dispatcher(MIXED, ROUTER, CONFIG)
    proposal = dispatcher.propose(incident("I-1", SCENE), mixed_fleet(), NOW)
    assert proposal.chosen.drone_id == "p-quad"
    assert proposal.rejected_counts == {
        Reason.NO_CAPABILITY: 1,
        Reason.BUSY: 1,
        Reason.OUT_OF_SERVICE: 1,
        Reason.LOW_BATTERY: 1,
        Reason.NOT_SHARED: 2,
    }
    # Listed: the drones a straight line puts ahead of the choice (all at the same dock).
    details = {r.drone_id: (r.reason, r.detail) for r in proposal.rejected}
    assert details["p-carrier"] == (Reason.NO_CAPABILITY, "carrier lacks thermal")
    assert details["p-busy"][0] is Reason.BUSY and "P1 incident I-9" in details["p-busy"][1]
    assert details["p-flat"][0] is Reason.LOW_BATTERY and "25%" in details["p-flat"][1]
    assert details["p-offline"] == (Reason.OUT_OF_SERVICE, "offline")
    assert "f-quad" not in details  # farther than the choice: not worth an operator's time


def test_sharing_follows_the_agreement_priority_by_priority() -> None:
    dispatcher = Dispatcher(MIXED, ROUTER, CONFIG)
    fleet = mixed_fleet(p_quad=10.0)
    p2 = dispatcher.propose(incident("I-2", SCENE, priority=Priority.P2), fleet, NOW)
    assert p2.chosen is None
    assert "2 not shared with police for P2" in p2.unserved_reason
    not_shared = {r.drone_id: r.detail for r in p2.rejected if r.reason is Reason.NOT_SHARED}
    assert not_shared["f-quad"] == "fire does not share fir's drones with police for P2"
    # The fire brigade shares its drones with the police for P1 calls.
    p1 = dispatcher.propose(incident("I-3", SCENE, priority=Priority.P1), fleet, NOW)
    assert p1.chosen.drone_id == "f-quad"
    assert p1.rejected_counts[Reason.NOT_SHARED] == 1  # the ambulance dock is not shared


def test_the_proposal_ranks_the_best_and_explains_the_choice() -> None:
    net = network(
        [site("near", "police", at(0, 0)), site("far", "police", at(0, -600))],
        [("D-12", "near", QUAD), ("D-4", "far", QUAD), ("D-7", "far", QUAD)],
    )
    proposal = Dispatcher(net, ROUTER, CONFIG).propose(incident("I-1", SCENE), fleet_of(net), NOW)
    assert [c.drone_id for c in proposal.ranked] == ["D-12", "D-4", "D-7"]
    assert [round(c.eta_s, 6) for c in proposal.ranked] == [
        eta_from(1000),
        eta_from(1600),
        eta_from(1600),
    ]
    assert proposal.chosen.why[0] is Why.FASTEST
    assert proposal.explanation == (
        "D-12 from near dock: 155 s by a direct route, 92% battery on arrival; "
        "next best D-4 at 215 s"
    )
    assert proposal.to_json()["chosen"]["drone_id"] == "D-12"


def test_declined_drones_are_excluded_and_the_next_one_proposed() -> None:
    net = network(
        [site("home", "police", at(0, 0))], [("D-1", "home", QUAD), ("D-2", "home", QUAD)]
    )
    dispatcher = Dispatcher(net, ROUTER, CONFIG)
    first = dispatcher.propose(incident("I-1", SCENE), fleet_of(net), NOW)
    second = dispatcher.propose(incident("I-1", SCENE), fleet_of(net), NOW, exclude={"D-1"})
    assert (first.chosen.drone_id, second.chosen.drone_id) == ("D-1", "D-2")
    assert second.rejected_counts == {Reason.EXCLUDED: 1}


def test_a_drone_on_its_way_home_is_retasked_in_the_air() -> None:
    net = network(
        [site("home", "police", at(0, 0))], [("D-1", "home", QUAD), ("D-2", "home", QUAD)]
    )
    returning = DroneState("D-2", DroneStatus.RETURNING, 80.0, at(0, 1200, 50.0), "home")
    proposal = Dispatcher(net, ROUTER, CONFIG).propose(
        incident("I-1", SCENE), fleet_of(net, returning), NOW
    )
    assert proposal.chosen.drone_id == "D-2"
    assert Why.AIRBORNE in proposal.chosen.why
    assert proposal.chosen.eta_s == pytest.approx(200 / 10 + 20)
    assert proposal.explanation.startswith("D-2 (airborne, on its way back to home dock): 40 s")


def test_unknown_kind_or_agency_is_refused_by_name() -> None:
    net = network([site("home", "police", at(0, 0))], [("D-1", "home", QUAD)])
    dispatcher = Dispatcher(net, ROUTER, CONFIG)
    with pytest.raises(InputError, match="kind: unknown incident kind 'fire'"):
        dispatcher.propose(incident("I-1", SCENE, kind="fire"), fleet_of(net), NOW)
    with pytest.raises(InputError, match="agency: unknown agency 'coastguard'"):
        dispatcher.propose(incident("I-1", SCENE, agency="coastguard"), fleet_of(net), NOW)


# --- cover-aware tie-break -------------------------------------------------------------------

# Two docks the same distance from the scene. "a" has one drone and is the only cover of
# a demand point to its west; "b" has two drones, so sending one of them costs no cover.
COVER_NET = network(
    [site("a", "police", at(-1000, 0)), site("b", "police", at(1000, -40))],
    [("a-1", "a", QUAD), ("b-1", "b", QUAD), ("b-2", "b", QUAD)],
)
WEST = Demand.uniform([at(-3000, 0)])


def test_near_equal_etas_go_to_the_drone_whose_absence_costs_least_cover() -> None:
    dispatcher = Dispatcher(COVER_NET, ROUTER, replace_config(cover_radius_m=2500.0), demand=WEST)
    proposal = dispatcher.propose(incident("I-1", SCENE), fleet_of(COVER_NET), NOW)
    ranked = {c.drone_id: c.eta_s for c in proposal.ranked}
    assert ranked["a-1"] < ranked["b-1"] < ranked["a-1"] + CONFIG.tie_margin_s
    assert proposal.chosen.drone_id == "b-1"
    assert proposal.chosen.why[0] is Why.COVER and proposal.chosen.cover_loss == 0.0
    assert (
        "chosen over a-1" in proposal.explanation
        and "keep cover around a dock" in proposal.explanation
    )


def test_without_a_tie_margin_the_fastest_drone_goes() -> None:
    config = replace_config(cover_radius_m=2500.0, tie_margin_s=0.0)
    dispatcher = Dispatcher(COVER_NET, ROUTER, config, demand=WEST)
    assert (
        dispatcher.propose(incident("I-1", SCENE), fleet_of(COVER_NET), NOW).chosen.drone_id
        == "a-1"
    )


def test_when_the_other_site_keeps_cover_too_the_fastest_goes() -> None:
    two_at_a = fleet_of(COVER_NET)  # same network, but demand nobody needs to keep
    dispatcher = Dispatcher(
        COVER_NET,
        ROUTER,
        replace_config(cover_radius_m=2500.0),
        demand=Demand.uniform([at(0, 20_000)]),
    )
    assert dispatcher.propose(incident("I-1", SCENE), two_at_a, NOW).chosen.drone_id == "a-1"


def replace_config(**changes: float) -> DispatchConfig:
    from dataclasses import replace

    return replace(CONFIG, **changes)


# --- preemption ------------------------------------------------------------------------------

PRE_NET = network(
    [site("far", "police", at(0, -3000))],
    [("free", "far", QUAD), ("busy", "far", QUAD)],
)


def busy_near(task_priority: Priority) -> DroneState:
    return DroneState(
        "busy", DroneStatus.ON_SCENE, 90.0, at(0, 900, 50.0), "far", "I-low", task_priority
    )


def test_a_p1_takes_a_drone_from_a_lower_priority_task_when_it_gains_enough() -> None:
    dispatcher = Dispatcher(PRE_NET, ROUTER, CONFIG)
    fleet = fleet_of(PRE_NET, busy_near(Priority.P4))
    proposal = dispatcher.propose(incident("I-p1", SCENE, priority=Priority.P1), fleet, NOW)
    assert proposal.chosen.drone_id == "busy"
    assert proposal.chosen.preempts == "I-low"
    assert Why.PREEMPTS in proposal.chosen.why
    gain = eta_from(4000) - (100 / 10 + 20)
    assert proposal.displaced.incident_id == "I-low"
    assert proposal.displaced.drone_id == "busy"
    assert f"arrives {gain:.0f} s sooner" in proposal.displaced.reason
    assert "I-p1" in proposal.displaced.reason
    assert "taken from P4 incident I-low" in proposal.explanation


def test_no_preemption_below_the_threshold_of_gain() -> None:
    gain = eta_from(4000) - (100 / 10 + 20)
    config = replace_config(preempt_gain_s=gain + 1.0)
    fleet = fleet_of(PRE_NET, busy_near(Priority.P4))
    proposal = Dispatcher(PRE_NET, ROUTER, config).propose(
        incident("I-p1", SCENE, priority=Priority.P1), fleet, NOW
    )
    assert proposal.chosen.drone_id == "free" and proposal.displaced is None


@pytest.mark.parametrize(("call", "task"), [(Priority.P1, Priority.P1), (Priority.P2, Priority.P4)])
def test_no_preemption_of_equal_priority_nor_by_a_call_below_p1(
    call: Priority, task: Priority
) -> None:
    fleet = fleet_of(PRE_NET, busy_near(task))
    proposal = Dispatcher(PRE_NET, ROUTER, CONFIG).propose(
        incident("I-x", SCENE, priority=call), fleet, NOW
    )
    assert proposal.chosen.drone_id == "free"
    assert proposal.rejected_counts == {Reason.BUSY: 1}
