"""After a restart, what was under way is taken up once the aircraft are heard from: an
approved launch never flown is flown, and a sortie whose aircraft is on the ground (here:
rebooted on its dock) hands its call on while the drone is landed where it is. (An
aircraft still in the air flies its sortie on from where it is; mavsim's aircraft do not
outlive a restart, so that branch is not exercised here.)"""

from __future__ import annotations

from pathlib import Path

from skyshare.domain import AssignmentStatus, DroneStatus, IncidentStatus
from tests.integration.live import runtime_on, until

from .conftest import NETWORK, flying_on

CALL = {"agency": "police", "priority": "P1", "kind": "burglary"}
HIGHBURY = {"lat": 51.5490, "lon": -0.0950}
DALSTON = {"lat": 51.5460, "lon": -0.0750}


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

        def handed_on() -> bool:  # to no one here: pol-2 is busy, the rest not police's
            view = runtime._open.get(flown.incident.id)
            return view is not None and view.incident.status is IncidentStatus.UNSERVED

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
