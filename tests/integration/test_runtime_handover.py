"""What the runtime does as flights report back: a lost drone's call is handed on even
when the reporting task is cancelled, and a drone coming back takes the nearest free dock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from skyshare.config import Settings
from skyshare.domain.events import EventType
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime

CALL = {"agency": "police", "priority": "P1", "kind": "burglary", "lat": 51.5517}


async def test_a_failed_sortie_hands_its_call_on_though_its_task_is_cancelled(
    runtime: Runtime,
) -> None:
    submitted = await runtime.submit({**CALL, "lon": -0.1588}, actor="test")
    incident, first = submitted.incident, submitted.assignment
    assert first is not None  # police P1 launches at once
    proposals = runtime.bus.subscribe({EventType.DISPATCH_AUTO_APPROVED})
    async with runtime._lock:  # another decision is under way: the report must wait
        reporting = asyncio.create_task(
            runtime.flight_failed(first.drone_id, incident, "arming refused")
        )
        await asyncio.sleep(0)  # one turn of the loop: the report is now waiting
        reporting.cancel()  # e.g. the link loss it caused recalls the sortie
    async with asyncio.timeout(10):
        handed_on = await anext(proposals)
    assert handed_on.subject == incident.id
    assert handed_on.data["drone_id"] != first.drone_id
    assert reporting.cancelled()


async def test_a_drone_coming_back_lands_on_the_nearest_dock_with_a_free_slot(
    runtime: Runtime,
) -> None:
    submitted = await runtime.submit({**CALL, "lon": -0.1588}, actor="test")
    assert submitted.assignment is not None
    drone_id = submitted.assignment.drone_id
    drone = runtime.network.drones[drone_id]
    other = next(
        s
        for s in runtime.network.sites.values()
        if s.id != drone.home_site_id and (s.shared or s.owner == drone.owner)
    )
    dock = await runtime.flight_returning(drone_id, "task complete", other.position)
    assert dock == other.id  # right above it, with room: not all the way home
    await runtime.flight_landed(drone_id)
    state = runtime.fleet[drone_id]
    assert (state.docked_at, state.position) == (other.id, other.position)
    trail = runtime.store.events(subject=drone_id)
    returning = [s.event for s in trail if s.event.type is EventType.DRONE_RETURNING]
    assert returning[-1].data["dock"] == other.id
    # Next time its own failsafe flies it back to where it took off: that is its dock.
    again = await runtime.submit({**CALL, "lat": 51.5, "lon": -0.12}, actor="test")
    assert again.assignment is not None
    flown = again.assignment.drone_id
    await runtime.flight_returning(flown, "failsafe", other.position)
    home = runtime.network.sites[runtime.network.drones[flown].home_site_id]
    await runtime.flight_landed(flown, where=home.position)
    assert runtime.fleet[flown].dock_site_id == home.id


async def test_a_drone_on_another_dock_is_still_there_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", mqtt_url=None)
    clock = ManualClock(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    first = await Runtime.create(settings, clock=clock)
    try:
        submitted = await first.submit({**CALL, "lon": -0.1588}, actor="test")
        assert submitted.assignment is not None
        drone_id = submitted.assignment.drone_id
        home = first.network.drones[drone_id].home_site_id
        other = next(
            s for s in first.network.sites.values() if s.id != home and s.shared and s.dock_capacity
        )
        assert await first.flight_returning(drone_id, "task complete", other.position) == other.id
        await first.flight_landed(drone_id)
    finally:
        await first.shutdown()
    again = await Runtime.create(settings, clock=clock)
    try:
        state = again.fleet[drone_id]
        assert (state.dock_site_id, state.position) == (other.id, other.position)
    finally:
        await again.shutdown()
