"""From a call to a drone back on its dock, flown through mavsim over real MAVLink."""

from __future__ import annotations

from skyshare.domain import DroneStatus
from skyshare.domain.events import EventType
from tests.integration.live import until

from .conftest import Flying

# South of the Isle of Dogs restricted area (EG R159), seen from the Limehouse dock.
GREENWICH = {"lat": 51.4800, "lon": -0.0100}


async def test_a_call_beyond_restricted_airspace_is_flown_around_it(flying: Flying) -> None:
    runtime = flying.runtime
    made = await runtime.submit(
        {"agency": "fire", "priority": "P2", "kind": "building_fire", **GREENWICH}, actor="test"
    )
    assert made.assignment is not None and made.assignment.status.value == "approved"
    drone = made.assignment.drone_id
    assert drone.startswith("fire-")
    launched = await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == drone, 30, "launch"
    )
    assert "EG R159" in launched.data["zones_skirted"]
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_ON_SCENE and e.subject == drone, 90, "on scene"
    )
    assert runtime.fleet[drone].status is DroneStatus.ON_SCENE
    view = await runtime.incident(made.incident.id)
    assert view.incident.status.value == "on_scene"
    await runtime.close_incident(made.incident.id, actor="test", reason="fire out")
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LANDED and e.subject == drone, 120, "landing"
    )
    assert runtime.fleet[drone].status in (DroneStatus.CHARGING, DroneStatus.DOCKED)
    # No breach at all, out, on scene or home: neither SkyShare's own conformance monitor,
    # against the real zones, nor the aircraft's own (simplified) fence.
    assert flying.of(EventType.GEOFENCE_BREACH) == []
    assert flying.of(EventType.CONFORMANCE_ALERT) == []


# Between the two police docks (Islington and Hackney), nearer Islington.
HIGHBURY = {"lat": 51.5490, "lon": -0.0950}


async def test_an_operator_approves_before_anything_flies(flying: Flying) -> None:
    runtime = flying.runtime
    made = await runtime.submit(
        {"agency": "police", "priority": "P3", "kind": "burglary", **HIGHBURY}, actor="test"
    )
    assert made.assignment is not None and made.assignment.status.value == "proposed"
    drone = made.assignment.drone_id
    await flying.wait_event(lambda e: e.type is EventType.DISPATCH_PROPOSED, 10, "proposal")
    assert flying.of(EventType.DRONE_LAUNCHED) == []
    assert runtime.fleet[drone].status is DroneStatus.LAUNCHING  # held for this call
    await runtime.approve(made.incident.id, actor="operator")
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == drone, 30, "launch"
    )
    approvals = flying.of(EventType.DISPATCH_APPROVED, made.incident.id)
    assert [e.actor for e in approvals] == ["operator"]


async def test_link_loss_mid_flight_hands_the_call_to_another_drone(flying: Flying) -> None:
    runtime = flying.runtime
    made = await runtime.submit(
        {"agency": "police", "priority": "P1", "kind": "burglary", **HIGHBURY}, actor="cad"
    )
    first = made.assignment.drone_id
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == first, 30, "launch"
    )
    sysid = flying.fleet.system_ids[first]
    flying.fleet.simulator.vehicles[sysid - 1].inject(link_drop=True)
    lost = await flying.wait_event(
        lambda e: e.type is EventType.LINK_LOST and e.subject == first, 15, "link loss"
    )
    again = await flying.wait_event(
        lambda e: (
            e.type is EventType.DISPATCH_PROPOSED
            and e.subject == made.incident.id
            and e.data["drone_id"] != first
        ),
        10,
        "reassignment",
    )
    assert (again.at - lost.at).total_seconds() / 30.0 < 5.0  # wall seconds (30x clock)
    assert runtime.fleet[first].status is DroneStatus.OFFLINE
    # The aircraft's own failsafe brings it home; once heard again, it lands and docks.
    flying.fleet.simulator.vehicles[sysid - 1].inject(link_drop=False)
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LANDED and e.subject == first, 120, "landing"
    )


