"""A caller that stops waiting for its change (its request cancelled, say) does not undo
it: the write goes on, and once it is durable the change is published and acted on as if
the caller had waited; memory and the store agree (a call and its drone; the airspace)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from skyshare.airspace.restrictions import is_temporary, parse_restriction
from skyshare.domain import DroneStatus, GeoPoint, IncidentStatus
from skyshare.domain.events import EventType
from skyshare.store.jobs import Write
from tests.integration.live import CALL, held, runtime_on, turns_until

ACTON_FIRE = {
    "name": "Fire scene, Acton",
    "lat": 51.5085,
    "lon": -0.2650,
    "radius_m": 600,
    "duration_s": 3600,
}
WEST, EAST = GeoPoint(51.5085, -0.2950), GeoPoint(51.5085, -0.2350)  # either side of it


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


@pytest.mark.parametrize("change", ["create", "lift"])
async def test_a_restriction_whose_requester_stops_waiting_is_in_force_as_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    async with runtime_on(f"sqlite:///{tmp_path / 'store.db'}") as runtime:
        now = runtime.clock.now()
        zone = parse_restriction(ACTON_FIRE, zone_id="TR-acton", now=now, agency="fire")
        if change == "lift":
            await runtime.create_restriction(zone, actor="fire-1")
        writes: list[Write] = []
        write = runtime.writer.write
        monkeypatch.setattr(runtime.writer, "write", lambda w: writes.append(w) or write(w))
        asking = asyncio.create_task(
            runtime.create_restriction(zone, actor="fire-1")
            if change == "create"
            else runtime.lift_restriction(zone.id, actor="fire-1")
        )
        await turns_until(lambda: bool(writes))  # its write queued, not yet durable
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        await runtime.settled()
        stored = [r.id for r in runtime.store.restrictions(active_at=runtime.clock.now())]
        in_force = [z.id for z in runtime.airspace.zones if is_temporary(z)]
        assert stored == in_force == (["TR-acton"] if change == "create" else [])
        through = runtime.airspace.route(WEST, EAST, "police", at=runtime.clock.now())
        assert (len(through.waypoints) > 2) is (change == "create")  # routes see it
