"""A runtime flying the small test network through mavsim over real MAVLink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from skyshare.config import Settings
from skyshare.domain.events import Event, EventType
from skyshare.runtime.clock import ScaledClock
from skyshare.runtime.runtime import Runtime
from skyshare.runtime.simfleet import SimulatedFleet, start_simulated_fleet

SPEEDUP = 30.0
NETWORK = Path(__file__).parent / "network_small.yaml"


@dataclass
class Flying:
    runtime: Runtime
    fleet: SimulatedFleet
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
async def flying_on(database_url: str) -> AsyncIterator[Flying]:
    """The runtime and its simulated fleet, on the store at ``database_url``."""
    settings = Settings(database_url=database_url, mqtt_url=None, network_file=NETWORK)
    runtime = await Runtime.create(settings, clock=ScaledClock(SPEEDUP))
    fleet = await start_simulated_fleet(runtime, speedup=SPEEDUP, seed=7, boot_scale=0.2)
    flying = Flying(runtime, fleet, [])
    flying._arrived = asyncio.Event()

    async def record() -> None:
        async with runtime.bus.subscribe() as events:
            async for event in events:
                flying.events.append(event)
                flying._arrived.set()

    recorder = asyncio.create_task(record())
    await asyncio.sleep(0)  # let the recorder subscribe before the test acts
    try:
        yield flying
    finally:
        recorder.cancel()
        await fleet.stop()
        await runtime.shutdown()
