"""The live orchestrator: intake -> decision -> store -> bus (-> aircraft).

Every state change is written to the store together with its audit events in one
transaction, and only then published: an acknowledged change is a durable change.
Decisions are serialised by one lock so that two calls arriving together can never be
offered the same drone, and the in-memory fleet picture is put back if a transaction
fails, so memory and database never disagree.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from skyshare.airspace import (
    AirspaceMap,
    Geozone,
    Route,
    zone_to_feature,
    zones_from_geojson,
)
from skyshare.airspace.conformance import ExcursionTracker
from skyshare.airspace.restrictions import ActiveFlight, flights_cut
from skyshare.bus import Bus, InProcessBus, MqttBus
from skyshare.config import Settings
from skyshare.dispatch import AirspaceRouter, Dispatcher, DroneState, Proposal
from skyshare.domain import (
    Assignment,
    AssignmentStatus,
    DroneStatus,
    GeoPoint,
    Incident,
    IncidentStatus,
    InputError,
    Network,
    Priority,
)
from skyshare.domain.events import Event, EventType
from skyshare.intake import IncidentRequest, parse_incident_request
from skyshare.runtime.clock import Clock, SystemClock
from skyshare.runtime.fleet_book import FleetBook
from skyshare.runtime.store_worker import StoreWorker
from skyshare.runtime.world import World, load_world
from skyshare.store import DuplicateIncident, Store, StoredRestriction, Tx

log = logging.getLogger(__name__)
T = TypeVar("T")

DISPATCHER = "dispatcher"
CHARGE_PCT_PER_S = 100.0 / 2400.0  # a dock fills a pack in about 40 minutes
LIVE = (AssignmentStatus.PROPOSED, AssignmentStatus.APPROVED, AssignmentStatus.ACTIVE)


class NotFound(LookupError):
    """No such incident."""


class Conflict(RuntimeError):
    """The request does not fit the incident's current state (e.g. approving a closed call)."""


