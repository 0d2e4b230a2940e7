"""Flying aircraft the service did not start (``fleet=mavlink``): mavsim runs on its own, as
real aircraft or SITL would, and an aircraft file says which aircraft each drone is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from simulators.mavsim.vehicle import SimVehicle
from skyshare.domain import DroneStatus, InputError
from skyshare.domain.events import EventType
from skyshare.runtime.flights import NOT_HEARD, NOT_ITS_AIRCRAFT, NOT_LISTED
from skyshare.runtime.health import health
from tests.integration.live import until

from .conftest import Flying, aircraft_on_their_docks, flying_on

P1 = {"agency": "police", "priority": "P1", "kind": "burglary"}
HIGHBURY = {"lat": 51.5490, "lon": -0.0950}  # between the police docks, nearer pol-1's
HACKNEY = (51.5450, -0.0550)  # pol-2's dock
LIMEHOUSE = {"lat": 51.5150, "lon": -0.0450}  # near fire-1's and fire-2's dock
FIRE = {"agency": "fire", "priority": "P1", "kind": "building_fire"}
CARDIAC = {"agency": "ambulance", "priority": "P1", "kind": "cardiac_arrest"}
ON_DOCK = (DroneStatus.CHARGING, DroneStatus.DOCKED)


async def heard_at_last(flying: Flying, aircraft: SimVehicle, drone: str) -> dict[str, Any]:
    """``drone``'s aircraft, out of reach at start-up (so the drone is out of service as
    not heard), is heard at last and found not to be the drone's: the drone is out of
    service for that. The last ``drone_status`` event's data of each drone, by drone."""
    out = {e.subject: e.data for e in flying.of(EventType.DRONE_STATUS)}
    assert out[drone]["reason"] == NOT_HEARD
    aircraft.inject(link_drop=False)
    await flying.wait_event(
        lambda e: (
            e.type is EventType.DRONE_STATUS
            and e.subject == drone
            and e.data["status"] == "maintenance"
        ),
        30,
        f"{drone} out of service",
    )
    return {e.subject: e.data for e in flying.of(EventType.DRONE_STATUS)}


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
                "not_its_aircraft": [],
                "away_from_dock": [],
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


async def test_drones_whose_aircraft_stand_on_each_other_s_docks_are_not_flown(
    tmp_path: Path,
) -> None:
    """The aircraft file swaps pol-1's and pol-2's system ids: each drone's aircraft is
    heard on the other's dock, 3.5 km away. Flying them would fly one drone's aircraft as
    the other (its dock, its battery, its fence): both are out of service, and say why,
    pol-1's only once its aircraft (out of reach at start-up) is heard."""
    async with aircraft_on_their_docks() as aircraft:
        late = aircraft.vehicle("pol-2")  # the aircraft on pol-2's dock: pol-1's, by the file
        late.inject(link_drop=True)
        ids = dict(aircraft.system_ids)
        ids["pol-1"], ids["pol-2"] = ids["pol-2"], ids["pol-1"]
        entries = {d: {"link": aircraft.links[d], "system_id": ids[d]} for d in ids}
        listed = tmp_path / "aircraft.yaml"
        listed.write_text(yaml.safe_dump({"aircraft": entries}))
        url = f"sqlite:///{tmp_path / 'e2e.db'}"
        async with flying_on(url, listed, wait_s=1.0) as flying:
            runtime = flying.runtime
            out = await heard_at_last(flying, late, "pol-1")  # on a dock not its drone's
            assert set(out) == {"pol-1", "pol-2"}
            for drone, dock in (("pol-1", "pol-islington"), ("pol-2", "pol-hackney")):
                assert runtime.fleet[drone].status is DroneStatus.MAINTENANCE
                assert out[drone]["status"] == "maintenance"
                assert out[drone]["reason"].startswith(
                    f"its aircraft (system {ids[drone]}) is on the ground 3,"
                ), out[drone]["reason"]
                assert f"m from {dock}, the dock it is recorded on" in out[drone]["reason"]
            assert all(runtime.fleet[d].status in ON_DOCK for d in ("fire-1", "fire-2", "aed-1"))
            report = health(runtime)
            assert report["fleet"]["away_from_dock"] == ["pol-1", "pol-2"]
            assert report["status"] == "degraded"
            # Neither is offered: a police call near them has no drone, and nothing lifts.
            unserved = await runtime.submit({**P1, **HIGHBURY}, actor="cad")
            assert unserved.assignment is None
            assert not aircraft.vehicle("pol-1").airborne
            assert not aircraft.vehicle("pol-2").airborne
            # A crew cannot put pol-1 back on its dock while its aircraft is on another.
            with pytest.raises(InputError, match=r"system \d+\) is on the ground") as refused:
                await runtime.return_to_service("pol-1", "pol-islington", actor="crew")
            assert refused.value.field == "site_id"
            assert runtime.fleet["pol-1"].status is DroneStatus.MAINTENANCE


