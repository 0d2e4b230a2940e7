"""A control room's call that arrives while the store is away is held, not bounced, and
taken in once it is back: stored once, under one id, and proposed a drone. So is its
close: done once, when the store is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyshare.domain import IncidentStatus
from tests.integration.dying_store import DyingStore, dies_once
from tests.integration.live import held, runtime_on, until

CALL = {"priority": "P3", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}


@pytest.fixture(params=["after", "before"])  # the store dies committing the write, or not
def dying(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> DyingStore:
    return dies_once(monkeypatch, request.param, tmp_path)


async def test_a_control_room_call_made_while_the_store_is_away_is_taken_in_once_back(
    dying: DyingStore,
) -> None:
    async with runtime_on(dying.url) as runtime:
        dying.die_at_next_write()  # the call's write is the store process's last
        taking = asyncio.create_task(runtime.intake_from_cad("police", CALL))
        await until(lambda: bool(held(runtime)))  # proposed, its write in flight
        await until(lambda: not held(runtime))  # the write failed: undone, call held
        assert not taking.done()  # not bounced to the control room
        dying.come_back()
        incident = await asyncio.wait_for(taking, 30)
        await runtime.settled()
        assert [i.id for i in runtime.store.list_incidents()] == [incident.id]  # once
        assert incident.received_at == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        view = await runtime.incident(incident.id)
        assert view.incident.status is IncidentStatus.PROPOSED and view.current is not None
        assert held(runtime) == [view.current.drone_id]


async def test_a_control_room_close_made_while_the_store_is_away_is_done_once_back(
    dying: DyingStore,
) -> None:
    async with runtime_on(dying.url) as runtime:
        call = await runtime.intake_from_cad("police", {**CALL, "external_id": "CAD-9"})
        await runtime.settled()
        [drone] = held(runtime)
        dying.die_at_next_write()  # the close's write is the store process's last
        close = {"external_id": "CAD-9", "status": "closed", "reason": "false alarm"}
        closing = asyncio.create_task(runtime.intake_from_cad("police", close))
        await until(lambda: not held(runtime))  # closed, its write in flight
        await until(lambda: bool(held(runtime)))  # the write failed: undone, close held
        assert not closing.done()  # not bounced to the control room
        dying.come_back()
        closed = await asyncio.wait_for(closing, 30)
        await runtime.settled()
        assert (closed.id, closed.status) == (call.id, IncidentStatus.CLOSED)
        assert runtime.store.get_incident(call.id).status is IncidentStatus.CLOSED
        trail = [s.event.type.value for s in runtime.store.events(subject=call.id)]
        assert trail.count("incident_closed") == 1 and held(runtime) == []
        assert runtime.fleet[drone].task_incident_id is None
