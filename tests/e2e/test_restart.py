"""After a restart, what was under way is taken up once the aircraft are heard from: an
approved launch never flown is flown; a sortie whose aircraft is on the ground (here:
rebooted on its dock by the simulated fleet) hands its call on while the drone is landed
where it is; a sortie whose aircraft is still in the air flies on from where it is; and
one whose aircraft's failsafe took it home meanwhile hands its call on and is brought
home. The last two fly mavsim run on its own, whose aircraft outlive the service, through
an aircraft file (``fleet=mavlink``).

Not exercised here: a drone coming home when the service stopped (brought home, by the
same recall as any return)."""

from __future__ import annotations

from pathlib import Path

from skyshare.domain import AssignmentStatus, DroneStatus, IncidentStatus
from skyshare.domain.events import EventType
from skyshare.fleet.geometry import distance_m
from tests.integration.live import runtime_on, until

from .conftest import NETWORK, aircraft_on_their_docks, flying_on

CALL = {"agency": "police", "priority": "P1", "kind": "burglary"}
HIGHBURY = {"lat": 51.5490, "lon": -0.0950}
DALSTON = {"lat": 51.5460, "lon": -0.0750}
NEAR_ISLINGTON = {"lat": 51.5500, "lon": -0.1010}  # 510 m from the Islington dock


