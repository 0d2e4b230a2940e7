"""Persistence and publication: every state change is built under one lock, written with
its audit events in one transaction, and only then published and acted on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from skyshare.dispatch import DroneState
from skyshare.domain import Assignment, Incident
from skyshare.domain.events import Event, EventType
from skyshare.runtime.fleet_book import FleetBook
from skyshare.runtime.state import IncidentView, RuntimeState
from skyshare.runtime.store_worker import StoreInDoubt, StoreUnavailable, until_taken
from skyshare.store import StoredRestriction
from skyshare.store.jobs import Write

log = logging.getLogger(__name__)
FACT_RETRY_S = 1.0  # while the store is away, a fact's write is made again this often
T = TypeVar("T")


@dataclass
class Change:
    """One transaction's worth of state change, built under the lock, then committed."""

    incidents: list[Incident] = field(default_factory=list)
    new_incident: Incident | None = None
    assignments: list[Assignment] = field(default_factory=list)
    drones: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    launches: list[tuple[Incident, Assignment]] = field(default_factory=list)
    recalls: list[tuple[str, str]] = field(default_factory=list)
    committed: list[Event] = field(default_factory=list)  # the events, once durable


class Changes(RuntimeState):
    """The lock, the write, the open-incident cache, publication and commands."""

    @asynccontextmanager
    async def _exclusive(self, *, fact: bool = False) -> AsyncIterator[_Pending]:
        """One decision at a time. The lock is released before the write is durable (see
        StoreWorker); if the write then fails, the drones this change set are put back.

        A ``fact`` records what happened to an aircraft (it launched, landed, was lost):
        it stands in memory whatever the store does, and its caller (the flight) goes on
        when the store is away; its write is made again until the store takes it."""
        async with self._lock:
            pending = _Pending(self.fleet)
            try:
                yield pending
            except BaseException:
                pending.abandon()
                raise
            pending.seal()
        if pending.written is None:
            return
        # The write goes on if the caller stops waiting (its request cancelled, say); what
        # follows the write must too, or memory would undo a change the store then keeps.
        await asyncio.shield(
            self._in_background(self._after_write(pending, pending.written, fact=fact))
        )

    async def _after_write(
        self, pending: _Pending, written: asyncio.Future[None], *, fact: bool
    ) -> None:
        """Once the change's write is durable, publish and act on it; if it failed, undo
        it in memory (a fact: write it again, in the background)."""
        try:
            await written
        except StoreUnavailable as exc:
            if fact:
                self._in_background(self._write_again(pending, exc))
                return
            pending.undo()
            self._forget(pending)
            if isinstance(exc, StoreInDoubt):
                self._in_doubt(pending, exc.committed)
            raise
        except BaseException:
            pending.undo()
            self._forget(pending)
            raise
        await self._durable(pending)

    async def _durable(self, change: Change) -> None:
        """The change is stored: publish it, then act on it."""
        change.committed = list(change.events)
        await self._publish(change.committed)
        await self._act(change)

    async def _write_again(self, change: Change, failure: StoreUnavailable) -> None:
        """A fact the store did not take: write it again, as memory has it now (later
        changes included), until the store takes it; then publish and act on it."""
        log.warning("the store did not take what happened to %s: it is kept", _about(change))
        await until_taken(
            failure, lambda: self.writer.write(self._write_of(change, current=True)), FACT_RETRY_S
        )
        log.warning("what happened to %s is stored now", _about(change))
        await self._durable(change)

    def _in_background(
        self, work: Coroutine[Any, Any, T], *, report: bool = True
    ) -> asyncio.Task[T]:
        """Run ``work`` whether or not anyone waits for it (until shutdown); ``report``:
        log its failure (other than the store's) whether or not someone is told of it."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if report:
            task.add_done_callback(_retrieve)
        return task

    async def _to_the_end(self, work: Coroutine[Any, Any, T]) -> T:
        """``work``'s outcome, and ``work`` runs to its end if the caller stops waiting:
        for a change whose write, once made, memory must follow."""
        task = self._in_background(work, report=False)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_retrieve)  # nobody is told now: say what fails
            raise

    async def settled(self) -> None:
        """Wait until the work started in the background (acting on changes written,
        reconciling changes the store took late) is done."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _commit(
        self,
        change: _Pending,
        *,
        restriction: StoredRestriction | None = None,
        lifted: tuple[str, datetime] | None = None,
        wait: bool = False,
    ) -> None:
        """Queue the change's write. It is awaited when the lock is released (or here, with
        ``wait``), and the change is published and acted on only once it is durable."""
        change.written = self.writer.write(self._write_of(change, restriction, lifted))
        self._remember(change)
        if wait:
            await change.written

    def _write_of(
        self,
        change: Change,
        restriction: StoredRestriction | None = None,
        lifted: tuple[str, datetime] | None = None,
        *,
        current: bool = False,
    ) -> Write:
        """The change as one write: its records, then its events. ``current``: the records
        as memory has them now (for a write made again later: no older state over newer);
        a call no longer open in memory is left as the store has it (a later change closed
        it, say: it must not be opened again)."""
        now = self.clock.now()
        new = change.new_incident
        incidents = _unique_latest(change.incidents)
        assignments = _unique_latest(change.assignments)
        if current:
            new = None if new is None else self._open_now(new.id)
            incidents = [i for i in map(self._open_now, (i.id for i in incidents)) if i]
            assignments = [a for a in map(self._assignment_now, assignments) if a]
        calls: list[tuple[str, tuple[Any, ...]]] = []
        if new is not None:
            calls.append(("add_incident", (_latest(incidents, new),)))
        for incident in incidents:
            if new is None or incident.id != new.id:
                calls.append(("update_incident", (incident,)))
        calls += [("save_assignment", (a,)) for a in assignments]
        calls += [("save_drone_state", (self.fleet.record(d, now),)) for d in sorted(change.drones)]
        if restriction is not None:
            calls.append(("save_restriction", (restriction,)))
        if lifted is not None:
            calls.append(("end_restriction", lifted))
        calls += [("append", (event,)) for event in change.events]
        return Write(tuple(calls))

    def _open_now(self, incident_id: str) -> Incident | None:
        known = self._open.get(incident_id)
        return None if known is None else known.incident

    def _assignment_now(self, assignment: Assignment) -> Assignment | None:
        known = self._open.get(assignment.incident_id)
        found = [a for a in known.assignments if a.id == assignment.id] if known else []
        return found[0] if found else None

    def _remember(self, change: Change) -> None:
        """Bring the open-incident cache up to the change just queued for writing."""
        incidents = {i.id: i for i in _unique_latest(change.incidents)}
        if change.new_incident is not None and change.new_incident.id not in incidents:
            incidents[change.new_incident.id] = change.new_incident
        assignments: dict[str, list[Assignment]] = {}
        for a in _unique_latest(change.assignments):
            assignments.setdefault(a.incident_id, []).append(a)
        for incident_id in {*incidents, *assignments}:
            known = self._open.get(incident_id)
            incident = incidents.get(incident_id) or (known.incident if known else None)
            if incident is None:
                continue  # not cached and not in this change: the store has it
            merged = {a.id: a for a in (known.assignments if known else [])}
            merged.update({a.id: a for a in assignments.get(incident_id, [])})
            if incident.status.is_open:
                self._open[incident_id] = IncidentView(incident, list(merged.values()))
            else:
                self._open.pop(incident_id)

    def _in_doubt(self, change: _Pending, committed: asyncio.Future[bool]) -> None:
        """The change's write failed in doubt and was undone; ``committed`` will say
        whether the store took it after all (``late_commits`` acts on that)."""

    def _forget(self, change: Change) -> None:
        """A write failed: drop what the cache learnt from it; the store is the truth."""
        ids = {i.id for i in change.incidents} | {a.incident_id for a in change.assignments}
        if change.new_incident is not None:
            ids.add(change.new_incident.id)
        for incident_id in ids:
            self._open.pop(incident_id)

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            await self.bus.publish(event)

    async def _act(self, change: Change) -> None:
        """After the commit: command the aircraft."""
        if self.flights is None or not change.committed:
            return
        for drone_id, reason in change.recalls:
            await self.flights.recall(drone_id, reason)
        for drone_id, _ in change.recalls:
            self._launched.discard(drone_id)
        for incident, assignment in change.launches:
            self._launched.add(assignment.drone_id)
            await self.flights.launch(incident, assignment)

    def _event(
        self, kind: EventType, actor: str, incident: Incident, data: dict[str, Any]
    ) -> Event:
        return Event(kind, self.clock.now(), actor, incident.id, incident.agency, data)