async def test_a_long_overwatch_gets_relief_before_the_drone_must_leave(flying: Flying) -> None:
    runtime = flying.runtime
    made = await runtime.submit(
        {"agency": "police", "priority": "P1", "kind": "public_disorder", **HIGHBURY}, actor="cad"
    )
    first = made.assignment.drone_id
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_ON_SCENE and e.subject == first, 90, "on scene"
    )
    sysid = flying.fleet.system_ids[first]
    flying.fleet.simulator.vehicles[sysid - 1].inject(battery_fault=0.44)
    relief = await flying.wait_event(
        lambda e: e.type is EventType.DISPATCH_PROPOSED and e.data.get("relief_for") == first,
        30,
        "relief",
    )
    second = relief.data["drone_id"]
    arrived = await flying.wait_event(
        lambda e: e.type is EventType.DRONE_ON_SCENE and e.subject == second, 90, "relief on scene"
    )
    left = await flying.wait_event(
        lambda e: e.type is EventType.DRONE_RETURNING and e.subject == first, 60, "handover"
    )
    assert arrived.at <= left.at
    view = await runtime.incident(made.incident.id)
    statuses = {a.drone_id: a.status.value for a in view.assignments}
    assert statuses == {first: "completed", second: "active"}


async def test_a_p1_takes_the_drone_of_a_p4_which_is_queued_again(flying: Flying) -> None:
    runtime = flying.runtime
    routine = await runtime.submit(
        {"agency": "police", "priority": "P4", "kind": "burglary", **HIGHBURY}, actor="cad"
    )
    taken = routine.assignment.drone_id
    await runtime.approve(routine.incident.id, actor="operator")
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == taken, 30, "launch"
    )
    urgent = await runtime.submit(
        {"agency": "police", "priority": "P1", "kind": "firearms", "lat": 51.5500, "lon": -0.1000},
        actor="cad",
    )
    assert urgent.assignment is not None and urgent.assignment.drone_id == taken
    preempted = await flying.wait_event(
        lambda e: e.type is EventType.DISPATCH_PREEMPTED and e.subject == routine.incident.id,
        10,
        "preemption",
    )
    assert preempted.data["preempted_by"] == urgent.incident.id
    view = await runtime.incident(routine.incident.id)
    assert view.current is not None and view.current.drone_id != taken


async def test_a_provisional_p1_launch_flies_at_once_and_a_decline_recalls_it(
    flying: Flying,
) -> None:
    runtime = flying.runtime
    made = await runtime.submit(
        {"agency": "ambulance", "priority": "P1", "kind": "cardiac_arrest", **HIGHBURY}, actor="cad"
    )
    assert made.assignment is not None and made.assignment.status.value == "proposed"
    drone = made.assignment.drone_id
    assert drone == "aed-1"
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == drone, 30, "launch"
    )
    assert flying.of(EventType.DISPATCH_APPROVED) == []  # nobody approved it yet
    vehicle = flying.fleet.manager.vehicle(flying.fleet.system_ids[drone])
    await vehicle.wait_for(lambda s: (s.alt_rel_m or 0) > 10, 600, "airborne")
    view = await runtime.decline(made.incident.id, actor="operator", reason="crew on scene")
    assert view.incident.status.value == "unserved"  # no other drone carries a defibrillator
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_RETURNING and e.subject == drone, 30, "recall"
    )
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LANDED and e.subject == drone, 60, "landing"
    )


async def test_a_launch_uploads_its_fence_alone_a_circle_the_parameters_were_set_at_start_up(
    flying: Flying,
) -> None:
    # The fence parameters are the same for every sortie: the aircraft got them when the
    # control system came up, so a launch costs no parameter round trips before take-off.
    director = flying.fleet.director
    assert director is not None and director.warmed is not None
    await director.warmed
    aircraft = flying.fleet.simulator.vehicles
    assert all(a.params["FENCE_ENABLE"] == 1 for a in aircraft)
    assert all(a.params["FENCE_ALT_MAX"] == 120 for a in aircraft)
    sent: list[tuple[int, str]] = []
    for link in flying.fleet.manager.links:
        send_to = link.send_to

        def spy(vehicle, message, send_to=send_to):  # type: ignore[no-untyped-def]
            sent.append((vehicle.system_id, message.get_type()))
            return send_to(vehicle, message)

        link.send_to = spy  # type: ignore[method-assign]
    made = await flying.runtime.submit(
        {"agency": "police", "priority": "P1", "kind": "burglary", **HIGHBURY}, actor="cad"
    )
    drone = made.assignment.drone_id
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == drone, 30, "launch"
    )
    mine = [kind for sysid, kind in sent if sysid == flying.fleet.system_ids[drone]]
    assert "MISSION_COUNT" in mine  # the fence went up
    assert not {"PARAM_SET", "PARAM_REQUEST_READ"} & set(mine)
    # Its inclusion is one circle around the sortie, not the outline of the city.
    fence = aircraft[flying.fleet.system_ids[drone] - 1].geofence
    inclusions = [z for z in fence.zones if z.inclusion]
    assert len(inclusions) == 1 and type(inclusions[0]).__name__ == "Circle"


