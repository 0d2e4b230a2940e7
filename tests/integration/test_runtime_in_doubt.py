"""A decision whose write the store took as its process died, with no other able to start
for a while: the caller is told it failed in doubt, and once the store says it has the
change, the runtime acts on it (the intake's case is in tests/api/test_incidents_api.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from skyshare.domain import DroneStatus, IncidentStatus
from skyshare.domain.events import EventType
from skyshare.runtime.store_worker import StoreInDoubt, StoreUnavailable
from tests.integration.dying_store import dies_once
from tests.integration.live import CALL, held, runtime_on, turns_until


async def test_a_close_the_store_took_in_doubt_frees_the_drone_once_it_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying = dies_once(monkeypatch, "after", tmp_path)
    async with runtime_on(dying.url) as runtime:
        submitted = await runtime.submit(CALL, actor="test")  # a P3 waits for an operator
        assert submitted.assignment is not None
        incident, drone = submitted.incident.id, submitted.assignment.drone_id
        dying.die_at_next_write()
        with pytest.raises(StoreInDoubt):
            await runtime.close_incident(incident, actor="test", reason="resolved")
        assert runtime.fleet[drone].task_incident_id == incident  # undone: as if not stored
        dying.come_back()
        await runtime.writer.read("write_progress", "-")  # a store process serves again
        await runtime.settled()
        # The close was stored: the drone is free, in memory and in the store alike.
        assert (await runtime.incident(incident)).incident.status is IncidentStatus.CLOSED
        state = runtime.fleet[drone]
        assert (state.status, state.task_incident_id) == (DroneStatus.DOCKED, None)
        stored = runtime.store.drone_states()[drone]
        assert (stored.status, stored.incident_id) == (DroneStatus.DOCKED, None)
        closed = [s.event.type for s in runtime.store.events(subject=incident)]
        assert closed[-1] is EventType.INCIDENT_CLOSED  # nothing to withdraw or decide again
        again = await runtime.submit(CALL, actor="test")  # it is offered again
        assert again.assignment is not None and again.assignment.drone_id == drone


async def test_decisions_in_flight_when_the_store_goes_away_unstored_leave_no_droneheld(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call is proposed a drone and, its write still in flight, declined (the next drone
    proposed); the store's process dies before committing either. Undone latest first,
    the two changes leave every drone as it was: none is held for a call never stored."""
    dying = dies_once(monkeypatch, "before", tmp_path)
    async with runtime_on(dying.url) as runtime:
        dying.die_at_next_write()
        submitting = asyncio.create_task(runtime.submit(CALL, actor="test"))
        await turns_until(lambda: bool(held(runtime)))  # proposed, its write in flight
        (first,) = held(runtime)
        incident = runtime.fleet[first].task_incident_id
        assert incident is not None
        with pytest.raises(StoreUnavailable):
            await runtime.decline(incident, actor="test", reason="too far")
        with pytest.raises(StoreInDoubt):
            await submitting
        assert held(runtime) == [] and runtime.fleet[first].status is DroneStatus.DOCKED
        dying.come_back()
        await runtime.writer.read("write_progress", "-")
        await runtime.settled()
        assert runtime.store.list_incidents() == []  # never stored: nothing to act on
        assert held(runtime) == []
