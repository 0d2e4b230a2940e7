"""A control room's call that arrives while the store is away is held, not bounced, and
taken in once it is back: stored once, under one id, and proposed a drone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyshare.config import Settings
from skyshare.domain import IncidentStatus
from skyshare.runtime import store_worker
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime
from tests.integration.dying_store import dies_once, linked_database, point

CALL = {"priority": "P3", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}


@pytest.mark.parametrize("dies", ["after", "before"])  # committing the call, or not
async def test_a_control_room_call_made_while_the_store_is_away_is_taken_in_once_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies: str
) -> None:
    link, url = linked_database(tmp_path)
    trigger = dies_once(monkeypatch, dies, tmp_path)
    monkeypatch.setattr(store_worker, "RESTART_TRIES_BEFORE_FAILING", 1)  # fail sooner
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    runtime = await Runtime.create(Settings(database_url=url, mqtt_url=None), clock=clock)
    try:
        trigger.write_text(str(link))  # the call's write is the store process's last
        taking = asyncio.create_task(runtime.intake_from_cad("police", CALL))
        await _until(lambda: bool(_held(runtime)))  # proposed, its write in flight
        await _until(lambda: not _held(runtime))  # the write failed: undone, call held
        assert not taking.done()  # not bounced to the control room
        point(link, "real")
        incident = await asyncio.wait_for(taking, 30)
        await runtime.settled()
        assert [i.id for i in runtime.store.list_incidents()] == [incident.id]  # once
        assert incident.received_at == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        view = await runtime.incident(incident.id)
        assert view.incident.status is IncidentStatus.PROPOSED and view.current is not None
        assert _held(runtime) == [view.current.drone_id]
    finally:
        await runtime.shutdown()


async def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Wait until ``condition`` holds, looking every 10 ms (the store's process is tried
    again on its own clock, so the loop alone does not get there)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def _held(runtime: Runtime) -> list[str]:
    return [d.drone_id for d in runtime.fleet if d.task_incident_id is not None]
