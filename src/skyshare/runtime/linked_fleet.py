"""Flying the aircraft heard on a fleet link, whoever started them: the part every fleet
shares (the simulated one, and the aircraft an aircraft file names).

Once the links are open and the aircraft waited for: the flight director takes the
controls, and what was under way when the service last stopped is taken up
(``Runtime.resume_flights``). A drone whose aircraft is not heard is out of service until
it is; one heard later is taken up then (``FlightDirector``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from skyshare.domain.errors import InputError
from skyshare.fleet import (
    FleetConfig,
    FleetManager,
    UnknownVehicle,
    Vehicle,
    VehicleState,
    WaitTimeout,
)
from skyshare.runtime.flights import FlightDirector, knows_if_airborne
from skyshare.runtime.runtime import Runtime

SAYS_WITHIN_S = 3.0  # vehicle seconds


@dataclass
class LinkedFleet:
    """The aircraft SkyShare flies: the links, the director, each drone's system id."""

    manager: FleetManager
    director: FlightDirector
    system_ids: dict[str, int]

    async def stop(self) -> None:
        """Let go of the aircraft: they keep flying their last command, and their own
        failsafe acts once the ground station has been silent long enough."""
        await self.director.stop()
        await self.manager.close()


def fleet_config(speedup: float) -> FleetConfig:
    # Link loss is declared after 2.5 s of the vehicle's time, but never after less than
    # 1.5 s of wall time: at high speedups a busy machine must not look like a dead link.
    return FleetConfig(speedup=speedup, link_timeout_s=max(2.5, 1.5 * speedup))


async def wait_heard(
    manager: FleetManager,
    system_ids: Iterable[int],
    timeout_s: float,
    identify: Collection[int] = (),
) -> set[int]:
    """Wait up to ``timeout_s`` (wall) for these aircraft to be heard, and for each heard
    to say whether it is in the air (an armed one first heard by its HEARTBEAT does not
    say yet) and, on the ground, where it is (to be checked against its dock); those of
    ``identify`` also which aircraft they are (their board id, to be checked against the
    aircraft file). Returns those that said whether they are in the air."""
    wanted = set(system_ids)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    with contextlib.suppress(UnknownVehicle):
        await manager.wait_vehicles(sorted(wanted), timeout_s=timeout_s)
    heard = [v for s, v in manager.vehicles.items() if s in wanted]
    # One heard at the last moment still gets a few of its seconds to say it: its landed
    # state and position stream at 1 Hz or more.
    vehicle_s = max(SAYS_WITHIN_S, (deadline - loop.time()) * manager.config.speedup)

    def says(state: VehicleState) -> bool:
        return knows_if_airborne(state) and (state.airborne or state.lat is not None)

    async def says_if_airborne(vehicle: Vehicle) -> None:
        with contextlib.suppress(WaitTimeout):
            await vehicle.wait_for(says, vehicle_s, "whether it is in the air, and where")
        if vehicle.system_id in identify:
            await vehicle.identify(vehicle_s)

    await asyncio.gather(*(says_if_airborne(v) for v in heard))
    return {v.system_id for v in heard if knows_if_airborne(v.state)}


async def link_up(
    runtime: Runtime,
    links: Iterable[str],
    system_ids: Mapping[str, int],
    *,
    wait_s: float,
    speedup: float,
    heard: Callable[[set[int]], None],
    source: str = "",
    board_ids: Mapping[str, str] | None = None,
) -> LinkedFleet:
    """Open ``links``, wait up to ``wait_s`` for the aircraft of ``system_ids`` (drone ->
    system id), tell ``heard`` which were heard (it may refuse to go on), and let the
    runtime fly them. Nothing is left open if any step fails. ``source``: where the links
    were read, for the error of one that cannot be opened. ``board_ids``: the hardware id
    each drone's aircraft must report (drone -> hex), where the aircraft file gives one."""
    board_ids = dict(board_ids or {})
    manager = FleetManager(fleet_config(speedup))
    try:
        for link in links:
            try:
                await manager.connect(link)
            except OSError as exc:  # a port taken, an address not of this machine
                raise InputError("link", f"cannot open {link}: {exc}", source=source) from None
        identify = {system_ids[d] for d in board_ids}
        heard(await wait_heard(manager, system_ids.values(), wait_s, identify))
        return await take_controls(
            runtime, manager, system_ids, speedup=speedup, board_ids=board_ids
        )
    except BaseException:
        await manager.close()
        raise


async def take_controls(
    runtime: Runtime,
    manager: FleetManager,
    system_ids: Mapping[str, int],
    *,
    speedup: float,
    board_ids: Mapping[str, str] | None = None,
) -> LinkedFleet:
    """Fly ``runtime``'s drones through ``manager``: the aircraft of each drone is the one
    with its system id (and its board id, where ``board_ids`` gives one). Call once the
    aircraft have been waited for."""
    director = FlightDirector(runtime, manager, system_ids, speedup=speedup, board_ids=board_ids)
    await director.start()
    runtime.flights = director
    try:
        await runtime.resume_flights()  # what was under way when the service last stopped
    except BaseException:
        runtime.flights = None
        await director.stop()
        raise
    return LinkedFleet(manager, director, dict(system_ids))
