"""The ``backend`` fixture: vehicles to fly, from mavsim always and a real SITL when supplied;
and ``runtime``: a runtime on a fresh SQLite file with a hand-driven clock, no fleet.

Every test that takes ``backend`` runs once per backend:

- ``mavsim-ardupilot`` and ``mavsim-px4``: the in-process simulator, on free ports.
- ``sitl-ardupilot`` or ``sitl-px4``: when ``SKYSHARE_SITL=ardupilot:/path/to/arducopter``
  (or ``px4:/path/to/px4``) is set, real SITL instances launched by simulators/sitl
  (``SKYSHARE_SITL_SPEEDUP``, default 10, sets their speed-up).

A test says what it needs with ``@pytest.mark.backend(vehicles=2, shared_link=True,
speedup=10, boot_scale={"px4": 2})`` (all optional; a dict gives a value per autopilot).
The fixture yields a ``Backend``: each vehicle's connection string and system id, the
speed-up, home, a shared GCS connection when the backend has one (PX4's 14550), and
``faults`` (mavsim only; fault tests call ``backend.require_faults()``, which skips on
real SITL with the reason).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from skyshare.config import Settings
from skyshare.fleet import FleetConfig, FleetManager, Vehicle
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime

HOME = (51.5074, -0.1278, 20.0)  # lat, lon, alt AMSL
MAVSIM_SPEEDUP = 20.0
MAVSIM_BOOT_SCALE = 0.3  # ArduCopter's 41 s EKF boot becomes ~12 s of sim time
SITL_SPEEDUP = float(os.environ.get("SKYSHARE_SITL_SPEEDUP", "10"))


def _backends() -> list[str]:
    names = ["mavsim-ardupilot", "mavsim-px4"]
    sitl = os.environ.get("SKYSHARE_SITL", "").strip()
    if sitl:
        names.append(f"sitl-{sitl.partition(':')[0].lower()}")
    return names


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backend(vehicles=1, shared_link=False, speedup=None, boot_scale=None): "
        "what the backend fixture starts",
    )


class Faults:
    """Fault injection and ground truth of a mavsim backend."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim

    def inject(self, index: int, **faults: Any) -> None:
        self.sim.vehicles[index].inject(**faults)

    @property
    def now(self) -> float:
        """Sim seconds since the simulator started."""
        return self.sim.now

    def truth(self, index: int) -> Any:
        return self.sim.vehicles[index]


@dataclass
class Backend:
    name: str
    autopilot: str  # "ardupilot" | "px4"
    connections: list[str]
    system_ids: list[int]
    speedup: float
    home: tuple[float, float, float]
    homes: list[tuple[float, float]]
    shared_connection: str | None = None
    faults: Faults | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self, **overrides: Any) -> FleetConfig:
        return FleetConfig(speedup=self.speedup, **overrides)

    def require_faults(self) -> Faults:
        if self.faults is None:
            pytest.skip(f"{self.name}: a real SITL has no fault injection")
        return self.faults

    @contextlib.asynccontextmanager
    async def fleet(self, shared: bool = False, **config: Any) -> AsyncIterator[FleetManager]:
        """A FleetManager connected to every vehicle (through the shared link if asked)."""
        async with FleetManager(self.config(**config)) as fleet:
            if shared:
                if self.shared_connection is None:
                    pytest.skip(f"{self.name}: no shared GCS link")
                await fleet.connect(self.shared_connection)
            else:
                for connection in self.connections:
                    await fleet.connect(connection)
            await fleet.wait_vehicles(self.system_ids, timeout_s=30)
            yield fleet

    @contextlib.asynccontextmanager
    async def vehicle(self, index: int = 0, **config: Any) -> AsyncIterator[Vehicle]:
        """One vehicle over its own link."""
        async with self.fleet(**config) as fleet:
            yield fleet.vehicle(self.system_ids[index])


def _free_udp_ports(count: int) -> list[int]:
    """Ports the kernel just handed out (and took back): free for the simulator to target."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _option(options: dict[str, Any], name: str, autopilot: str) -> Any:
    value = options.get(name)
    return value.get(autopilot) if isinstance(value, dict) else value


def _homes(count: int) -> list[tuple[float, float]]:
    # Vehicles 40 m apart along a line of latitude, as pads at one station.
    return [(HOME[0], HOME[1] + i * 0.00058) for i in range(count)]


@pytest.fixture(params=_backends())
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    marker = request.node.get_closest_marker("backend")
    options = dict(marker.kwargs) if marker else {}
    vehicles = int(options.get("vehicles", 1))
    shared = bool(options.get("shared_link", False))
    name: str = request.param
    kind, _, autopilot = name.partition("-")
    if kind == "mavsim":
        async for b in _mavsim(name, autopilot, vehicles, shared, options):
            yield b
    else:
        async for b in _sitl(name, autopilot, vehicles, options):
            yield b


async def _mavsim(
    name: str, autopilot: str, vehicles: int, shared: bool, options: dict[str, Any]
) -> AsyncIterator[Backend]:
    from simulators.mavsim import SimConfig, Simulator

    speedup = float(_option(options, "speedup", autopilot) or MAVSIM_SPEEDUP)
    boot_scale = float(_option(options, "boot_scale", autopilot) or MAVSIM_BOOT_SCALE)
    homes = _homes(vehicles)
    api_ports = _free_udp_ports(vehicles + 1) if autopilot == "px4" else None
    cfg = SimConfig(
        vehicles=vehicles,
        autopilot=autopilot,  # type: ignore[arg-type]
        homes=homes,
        home_alt_amsl=HOME[2],
        speedup=speedup,
        seed=7,
        boot_scale=boot_scale,
        tcp_base_port=0,
        px4_api_ports=api_ports[:vehicles] if api_ports else None,
        px4_bind_base=0,
        px4_gcs_bind_base=0,
        px4_gcs_port=api_ports[-1] if api_ports and shared else None,
    )
    async with Simulator(cfg) as sim:
        connections = [sim.connection_string(i) for i in range(vehicles)]
        shared_connection = f"udpin:127.0.0.1:{api_ports[-1]}" if api_ports and shared else None
        yield Backend(
            name,
            autopilot,
            connections,
            [i + 1 for i in range(vehicles)],
            speedup,
            HOME,
            homes,
            shared_connection,
            Faults(sim),
        )


async def _sitl(
    name: str, autopilot: str, vehicles: int, options: dict[str, Any]
) -> AsyncIterator[Backend]:
    from simulators.sitl import SitlFleet, SitlSpec

    spec = SitlSpec.from_env()
    assert spec is not None and spec.autopilot == autopilot
    speedup = float(_option(options, "speedup", autopilot) or SITL_SPEEDUP)
    fleet = SitlFleet(spec, vehicles, home=HOME, speedup=speedup).start()
    try:
        yield Backend(
            name,
            autopilot,
            fleet.connections,
            fleet.system_ids,
            speedup,
            HOME,
            [HOME[:2]] * vehicles,
            fleet.shared_connection,
            None,
        )
    finally:
        fleet.stop()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime on a fresh SQLite file, its clock moved by hand; no fleet, no broker."""
    clock = ManualClock(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", mqtt_url=None)
    live = await Runtime.create(settings, clock=clock)
    try:
        yield live
    finally:
        await live.shutdown()