async def test_a_restart_flies_the_approved_launch_and_hands_on_the_grounded_sortie(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    # Before: no aircraft connected. One call's drone is on its way (as reported), the
    # other's launch is approved but not flown yet. Then the service stops.
    async with runtime_on(url, network_file=NETWORK) as before:
        flown = await before.submit({**CALL, **HIGHBURY}, actor="cad")
        assert flown.assignment is not None
        gone = flown.assignment.drone_id
        site = before.network.sites[before.network.drones[gone].home_site_id]
        route = before.airspace.route(
            site.position, flown.incident.position, "police", at=before.clock.now()
        )
        await before.flight_started(gone, flown.incident, route)
        waiting = await before.submit({**CALL, **DALSTON}, actor="cad")
        assert waiting.assignment is not None
        approved = waiting.assignment.drone_id
        assert before.fleet[approved].status is DroneStatus.LAUNCHING
        assert before.fleet[gone].status is DroneStatus.EN_ROUTE
    async with flying_on(url) as flying:
        runtime = flying.runtime

        async def handed_on() -> bool:  # to no one here: pol-2 is busy, the rest not police's
            view = await runtime.incident(flown.incident.id)
            return view.incident.status is IncidentStatus.UNSERVED

        await until(handed_on, 30, "hand-on of the grounded sortie's call")
        (cancelled,) = (await runtime.incident(flown.incident.id)).assignments
        assert (cancelled.drone_id, cancelled.status) == (gone, AssignmentStatus.CANCELLED)
        await until(
            lambda: runtime.fleet[gone].status in (DroneStatus.CHARGING, DroneStatus.DOCKED),
            30,
            "landing of the grounded drone",
        )
        aircraft = flying.fleet.manager.vehicle(flying.fleet.system_ids[approved])
        await aircraft.wait_for(lambda s: s.airborne, 60, "take-off of the approved launch")


async def test_a_restart_flies_on_the_sortie_of_an_aircraft_still_in_the_air(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    # While the service restarts no ground station is heard, and the aircraft's own
    # failsafe would fly it home once that lasts COM_DL_LOSS_T. An operator who wants
    # sorties to outlive a restart sets it longer than a restart takes: PX4's longest,
    # 300 s, is 10 s of wall time at this speed-up, against 1-2 s for the restart here.
    # (ArduPilot's FS_GCS_TIMEOUT stops at 120 s: 4 s of wall time, too close to be sure.)
    failsafe = {"NAV_DLL_ACT": 2, "COM_DL_LOSS_T": 300}
    async with aircraft_on_their_docks("px4", failsafe) as aircraft:
        # Every drone's aircraft on one UDP port, told apart by system id.
        listed = aircraft.file(tmp_path / "aircraft.yaml")
        async with flying_on(url, listed) as before:
            # Start-up work first (fence outlines fitted in a thread, for the process): while
            # it holds the interpreter, this in-process mavsim falls behind, then catches up
            # faster than its PX4 mission timeout (5 s: 0.17 s of wall time) lets a fence
            # upload finish. Aircraft in a process of their own do not share that pause.
            assert before.fleet.director.warmed is not None
            await before.fleet.director.warmed
            made = await before.runtime.submit({**CALL, **NEAR_ISLINGTON}, actor="cad")
            assert made.assignment is not None
            drone = made.assignment.drone_id
            dock = before.runtime.network.sites[made.assignment.site_id].position
            up = aircraft.vehicle(drone)

            def away() -> float:
                return distance_m(up.lat, up.lon, dock.lat, dock.lon)

            await until(lambda: up.airborne and away() > 30, 60, "the aircraft on its way")
        # The service is down; the aircraft flies its last command on.
        async with flying_on(url, listed) as after:
            runtime = after.runtime
            # Taken up in the air, before its failsafe acted.
            assert up.airborne and up.mode != "RTL"
            assert not [text for _, _, text in up.texts if "ground station lost" in text]
            relaunched = await after.wait_event(
                lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == drone, 30, "sortie"
            )
            start = relaunched.data["waypoints"][0]
            assert distance_m(start[0], start[1], dock.lat, dock.lon) > 30  # where it was
            await after.wait_event(
                lambda e: e.type is EventType.DRONE_ON_SCENE and e.subject == drone, 90, "scene"
            )
            assert runtime.fleet[drone].status is DroneStatus.ON_SCENE
            view = await runtime.incident(made.incident.id)
            assert view.incident.status is IncidentStatus.ON_SCENE
            assert [a.status for a in view.assignments] == [AssignmentStatus.ACTIVE]
            await runtime.close_incident(made.incident.id, actor="operator", reason="all clear")
            landed = await after.wait_event(
                lambda e: e.type is EventType.DRONE_LANDED and e.subject == drone, 120, "landing"
            )
            assert "needs_recovery" not in landed.data
            assert runtime.fleet[drone].status in (DroneStatus.CHARGING, DroneStatus.DOCKED)
            assert not up.airborne
            site = runtime.network.sites[runtime.fleet[drone].dock_site_id].position
            assert distance_m(up.lat, up.lon, site.lat, site.lon) < 10  # on its dock
            await runtime.settled()
            assert runtime.store.verify_audit_chain().ok


async def test_a_restart_hands_on_the_call_of_an_aircraft_its_failsafe_flies_home(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    # ArduPilot's GCS failsafe at its stock timeout (5 s: 0.17 s of wall time here) takes
    # the aircraft home while the service restarts; RTL_SPEED 0.5 m/s keeps it on its way
    # home, in the air, until the service is back, however long the restart takes.
    failsafe = {"FS_GCS_ENABLE": 1, "FS_GCS_TIMEOUT": 5, "RTL_SPEED": 50}
    async with aircraft_on_their_docks("ardupilot", failsafe) as aircraft:
        listed = aircraft.file(tmp_path / "aircraft.yaml")
        async with flying_on(url, listed) as before:
            made = await before.runtime.submit({**CALL, **NEAR_ISLINGTON}, actor="cad")
            assert made.assignment is not None
            drone = made.assignment.drone_id
            dock = before.runtime.network.sites[made.assignment.site_id].position
            up = aircraft.vehicle(drone)
            await until(
                lambda: up.airborne and distance_m(up.lat, up.lon, dock.lat, dock.lon) > 30,
                60,
                "the aircraft on its way",
            )
        await until(lambda: up.mode == "RTL", 30, "the aircraft's GCS failsafe")
        async with flying_on(url, listed) as after:
            runtime = after.runtime
            # Not sent on to the scene over its failsafe: the call goes to the other police
            # drone, and SkyShare brings this one home by its own route.
            handed = await after.wait_event(
                lambda e: e.type is EventType.DISPATCH_PROPOSED and e.subject == made.incident.id,
                30,
                "the call handed on",
            )
            assert handed.data["drone_id"] != drone
            await after.wait_event(
                lambda e: e.type is EventType.DRONE_LANDED and e.subject == drone, 120, "landing"
            )
            assert runtime.fleet[drone].status in (DroneStatus.CHARGING, DroneStatus.DOCKED)
            assert after.of(EventType.DRONE_LAUNCHED, drone) == []
            view = await runtime.incident(made.incident.id)
            first = next(a for a in view.assignments if a.drone_id == drone)
            assert first.status is AssignmentStatus.CANCELLED
            await runtime.settled()
            assert runtime.store.verify_audit_chain().ok