async def test_a_drone_whose_aircraft_was_carried_off_its_dock_flies_again_once_back(
    tmp_path: Path,
) -> None:
    """pol-2's aircraft stands 200 m from its dock when SkyShare starts (a crew took it to
    the workshop): out of service. A return to service is refused while it is away, and
    taken once the crew has carried it back; then pol-2 flies the next call."""
    async with aircraft_on_their_docks() as aircraft:
        moved = aircraft.vehicle("pol-2")
        moved.recover(HACKNEY[0], HACKNEY[1] + 0.003)  # about 200 m east of the dock
        url = f"sqlite:///{tmp_path / 'e2e.db'}"
        async with flying_on(url, aircraft.file(tmp_path / "aircraft.yaml"), wait_s=1.0) as flying:
            runtime = flying.runtime
            assert runtime.fleet["pol-2"].status is DroneStatus.MAINTENANCE
            with pytest.raises(InputError, match=r"on the ground 2\d\d m from pol-hackney"):
                await runtime.return_to_service("pol-2", "pol-hackney", actor="crew")
            moved.recover(*HACKNEY)
            await until(
                lambda: health(runtime)["fleet"]["away_from_dock"] == [], 30, "back on its dock"
            )
            await runtime.return_to_service("pol-2", "pol-hackney", actor="crew")
            assert runtime.fleet["pol-2"].status in ON_DOCK
            near = {"lat": HACKNEY[0], "lon": HACKNEY[1] - 0.004}
            call = await runtime.submit({**P1, **near}, actor="cad")
            assert call.assignment is not None and call.assignment.drone_id == "pol-2"
            await until(lambda: moved.airborne, 30, "pol-2's aircraft in the air")


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
async def test_two_drones_on_one_dock_are_told_apart_by_their_board_ids(
    tmp_path: Path, autopilot: str
) -> None:
    """fire-1 and fire-2 share a dock, so where their aircraft stand cannot tell them
    apart. The aircraft file swaps their system ids but gives each drone the board id of
    its own aircraft (read off the aircraft): each aircraft heard reports the other's.
    Both are out of service, saying why (fire-2's once its aircraft, out of reach at
    start-up, is heard), and no crew can put them back; with the system ids put right,
    fire-1 flies."""
    async with aircraft_on_their_docks(autopilot) as aircraft:
        late = aircraft.vehicle("fire-1")  # fire-2's by the swapped file
        late.inject(link_drop=True)
        board = {d: aircraft.vehicle(d).board_id.hex() for d in aircraft.system_ids}
        assert len(set(board.values())) == len(board)  # one id per aircraft
        ids = dict(aircraft.system_ids)
        ids["fire-1"], ids["fire-2"] = ids["fire-2"], ids["fire-1"]
        entries = {
            d: {"link": aircraft.links[d], "system_id": ids[d], "board_id": board[d]} for d in ids
        }
        swapped = tmp_path / "swapped.yaml"
        swapped.write_text(yaml.safe_dump({"aircraft": entries}))
        async with flying_on(f"sqlite:///{tmp_path / 'a.db'}", swapped, wait_s=1.0) as flying:
            runtime = flying.runtime
            out = await heard_at_last(flying, late, "fire-2")  # saying which aircraft it is
            assert set(out) == {"fire-1", "fire-2"}
            for drone, other in (("fire-1", "fire-2"), ("fire-2", "fire-1")):
                assert runtime.fleet[drone].status is DroneStatus.MAINTENANCE
                why = (
                    f"its aircraft (system {ids[drone]}) is not the one the aircraft file "
                    f"names: board id {board[drone]} in the file, and the aircraft reports "
                    f"{board[other]}"
                )
                assert out[drone]["reason"] == NOT_ITS_AIRCRAFT.format(why=why)
            report = health(runtime)
            assert report["fleet"]["not_its_aircraft"] == ["fire-1", "fire-2"]
            assert report["fleet"]["away_from_dock"] == []
            assert report["status"] == "degraded"
            # Neither lifts for a fire next to their dock, and no crew can put one back.
            call = await runtime.submit({**FIRE, **LIMEHOUSE}, actor="cad")
            assert call.assignment is None or call.assignment.drone_id not in board
            with pytest.raises(InputError, match="board id") as refused:
                await runtime.return_to_service("fire-1", "fire-limehouse", actor="crew")
            assert refused.value.field == "drone_id"
            assert not aircraft.vehicle("fire-1").airborne
            assert not aircraft.vehicle("fire-2").airborne
        entries = {d: {**entries[d], "system_id": aircraft.system_ids[d]} for d in entries}
        right = tmp_path / "right.yaml"
        right.write_text(yaml.safe_dump({"aircraft": entries}))
        async with flying_on(f"sqlite:///{tmp_path / 'b.db'}", right, wait_s=1.0) as flying:
            runtime = flying.runtime
            assert flying.of(EventType.DRONE_STATUS) == []
            assert health(runtime)["fleet"]["not_its_aircraft"] == []
            call = await runtime.submit({**FIRE, **LIMEHOUSE}, actor="cad")
            assert call.assignment is not None and call.assignment.drone_id in board
            flown = aircraft.vehicle(call.assignment.drone_id)
            await until(lambda: flown.airborne, 30, "its aircraft in the air")


