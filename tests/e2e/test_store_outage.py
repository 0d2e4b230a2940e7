"""A store that goes away mid-sortie does not stop the flight: the drone flies on to the
scene, what it did is stored and published once the store is back, and it comes home."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyshare.domain import DroneStatus
from skyshare.domain.events import EventType
from tests.integration.dying_store import dies_once
from tests.integration.live import until

from .conftest import flying_on

HIGHBURY = {"lat": 51.5490, "lon": -0.0950}


async def test_a_sortie_flies_on_while_the_store_is_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying = dies_once(monkeypatch, "before", tmp_path)
    async with flying_on(dying.url) as flying:
        runtime = flying.runtime
        made = await runtime.submit(
            {"agency": "police", "priority": "P1", "kind": "burglary", **HIGHBURY}, actor="cad"
        )
        assert made.assignment is not None
        drone = made.assignment.drone_id
        await flying.wait_event(
            lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == drone, 30, "launch"
        )
        dying.die_at_next_write()  # the next thing the flight reports kills the store
        aircraft = flying.fleet.simulator.vehicles[flying.fleet.system_ids[drone] - 1]
        # With the store away (its writes given up on), the sortie goes on: on scene, the
        # overwatch orbit is commanded.
        await until(
            lambda: getattr(aircraft.activity, "name", None) == "orbit", 90, "overwatch orbit"
        )
        assert runtime.fleet[drone].status is DroneStatus.ON_SCENE
        assert flying.of(EventType.DRONE_ON_SCENE) == []  # not stored, so not published
        dying.come_back()
        await flying.wait_event(
            lambda e: e.type is EventType.DRONE_ON_SCENE and e.subject == drone, 30, "on scene"
        )
        await runtime.close_incident(made.incident.id, actor="test", reason="all clear")
        await flying.wait_event(
            lambda e: e.type is EventType.DRONE_LANDED and e.subject == drone, 120, "landing"
        )
        await runtime.settled()
        stored, state = runtime.store.drone_states()[drone], runtime.fleet[drone]
        assert (stored.status, stored.incident_id) == (state.status, None)
        trail = [s.event.type for s in runtime.store.events(subject=drone)]
        assert trail.count(EventType.DRONE_ON_SCENE) == 1
        assert runtime.store.verify_audit_chain().ok
