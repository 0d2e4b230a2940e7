"""Changes the store took after all: acting on them once it says so.

A write is in doubt when the store's process ended before answering it and no other could
be started for a while (``StoreInDoubt``): its caller was told it failed (a 503) and the
change was undone in memory. When a store process serves again, it says whether that
write had been committed. If it had, the store holds a change this service never acted
on: a call received, a drone proposed, launched or sent home. ``_reconcile`` then makes
memory, the store and the aircraft agree again, under the lock like any decision:

- the change's events, in the audit log already, are published;
- a drone the change set is taken off a task the store no longer gives it (released on
  its dock, or called home), and its state in memory is written over the stored one;
- a live assignment the store holds is withdrawn (``dispatch_withdrawn``) if its drone is
  not on that task in memory, and launched if it is approved and the drone has not flown;
- an open call left with no live assignment is decided again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from skyshare.domain import AssignmentStatus
from skyshare.domain.events import EventType
from skyshare.runtime.changes import Change
from skyshare.runtime.decisions import Decisions
from skyshare.runtime.state import DISPATCHER, LIVE, IncidentView

log = logging.getLogger(__name__)
WITHDRAWN = "stored while the store was out of reach, and never acted on"


class LateCommits(Decisions):
    """Follows each write failed in doubt, and reconciles those the store took."""

    def _in_doubt(self, change: Change, committed: asyncio.Future[bool]) -> None:
        def settled(answer: asyncio.Future[bool]) -> None:
            if answer.cancelled() or not answer.result():
                return  # not committed: undoing it was right
            self._in_background(self._reconcile(change))

        committed.add_done_callback(settled)

    async def _reconcile(self, late: Change) -> None:
        log.warning("a change the store took while in doubt is acted on now")
        try:
            await self._publish(list(late.events))
            await self._act_on(late)
        except Exception:  # the store is away again, say: its record stands
            log.exception("could not act on a change the store took late")

    async def _act_on(self, late: Change) -> None:
        touched = {i.id for i in late.incidents} | {a.incident_id for a in late.assignments}
        if late.new_incident is not None:
            touched.add(late.new_incident.id)
        async with self._exclusive() as change:
            views: dict[str, IncidentView] = {}
            for incident_id in sorted(touched):
                views[incident_id] = view = await self.incident(incident_id)
                if view.incident.status.is_open:
                    self._open[incident_id] = view  # as stored: the change was forgotten
            for drone_id in sorted(late.drones):
                task = self.fleet.task_of(drone_id)
                if task in views and not _serves(views[task], drone_id):
                    self._free(change, drone_id, f"no longer assigned to {task}")
                change.drones.add(drone_id)
            for view in views.values():
                await self._settle_assignments(change, view)
            await self._commit(change)

    async def _settle_assignments(self, change: Change, view: IncidentView) -> None:
        incident = view.incident
        live = False
        for a in view.assignments:
            if a.status not in LIVE:
                continue
            if self.fleet.task_of(a.drone_id) != incident.id:
                change.assignments.append(replace(a, status=AssignmentStatus.CANCELLED))
                change.events.append(
                    self._event(
                        EventType.DISPATCH_WITHDRAWN,
                        DISPATCHER,
                        incident,
                        {"assignment_id": a.id, "drone_id": a.drone_id, "reason": WITHDRAWN},
                    )
                )
                continue
            live = True
            if a.status is not AssignmentStatus.PROPOSED and a.drone_id not in self._launched:
                change.launches.append((incident, a))  # approved, and never flown
        if incident.status.is_open and not live:
            declined = AssignmentStatus.DECLINED
            refused = {a.drone_id for a in view.assignments if a.status is declined}
            await self._decide(change, incident, exclude=refused)


def _serves(view: IncidentView, drone_id: str) -> bool:
    return any(a.drone_id == drone_id and a.status in LIVE for a in view.assignments)