async def test_a_drone_its_crew_put_back_on_a_dock_takes_off_from_that_dock(
    flying: Flying,
) -> None:
    """Down in a field, then returned to service on its dock by an operator: the simulated
    crew carries the aircraft there, as a real crew does, so its next sortie does not
    start in the field."""
    from skyshare.domain import GeoPoint

    runtime, fleet = flying.runtime, flying.fleet
    drone, dock_id = "pol-2", "pol-hackney"
    field = GeoPoint(51.5600, -0.0400)  # open ground, 1.5 km from the Hackney dock
    assert fleet.simulator is not None
    fleet.simulator.vehicles[fleet.system_ids[drone] - 1].recover(field.lat, field.lon)
    await runtime.flight_landed(drone, where=field)  # where its failsafe put it down
    assert runtime.fleet[drone].status is DroneStatus.MAINTENANCE
    await runtime.return_to_service(drone, dock_id, actor="operator", battery_pct=100.0)
    dock = runtime.network.sites[dock_id].position
    vehicle = fleet.manager.vehicle(fleet.system_ids[drone])
    state = await vehicle.wait_reached(dock.lat, dock.lon, tolerance_m=5.0, timeout_s=60)
    assert state.battery_pct is not None and state.battery_pct > 95


async def test_a_docked_drone_charges_as_its_aircraft_reports(flying: Flying) -> None:
    """The dock charges the aircraft, and the runtime believes the aircraft: a pack found
    at 96 % makes the drone charging, and full again it is docked."""
    runtime, fleet = flying.runtime, flying.fleet
    drone = "fire-2"
    assert fleet.simulator is not None
    aircraft = fleet.simulator.vehicles[fleet.system_ids[drone] - 1]
    vehicle = fleet.manager.vehicle(fleet.system_ids[drone])

    def status_is(status: DroneStatus):  # type: ignore[no-untyped-def]
        # Checked on each report from the aircraft: the runtime notes them every second.
        return lambda _: runtime.fleet[drone].status is status

    aircraft.recover(aircraft.lat, aircraft.lon, battery_pct=96.0)  # a part-charged pack
    await vehicle.wait_for(status_is(DroneStatus.CHARGING), 60, "charging")
    assert runtime.fleet[drone].battery_pct < 100.0
    await vehicle.wait_for(status_is(DroneStatus.DOCKED), 600, "docked, charged")
    assert runtime.fleet[drone].battery_pct == 100.0


async def test_a_drone_its_pilot_or_failsafe_flies_home_is_not_re_tasked(flying: Flying) -> None:
    runtime = flying.runtime
    call = {"agency": "police", "priority": "P1", "kind": "burglary"}
    made = await runtime.submit({**call, **HIGHBURY}, actor="cad")
    first = made.assignment.drone_id
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == first, 30, "launch"
    )
    aircraft = flying.fleet.simulator.vehicles[flying.fleet.system_ids[first] - 1]
    await until(lambda: aircraft.alt_rel > 30, 30, "the climb")
    assert aircraft.set_mode("RTL")  # the pilot's switch, or a failsafe (battery, fence)
    await flying.wait_event(
        lambda e: (
            e.type is EventType.COMMAND_RESULT
            and e.subject == first
            and "switched itself to RTL" in e.data.get("reason", "")
        ),
        15,
        "the call handed on",
    )
    assert runtime.fleet[first].status is DroneStatus.RETURNING
    # A call right under it: it would be the nearest drone, but it is not offered.
    here = runtime.fleet[first].position
    second = await runtime.submit({**call, "lat": here.lat, "lon": here.lon}, actor="cad")
    assert second.assignment is None or second.assignment.drone_id != first
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LANDED and e.subject == first, 60, "its landing"
    )
