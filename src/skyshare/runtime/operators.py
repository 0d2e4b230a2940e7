"""Operator decisions on a proposal or a call: approve, decline, close, escalate."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from skyshare.domain import AssignmentStatus, IncidentStatus
from skyshare.domain.events import EventType
from skyshare.runtime.decisions import Decisions
from skyshare.runtime.state import DISPATCHER, LIVE, Conflict, IncidentView


class Operators(Decisions):
    """What an operator (or the proposal timeout) decides about an incident."""

    async def approve(self, incident_id: str, *, actor: str) -> IncidentView:
        async with self._exclusive() as change:
            view = await self._proposed(incident_id, "awaiting approval")
            current = view.current
            assert current is not None
            self._launch(change, view.incident, current, actor, EventType.DISPATCH_APPROVED)
            if current.drone_id in self._launched:  # a provisional launch: already flying
                change.launches.clear()
            await self._commit(change)
        return await self.incident(incident_id)

    async def decline(self, incident_id: str, *, actor: str, reason: str = "") -> IncidentView:
        """Refuse the proposed drone; the next candidate is proposed at once."""
        async with self._exclusive() as change:
            view = await self._proposed(incident_id, "to decline")
            current = view.current
            assert current is not None
            self._end(change, current, AssignmentStatus.DECLINED)
            change.events.append(
                self._event(
                    EventType.DISPATCH_DECLINED,
                    actor,
                    view.incident,
                    {"assignment_id": current.id, "drone_id": current.drone_id, "reason": reason},
                )
            )
            tried = {a.drone_id for a in view.assignments}
            await self._decide(change, view.incident, exclude=tried)
            await self._commit(change)
        return await self.incident(incident_id)

    async def close_incident(
        self, incident_id: str, *, actor: str, reason: str = ""
    ) -> IncidentView:
        """Close the call. A drone still flying for it is sent home."""
        async with self._exclusive() as change:
            view = await self.incident(incident_id)
            if not view.incident.status.is_open:
                raise Conflict(f"incident {incident_id} is already {view.incident.status}")
            for a in view.assignments:
                if a.status in LIVE:
                    proposed = a.status is AssignmentStatus.PROPOSED
                    self._end(
                        change,
                        a,
                        AssignmentStatus.CANCELLED if proposed else AssignmentStatus.COMPLETED,
                        recall=f"incident closed: {reason}",
                    )
            incident = replace(view.incident, status=IncidentStatus.CLOSED)
            change.incidents.append(incident)
            change.events.append(
                self._event(EventType.INCIDENT_CLOSED, actor, incident, {"reason": reason})
            )
            await self._commit(change)
        return await self.incident(incident_id)

    async def escalate_overdue(self) -> list[str]:
        """Raise DISPATCH_ESCALATED once for each proposal unanswered for longer than
        ``proposal_timeout_s``, so a supervisor is alerted. Returns the incident ids."""
        now = self.clock.now()
        limit = timedelta(seconds=self.settings.proposal_timeout_s)
        overdue = [
            i
            for i in await self.incidents(open_only=True, limit=10_000)
            if i.status is IncidentStatus.PROPOSED
            and i.id not in self._escalated
            and now - i.received_at > limit
        ]
        if not overdue:
            return []
        async with self._exclusive() as change:
            for incident in overdue:
                waited = (now - incident.received_at).total_seconds()
                change.events.append(
                    self._event(
                        EventType.DISPATCH_ESCALATED,
                        DISPATCHER,
                        incident,
                        {"reason": f"proposal unanswered for {waited:.0f} s"},
                    )
                )
            await self._commit(change)
        self._escalated.update(i.id for i in overdue)
        return [i.id for i in overdue]

    async def _proposed(self, incident_id: str, what: str) -> IncidentView:
        view = await self.incident(incident_id)
        current = view.current
        if current is None or current.status is not AssignmentStatus.PROPOSED:
            raise Conflict(
                f"incident {incident_id} has no proposal {what} (status {view.incident.status})"
            )
        return view
