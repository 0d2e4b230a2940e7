"""A proposal nobody answers is escalated to supervisors, once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from skyshare.config import Settings
from skyshare.domain.events import EventType
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime


async def test_an_unanswered_proposal_escalates_once(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 20, 0, tzinfo=UTC))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", mqtt_url=None, proposal_timeout_s=60
    )
    runtime = await Runtime.create(settings, clock=clock)
    try:
        call = {
            "agency": "police",
            "priority": "P3",
            "kind": "burglary",
            "lat": 51.5517,
            "lon": -0.1588,
        }
        waiting = await runtime.submit(call, actor="test")
        answered = await runtime.submit({**call, "lon": -0.1500}, actor="test")
        await runtime.approve(answered.incident.id, actor="operator")
        clock.advance(59)
        assert await runtime.escalate_overdue() == []
        clock.advance(2)
        assert await runtime.escalate_overdue() == [waiting.incident.id]
        assert await runtime.escalate_overdue() == []
        trail = [s.event.type for s in runtime.store.events(subject=waiting.incident.id)]
        assert trail.count(EventType.DISPATCH_ESCALATED) == 1
    finally:
        await runtime.shutdown()
