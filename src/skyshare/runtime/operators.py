"""Operator decisions on a proposal or a call (approve, decline, close, escalate) and on a
drone (back into service after recovery)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from skyshare.dispatch import DroneState
from skyshare.dispatch.docks import slots_taken
from skyshare.dispatch.fleet import OUT_OF_SERVICE
from skyshare.domain import AssignmentStatus, DroneStatus, IncidentStatus, InputError
from skyshare.domain.events import Event, EventType
from skyshare.runtime.decisions import Decisions
from skyshare.runtime.state import DISPATCHER, LIVE, Conflict, IncidentView

RETURNED_TO_SERVICE = "returned to service"  # the reason a recovered drone's event gives


class Operators(Decisions):
    """What an operator (or the proposal timeout) decides about an incident or a drone."""

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
        self, incident_id: str, *, actor: str, reason: str = "", cancel: bool = False
    ) -> IncidentView:
        """Close the call (dealt with), or with ``cancel`` cancel it (withdrawn: sent in
        error, a duplicate, a hoax). Either way a proposal is withdrawn and a drone still
        flying for it is sent home; the status and the event say which it was."""
        status, event, word = (
            (IncidentStatus.CANCELLED, EventType.INCIDENT_CANCELLED, "cancelled")
            if cancel
            else (IncidentStatus.CLOSED, EventType.INCIDENT_CLOSED, "closed")
        )
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
                        recall=f"incident {word}: {reason}",
                    )
            incident = replace(view.incident, status=status)
            change.incidents.append(incident)
            change.events.append(self._event(event, actor, incident, {"reason": reason}))
            await self._commit(change)
        return await self.incident(incident_id)

    async def escalate_overdue(self) -> list[str]:
        """Raise DISPATCH_ESCALATED once for each proposal unanswered for longer than
        ``proposal_timeout_s`` since it was made, so a supervisor is alerted: after a
        decline, the next candidate's proposal escalates in its turn. Returns the incident
        ids."""
        now = self.clock.now()
        limit = timedelta(seconds=self.settings.proposal_timeout_s)
        waiting = [
            (view.incident, proposal)
            for view in await self.incidents(open_only=True, limit=10_000)
            if view.incident.status is IncidentStatus.PROPOSED
            and (proposal := view.current) is not None
        ]
        self._escalated.intersection_update(p.id for _, p in waiting)  # the rest are answered
        overdue = []
        for incident, proposal in waiting:
            # A proposal stored before proposals kept their time counts from the call.
            waited = now - (proposal.proposed_at or incident.received_at)
            if proposal.id not in self._escalated and waited > limit:
                overdue.append((incident, proposal, waited))
        if not overdue:
            return []
        async with self._exclusive() as change:
            for incident, proposal, waited in overdue:
                change.events.append(
                    self._event(
                        EventType.DISPATCH_ESCALATED,
                        DISPATCHER,
                        incident,
                        {
                            "reason": f"proposal unanswered for {waited.total_seconds():.0f} s",
                            "assignment_id": proposal.id,
                            "drone_id": proposal.drone_id,
                        },
                    )
                )
            await self._commit(change)
        self._escalated.update(proposal.id for _, proposal, _ in overdue)
        return [incident.id for incident, _, _ in overdue]

    async def return_to_service(
        self, drone_id: str, site_id: str, *, actor: str, battery_pct: float | None = None
    ) -> DroneState:
        """A crew has brought an out-of-service drone (down in a field, say) to the dock at
        ``site_id``: it charges there and may be offered for calls again. ``battery_pct``:
        the charge the crew reads, if they give one."""
        async with self._exclusive() as change:
            self._check_return(drone_id, site_id, battery_pct)
            before = self.fleet[drone_id]
            battery = before.battery_pct if battery_pct is None else battery_pct
            status = DroneStatus.DOCKED if battery >= 100.0 else DroneStatus.CHARGING
            self.fleet.update(drone_id, battery_pct=battery)
            self.fleet.land_on(drone_id, site_id, status)
            change.drones.add(drone_id)
            change.events.append(
                Event(
                    EventType.DRONE_STATUS,
                    self.clock.now(),
                    actor,
                    drone_id,
                    self.network.drones[drone_id].owner,
                    {
                        "status": status.value,
                        "previous_status": before.status.value,
                        "site_id": site_id,
                        "battery_pct": round(battery, 1),
                        "reason": RETURNED_TO_SERVICE,
                    },
                )
            )
            await self._commit(change)
        return self.fleet[drone_id]

    def _check_return(self, drone_id: str, site_id: str, battery_pct: float | None) -> None:
        """Refuse a return to service that names the wrong drone or a dock it cannot use."""
        drone = self.network.drones.get(drone_id)
        if drone is None:
            raise InputError("drone_id", f"no drone {drone_id}")
        site = self.network.sites.get(site_id)
        if site is None:
            raise InputError("site_id", f"no site {site_id}")
        if not self.network.may_land(drone, site):
            raise InputError(
                "site_id", f"{site_id} is {site.owner}'s and not shared: {drone_id} may not land"
            )
        status = self.fleet[drone_id].status
        if status not in OUT_OF_SERVICE:
            raise InputError("drone_id", f"{drone_id} is {status.value}, not out of service")
        if battery_pct is not None and not 0.0 <= battery_pct <= 100.0:
            raise InputError("battery_pct", f"must be in [0, 100], got {battery_pct}")
        if slots_taken(self.network, self.fleet, besides=drone_id)[site_id] >= site.dock_capacity:
            raise InputError("site_id", f"{site_id} has no free slot ({site.dock_capacity} in all)")
        if self.flights is None:
            return
        wrong = self.flights.not_its_aircraft(drone_id)
        if wrong is not None:  # no crew can mend that: the aircraft file must be put right
            raise InputError("drone_id", f"{drone_id}: {wrong}")
        away = self.flights.away_from(drone_id, site_id)
        if away is not None:  # the crew names another dock, or the aircraft is another drone's
            raise InputError("site_id", f"{drone_id}: {away}")

    async def _proposed(self, incident_id: str, what: str) -> IncidentView:
        view = await self.incident(incident_id)
        current = view.current
        if current is None or current.status is not AssignmentStatus.PROPOSED:
            raise Conflict(
                f"incident {incident_id} has no proposal {what} (status {view.incident.status})"
            )
        return view
