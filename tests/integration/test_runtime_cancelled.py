"""A caller that stops waiting for its change (its request cancelled, say) does not undo
it: the write goes on, and once it is durable the change is published and acted on as if
the caller had waited; memory and the store agree."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from skyshare.domain import DroneStatus, IncidentStatus
from skyshare.domain.events import EventType
from tests.integration.live import held, runtime_on, turns_until

CALL = {"agency": "police", "priority": "P3", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}


async def test_a_call_whose_submitter_stops_waiting_is_stored_proposed_and_published(
    tmp_path: Path,
) -> None:
    async with runtime_on(f"sqlite:///{tmp_path / 'store.db'}") as runtime:
        events = runtime.bus.subscribe({EventType.DISPATCH_PROPOSED})
        submitting = asyncio.create_task(runtime.submit(CALL, actor="test"))
        await turns_until(lambda: bool(held(runtime)))  # proposed in memory, its write in flight
        (drone,) = held(runtime)
        incident = runtime.fleet[drone].task_incident_id
        assert incident is not None
        submitting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await submitting
        await runtime.settled()
        # Stored, and not undone in memory: the drone stays held for the call...
        stored, kept = runtime.store.drone_states()[drone], runtime.fleet[drone]
        assert stored.incident_id == kept.task_incident_id == incident
        assert stored.status is kept.status is not DroneStatus.DOCKED
        # ...which operators see proposed, and were told of.
        view = await runtime.incident(incident)
        assert view.incident.status is IncidentStatus.PROPOSED
        events.close()  # what was published stays to be read
        assert [e.subject async for e in events] == [incident]
        again = await runtime.submit({**CALL, "lon": -0.1500}, actor="test")
        assert again.assignment is not None and again.assignment.drone_id != drone