class FlightControl(Protocol):
    """What flies the aircraft (``runtime.flights``); absent, approvals stop at the dock."""

    async def launch(self, incident: Incident, assignment: Assignment) -> None: ...

    async def recall(self, drone_id: str, reason: str) -> None: ...


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
        live = [a for a in self.assignments if a.status in LIVE]
        return live[-1] if live else None


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
        self.airspace: AirspaceMap = world.airspace
        self.fleet = FleetBook(world.network, world.area.projection)
        self.router = AirspaceRouter(world.airspace, _grants_by_agency(world.network))
        self.dispatcher = Dispatcher(world.network, self.router)
        self.flights: FlightControl | None = None
        self._routes: dict[str, ActiveFlight] = {}  # drone id -> the route it is flying
        self._lock = asyncio.Lock()
        self.writer = StoreWorker(store)  # every store call, in order, off the event loop
        self._escalated: set[str] = set()
        self._launched: set[str] = set()
        # Open incidents with their assignments, as last written: decisions read these
        # instead of waiting for the store behind queued writes.
        self._open: dict[
            str, IncidentView
        ] = {}  # drones given a sortie and not yet back or recalled
        self._trackers: dict[str, ExcursionTracker] = {}
        self._boroughs_geojson: dict[str, Any] | None = None

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
        await runtime._io(runtime._load_state)
        await runtime.bus.start()
        return runtime

    async def _io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking store read, in order after every write queued before it."""
        return await self.writer.read(fn, *args, **kwargs)

    async def shutdown(self) -> None:
        await self.bus.stop()
        await self.writer.stop()

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
        self.router.update(self.airspace)
        open_incidents = self.store.list_incidents(open_only=True, limit=10_000)
        for incident in open_incidents:
            self._open[incident.id] = IncidentView(
                incident, self.store.assignments_for(incident.id)
            )
        self.fleet.load(self.store.drone_states(), {i.id: i.priority for i in open_incidents})
        self.dispatcher.warm_up(now, self.fleet.view)

    # --- reads -----------------------------------------------------------------------

    @property
    def network(self) -> Network:
        return self.world.network

    def boroughs_geojson(self, tolerance_m: float = 40.0) -> dict[str, Any]:
        """Borough outlines in WGS84, simplified for drawing (computed once)."""
        if self._boroughs_geojson is None:
            self._boroughs_geojson = self.world.area.to_geojson(tolerance_m)
        return self._boroughs_geojson

    def drones(self) -> list[DroneState]:
        return list(self.fleet)

    async def incident(self, incident_id: str) -> IncidentView:
        """An open incident from memory (this runtime is its only writer); any other from
        the store."""
        cached = self._open.get(incident_id)
        if cached is not None:
            return cached
        incident = await self._io(self.store.get_incident, incident_id)
        if incident is None:
            raise NotFound(incident_id)
        assignments = await self._io(self.store.assignments_for, incident_id)
        return IncidentView(incident, assignments)

    async def incidents(
        self, *, agency: str | None = None, open_only: bool = False, limit: int = 200
    ) -> list[Incident]:
        return await self._io(
            self.store.list_incidents, agency=agency, open_only=open_only, limit=limit
        )

    # --- intake ----------------------------------------------------------------------

    async def submit(self, payload: Mapping[str, Any], *, actor: str) -> Submission:
        """Validate a call, record it and propose a drone; idempotent on external_id."""
        request = parse_incident_request(payload, self.network, self.world.area)
        # A repeat of an open call is answered from memory. A repeat of an older one is
        # refused by the database's unique (agency, external_id) and answered below, so
        # that a new call costs no read.
        existing = next(
            (
                v.incident
                for v in self._open.values()
                if request.external_id is not None
                and (v.incident.agency, v.incident.external_id)
                == (request.agency, request.external_id)
            ),
            None,
        )
        if existing is not None:
            return await self._existing(existing)
        try:
            return await self._receive(request, actor)
        except DuplicateIncident as dup:  # sent twice at once: the database kept the first
            return await self._existing(dup.existing)

    async def _receive(self, request: IncidentRequest, actor: str) -> Submission:
        async with self._exclusive() as change:
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
            change.new_incident = incident
            change.events.append(
                self._event(
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
            )
            incident, assignment = await self._decide(change, incident, exclude=set())
            await self._commit(change)
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

    # --- airspace --------------------------------------------------------------------

    def airspace_permissions(self) -> frozenset[tuple[str, str]]:
        """Recorded standing permissions (agency, zone id), from the network file."""
        return self.network.permissions

    async def create_restriction(self, zone: Geozone, *, actor: str) -> list[str]:
        """Put a temporary restriction in force; returns the drones whose route it cuts."""
        async with self._exclusive() as change:
            now = self.clock.now()
            airspace = self.airspace.without_expired(now).add_temporary(zone)
            feature = zone_to_feature(zone)
            cut = flights_cut(airspace, zone.id, self._routes.values(), at=now)
            change.events.append(
                Event(
                    EventType.RESTRICTION_CREATED,
                    now,
                    actor,
                    zone.id,
                    None,
                    {"name": zone.name, "feature": feature, "flights_cut": cut},
                )
            )
            for drone_id in cut:
                change.events.append(
                    Event(
                        EventType.CONFORMANCE_ALERT,
                        now,
                        DISPATCHER,
                        drone_id,
                        self._routes[drone_id].agency,
                        {
                            "reason": f"route crosses new restriction {zone.id} ({zone.name})",
                            "zone_id": zone.id,
                        },
                    )
                )
            stored = StoredRestriction(
                zone.id, feature, actor, now, starts_at=_first_start(zone), ends_at=zone.expires_at
            )
            await self._commit(change, restriction=stored, wait=True)
            self._set_airspace(airspace)
        return cut

    async def lift_restriction(self, zone_id: str, *, actor: str) -> None:
        async with self._exclusive() as change:
            now = self.clock.now()
            airspace = self.airspace.remove(zone_id)
            change.events.append(
                Event(EventType.RESTRICTION_REMOVED, now, actor, zone_id, None, {})
            )
            await self._commit(change, lifted=(zone_id, now), wait=True)
            self._set_airspace(airspace)

    def _set_airspace(self, airspace: AirspaceMap) -> None:
        self.airspace = airspace
        self.router.update(airspace)
        self.dispatcher.invalidate_routes()

    # --- flights (called by runtime.flights) -----------------------------------------

    async def flight_event(self, drone_id: str, kind: EventType, data: dict[str, Any]) -> None:
        """Record something that happened to a drone (a command, a warning). It changes no
        state, so it is appended to the audit log without waiting for the decision lock."""
        event = self._drone_event(kind, drone_id, data)

        await self.writer.write(lambda tx: tx.append(event))
        await self._publish([event])

    async def flight_started(self, drone_id: str, incident: Incident, route: Route) -> None:
        async with self._exclusive() as change:
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
        async with self._exclusive() as change:
            self.fleet.update(drone_id, status=DroneStatus.ON_SCENE)
            await self._task_status(change, drone_id, None, IncidentStatus.ON_SCENE)
            change.events.append(
                self._drone_event(EventType.DRONE_ON_SCENE, drone_id, {"incident_id": incident.id})
            )
            await self._commit(change)

    async def flight_returning(self, drone_id: str, reason: str) -> None:
        """Heading for a dock: the task (if any) is done and the drone may be re-tasked."""
        async with self._exclusive() as change:
            await self._task_status(change, drone_id, AssignmentStatus.COMPLETED, None)
            self.fleet.update(
                drone_id, status=DroneStatus.RETURNING, task_incident_id=None, task_priority=None
            )
            self._routes.pop(drone_id, None)
            change.drones.add(drone_id)
            change.events.append(
                self._drone_event(EventType.DRONE_RETURNING, drone_id, {"reason": reason})
            )
            await self._commit(change)

    async def flight_landed(self, drone_id: str) -> None:
        async with self._exclusive() as change:
            self.fleet.release(drone_id, status=DroneStatus.CHARGING)
            self._launched.discard(drone_id)
            self._trackers.pop(drone_id, None)
            change.drones.add(drone_id)
            change.events.append(
                self._drone_event(
                    EventType.DRONE_LANDED,
                    drone_id,
                    {"battery_pct": round(self.fleet[drone_id].battery_pct, 1)},
                )
            )
            await self._commit(change)

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
        async with self._exclusive() as change:
            view = await self.incident(incident_id)
            if not view.incident.status.is_open:
                return None
            busy = {a.drone_id for a in view.assignments if a.status in LIVE} | {drone_id}
            proposal = self.dispatcher.propose(
                view.incident, self.fleet.view, self.clock.now(), exclude=busy
            )
            assignment = proposal.assignment(f"asg-{uuid.uuid4().hex[:12]}")
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

    async def _lose_drone(
        self, drone_id: str, kind: EventType, reason: str, airborne_status: DroneStatus
    ) -> None:
        async with self._exclusive() as change:
            state = self.fleet[drone_id]
            incident_id = state.task_incident_id
            change.events.append(
                self._drone_event(kind, drone_id, {"reason": reason, "incident_id": incident_id})
            )
            on_dock = state.status in (
                DroneStatus.LAUNCHING,
                DroneStatus.DOCKED,
                DroneStatus.CHARGING,
            )
            if kind is EventType.LINK_LOST:
                self.fleet.update(
                    drone_id, status=DroneStatus.OFFLINE, task_incident_id=None, task_priority=None
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
            if incident_id is not None:
                view = await self.incident(incident_id)
                for a in view.assignments:
                    if a.status in LIVE and a.drone_id == drone_id:
                        change.assignments.append(replace(a, status=AssignmentStatus.CANCELLED))
                if view.incident.status.is_open:
                    tried = {a.drone_id for a in view.assignments} | {drone_id}
                    await self._decide(
                        change, replace(view.incident, status=IncidentStatus.RECEIVED), tried
                    )
            await self._commit(change)

    async def note_telemetry(
        self, drone_id: str, vehicle: Any, now: datetime, elapsed_s: float
    ) -> None:
        """Live position and battery into the fleet picture (not the audit log); a drone on
        a dock charges there."""
        state = self.fleet[drone_id]
        if state.status is DroneStatus.CHARGING:
            battery = min(100.0, state.battery_pct + CHARGE_PCT_PER_S * elapsed_s)
            status = DroneStatus.DOCKED if battery >= 100.0 else DroneStatus.CHARGING
            self.fleet.update(drone_id, battery_pct=battery, status=status)
            return
        if vehicle is None or vehicle.lat is None or vehicle.lon is None:
            return
        changes: dict[str, Any] = {}
        if vehicle.battery_pct is not None:
            changes["battery_pct"] = max(0.0, min(100.0, float(vehicle.battery_pct)))
        if state.status not in (DroneStatus.DOCKED, DroneStatus.LAUNCHING):
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

    async def _decide(
        self, change: Change, incident: Incident, exclude: set[str]
    ) -> tuple[Incident, Assignment | None]:
        """Propose the best drone; auto-launch if the agency's policy says so; a preempted
        incident is re-queued at once."""
        now = self.clock.now()
        proposal = self.dispatcher.propose(incident, self.fleet.view, now, exclude=exclude)
        assignment = proposal.assignment(f"asg-{uuid.uuid4().hex[:12]}")
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
        state = self.fleet[assignment.drone_id]
        if state.task_incident_id != assignment.incident_id:
            return
        flying = state.status in (DroneStatus.EN_ROUTE, DroneStatus.ON_SCENE)
        if self.flights and (flying or assignment.drone_id in self._launched):
            self.fleet.update(
                assignment.drone_id,
                status=DroneStatus.RETURNING,
                task_incident_id=None,
                task_priority=None,
            )
            change.recalls.append((assignment.drone_id, recall or status.value))
        else:
            self.fleet.release(assignment.drone_id)

    # --- persistence and publication -------------------------------------------------

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[_Pending]:
        """One decision at a time. The lock is released before the write is durable (see
        StoreWorker); if the write then fails, the drones this change set are put back."""
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
        try:
            await pending.written
        except BaseException:
            pending.undo()
            self._forget(pending)
            raise
        pending.committed = list(pending.events)
        await self._publish(pending.committed)
        await self._act(pending)

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
        now = self.clock.now()
        drones = [self.fleet.record(d, now) for d in sorted(change.drones)]

        def write(tx: Tx) -> None:
            if change.new_incident is not None:
                tx.add_incident(_latest(change.incidents, change.new_incident))
            for incident in _unique_latest(change.incidents):
                if change.new_incident is None or incident.id != change.new_incident.id:
                    tx.update_incident(incident)
            for assignment in _unique_latest(change.assignments):
                tx.save_assignment(assignment)
            for state in drones:
                tx.save_drone_state(state)
            if restriction is not None:
                tx.save_restriction(restriction)
            if lifted is not None:
                tx.end_restriction(*lifted)
            for event in change.events:
                tx.append(event)

        change.written = self.writer.write(write)
        self._remember(change)
        if wait:
            await change.written

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
                self._open.pop(incident_id, None)

    def _forget(self, change: Change) -> None:
        """A write failed: drop what the cache learnt from it; the store is the truth."""
        ids = {i.id for i in change.incidents} | {a.incident_id for a in change.assignments}
        if change.new_incident is not None:
            ids.add(change.new_incident.id)
        for incident_id in ids:
            self._open.pop(incident_id, None)

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            await self.bus.publish(event)

    async def _act(self, change: _Pending) -> None:
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


def _latest(items: list[Incident], new: Incident) -> Incident:
    return next((i for i in reversed(items) if i.id == new.id), new)


def _unique_latest(items: list[Any]) -> list[Any]:
    """The last version of each record, in first-seen order."""
    latest: dict[str, Any] = {}
    for item in items:
        latest[item.id] = item
    return list(latest.values())


def _brief(proposal: Proposal) -> dict[str, Any]:
    doc = proposal.to_json()
    return {
        "explanation": doc.get("explanation"),
        "ranked": doc.get("ranked", [])[:3],
        "rejected_counts": doc.get("rejected_counts"),
    }


def _grants_by_agency(network: Network) -> dict[str, list[tuple[str, str]]]:
    grants: dict[str, list[tuple[str, str]]] = {}
    for agency, zone in network.permissions:
        grants.setdefault(agency, []).append((agency, zone))
    return grants


def _first_start(zone: Geozone) -> datetime | None:
    starts = [w.start for w in zone.windows if w.start is not None]
    return min(starts) if starts else None
