"""The live orchestrator: intake -> decision -> store -> bus, one incident at a time.

Every state change is written to the store together with its audit event in one
transaction, and only then published: an acknowledged change is a durable change.
Decisions are serialised by one lock so that two calls arriving together can never be
proposed the same drone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from skyshare.airspace import AirspaceMap, Geozone, zone_to_feature, zones_from_geojson
from skyshare.airspace.restrictions import ActiveFlight, flights_cut
from skyshare.bus import Bus, InProcessBus, MqttBus
from skyshare.config import Settings
from skyshare.dispatch.nearest import propose_nearest
from skyshare.domain import (
    Assignment,
    AssignmentStatus,
    Drone,
    DroneStatus,
    GeoPoint,
    Incident,
    IncidentStatus,
    InputError,
)
from skyshare.domain.events import Event, EventType
from skyshare.intake import parse_incident_request
from skyshare.runtime.clock import Clock, SystemClock
from skyshare.runtime.world import World, load_world
from skyshare.store import DroneState, DuplicateIncident, Store, StoredRestriction

log = logging.getLogger(__name__)

DISPATCHER = "dispatcher"


class NotFound(LookupError):
    """No such incident (or assignment)."""


class Conflict(RuntimeError):
    """The request does not fit the incident's current state (e.g. approving a closed call)."""


@dataclass(frozen=True)
class Submission:
    incident: Incident
    assignment: Assignment | None
    created: bool


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    assignments: list[Assignment]

    @property
    def current(self) -> Assignment | None:
        live = [
            a
            for a in self.assignments
            if a.status
            in (AssignmentStatus.PROPOSED, AssignmentStatus.APPROVED, AssignmentStatus.ACTIVE)
        ]
        return live[-1] if live else None


