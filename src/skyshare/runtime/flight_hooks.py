"""Flight hooks: what ``runtime.flights`` reports about a sortie, turned into state."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from skyshare.airspace import Route
from skyshare.airspace.conformance import ExcursionTracker
from skyshare.airspace.restrictions import ActiveFlight
from skyshare.dispatch.docks import dock_for_return, dock_under, docks_with_room, recorded_dock
from skyshare.dispatch.fleet import ON_DOCK, OUT_OF_SERVICE
from skyshare.domain import (
    Assignment,
    AssignmentStatus,
    DroneStatus,
    GeoPoint,
    Incident,
    IncidentStatus,
)
from skyshare.domain.events import Event, EventType
from skyshare.runtime.airspace_control import AirspaceControl
from skyshare.runtime.changes import Change
from skyshare.runtime.decisions import Decisions
from skyshare.runtime.state import DISPATCHER, LIVE
from skyshare.runtime.store_worker import StoreUnavailable
from skyshare.store.jobs import Write

CHARGE_PCT_PER_S = 100.0 / 2400.0  # a dock fills a pack in about 40 minutes


class FlightHooks(Decisions, AirspaceControl):
    """Called by ``runtime.flights`` as a sortie launches, arrives, returns, lands or fails.

    What they record happened (``_exclusive(fact=True)``): it stands in memory, and the
    flight goes on, while the store is away; the store is told once it is back."""

    async def flight_event(self, drone_id: str, kind: EventType, data: dict[str, Any]) -> None:
        """Record something that happened to a drone (a command, a warning). It changes no
        state, so it is appended to the audit log without waiting for the decision lock."""
        event = self._drone_event(kind, drone_id, data)
        try:
            await self.writer.write(Write((("append", (event,)),)))
        except StoreUnavailable as exc:
            self._in_background(self._write_again(Change(events=[event]), exc))
            return
        await self._publish([event])

    async def flight_started(self, drone_id: str, incident: Incident, route: Route) -> None:
        async with self._exclusive(fact=True) as change:
            self.fleet.update(drone_id, status=DroneStatus.EN_ROUTE)
            self._routes[drone_id] = ActiveFlight(
                drone_id, incident.agency, route, self.airspace_permissions()
            )
            self._trackers[drone_id] = ExcursionTracker(drone_id)
            await self._task_status(change, drone_id, AssignmentStatus.ACTIVE, None)
            change.events.append(
                self._drone_event(
                    EventType.DRONE_LAUNCHED,
                    drone_id,
                    {
                        "incident_id": incident.id,
                        "route_length_m": round(route.length_m),
                        "cruise_alt_m": route.cruise_alt_m,
                        "zones_skirted": list(route.zones_skirted),
                        "waypoints": [[w.lat, w.lon] for w in route.waypoints],
                    },
                )
            )
            await self._commit(change)

    async def flight_on_scene(self, drone_id: str, incident: Incident) -> None:
        async with self._exclusive(fact=True) as change:
            self.fleet.update(drone_id, status=DroneStatus.ON_SCENE)
            await self._task_status(change, drone_id, None, IncidentStatus.ON_SCENE)
            change.events.append(
                self._drone_event(EventType.DRONE_ON_SCENE, drone_id, {"incident_id": incident.id})
            )
            await self._commit(change)

    async def flight_returning(
        self, drone_id: str, reason: str, here: GeoPoint, agency: str | None = None
    ) -> str:
        """Heading for a dock: the task (if any) is done and the drone may be re-tasked.
        Returns the dock it is to land on, now reserved: of those with a free slot, the
        one it reaches for the least energy by a route legal for ``agency`` (the sortie's;
        by default the owner's), as the dispatcher planned its way back. With no legal
        route to any, the nearest by straight line."""
        async with self._exclusive(fact=True) as change:
            await self._task_status(change, drone_id, AssignmentStatus.COMPLETED, None)
            room = docks_with_room(self.network, self.fleet, drone_id)
            rules = agency or self.network.drones[drone_id].owner
            now = self.clock.now()
            dock = self.dispatcher.dock_home(drone_id, here, rules, now, room) if room else None
            if dock is None:
                dock = dock_for_return(self.network, self.fleet, drone_id, here)
            home = self.fleet[drone_id].home_site_id
            self.fleet.update(
                drone_id,
                status=DroneStatus.RETURNING,
                task_incident_id=None,
                task_priority=None,
                docked_at=None if dock == home else dock,
            )
            self._routes.pop(drone_id, None)
            change.drones.add(drone_id)
            change.events.append(
                self._drone_event(
                    EventType.DRONE_RETURNING, drone_id, {"reason": reason, "dock": dock}
                )
            )
            await self._commit(change)
        return dock

    async def flight_landed(self, drone_id: str, where: GeoPoint | None = None) -> None:
        """On a dock, charging. ``where``: where the aircraft came down by itself (a
        failsafe's RTL lands where it took off, a LAND where it is, not on the dock chosen
        for it); the dock there is the one it is on. Down on no dock, it is out of service
        where it lies until a crew recovers it (``return_to_service``)."""
        async with self._exclusive(fact=True) as change:
            site = dock_under(self.network, where) if where is not None else None
            stranded = where is not None and site is None
            if site is not None:
                self.fleet.land_on(drone_id, site)
            elif where is not None:
                self.fleet.stranded(drone_id, where)
            else:
                self.fleet.release(drone_id, status=DroneStatus.CHARGING)
            self._launched.discard(drone_id)
            self._trackers.pop(drone_id, None)
            change.drones.add(drone_id)
            change.events.append(
                self._drone_event(
                    EventType.DRONE_LANDED, drone_id, self._landing(drone_id, stranded)
                )
            )
            await self._commit(change)

    def _landing(self, drone_id: str, stranded: bool) -> dict[str, Any]:
        """What the DRONE_LANDED event says: the battery, and for a drone down away from
        every dock, where it is and that it needs recovering."""
        state = self.fleet[drone_id]
        data: dict[str, Any] = {"battery_pct": round(state.battery_pct, 1)}
        if stranded:
            data.update(
                on_dock=False,
                lat=state.position.lat,
                lon=state.position.lon,
                needs_recovery=True,
                reason="landed away from any dock: out of service until recovered",
            )
        return data

    async def flight_failed(self, drone_id: str, incident: Incident, reason: str) -> None:
        """The sortie could not go on (a command refused, no legal route): the incident
        is offered to the next drone and this one comes home or stays docked."""
        await self._lose_drone(drone_id, EventType.COMMAND_RESULT, reason, DroneStatus.RETURNING)

    async def link_lost(self, drone_id: str, silent_s: float) -> None:
        """No telemetry: the incident is reassigned at once; the aircraft's own failsafe
        brings it home, and it is offline until its link is back."""
        await self._lose_drone(
            drone_id, EventType.LINK_LOST, f"no telemetry for {silent_s:.1f} s", DroneStatus.OFFLINE
        )

    async def request_relief(self, incident_id: str, drone_id: str) -> Assignment | None:
        """The drone on scene is running low and the call still needs cover: send the best
        other drone at once (the overwatch was approved already). None if none can come."""
        async with self._exclusive(fact=True) as change:
            view = await self.incident(incident_id)
            if not view.incident.status.is_open:
                return None
            busy = {a.drone_id for a in view.assignments if a.status in LIVE} | {drone_id}
            busy |= self._not_to_retask()
            now = self.clock.now()
            proposal = self.dispatcher.propose(view.incident, self.fleet.view, now, exclude=busy)
            assignment = proposal.assignment(f"asg-{uuid.uuid4().hex[:12]}", now)
            if assignment is None or proposal.displaced is not None:
                change.events.append(
                    self._event(
                        EventType.DISPATCH_ESCALATED,
                        DISPATCHER,
                        view.incident,
                        {
                            "reason": f"{drone_id} needs relief and no drone can come: "
                            f"{proposal.unserved_reason or 'only by preemption'}"
                        },
                    )
                )
                await self._commit(change)
                return None
            self.fleet.hold(assignment.drone_id, incident_id, view.incident.priority)
            change.drones.add(assignment.drone_id)
            change.events.append(
                self._event(
                    EventType.DISPATCH_PROPOSED,
                    DISPATCHER,
                    view.incident,
                    {
                        "assignment_id": assignment.id,
                        "drone_id": assignment.drone_id,
                        "eta_s": assignment.eta_s,
                        "relief_for": drone_id,
                        "reason": assignment.reason,
                    },
                )
            )
            _, launched = self._launch(
                change, view.incident, assignment, DISPATCHER, EventType.DISPATCH_AUTO_APPROVED
            )
            change.incidents.append(view.incident)  # it stays on scene meanwhile
            await self._commit(change)
        return launched

    async def aircraft_missing(self, missing: Mapping[str, str]) -> list[str]:
        """Drones whose aircraft cannot be flown, each with why (none is listed for it, or it
        is not heard): out of service (offline) until their aircraft is heard, their calls
        offered to other drones. Those still out of service with no call, or heard by now,
        are left as they are. One transaction for all. Returns the drones taken out."""
        return await self._to_the_end(self._take_out(missing, DroneStatus.OFFLINE))

    async def aircraft_misplaced(self, misplaced: Mapping[str, str]) -> list[str]:
        """Drones whose aircraft is heard on the ground away from the dock the records put
        them on, each with why (``FlightControl.misplaced``): flying one would fly another
        drone's aircraft, or fly it from where nobody planned. Out of service (maintenance)
        until a crew returns them to service, their calls offered to other drones. One
        transaction for all. Returns the drones taken out."""
        return await self._to_the_end(self._take_out(misplaced, DroneStatus.MAINTENANCE))

    async def _take_out(self, why: Mapping[str, str], status: DroneStatus) -> list[str]:
        async with self._exclusive(fact=True) as change:
            tasks: dict[str, str | None] = {}
            for drone_id, reason in why.items():
                state = self.fleet[drone_id]
                idle = state.task_incident_id is None
                if status is DroneStatus.OFFLINE:  # left as it is if heard by now, or out
                    heard = self.flights is not None and self.flights.no_aircraft(drone_id) is None
                    done = heard or (state.status in OUT_OF_SERVICE and idle)
                else:
                    done = state.status is status and idle
                if done:
                    continue
                was = state.status.value
                data = {"status": status.value, "previous_status": was, "reason": reason}
                tasks[drone_id] = self._off_task(
                    change, drone_id, EventType.DRONE_STATUS, data, status
                )
            # Only once all are out of service: none of them may be offered these calls.
            for drone_id, incident_id in tasks.items():
                await self._offer_again(change, drone_id, incident_id)
            if change.events:
                await self._commit(change)
        return list(tasks)

    async def _lose_drone(
        self, drone_id: str, kind: EventType, reason: str, airborne_status: DroneStatus
    ) -> None:
        # The task reporting the loss (a sortie, say) may be cancelled meanwhile, even by
        # the loss it reports: the call must be handed on all the same.
        await self._to_the_end(self._hand_on(drone_id, kind, reason, airborne_status))

    async def _hand_on(
        self, drone_id: str, kind: EventType, reason: str, airborne_status: DroneStatus
    ) -> None:
        async with self._exclusive(fact=True) as change:
            incident_id = self._off_task(
                change, drone_id, kind, {"reason": reason}, airborne_status
            )
            await self._offer_again(change, drone_id, incident_id)
            await self._commit(change)

    def _off_task(
        self,
        change: Change,
        drone_id: str,
        kind: EventType,
        data: dict[str, Any],
        airborne_status: DroneStatus,
    ) -> str | None:
        """The drone drops its call (if any), recorded as ``kind`` with ``data``. On its
        dock it is free there, away from it ``airborne_status``; but out of service
        (offline: its aircraft out of reach; maintenance) is so wherever it is. Returns the
        call it had."""
        state = self.fleet[drone_id]
        incident_id = state.task_incident_id
        change.events.append(
            self._drone_event(kind, drone_id, {**data, "incident_id": incident_id})
        )
        on_dock = state.status in (DroneStatus.LAUNCHING, DroneStatus.DOCKED, DroneStatus.CHARGING)
        if airborne_status in OUT_OF_SERVICE:
            self.fleet.update(
                drone_id, status=airborne_status, task_incident_id=None, task_priority=None
            )
        elif on_dock:
            self.fleet.release(drone_id)
        else:
            self.fleet.update(
                drone_id, status=airborne_status, task_incident_id=None, task_priority=None
            )
        self._routes.pop(drone_id, None)
        self._launched.discard(drone_id)
        change.drones.add(drone_id)
        return incident_id

    async def _offer_again(self, change: Change, drone_id: str, incident_id: str | None) -> None:
        """``drone_id`` no longer flies ``incident_id``: its assignment is cancelled, and
        the call, if still open, goes to another drone."""
        if incident_id is None:
            return
        view = await self.incident(incident_id)
        for a in view.assignments:
            if a.status in LIVE and a.drone_id == drone_id:
                change.assignments.append(replace(a, status=AssignmentStatus.CANCELLED))
        if view.incident.status.is_open:
            tried = {a.drone_id for a in view.assignments} | {drone_id}
            await self._decide(
                change, replace(view.incident, status=IncidentStatus.RECEIVED), tried
            )

    async def note_telemetry(
        self, drone_id: str, vehicle: Any, now: datetime, elapsed_s: float
    ) -> None:
        """Live position and battery into the fleet picture (not the audit log). A drone on
        a dock charges there: as its aircraft reports (the dock charges the aircraft), or
        by the charging model while it reports nothing; it is docked once full."""
        state = self.fleet[drone_id]
        reported = None if vehicle is None else vehicle.battery_pct
        charging = state.status is DroneStatus.CHARGING
        if state.status in ON_DOCK and (reported is not None or charging):
            battery = (
                min(100.0, state.battery_pct + CHARGE_PCT_PER_S * elapsed_s)
                if reported is None
                else max(0.0, min(100.0, float(reported)))
            )
            status = DroneStatus.DOCKED if battery >= 100.0 else DroneStatus.CHARGING
            self.fleet.update(drone_id, battery_pct=battery, status=status)
            return
        if vehicle is None or vehicle.lat is None or vehicle.lon is None:
            return
        changes: dict[str, Any] = {}
        if vehicle.battery_pct is not None:
            changes["battery_pct"] = max(0.0, min(100.0, float(vehicle.battery_pct)))
        # Not on a dock the records put it on: that stays what the aircraft's position is
        # checked against once it is taken up (``FlightControl.misplaced``).
        if recorded_dock(self.network, state) is None:
            changes["position"] = GeoPoint(vehicle.lat, vehicle.lon, vehicle.alt_rel_m or 0.0)
        if changes:
            self.fleet.update(drone_id, **changes)

    async def check_conformance(self, now: datetime) -> list[str]:
        """Every flight against the airspace its agency may use; an excursion raises a
        GEOFENCE_BREACH event, a non-conforming flight a CONFORMANCE_ALERT (ASTM F3548
        figures). Returns the drones newly out of bounds."""
        breaches = []
        for drone_id, flight in list(self._routes.items()):
            p = self.fleet[drone_id].position
            check = self.airspace.check(
                p.lat, p.lon, p.alt_m, flight.agency, at=now, permissions=flight.permissions
            )
            zone = check.breaches[0].zone_id if check.breaches else None
            tracker = self._trackers.setdefault(drone_id, ExcursionTracker(drone_id))
            verdict = tracker.update(now.timestamp(), not check.allowed, zone)
            if verdict.changed or (not check.allowed and verdict.excursion_s == 0):
                kind = (
                    EventType.GEOFENCE_BREACH
                    if not check.allowed and verdict.excursion_s == 0
                    else EventType.CONFORMANCE_ALERT
                )
                await self.flight_event(
                    drone_id,
                    kind,
                    {
                        "status": str(verdict.status),
                        "zone_id": zone,
                        "reason": verdict.reason,
                        "reasons": list(check.reasons),
                        "lat": p.lat,
                        "lon": p.lon,
                        "alt_m": p.alt_m,
                    },
                )
                if kind is EventType.GEOFENCE_BREACH:
                    breaches.append(drone_id)
        return breaches

    async def _task_status(
        self,
        change: Change,
        drone_id: str,
        assignment: AssignmentStatus | None,
        incident: IncidentStatus | None,
    ) -> None:
        task = self.fleet[drone_id].task_incident_id
        if task is None:
            return
        view = await self.incident(task)
        if assignment is not None:
            for a in view.assignments:
                # A provisional flight stays a proposal until an operator approves it.
                unapproved = a.status is AssignmentStatus.PROPOSED
                if (
                    a.drone_id == drone_id
                    and a.status in LIVE
                    and not (unapproved and assignment is AssignmentStatus.ACTIVE)
                ):
                    change.assignments.append(replace(a, status=assignment))
        if incident is not None and view.incident.status.is_open:
            change.incidents.append(replace(view.incident, status=incident))
        change.drones.add(drone_id)

    def _drone_event(self, kind: EventType, drone_id: str, data: dict[str, Any]) -> Event:
        task = self.fleet[drone_id].task_incident_id
        agency = self.network.drones[drone_id].owner
        return Event(
            kind, self.clock.now(), "fleet", drone_id, agency, {"task_incident_id": task, **data}
        )

    # --- decisions (under the lock) --------------------------------------------------