async def test_an_aircraft_swapped_on_its_dock_during_an_outage_is_not_flown(
    tmp_path: Path,
) -> None:
    """fire-1's link drops and comes back: its aircraft, asked again which it is, is
    the same, and fire-1 is back in service. It drops again, and a spare aircraft is put
    on the dock in its place with its system id: heard again, it reports another board
    id, and fire-1 is out of service, saying why."""
    async with aircraft_on_their_docks() as aircraft:
        board = {d: aircraft.vehicle(d).board_id.hex() for d in aircraft.system_ids}
        entries = {
            d: {"link": aircraft.links[d], "system_id": aircraft.system_ids[d], "board_id": b}
            for d, b in board.items()
        }
        listed = tmp_path / "aircraft.yaml"
        listed.write_text(yaml.safe_dump({"aircraft": entries}))
        async with flying_on(f"sqlite:///{tmp_path / 'e2e.db'}", listed, wait_s=1.0) as flying:
            runtime = flying.runtime
            fire_1 = aircraft.vehicle("fire-1")
            assert flying.fleet.director.warmed is not None
            await flying.fleet.director.warmed  # the start-up's settings made on every aircraft

            async def outage(then: str) -> None:
                seen = len(flying.events)
                fire_1.inject(link_drop=True)
                await until(lambda: runtime.fleet["fire-1"].status is DroneStatus.OFFLINE, 30)
                if then == "swap":
                    fire_1.board_id = b"SPARE-AIRCRAFT"
                fire_1.inject(link_drop=False)
                await flying.wait_event(
                    lambda e: (
                        flying.events.index(e) >= seen
                        and e.type is EventType.LINK_REGAINED
                        and e.subject == "fire-1"
                    ),
                    30,
                    "fire-1 heard again",
                )

            await outage("same aircraft")
            await until(lambda: runtime.fleet["fire-1"].status in ON_DOCK, 30, "back in service")
            await outage("swap")
            last = await flying.wait_event(
                lambda e: (
                    e.type is EventType.DRONE_STATUS
                    and e.subject == "fire-1"
                    and e.data["status"] == "maintenance"
                ),
                30,
                "fire-1 out of service",
            )
            assert last.data["reason"] == NOT_ITS_AIRCRAFT.format(
                why=f"its aircraft (system {aircraft.system_ids['fire-1']}) is not the one the "
                f"aircraft file names: board id {board['fire-1']} in the file, and the aircraft "
                f"reports {b'SPARE-AIRCRAFT'.hex()}"
            )
            assert health(runtime)["fleet"]["not_its_aircraft"] == ["fire-1"]
            assert runtime.fleet["fire-2"].status in ON_DOCK