class _Pending(Change):
    """A change in progress, able to undo its effect on the in-memory fleet."""

    def __init__(self, fleet: FleetBook) -> None:
        super().__init__()
        self._fleet = fleet
        self._snapshot = fleet.snapshot()
        self._set: dict[str, tuple[DroneState, DroneState]] = {}
        self.written: asyncio.Future[None] | None = None
        self.committed: list[Event] = []

    def abandon(self) -> None:
        """Still under the lock: put the whole fleet picture back."""
        self._fleet.restore(self._snapshot)
        self.written = None
        self.committed = []
        self.launches.clear()
        self.recalls.clear()

    def seal(self) -> None:
        """Remember which drones this change set, and to what (before the lock goes)."""
        before, _ = self._snapshot
        self._set = {
            d: (old, self._fleet[d]) for d, old in before.items() if self._fleet[d] is not old
        }

    def undo(self) -> None:
        """The write failed after the lock went: put back the drones this change set,
        unless a later change has set them since."""
        for drone_id, (old, new) in self._set.items():
            if self._fleet[drone_id] is new:
                self._fleet.set(old)
        self.committed = []
        self.launches.clear()
        self.recalls.clear()


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Take a finished background task's failure, so that asyncio does not report it as
    never retrieved when nobody waited. The store's failures are the store worker's to
    log (and a waiting caller's to answer); anything else is said here, as nobody may be
    waiting to."""
    if task.cancelled():
        return
    failure = task.exception()
    if failure is not None and not isinstance(failure, StoreUnavailable):
        log.error("acting on a written change failed: %r", failure, exc_info=failure)


def _latest(items: list[Incident], new: Incident) -> Incident:
    return next((i for i in reversed(items) if i.id == new.id), new)


def _about(change: Change) -> str:
    return ", ".join(sorted(change.drones)) or ", ".join(e.subject for e in change.events)


def _unique_latest(items: list[Any]) -> list[Any]:
    """The last version of each record, in first-seen order."""
    latest: dict[str, Any] = {}
    for item in items:
        latest[item.id] = item
    return list(latest.values())
