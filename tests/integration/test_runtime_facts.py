"""What happens to an aircraft stands while the store is away: the flight is told nothing
failed, memory keeps the fact, and the store is told (once) when it is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyshare.domain import DroneStatus, IncidentStatus
from skyshare.domain.events import EventType
from skyshare.runtime.changes import Change
from tests.integration.dying_store import dies_once
from tests.integration.live import runtime_on

CALL = {"agency": "police", "priority": "P1", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}
FACTS = {EventType.DRONE_RETURNING, EventType.DRONE_LANDED, EventType.BATTERY_LOW}


async def test_a_drone_that_comes_home_while_the_store_is_away_is_home_once_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying = dies_once(monkeypatch, "before", tmp_path)
    async with runtime_on(dying.url) as runtime:
        published = runtime.bus.subscribe(FACTS)
        submitted = await runtime.submit(CALL, actor="test")  # police P1: launched at once
        assert submitted.assignment is not None
        drone = submitted.assignment.drone_id
        home = runtime.network.sites[runtime.network.drones[drone].home_site_id]
        dying.die_at_next_write()  # the next write is the store process's last
        # None of these raises: the sortie that reports them flies on.
        dock = await runtime.flight_returning(drone, "task complete", home.position)
        await runtime.flight_event(drone, EventType.BATTERY_LOW, {"remaining_pct": 24.0})
        await runtime.flight_landed(drone)
        state = runtime.fleet[drone]
        assert state.status in (DroneStatus.CHARGING, DroneStatus.DOCKED)
        assert state.task_incident_id is None and dock == home.id
        dying.come_back()
        await runtime.settled()
        stored = runtime.store.drone_states()[drone]
        assert (stored.status, stored.incident_id) == (state.status, None)
        trail = [s.event.type for s in runtime.store.events(subject=drone)]
        assert sorted(t for t in trail if t in FACTS) == sorted(FACTS)  # each once
        assert runtime.store.verify_audit_chain().ok
        published.close()
        assert sorted([e.type async for e in published]) == sorted(FACTS)
        again = await runtime.submit({**CALL, "lon": -0.1500}, actor="test")
        assert again.assignment is not None  # the store is writable again


async def test_a_fact_written_again_late_does_not_open_a_call_closed_since(
    tmp_path: Path,
) -> None:
    """A fact the store missed is written again from memory as it is then: a call closed
    meanwhile (and stored closed) stays closed; the drone's state is memory's."""
    async with runtime_on(f"sqlite:///{tmp_path / 'store.db'}") as runtime:
        submitted = await runtime.submit(CALL, actor="test")
        assert submitted.assignment is not None
        drone, incident = submitted.assignment.drone_id, submitted.incident.id
        await runtime.flight_on_scene(drone, submitted.incident)
        on_scene = (await runtime.incident(incident)).incident
        missed = Change(incidents=[on_scene], drones={drone})  # as if the store missed it
        await runtime.close_incident(incident, actor="test", reason="all clear")
        await runtime.writer.write(runtime._write_of(missed, current=True))
        assert runtime.store.get_incident(incident).status is IncidentStatus.CLOSED
        stored, state = runtime.store.drone_states()[drone], runtime.fleet[drone]
        assert (stored.status, stored.incident_id) == (state.status, state.task_incident_id)
