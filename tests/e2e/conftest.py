"""A runtime flying the small test network through mavsim over real MAVLink: mavsim booted
by the runtime (``fleet=sim``), or run on its own and named in an aircraft file
(``fleet=mavlink``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from simulators.mavsim import Simulator
from simulators.mavsim.probe import free_udp_port
from simulators.mavsim.vehicle import SimVehicle
from skyshare.config import Settings
from skyshare.domain.events import Event, EventType
from skyshare.runtime.clock import ScaledClock
from skyshare.runtime.linked_fleet import LinkedFleet
from skyshare.runtime.mavlink_fleet import start_mavlink_fleet
from skyshare.runtime.runtime import Runtime
from skyshare.runtime.simfleet import SimulatedFleet, aircraft_on_docks, start_simulated_fleet
from skyshare.runtime.world import load_network

SPEEDUP = 30.0
NETWORK = Path(__file__).parent / "network_small.yaml"


@dataclass
class Flying:
    runtime: Runtime
    fleet: SimulatedFleet | LinkedFleet  # a LinkedFleet when an aircraft file is flown
    events: list[Event]

    async def wait_event(
        self, predicate: Callable[[Event], bool], timeout_s: float = 60, what: str = "event"
    ) -> Event:
        """Wait (wall seconds) for an event that matches; never a blind sleep."""

        async def seen() -> Event:
            while True:
                for e in self.events:
                    if predicate(e):
                        return e
                await self._arrived.wait()
                self._arrived.clear()

        try:
            return await asyncio.wait_for(seen(), timeout_s)
        except TimeoutError:
            kinds = [f"{e.type}:{e.subject}" for e in self.events]
            raise AssertionError(f"no {what} within {timeout_s} s; events: {kinds}") from None

    def of(self, kind: EventType, subject: str | None = None) -> list[Event]:
        return [
            e for e in self.events if e.type is kind and (subject is None or e.subject == subject)
        ]

    _arrived: asyncio.Event = None  # type: ignore[assignment]


@pytest.fixture
async def flying(tmp_path: Path) -> AsyncIterator[Flying]:
    async with flying_on(f"sqlite:///{tmp_path / 'e2e.db'}") as started:
        yield started


@asynccontextmanager
async def flying_on(
    database_url: str, aircraft_file: Path | None = None, wait_s: float = 10.0
) -> AsyncIterator[Flying]:
    """The runtime on the store at ``database_url``, and its fleet: simulated (mavsim
    booted by the runtime), or with ``aircraft_file`` the aircraft it names, flown through
    ``fleet=mavlink`` after waiting ``wait_s`` for them. Every event published from start
    on is recorded, start-up's included."""
    settings = Settings(database_url=database_url, mqtt_url=None, network_file=NETWORK)
    runtime = await Runtime.create(settings, clock=ScaledClock(SPEEDUP))
    flying = Flying(runtime, None, [])  # type: ignore[arg-type]
    flying._arrived = asyncio.Event()

    async def record() -> None:
        async with runtime.bus.subscribe() as events:
            async for event in events:
                flying.events.append(event)
                flying._arrived.set()

    recorder = asyncio.create_task(record())
    await asyncio.sleep(0)  # let the recorder subscribe before the fleet starts
    try:
        if aircraft_file is None:
            flying.fleet = await start_simulated_fleet(
                runtime, speedup=SPEEDUP, seed=7, boot_scale=0.2
            )
        else:
            flying.fleet = await start_mavlink_fleet(
                runtime, aircraft_file, wait_s=wait_s, speedup=SPEEDUP
            )
        yield flying
    finally:
        recorder.cancel()
        if flying.fleet is not None:
            await flying.fleet.stop()
        await runtime.shutdown()


@dataclass
class Aircraft:
    """mavsim run on its own, as an operator would run it: one aircraft per drone of the
    test network on its dock (system ids in drone id order), serving the links an aircraft
    file names. Its aircraft outlive any runtime flying them."""

    simulator: Simulator
    links: dict[str, str]  # drone id -> the link it is heard on
    system_ids: dict[str, int]

    def vehicle(self, drone_id: str) -> SimVehicle:
        return self.simulator.vehicles[self.system_ids[drone_id] - 1]

    def file(self, path: Path, drones: list[str] | None = None) -> Path:
        """An aircraft file naming ``drones`` (all by default), written at ``path``."""
        listed = {
            d: {"link": self.links[d], "system_id": self.system_ids[d]}
            for d in (drones or self.system_ids)
        }
        path.write_text(
            "# Which aircraft each drone is: the MAVLink link SkyShare hears it on, and its "
            f"system id.\n{yaml.safe_dump({'aircraft': listed}, sort_keys=False)}"
        )
        return path


@asynccontextmanager
async def aircraft_on_their_docks(
    autopilot: str = "ardupilot", params: dict[str, float] | None = None
) -> AsyncIterator[Aircraft]:
    """ArduPilot aircraft each serve a TCP port of their own; PX4 ones all send to one UDP
    port, told apart by system id (as behind a MAVLink router)."""
    network = load_network(NETWORK)
    drones = sorted(network.drones)
    gcs_port = free_udp_port() if autopilot == "px4" else None
    config = aircraft_on_docks(
        network,
        drones,
        autopilot=autopilot,
        speedup=SPEEDUP,
        seed=7,
        boot_scale=0.2,
        params=params or {},
        px4_gcs_port=gcs_port,
    )
    async with Simulator(config) as simulator:
        links = {
            d: f"udpin:127.0.0.1:{gcs_port}" if gcs_port else simulator.connection_string(i)
            for i, d in enumerate(drones)
        }
        yield Aircraft(simulator, links, {d: i + 1 for i, d in enumerate(drones)})
