"""A simulated fleet for the demo and the tests: one mavsim vehicle per drone, each
sitting on its dock, flown by the runtime over real MAVLink on loopback.

Vehicle system ids follow the drones in id order (1, 2, ...). ArduPilot vehicles get
a TCP server each (as SITL does); PX4 vehicles all talk to one UDP port, told apart by
system id, like a GCS link behind a MAVLink router.

The simulated ground crew: when an operator returns a drone to service on a dock, its
simulated aircraft is carried there (with the battery the operator gave), as a real
crew carries a real one; otherwise its next sortie would start in the field.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
import sys
from dataclasses import dataclass

from simulators.mavsim import SimConfig, Simulator
from skyshare.config import REPO_ROOT
from skyshare.domain import Network
from skyshare.domain.errors import InputError
from skyshare.domain.events import EventType
from skyshare.fleet import UnknownVehicle
from skyshare.runtime.flight_hooks import CHARGE_PCT_PER_S
from skyshare.runtime.linked_fleet import LinkedFleet, link_up
from skyshare.runtime.operators import RETURNED_TO_SERVICE
from skyshare.runtime.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class SimulatedFleet(LinkedFleet):
    simulator: Simulator | None = None  # None when the simulator runs in a child process
    child: asyncio.subprocess.Process | None = None
    crew: asyncio.Task[None] | None = None  # carries recovered aircraft to their docks

    async def recover(
        self, drone_id: str, lat: float, lon: float, battery_pct: float | None = None
    ) -> None:
        """Carry ``drone_id``'s landed aircraft to (``lat``, ``lon``)."""
        index = self.system_ids[drone_id] - 1
        if self.simulator is not None:
            self.simulator.vehicles[index].recover(lat, lon, battery_pct)
            return
        assert self.child is not None and self.child.stdin is not None
        command = {"index": index, "lat": lat, "lon": lon, "battery_pct": battery_pct}
        self.child.stdin.write((json.dumps({"recover": command}) + "\n").encode())
        await self.child.stdin.drain()

    async def _carry_recovered(self, runtime: Runtime) -> None:
        async with runtime.bus.subscribe({EventType.DRONE_STATUS}) as events:
            async for event in events:
                if event.data.get("reason") != RETURNED_TO_SERVICE:
                    continue
                site = runtime.network.sites[event.data["site_id"]].position
                try:
                    await self.recover(
                        event.subject, site.lat, site.lon, event.data.get("battery_pct")
                    )
                except (InputError, KeyError, ConnectionError) as exc:  # say so, carry on
                    log.warning("could not carry %s to its dock: %s", event.subject, exc)

    async def stop(self) -> None:
        if self.crew is not None:
            self.crew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.crew
        await super().stop()
        await _stop_simulator(self.simulator, self.child)


async def _stop_simulator(
    simulator: Simulator | None, child: asyncio.subprocess.Process | None
) -> None:
    if simulator is not None:
        await simulator.stop()
    if child is not None:
        if child.stdin is not None:
            child.stdin.close()
        try:
            async with asyncio.timeout(5):
                await child.wait()
        except TimeoutError:
            child.kill()
            await child.wait()


async def start_simulated_fleet(
    runtime: Runtime,
    *,
    autopilot: str = "ardupilot",
    speedup: float = 1.0,
    seed: int = 1,
    boot_scale: float = 0.25,
    drones: list[str] | None = None,
    separate_process: bool = False,
) -> SimulatedFleet:
    """Boot a vehicle on every drone's dock, connect to them all and let the runtime fly.

    ``separate_process`` runs mavsim in a child process, so that the simulated aircraft
    do not share the control system's CPU and event loop (the demo, benchmarks)."""
    network = runtime.network
    ids = sorted(drones or network.drones)
    gcs_port = _free_udp_port() if autopilot == "px4" else None
    # The aircraft's own failsafe brings it home when the ground station goes quiet
    # (after 5 s of its time, but never under 1.5 s of wall time at high speedups).
    quiet_s = max(5.0, 1.5 * speedup)
    failsafe = (
        {"NAV_DLL_ACT": 2, "COM_DL_LOSS_T": round(quiet_s)}
        if autopilot == "px4"
        else {"FS_GCS_ENABLE": 1, "FS_GCS_TIMEOUT": quiet_s}
    )
    config = aircraft_on_docks(
        network,
        ids,
        autopilot=autopilot,
        speedup=speedup,
        seed=seed,
        boot_scale=boot_scale,
        params=failsafe,
        px4_gcs_port=gcs_port,
    )
    simulator: Simulator | None = None
    child: asyncio.subprocess.Process | None = None
    if separate_process:
        child, connections = await _spawn(config)
    else:
        simulator = Simulator(config)
        await simulator.start()
        connections = [simulator.connection_string(i) for i in range(len(ids))]
    system_ids = {drone: i + 1 for i, drone in enumerate(ids)}

    def all_heard(heard: set[int]) -> None:  # it booted them: each must be heard
        missing = sorted(set(system_ids.values()) - heard)
        if missing:
            raise UnknownVehicle(missing[0], sorted(heard))

    links = [f"udpin:127.0.0.1:{gcs_port}"] if gcs_port is not None else connections
    try:
        linked = await link_up(
            runtime, links, system_ids, wait_s=60, speedup=speedup, heard=all_heard
        )
    except BaseException:
        await _stop_simulator(simulator, child)
        raise
    fleet = SimulatedFleet(
        linked.manager, linked.director, linked.system_ids, simulator=simulator, child=child
    )
    fleet.crew = asyncio.create_task(fleet._carry_recovered(runtime), name="simulated-crew")
    return fleet


def aircraft_on_docks(
    network: Network,
    drones: list[str],
    *,
    autopilot: str,
    speedup: float,
    seed: int,
    boot_scale: float,
    params: dict[str, float],
    px4_gcs_port: int | None = None,
) -> SimConfig:
    """mavsim's configuration for one aircraft per drone of ``drones``, in that order
    (system ids 1, 2, ...), each on its drone's dock, on free ports; each dock charges
    the aircraft on it, at the rate the runtime plans with. PX4 aircraft all send to
    ``px4_gcs_port`` (one UDP port for all, like a GCS behind a MAVLink router)."""
    homes = [network.sites[network.drones[d].home_site_id].position for d in drones]
    return SimConfig(
        vehicles=len(drones),
        autopilot=autopilot,  # type: ignore[arg-type]
        homes=[(h.lat, h.lon) for h in homes],
        speedup=speedup,
        seed=seed,
        boot_scale=boot_scale,
        tcp_base_port=0,
        px4_bind_base=0,
        px4_gcs_bind_base=0,
        px4_gcs_port=px4_gcs_port,
        params=params,
        px4_api_ports=[_free_udp_port() for _ in drones] if autopilot == "px4" else None,
        chargers=[(s.position.lat, s.position.lon) for s in network.sites.values()],
        charge_pct_per_s=CHARGE_PCT_PER_S,
    )


async def _spawn(config: SimConfig) -> tuple[asyncio.subprocess.Process, list[str]]:
    fields = {
        f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "airframe"
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.mavsim.child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(REPO_ROOT),
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write((json.dumps(fields) + "\n").encode())
    await child.stdin.drain()
    async with asyncio.timeout(60):
        line = await child.stdout.readline()
    if not line:
        raise RuntimeError(f"mavsim child exited with {await child.wait()}")
    return child, json.loads(line)["connections"]


def _free_udp_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