class Runtime:
    """Owns the live state of the network and every change to it."""

    def __init__(
        self, world: World, store: Store, bus: Bus, clock: Clock, settings: Settings
    ) -> None:
        self.world = world
        self.store = store
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self._lock = asyncio.Lock()
        self._drones: dict[str, Drone] = dict(world.network.drones)
        self.airspace: AirspaceMap = world.airspace
        self._flights: dict[str, ActiveFlight] = {}  # flight id -> its route, while airborne
        self._boroughs_geojson: dict[str, Any] | None = None
        self._held: dict[str, str] = {}  # drone id -> the incident it is proposed for or flying

    @classmethod
    async def create(
        cls, settings: Settings | None = None, *, clock: Clock | None = None, bus: Bus | None = None
    ) -> Runtime:
        """Load the world, open (and migrate) the store, connect the bus."""
        settings = settings or Settings()
        world = await asyncio.to_thread(load_world, settings)
        store = await asyncio.to_thread(Store.open, settings.database_url)
        runtime = cls(world, store, bus or InProcessBus(), clock or SystemClock(), settings)
        if bus is None and settings.mqtt_url:
            runtime.bus = MqttBus(
                settings.mqtt_url,
                intake=runtime.intake_from_cad,
                topic_prefix=settings.mqtt_topic_prefix,
            )
        await asyncio.to_thread(runtime._load_state)
        await runtime.bus.start()
        return runtime

    async def shutdown(self) -> None:
        await self.bus.stop()
        await asyncio.to_thread(self.store.close)

    def _load_state(self) -> None:
        with self.store.transaction() as tx:
            tx.sync_network(self.world.network)
        now = self.clock.now()
        for restriction in self.store.restrictions(active_at=now):
            for zone in zones_from_geojson(
                {"type": "FeatureCollection", "features": [restriction.feature]},
                source=f"restriction {restriction.id}",
            ):
                self.airspace = self.airspace.add_temporary(zone)
        for drone_id, state in self.store.drone_states().items():
            if drone_id in self._drones:
                self._drones[drone_id] = _with_state(self._drones[drone_id], state)
                if state.incident_id:
                    self._held[drone_id] = state.incident_id

    # --- reads -----------------------------------------------------------------------

    @property
    def network(self):
        return self.world.network

    def boroughs_geojson(self, tolerance_m: float = 40.0) -> dict[str, Any]:
        """Borough outlines in WGS84, simplified for drawing (computed once)."""
        if self._boroughs_geojson is None:
            self._boroughs_geojson = self.world.area.to_geojson(tolerance_m)
        return self._boroughs_geojson

    def drones(self) -> list[Drone]:
        return [self._drones[k] for k in sorted(self._drones)]

    async def incident(self, incident_id: str) -> IncidentView:
        incident = await asyncio.to_thread(self.store.get_incident, incident_id)
        if incident is None:
            raise NotFound(incident_id)
        assignments = await asyncio.to_thread(self.store.assignments_for, incident_id)
        return IncidentView(incident, assignments)

    async def incidents(
        self, *, agency: str | None = None, open_only: bool = False, limit: int = 200
    ) -> list[Incident]:
        return await asyncio.to_thread(
            self.store.list_incidents, agency=agency, open_only=open_only, limit=limit
        )

    # --- intake ----------------------------------------------------------------------

    async def submit(self, payload: Mapping[str, Any], *, actor: str) -> Submission:
        """Validate a call, record it and propose a drone; idempotent on external_id."""
        request = parse_incident_request(payload, self.network, self.world.area)
        async with self._exclusive() as undo:
            if request.external_id:
                existing = await asyncio.to_thread(
                    self.store.find_incident, request.agency, request.external_id
                )
                if existing is not None:
                    return await self._existing(existing)
            now = self.clock.now()
            incident = Incident(
                id=f"inc-{uuid.uuid4().hex[:12]}",
                agency=request.agency,
                priority=request.priority,
                kind=request.kind,
                position=GeoPoint(request.lat, request.lon),
                received_at=now,
                borough=request.borough,
                description=request.description,
                external_id=request.external_id,
            )
            received = self._event(
                EventType.INCIDENT_RECEIVED,
                actor,
                incident,
                {
                    "priority": incident.priority.label,
                    "kind": incident.kind,
                    "lat": incident.position.lat,
                    "lon": incident.position.lon,
                    "borough": incident.borough,
                    "external_id": incident.external_id,
                },
            )
            incident, assignment, events = self._decide(incident, exclude=set())
            try:
                await asyncio.to_thread(
                    self._commit, incident, assignment, [received, *events], new=True
                )
            except DuplicateIncident as dup:  # another process took the same external_id
                undo()
                return await self._existing(dup.existing)
        await self._publish([received, *events])
        return Submission(incident, assignment, created=True)

    async def intake_from_cad(self, agency: str, payload: dict[str, Any]) -> Incident:
        """The MQTT door: the topic names the agency, and the payload may not contradict it."""
        if payload.get("agency", agency) != agency:
            raise InputError(
                "agency", f"{payload['agency']!r} does not match the topic's agency {agency!r}"
            )
        submission = await self.submit({**payload, "agency": agency}, actor=f"cad:{agency}")
        return submission.incident

    async def _existing(self, incident: Incident) -> Submission:
        view = await self.incident(incident.id)
        return Submission(incident, view.current, created=False)

    # --- operator decisions ----------------------------------------------------------

    async def approve(self, incident_id: str, *, actor: str) -> IncidentView:
        async with self._exclusive():
            view = await self.incident(incident_id)
            current = view.current
            if current is None or current.status is not AssignmentStatus.PROPOSED:
                raise Conflict(
                    f"incident {incident_id} has no proposal awaiting approval "
                    f"(status {view.incident.status})"
                )
            assignment, incident, events = self._launch(
                view.incident, current, actor, EventType.DISPATCH_APPROVED
            )
            await asyncio.to_thread(self._commit, incident, assignment, events)
        await self._publish(events)
        return await self.incident(incident_id)

    async def decline(self, incident_id: str, *, actor: str, reason: str = "") -> IncidentView:
        """Refuse the proposed drone; the next candidate is proposed at once."""
        async with self._exclusive():
            view = await self.incident(incident_id)
            current = view.current
            if current is None or current.status is not AssignmentStatus.PROPOSED:
                raise Conflict(
                    f"incident {incident_id} has no proposal to decline "
                    f"(status {view.incident.status})"
                )
            declined = replace(current, status=AssignmentStatus.DECLINED)
            self._release(declined.drone_id)
            events = [
                self._event(
                    EventType.DISPATCH_DECLINED,
                    actor,
                    view.incident,
                    {"assignment_id": declined.id, "drone_id": declined.drone_id, "reason": reason},
                )
            ]
            tried = {a.drone_id for a in view.assignments}
            incident, nxt, more = self._decide(view.incident, exclude=tried)
            await asyncio.to_thread(self._commit_many, incident, [declined, nxt], [*events, *more])
        await self._publish([*events, *more])
        return await self.incident(incident_id)

    async def close_incident(
        self, incident_id: str, *, actor: str, reason: str = ""
    ) -> IncidentView:
        async with self._exclusive():
            view = await self.incident(incident_id)
            if not view.incident.status.is_open:
                raise Conflict(f"incident {incident_id} is already {view.incident.status}")
            ended = []
            for a in view.assignments:
                if a.status in (
                    AssignmentStatus.PROPOSED,
                    AssignmentStatus.APPROVED,
                    AssignmentStatus.ACTIVE,
                ):
                    done = (
                        AssignmentStatus.CANCELLED
                        if a.status is AssignmentStatus.PROPOSED
                        else AssignmentStatus.COMPLETED
                    )
                    ended.append(replace(a, status=done))
                    self._release(a.drone_id)
            incident = replace(view.incident, status=IncidentStatus.CLOSED)
            events = [self._event(EventType.INCIDENT_CLOSED, actor, incident, {"reason": reason})]
            await asyncio.to_thread(self._commit_many, incident, ended, events)
        await self._publish(events)
        return await self.incident(incident_id)

    # --- airspace ---------------------------------------------------------------------

    def airspace_permissions(self) -> frozenset[tuple[str, str]]:
        """Recorded standing permissions (agency, zone id), from the network file."""
        return self.network.permissions

    async def create_restriction(self, zone: Geozone, *, actor: str) -> list[str]:
        """Put a temporary restriction in force; returns the flights whose route it cuts."""
        async with self._exclusive():
            now = self.clock.now()
            airspace = self.airspace.without_expired(now).add_temporary(zone)
            feature = zone_to_feature(zone)
            cut = flights_cut(airspace, zone.id, self._flights.values(), at=now)
            events = [
                Event(
                    EventType.RESTRICTION_CREATED,
                    now,
                    actor,
                    zone.id,
                    None,
                    {"name": zone.name, "feature": feature, "flights_cut": cut},
                )
            ]
            events += [
                Event(
                    EventType.CONFORMANCE_ALERT,
                    now,
                    DISPATCHER,
                    flight_id,
                    self._flights[flight_id].agency,
                    {
                        "reason": f"route crosses new restriction {zone.id} ({zone.name})",
                        "zone_id": zone.id,
                    },
                )
                for flight_id in cut
            ]
            stored = StoredRestriction(
                zone.id, feature, actor, now, starts_at=_first_start(zone), ends_at=zone.expires_at
            )

            def commit() -> None:
                with self.store.transaction() as tx:
                    tx.save_restriction(stored)
                    for event in events:
                        tx.append(event)

            await asyncio.to_thread(commit)
            self.airspace = airspace
        await self._publish(events)
        return cut

    async def lift_restriction(self, zone_id: str, *, actor: str) -> None:
        async with self._exclusive():
            now = self.clock.now()
            airspace = self.airspace.remove(zone_id)
            event = Event(EventType.RESTRICTION_REMOVED, now, actor, zone_id, None, {})

            def commit() -> None:
                with self.store.transaction() as tx:
                    tx.end_restriction(zone_id, now)
                    tx.append(event)

            await asyncio.to_thread(commit)
            self.airspace = airspace
        await self._publish([event])

    # --- decisions (under the lock) --------------------------------------------------

    def _decide(
        self, incident: Incident, exclude: set[str]
    ) -> tuple[Incident, Assignment | None, list[Event]]:
        available = [d for d in self._drones.values() if d.id not in exclude]
        choice = propose_nearest(
            incident, available, self.network, cruise_alt_m=self.settings.min_cruise_alt_m
        )
        if choice is None:
            incident = replace(incident, status=IncidentStatus.UNSERVED)
            return (
                incident,
                None,
                [
                    self._event(
                        EventType.INCIDENT_UNSERVED,
                        DISPATCHER,
                        incident,
                        {"reason": "no available drone may fly this call"},
                    )
                ],
            )
        assignment = Assignment(
            id=f"asg-{uuid.uuid4().hex[:12]}",
            incident_id=incident.id,
            drone_id=choice.drone_id,
            site_id=choice.site_id,
            eta_s=round(choice.eta_s, 1),
            reason=choice.reason,
            candidates=choice.candidates,
        )
        self._reserve(choice.drone_id, incident.id)
        incident = replace(incident, status=IncidentStatus.PROPOSED)
        events = [
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
                },
            )
        ]
        agency = self.network.agencies[incident.agency]
        if incident.priority in agency.auto_launch:
            assignment, incident, launched = self._launch(
                incident, assignment, DISPATCHER, EventType.DISPATCH_AUTO_APPROVED
            )
            events += launched
        return incident, assignment, events

    def _launch(
        self, incident: Incident, assignment: Assignment, actor: str, why: EventType
    ) -> tuple[Assignment, Incident, list[Event]]:
        assignment = replace(assignment, status=AssignmentStatus.APPROVED)
        incident = replace(incident, status=IncidentStatus.DISPATCHED)
        drone = self._drones[assignment.drone_id]
        self._drones[drone.id] = replace(drone, status=DroneStatus.LAUNCHING)
        return (
            assignment,
            incident,
            [
                self._event(
                    why,
                    actor,
                    incident,
                    {"assignment_id": assignment.id, "drone_id": assignment.drone_id},
                )
            ],
        )

    def _reserve(self, drone_id: str, incident_id: str) -> None:
        # A proposed drone is held for its incident: no other call may be offered it.
        drone = self._drones[drone_id]
        self._drones[drone_id] = replace(drone, status=DroneStatus.LAUNCHING)
        self._held[drone_id] = incident_id

    def _release(self, drone_id: str) -> None:
        drone = self._drones[drone_id]
        self._drones[drone_id] = replace(drone, status=DroneStatus.DOCKED)
        self._held.pop(drone_id, None)

    # --- persistence and publication -------------------------------------------------

    def _event(
        self, kind: EventType, actor: str, incident: Incident, data: dict[str, Any]
    ) -> Event:
        return Event(kind, self.clock.now(), actor, incident.id, incident.agency, data)

    def _drone_state(self, drone_id: str) -> DroneState:
        drone = self._drones[drone_id]
        pos = drone.position
        return DroneState(
            drone_id,
            drone.status,
            drone.battery_pct,
            pos.lat if pos else None,
            pos.lon if pos else None,
            pos.alt_m if pos else None,
            self._held.get(drone_id),
            self.clock.now(),
        )

    def _commit(
        self,
        incident: Incident,
        assignment: Assignment | None,
        events: list[Event],
        *,
        new: bool = False,
    ) -> None:
        self._commit_many(incident, [assignment], events, new=new)

    def _commit_many(
        self,
        incident: Incident,
        assignments: list[Assignment | None],
        events: list[Event],
        *,
        new: bool = False,
    ) -> None:
        with self.store.transaction() as tx:
            if new:
                tx.add_incident(incident)
            else:
                tx.update_incident(incident)
            for assignment in assignments:
                if assignment is not None:
                    tx.save_assignment(assignment)
                    tx.save_drone_state(self._drone_state(assignment.drone_id))
            for event in events:
                tx.append(event)

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[Callable[[], None]]:
        """One decision at a time; in-memory fleet changes are undone if it fails."""
        async with self._lock:
            drones, held = dict(self._drones), dict(self._held)

            def undo() -> None:
                self._drones, self._held = dict(drones), dict(held)

            try:
                yield undo
            except BaseException:
                undo()
                raise

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            await self.bus.publish(event)


def _first_start(zone: Geozone) -> datetime | None:
    starts = [w.start for w in zone.windows if w.start is not None]
    return min(starts) if starts else None


def _with_state(drone: Drone, state: DroneState) -> Drone:
    position = (
        GeoPoint(state.lat, state.lon, state.alt_m or 0.0)
        if state.lat is not None and state.lon is not None
        else drone.position
    )
    return replace(drone, status=state.status, battery_pct=state.battery_pct, position=position)
