"""A runtime in a test, and waiting for what it does without blind sleeps."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from skyshare.config import Settings
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime

MORNING = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
# A police burglary in Camden: a P3, so its proposal waits for an operator.
CALL = {"agency": "police", "priority": "P3", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}


@asynccontextmanager
async def runtime_on(
    database_url: str, clock: ManualClock | None = None, **settings: Any
) -> AsyncIterator[Runtime]:
    """A runtime on ``database_url`` (no fleet, no broker unless ``mqtt_url`` is given),
    moved by ``clock`` (default: a ``ManualClock`` at ``MORNING``); shut down on the way
    out."""
    config = Settings(database_url=database_url, **{"mqtt_url": None, **settings})
    runtime = await Runtime.create(config, clock=clock or ManualClock(MORNING))
    try:
        yield runtime
    finally:
        await runtime.shutdown()


async def turns_until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (a few turns; no clock involved): to
    catch a moment between two steps, such as a change made and its write not answered."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def until(
    condition: Callable[[], bool | Awaitable[bool]],
    timeout_s: float = 30.0,
    what: str = "condition",
) -> None:
    """Wait (wall seconds) until ``condition`` (a function, or a coroutine function: to ask
    the runtime as a user does) holds, looking every 10 ms: for what happens on another
    clock (the store's process tried again after a pause, an aircraft flying) and is not
    published (while the store is away, nothing is)."""

    async def holds() -> bool:
        answer = condition()
        return await answer if inspect.isawaitable(answer) else answer

    try:
        async with asyncio.timeout(timeout_s):
            while not await holds():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout_s} s") from None


def held(runtime: Runtime) -> list[str]:
    """The drones held for a call (proposed, launched or flying one)."""
    return [d.drone_id for d in runtime.fleet if d.task_incident_id is not None]
