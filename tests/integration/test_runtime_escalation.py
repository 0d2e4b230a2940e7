"""A proposal nobody answers is escalated to supervisors, once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyshare.api.app import EscalationWatch
from skyshare.config import Settings
from skyshare.domain.events import EventType
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime
from tests.integration.dying_store import dies_once
from tests.integration.live import CALL, MORNING, runtime_on


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


async def test_escalation_says_once_that_it_waits_for_the_store_and_escalates_when_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dying = dies_once(monkeypatch, "before", tmp_path)
    clock = ManualClock(MORNING)
    async with runtime_on(dying.url, clock, proposal_timeout_s=60) as runtime:
        watch = EscalationWatch(runtime)
        waiting = await runtime.submit(CALL, actor="test")
        clock.advance(61)
        dying.die_at_next_write()  # the escalation's write is the store's last
        with caplog.at_level(logging.WARNING, logger="skyshare.api.app"):
            await watch.once()
            await watch.once()  # no store process can start: it fails again
            said = [r for r in caplog.records if r.name == "skyshare.api.app"]
            assert [(r.levelno, "paused" in r.getMessage()) for r in said] == [
                (logging.WARNING, True)
            ]  # once, and no traceback
            dying.come_back()
            await watch.once()
            said = [r for r in caplog.records if r.name == "skyshare.api.app"]
            assert "the store is back" in said[-1].getMessage() and len(said) == 2
        trail = [s.event.type for s in runtime.store.events(subject=waiting.incident.id)]
        assert trail.count(EventType.DISPATCH_ESCALATED) == 1


async def test_after_a_decline_the_next_proposal_escalates_in_its_turn(tmp_path: Path) -> None:
    """The clock of an unanswered proposal starts when it is made: the next candidate,
    proposed after a decline, is escalated a full timeout later, not at once and not
    never."""
    clock = ManualClock(MORNING)
    async with runtime_on(
        f"sqlite:///{tmp_path / 'db.sqlite'}", clock, proposal_timeout_s=60
    ) as runtime:
        waiting = await runtime.submit(CALL, actor="test")
        first = waiting.assignment
        assert first is not None
        clock.advance(61)
        assert await runtime.escalate_overdue() == [waiting.incident.id]
        declined = await runtime.decline(waiting.incident.id, actor="operator", reason="busy")
        second = declined.current
        assert second is not None and second.drone_id != first.drone_id
        assert second.proposed_at == clock.now()
        clock.advance(59)
        assert await runtime.escalate_overdue() == []
        clock.advance(2)
        assert await runtime.escalate_overdue() == [waiting.incident.id]
        assert await runtime.escalate_overdue() == []
        escalated = [
            s.event.data
            for s in runtime.store.events(subject=waiting.incident.id)
            if s.event.type is EventType.DISPATCH_ESCALATED
        ]
        assert [(e["assignment_id"], e["reason"]) for e in escalated] == [
            (first.id, "proposal unanswered for 61 s"),
            (second.id, "proposal unanswered for 61 s"),
        ]
