"""Decisions under the lock: propose a drone, preempt, launch, end an assignment."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from skyshare.dispatch import Proposal
from skyshare.domain import (
    Assignment,
    AssignmentStatus,
    DroneStatus,
    Incident,
    IncidentStatus,
    Priority,
)
from skyshare.domain.events import EventType
from skyshare.runtime.changes import Change, Changes
from skyshare.runtime.reads import Reads
from skyshare.runtime.state import DISPATCHER, LIVE


class Decisions(Changes, Reads):
    """Each method adds to a change being built under the lock; none commits it."""

    def _not_to_retask(self) -> set[str]:
        """Drones the dispatcher may not offer whatever it thinks of them: those whose
        aircraft a failsafe or a pilot is flying home or down."""
        return set() if self.flights is None else self.flights.flying_themselves()

    async def _decide(
        self, change: Change, incident: Incident, exclude: set[str]
    ) -> tuple[Incident, Assignment | None]:
        """Propose the best drone; auto-launch if the agency's policy says so; a preempted
        incident is re-queued at once."""
        now = self.clock.now()
        exclude = exclude | self._not_to_retask()
        proposal = self.dispatcher.propose(incident, self.fleet.view, now, exclude=exclude)
        assignment = proposal.assignment(f"asg-{uuid.uuid4().hex[:12]}", now)
        if assignment is None:
            incident = replace(incident, status=IncidentStatus.UNSERVED)
            change.incidents.append(incident)
            change.events.append(
                self._event(
                    EventType.INCIDENT_UNSERVED,
                    DISPATCHER,
                    incident,
                    {
                        "reason": proposal.unserved_reason or "no drone can serve this call",
                        "rejected": {str(k): v for k, v in proposal.rejected_counts.items()},
                    },
                )
            )
            return incident, None
        if proposal.displaced is not None:
            await self._preempt(change, proposal, incident)
        self.fleet.hold(assignment.drone_id, incident.id, incident.priority)
        change.drones.add(assignment.drone_id)
        incident = replace(incident, status=IncidentStatus.PROPOSED)
        change.incidents.append(incident)
        change.assignments.append(assignment)
        change.events.append(
            self._event(
                EventType.DISPATCH_PROPOSED,
                DISPATCHER,
                incident,
                {
                    "assignment_id": assignment.id,
                    "drone_id": assignment.drone_id,
                    "site_id": assignment.site_id,
                    "eta_s": assignment.eta_s,
                    "reason": assignment.reason,
                    "proposal": _brief(proposal),
                },
            )
        )
        agency = self.network.agencies[incident.agency]
        if incident.priority in agency.auto_launch:
            incident, assignment = self._launch(
                change, incident, assignment, DISPATCHER, EventType.DISPATCH_AUTO_APPROVED
            )
        elif agency.provisional_launch and incident.priority is Priority.P1:
            # The drone lifts and flies toward the scene while the operator decides; a
            # decline or a close brings it straight back.
            change.launches.append((incident, assignment))
            change.events.append(
                self._event(
                    EventType.DISPATCH_PROVISIONAL,
                    DISPATCHER,
                    incident,
                    {"assignment_id": assignment.id, "drone_id": assignment.drone_id},
                )
            )
        return incident, assignment

    async def _preempt(self, change: Change, proposal: Proposal, incident: Incident) -> None:
        """Take the chosen drone from the lower-priority call it serves; that call is
        re-queued with the reason and offered the next best drone."""
        displaced = proposal.displaced
        assert displaced is not None
        view = await self.incident(displaced.incident_id)
        for a in view.assignments:
            if a.status in LIVE and a.drone_id == displaced.drone_id:
                change.assignments.append(replace(a, status=AssignmentStatus.CANCELLED))
        requeued = replace(view.incident, status=IncidentStatus.RECEIVED)
        change.incidents.append(requeued)
        change.events.append(
            self._event(
                EventType.DISPATCH_PREEMPTED,
                DISPATCHER,
                requeued,
                {
                    "drone_id": displaced.drone_id,
                    "reason": displaced.reason,
                    "preempted_by": incident.id,
                },
            )
        )
        self.fleet.hold(displaced.drone_id, incident.id, incident.priority)
        await self._decide(change, requeued, exclude={displaced.drone_id})

    def _launch(
        self, change: Change, incident: Incident, assignment: Assignment, actor: str, why: EventType
    ) -> tuple[Incident, Assignment]:
        assignment = replace(assignment, status=AssignmentStatus.APPROVED)
        incident = replace(incident, status=IncidentStatus.DISPATCHED)
        change.incidents.append(incident)
        change.assignments.append(assignment)
        change.launches.append((incident, assignment))
        change.events.append(
            self._event(
                why,
                actor,
                incident,
                {"assignment_id": assignment.id, "drone_id": assignment.drone_id},
            )
        )
        return incident, assignment

    def _end(
        self, change: Change, assignment: Assignment, status: AssignmentStatus, recall: str = ""
    ) -> None:
        """End an assignment; a docked drone is freed, a flying one is called home."""
        change.assignments.append(replace(assignment, status=status))
        change.drones.add(assignment.drone_id)
        if self.fleet[assignment.drone_id].task_incident_id == assignment.incident_id:
            self._free(change, assignment.drone_id, recall or status.value)

    def _free(self, change: Change, drone_id: str, reason: str) -> None:
        """Take a drone off its task: on its dock it is released, in the air called home."""
        change.drones.add(drone_id)
        flying = self.fleet[drone_id].status in (DroneStatus.EN_ROUTE, DroneStatus.ON_SCENE)
        if self.flights and (flying or drone_id in self._launched):
            self.fleet.update(
                drone_id, status=DroneStatus.RETURNING, task_incident_id=None, task_priority=None
            )
            change.recalls.append((drone_id, reason))
        else:
            self.fleet.release(drone_id)


def _brief(proposal: Proposal) -> dict[str, Any]:
    doc = proposal.to_json()
    return {
        "explanation": doc.get("explanation"),
        "ranked": doc.get("ranked", [])[:3],
        "rejected_counts": doc.get("rejected_counts"),
    }
