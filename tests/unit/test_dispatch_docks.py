"""A drone coming back lands on a dock it may use that has a free slot: the one cheapest to
reach by a legal route, or with no legal route, the nearest by straight line."""

from __future__ import annotations

from dataclasses import replace

from skyshare.dispatch import DroneState
from skyshare.dispatch.docks import dock_for_return
from skyshare.domain import DroneStatus, LaunchSite
from tests.unit.test_dispatch_world import NOW, QUAD, at, network, site


def dock(site_id: str, owner: str, east_m: float, capacity: int, shared: bool = True) -> LaunchSite:
    return replace(site(site_id, owner, at(east_m, 0), shared), dock_capacity=capacity)


SITES = [
    dock("home", "police", 0, 2),
    dock("near", "fire", 4_000, 1),  # shared with every agency, one slot
    dock("private", "ambulance", 3_900, 5, shared=False),
    dock("middle", "police", 3_000, 1, shared=False),  # the owner's own
]
NET = network(SITES, [("p1", "home", QUAD), ("p2", "home", QUAD), ("f1", "near", QUAD)])


def state(drone_id: str, status: DroneStatus, docked_at: str | None = None) -> DroneState:
    drone = NET.drones[drone_id]
    return DroneState(
        drone_id, status, 80.0, at(4_000, 50), drone.home_site_id, docked_at=docked_at
    )


def test_the_nearest_usable_dock_with_a_free_slot_is_chosen() -> None:
    here = at(4_000, 100)  # beside "near", just past "private", 1 km beyond "middle"
    away = state("f1", DroneStatus.ON_SCENE)  # near's own drone is out: its slot is free
    fleet = [state("p1", DroneStatus.RETURNING), state("p2", DroneStatus.DOCKED), away]
    assert dock_for_return(NET, fleet, "p1", here) == "near"
    # A drone heading there holds the slot, as one on the dock does; "private" is not
    # shared, so the police drone goes to its owner's "middle".
    heading = replace(away, status=DroneStatus.RETURNING)
    assert dock_for_return(NET, [fleet[0], fleet[1], heading], "p1", here) == "middle"
    taken = replace(state("p2", DroneStatus.CHARGING), docked_at="middle")
    assert dock_for_return(NET, [fleet[0], taken, heading], "p1", here) == "home"


def test_with_every_usable_dock_full_the_drone_goes_home() -> None:
    fleet = [
        state("p1", DroneStatus.RETURNING),
        replace(state("p2", DroneStatus.DOCKED), docked_at="middle"),
        state("f1", DroneStatus.DOCKED, docked_at=None),
    ]
    crowded = network(
        [replace(s, dock_capacity=0) if s.id != "home" else s for s in SITES],
        [("p1", "home", QUAD), ("p2", "home", QUAD), ("f1", "near", QUAD)],
    )
    assert dock_for_return(crowded, fleet, "p1", at(4_000, 100)) == "home"


def test_an_aircraft_that_came_down_by_itself_is_on_the_dock_beneath_it() -> None:
    from skyshare.dispatch.docks import dock_under

    assert dock_under(NET, at(3_000, 20)) == "middle"
    assert dock_under(NET, at(2_000, 0)) is None  # in a field: on no dock


def test_the_dispatcher_plans_each_drone_back_to_a_dock_it_may_land_on() -> None:
    """An ambulance call beside the ambulance service's private dock: a police drone lent
    to it must have the battery to reach a dock it may use, not the one next door."""
    from skyshare.dispatch import Dispatcher, Reason, StraightLineRouter
    from skyshare.domain import Priority, SharingAgreement

    from .test_dispatch_world import CONFIG, docked, fleet_of, incident

    net = network(
        [
            site("pol", "police", at(0, 0)),
            site("amb", "ambulance", at(0, 2_000), shared=False),
        ],
        [("p-quad", "pol", QUAD), ("a-quad", "amb", QUAD)],
        [SharingAgreement("police", frozenset({"ambulance"}), frozenset(Priority))],
    )
    dispatcher = Dispatcher(net, StraightLineRouter(cruise_alt_m=50.0), CONFIG)
    scene = at(0, 2_100)
    full = dispatcher.propose(incident("I-1", scene, "search", "ambulance"), fleet_of(net), NOW)
    back_to = {c.drone_id: (c.return_site_id, c.sortie.back.time_s) for c in full.ranked}
    assert back_to["a-quad"][0] == "amb"
    assert back_to["p-quad"][0] == "pol"
    assert back_to["p-quad"][1] > 2_100 / QUAD.cruise_speed_mps  # the whole way home

    # Enough battery to reach the private dock with the reserve, not its own: refused.
    police = next(c for c in full.ranked if c.drone_id == "p-quad")
    short = police.sortie.battery_start_pct - police.sortie.battery_on_landing_pct
    battery = CONFIG.reserve_pct + short - 5.0
    low = dispatcher.propose(
        incident("I-2", scene, "search", "ambulance"),
        fleet_of(net, docked("p-quad", net, battery)),
        NOW,
        exclude={"a-quad"},
    )
    assert low.chosen is None
    refused = {r.drone_id: r for r in low.rejected}
    assert refused["p-quad"].reason is Reason.LOW_BATTERY


def test_a_drone_down_in_a_field_keeps_no_slot_on_its_dock() -> None:
    """Out of service on its dock, a drone fills a slot there; down in a field waiting
    for a crew, it fills none, and the next drone back may have the slot."""
    here = at(4_000, 100)
    returning = state("p1", DroneStatus.RETURNING)
    on_its_dock = replace(state("f1", DroneStatus.MAINTENANCE), position=at(4_000, 0))
    in_a_field = replace(on_its_dock, position=at(2_000, 0))
    assert dock_for_return(NET, [returning, on_its_dock], "p1", here) == "middle"
    assert dock_for_return(NET, [returning, in_a_field], "p1", here) == "near"


def test_a_drone_coming_back_takes_the_dock_cheapest_to_reach_by_a_legal_route() -> None:
    """Behind a long restricted strip, the dock nearest in a straight line is a long way
    round: the drone flies to the dock its way back was planned by, the nearest by route.
    Only with no room elsewhere does it take the long way."""
    from skyshare.airspace import AirspaceMap, Geozone, PolygonShape, ZoneKind
    from skyshare.dispatch import Dispatcher
    from skyshare.dispatch.airspace_router import AirspaceRouter

    from .test_dispatch_world import CONFIG, ORIGIN_XY, PROJ

    def lonlat(east_m: float, north_m: float) -> tuple[float, float]:
        lat, lon = PROJ.latlon(ORIGIN_XY[0] + east_m, ORIGIN_XY[1] + north_m)
        return lon, lat

    corners = [(700, -5_000), (800, -5_000), (800, 5_000), (700, 5_000), (700, -5_000)]
    wall = Geozone(
        "WALL", "Wall", ZoneKind.RESTRICTED, PolygonShape(((tuple(lonlat(*c) for c in corners),),))
    )
    net = network(
        [dock("home", "police", -2_500, 2), dock("behind", "police", 1_500, 2)],
        [("p1", "home", QUAD)],
    )
    dispatcher = Dispatcher(net, AirspaceRouter(AirspaceMap([wall])), CONFIG)
    here = at(0, 0, 60.0)
    flying = DroneState("p1", DroneStatus.RETURNING, 60.0, here, "home")
    assert dock_for_return(net, [flying], "p1", here) == "behind"  # by straight line
    assert dispatcher.dock_home("p1", here, "police", NOW, ["home", "behind"]) == "home"
    assert dispatcher.dock_home("p1", here, "police", NOW, ["behind"]) == "behind"
