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
from skyshare.domain.errors import InputError
from skyshare.domain.events import EventType
from skyshare.fleet import FleetConfig, FleetManager
from skyshare.runtime.flight_hooks import CHARGE_PCT_PER_S
from skyshare.runtime.flights import FlightDirector
from skyshare.runtime.operators import RETURNED_TO_SERVICE
from skyshare.runtime.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class SimulatedFleet:
    simulator: Simulator | None  # None when the simulator runs in a child process
    manager: FleetManager
    director: FlightDirector
    system_ids: dict[str, int]
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
        await self.director.stop()
        await self.manager.close()
        await self.stop_simulator()

    async def stop_simulator(self) -> None:
        if self.simulator is not None:
            await self.simulator.stop()
        if self.child is not None:
            if self.child.stdin is not None:
                self.child.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await self.child.wait()
            except TimeoutError:
                self.child.kill()
                await self.child.wait()


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
    homes = [network.sites[network.drones[d].home_site_id].position for d in ids]
    gcs_port = _free_udp_port() if autopilot == "px4" else None
    # The aircraft's own failsafe brings it home when the ground station goes quiet
    # (after 5 s of its time, but never under 1.5 s of wall time at high speedups).
    quiet_s = max(5.0, 1.5 * speedup)
    failsafe = (
        {"NAV_DLL_ACT": 2, "COM_DL_LOSS_T": round(quiet_s)}
        if autopilot == "px4"
        else {"FS_GCS_ENABLE": 1, "FS_GCS_TIMEOUT": quiet_s}
    )
    config = SimConfig(
        vehicles=len(ids),
        autopilot=autopilot,  # type: ignore[arg-type]
        homes=[(h.lat, h.lon) for h in homes],
        speedup=speedup,
        seed=seed,
        boot_scale=boot_scale,
        tcp_base_port=0,
        px4_bind_base=0,
        px4_gcs_bind_base=0,
        px4_gcs_port=gcs_port,
        params=failsafe,
        px4_api_ports=[_free_udp_port() for _ in ids] if autopilot == "px4" else None,
        # Every dock charges the aircraft on it, at the rate the runtime plans with.
        chargers=[(s.position.lat, s.position.lon) for s in network.sites.values()],
        charge_pct_per_s=CHARGE_PCT_PER_S,
    )
    simulator: Simulator | None = None
    child: asyncio.subprocess.Process | None = None
    if separate_process:
        child, connections = await _spawn(config)
    else:
        simulator = Simulator(config)
        await simulator.start()
        connections = [simulator.connection_string(i) for i in range(len(ids))]
    # Link loss is declared after 2.5 s of the vehicle's time, but never after less than
    # 1.5 s of wall time: at high speedups a busy machine must not look like a dead link.
    manager = FleetManager(FleetConfig(speedup=speedup, link_timeout_s=max(2.5, 1.5 * speedup)))
    try:
        if gcs_port is not None:
            await manager.connect(f"udpin:127.0.0.1:{gcs_port}")
        else:
            for connection in connections:
                await manager.connect(connection)
        system_ids = {drone: i + 1 for i, drone in enumerate(ids)}
        await manager.wait_vehicles(list(system_ids.values()), timeout_s=60)
    except BaseException:
        await manager.close()
        await SimulatedFleet(simulator, manager, None, {}, child).stop_simulator()  # type: ignore[arg-type]
        raise
    director = FlightDirector(runtime, manager, system_ids, speedup=speedup)
    await director.start()
    runtime.flights = director
    await runtime.resume_flights()  # what was under way when the service last stopped
    fleet = SimulatedFleet(simulator, manager, director, system_ids, child)
    fleet.crew = asyncio.create_task(fleet._carry_recovered(runtime), name="simulated-crew")
    return fleet


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
