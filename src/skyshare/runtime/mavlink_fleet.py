"""Flying aircraft SkyShare did not start: real ArduPilot or PX4 aircraft, SITL, or mavsim
run on its own (``skyshare sim``), each named in the aircraft file (``SKYSHARE_FLEET=mavlink``,
``SKYSHARE_AIRCRAFT_FILE``; format in ``skyshare.fleet.aircraft``).

At start-up each distinct link is opened once and the listed aircraft are waited for, for
at most ``SKYSHARE_AIRCRAFT_WAIT_S``; the service goes on with those heard. A drone of the
network with no aircraft listed, or whose aircraft was not heard, is out of service
(offline) and never offered; one heard later is taken up then and offered again
(``FlightDirector``). The start-up log names both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from skyshare.domain.errors import InputError
from skyshare.fleet.aircraft import Aircraft, links, parse_aircraft
from skyshare.runtime.linked_fleet import LinkedFleet, fleet_config, link_up
from skyshare.runtime.runtime import Runtime

log = logging.getLogger(__name__)


def load_aircraft(path: Path | None, runtime: Runtime) -> dict[str, Aircraft]:
    """The aircraft file at ``path``, checked against the runtime's network."""
    if path is None:
        raise InputError("SKYSHARE_AIRCRAFT_FILE", "is required with SKYSHARE_FLEET=mavlink")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("(file)", exc.strerror or str(exc), source=str(path)) from None
    config = fleet_config(1.0)
    return parse_aircraft(
        text, runtime.network.drones, source=str(path), ground_station_id=config.gcs_system_id
    )


async def start_mavlink_fleet(
    runtime: Runtime, aircraft_file: Path | None, *, wait_s: float, speedup: float = 1.0
) -> LinkedFleet:
    """Open the aircraft file's links, wait up to ``wait_s`` (wall seconds) for its
    aircraft, and let the runtime fly those heard. ``speedup``: the aircraft's clock
    against the wall's (1 for real aircraft; SITL and mavsim may run faster)."""
    aircraft = load_aircraft(aircraft_file, runtime)  # nothing is opened for a bad file
    system_ids = {drone: a.system_id for drone, a in aircraft.items()}
    fleet = await link_up(
        runtime,
        links(aircraft),
        system_ids,
        wait_s=wait_s,
        speedup=speedup,
        heard=lambda heard: _log_start(runtime, aircraft, heard, wait_s),
        source=str(aircraft_file),
        board_ids={d: a.board_id for d, a in aircraft.items() if a.board_id is not None},
    )
    _log_board_ids(fleet)
    return fleet


def _log_board_ids(fleet: LinkedFleet) -> None:
    """Each heard aircraft's board id, for the aircraft file's ``board_id``."""
    reported = []
    for drone_id, system_id in sorted(fleet.system_ids.items()):
        vehicle = fleet.manager.find(system_id)
        if vehicle is not None:
            reported.append(f"{drone_id} (system {system_id}): {vehicle.state.board_id}")
    if reported:
        log.info("board ids the aircraft report: %s", ", ".join(reported))


def _log_start(
    runtime: Runtime, aircraft: Mapping[str, Aircraft], heard: set[int], wait_s: float
) -> None:
    def named(drones: list[Aircraft]) -> str:
        return ", ".join(f"{a.drone_id} (system {a.system_id} on {a.link})" for a in drones)

    listed = sorted(aircraft.values(), key=lambda a: a.drone_id)
    found = [a for a in listed if a.system_id in heard]
    log.info("aircraft heard: %s", named(found) or "none")
    silent = [a for a in listed if a.system_id not in heard]
    if silent:
        log.warning(
            "aircraft not heard within %g s, their drones out of service until they are: %s",
            wait_s,
            named(silent),
        )
    unlisted = sorted(set(runtime.network.drones) - set(aircraft))
    if unlisted:
        log.warning(
            "%d drones have no aircraft in the aircraft file and are out of service: %s",
            len(unlisted),
            ", ".join(unlisted),
        )
