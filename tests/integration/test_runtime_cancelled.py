"""A caller that stops waiting for its change (its request cancelled, say) does not undo
it: the write goes on, and once it is durable the change is published and acted on as if
the caller had waited; memory and the store agree."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyshare.config import Settings
from skyshare.domain import DroneStatus, IncidentStatus
from skyshare.domain.events import EventType
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime

CALL = {"agency": "police", "priority": "P3", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}


async def test_a_call_whose_submitter_stops_waiting_is_stored_proposed_and_published(
    tmp_path: Path,
) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    runtime = await Runtime.create(Settings(database_url=url, mqtt_url=None), clock=clock)
    events = runtime.bus.subscribe({EventType.DISPATCH_PROPOSED})
    try:
        submitting = asyncio.create_task(runtime.submit(CALL, actor="test"))
        await _until(lambda: bool(_held(runtime)))  # proposed in memory, its write in flight
        (drone,) = _held(runtime)
        incident = runtime.fleet[drone].task_incident_id
        assert incident is not None
        submitting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await submitting
        await runtime.settled()
        # Stored, and not undone in memory: the drone stays held for the call...
        stored, held = runtime.store.drone_states()[drone], runtime.fleet[drone]
        assert stored.incident_id == held.task_incident_id == incident
        assert stored.status is held.status is not DroneStatus.DOCKED
        # ...which operators see proposed, and were told of.
        view = await runtime.incident(incident)
        assert view.incident.status is IncidentStatus.PROPOSED
        events.close()  # what was published stays to be read
        assert [e.subject async for e in events] == [incident]
        again = await runtime.submit({**CALL, "lon": -0.1500}, actor="test")
        assert again.assignment is not None and again.assignment.drone_id != drone
    finally:
        await runtime.shutdown()


async def _until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (a few turns; no clock involved)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def _held(runtime: Runtime) -> list[str]:
    return [d.drone_id for d in runtime.fleet if d.task_incident_id is not None]
