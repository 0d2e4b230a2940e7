"""Flying aircraft the service did not start (``fleet=mavlink``): mavsim runs on its own, as
real aircraft or SITL would, and an aircraft file says which aircraft each drone is."""

from __future__ import annotations

from pathlib import Path

from skyshare.domain import DroneStatus
from skyshare.domain.events import EventType
from skyshare.runtime.flights import NOT_HEARD, NOT_LISTED
from skyshare.runtime.health import health
from tests.integration.live import until

from .conftest import aircraft_on_their_docks, flying_on

P1 = {"agency": "police", "priority": "P1", "kind": "burglary"}
HIGHBURY = {"lat": 51.5490, "lon": -0.0950}  # between the police docks, nearer pol-1's
CARDIAC = {"agency": "ambulance", "priority": "P1", "kind": "cardiac_arrest"}
ON_DOCK = (DroneStatus.CHARGING, DroneStatus.DOCKED)


async def test_drones_fly_the_aircraft_the_file_names_and_one_heard_late_is_flown_then(
    tmp_path: Path,
) -> None:
    async with aircraft_on_their_docks() as aircraft:
        # pol-1's aircraft is on but not heard (its radio out of reach, say); aed-1 has no
        # aircraft in the file at all.
        late = aircraft.vehicle("pol-1")
        late.inject(link_drop=True)
        listed = aircraft.file(tmp_path / "aircraft.yaml", ["fire-1", "fire-2", "pol-1", "pol-2"])
        url = f"sqlite:///{tmp_path / 'e2e.db'}"
        async with flying_on(url, listed, wait_s=1.0) as flying:
            runtime = flying.runtime
            # Neither can be flown: out of service, and the audit log says why.
            assert runtime.fleet["aed-1"].status is DroneStatus.OFFLINE
            assert runtime.fleet["pol-1"].status is DroneStatus.OFFLINE
            out = {e.subject: e.data["reason"] for e in flying.of(EventType.DRONE_STATUS)}
            assert out == {"aed-1": NOT_LISTED, "pol-1": NOT_HEARD}
            assert all(runtime.fleet[d].status in ON_DOCK for d in ("fire-1", "fire-2", "pol-2"))
            report = health(runtime)  # what the operators' health check says meanwhile
            assert report["fleet"] == {
                "flying": True,
                "aircraft": 4,
                "heard": 3,
                "not_heard": ["pol-1"],
            }
            assert report["status"] == "degraded"
            assert "1 aircraft not heard: pol-1" in report["problems"]
            # So neither is offered: the cardiac arrest has no drone, the burglary near
            # pol-1's dock gets pol-2, whose aircraft takes off.
            unserved = await runtime.submit({**CARDIAC, **HIGHBURY}, actor="cad")
            assert unserved.assignment is None
            first = await runtime.submit({**P1, **HIGHBURY}, actor="cad")
            assert first.assignment is not None and first.assignment.drone_id == "pol-2"
            await flying.wait_event(
                lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == "pol-2", 30, "launch"
            )
            flown = aircraft.vehicle("pol-2")
            await until(lambda: flown.airborne, 30, "pol-2's aircraft in the air")
            # pol-1's aircraft is heard at last: its drone lands where its aircraft stands,
            # on its dock, and flies the next call.
            late.inject(link_drop=False)
            await flying.wait_event(
                lambda e: e.type is EventType.LINK_REGAINED and e.subject == "pol-1", 30, "heard"
            )
            await until(lambda: runtime.fleet["pol-1"].status in ON_DOCK, 30, "pol-1 in service")
            assert health(runtime)["fleet"]["not_heard"] == []
            second = await runtime.submit({**P1, **HIGHBURY}, actor="cad")
            assert second.assignment is not None and second.assignment.drone_id == "pol-1"
            await flying.wait_event(
                lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == "pol-1", 30, "launch"
            )
            await until(lambda: late.airborne, 30, "pol-1's aircraft in the air")
