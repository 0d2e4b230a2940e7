"""A discrete-event simulation of the network, deciding with the live ``Dispatcher``.

Each call is put to the same ``Dispatcher`` the control room runs (routes around the
airspace, battery, sharing rules, batch assignment, preemption, relief), with the fleet
as the simulation has it at that moment. The simulation then flies the chosen drone:

    call --(operator approval unless the agency auto-launches)--> launch
    launch --(ETA: launch delay, climb, legal route, descent)--> on scene
    on scene --(the kind's time, or until the battery says go)--> return to the dock
    the dispatcher chose --(route back)--> land, charge at ``charge_pct_per_min``
    (a drone that landed at another site's dock flies home once charged enough)

A call no drone can take now waits in a queue (re-tried whenever a drone lands, turns
for home, or at least every ``retry_s``) and is given up after ``max_wait_s``; a call
that no drone could ever take (no capable drone, not shared, no legal route) is unserved
at once. A drone on its way home may be re-tasked in the air; a P1 call may take a drone
from a lower-priority call, which goes back to the queue if the drone had not reached it
yet. An overwatch longer than a battery gets a relief drone planned by the dispatcher.

Time runs in seconds from ``start``; the dispatcher is given ``start + t``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from itertools import pairwise

from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.dispatch.eta import CALM, Flight, FlightModel
from skyshare.dispatch.fleet import DroneState, FleetView
from skyshare.dispatch.proposal import Candidate
from skyshare.dispatch.routing import Path
from skyshare.dispatch.sharing import SharingLedger
from skyshare.domain.enums import DroneStatus, Priority
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint, Incident
from skyshare.domain.network import Network


@dataclass(frozen=True)
class SimulationConfig:
    """What happens around the dispatcher's decision.

    ``approval_delay_s``: an operator's time to approve a proposal the agency does not
    auto-launch (a P1 call of an agency allowing provisional launch lifts at once).
    ``max_wait_s``: a call still without a drone after this is over for the drone
    (unserved). ``retry_s``: queued calls are re-tried at least this often (charging
    drones become able to go in between events). ``charge_pct_per_min``: dock charging.
    """

    approval_delay_s: float = 30.0
    max_wait_s: float = 1800.0
    retry_s: float = 30.0
    charge_pct_per_min: float = 2.5

    def __post_init__(self) -> None:
        for name in ("approval_delay_s", "max_wait_s"):
            if not getattr(self, name) >= 0:
                raise InputError(name, f"must be zero or more, got {getattr(self, name)}")
        for name in ("retry_s", "charge_pct_per_min"):
            if not getattr(self, name) > 0:
                raise InputError(name, f"must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class CallOutcome:
    """What became of one call. Times are seconds from the start of the simulation."""

    incident_id: str
    agency: str
    priority: Priority
    kind: str
    borough: str
    received_s: float
    assigned_s: float | None
    arrived_s: float | None
    drone_id: str | None
    site_id: str | None
    waited: bool  # no drone could be assigned when the call came in
    unserved_reason: str | None
    preempted: int = 0
    relief_gap_s: float = 0.0

    @property
    def response_s(self) -> float | None:
        return None if self.arrived_s is None else self.arrived_s - self.received_s

    @property
    def wait_s(self) -> float | None:
        return None if self.assigned_s is None else self.assigned_s - self.received_s


@dataclass(frozen=True)
class DroneUse:
    """One drone over the simulation: ``committed_s`` from assignment to landing (the
    time it could not be sent elsewhere from its dock), ``airborne_s`` in the air."""

    drone_id: str
    site_id: str
    owner: str
    sorties: int
    airborne_s: float
    committed_s: float


@dataclass(frozen=True)
class SimulationResult:
    start: datetime
    duration_s: float
    calls: tuple[CallOutcome, ...]
    drones: tuple[DroneUse, ...]
    ledger: SharingLedger = field(repr=False)
    reliefs: int = 0
    decisions: int = 0
    repositions: int = 0  # flights home from another dock


class _Event(IntEnum):  # the order breaks ties at the same instant
    LANDED = 0
    LEAVE = 1
    ON_SCENE = 2
    RELIEF = 3
    ARRIVAL = 4
    GIVE_UP = 5
    RETRY = 6
    GO_HOME = 7


@dataclass
class _Call:
    incident: Incident
    received_s: float
    on_scene_s: float
    assigned_s: float | None = None
    arrived_s: float | None = None
    drone_id: str | None = None
    site_id: str | None = None
    waited: bool = False
    unserved: str | None = None
    preempted: int = 0
    needed_until_s: float | None = None  # set once the first drone is on scene
    relief_gap_s: float = 0.0
    closed: bool = False

    @property
    def queued(self) -> bool:
        return self.assigned_s is None and self.unserved is None and not self.closed


@dataclass
class _Flight:
    """A leg in the air: position along ``path`` and battery, linear in time."""

    t0: float
    t1: float
    path: Path | None
    battery0: float
    battery1: float


@dataclass
class _Drone:
    id: str
    home: str
    owner: str
    status: DroneStatus
    battery: float
    since: float  # when ``battery`` was last set
    position: GeoPoint
    dock: str | None  # the site it sits on (None in the air)
    generation: int = 0
    call: _Call | None = None
    candidate: Candidate | None = None
    flight: _Flight | None = None
    agency: str | None = None
    launched_s: float | None = None
    committed_s: float | None = None
    airborne_total: float = 0.0
    committed_total: float = 0.0
    sorties: int = 0


class Simulation:
    """One run over ``incidents`` (any order; each ``received_at`` timezone-aware)."""

    def __init__(
        self,
        network: Network,
        dispatcher: Dispatcher,
        incidents: Sequence[Incident],
        *,
        start: datetime,
        duration_s: float,
        config: SimulationConfig | None = None,
        on_scene_s: Mapping[str, float] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise InputError("start", "needs a timezone-aware time (UTC)")
        if not duration_s > 0:
            raise InputError("days", f"the simulated period must be positive, got {duration_s} s")
        self.network = network
        self.dispatcher = dispatcher
        self.flight_model: FlightModel = dispatcher.flight_model
        self.config = config or SimulationConfig()
        self.start = start
        self.duration_s = float(duration_s)
        self.progress = progress
        self.ledger = SharingLedger()
        self.decisions = 0
        self.reliefs = 0
        self.repositions = 0
        self._queue: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self.calls: list[_Call] = []
        for incident in sorted(incidents, key=lambda i: (i.received_at, i.id)):
            kind = network.kinds.get(incident.kind)
            if kind is None:
                raise InputError(
                    "kind", f"unknown incident kind {incident.kind!r}", item=incident.id
                )
            t = (incident.received_at - start).total_seconds()
            stay = (
                kind.on_scene_s
                if on_scene_s is None
                else on_scene_s.get(incident.id, kind.on_scene_s)
            )
            call = _Call(incident, t, float(stay))
            self.calls.append(call)
            self._push(t, _Event.ARRIVAL, call)
        self.drones: dict[str, _Drone] = {}
        for drone in sorted(network.drones.values(), key=lambda d: d.id):
            site = network.sites[drone.home_site_id]
            self.drones[drone.id] = _Drone(
                drone.id,
                site.id,
                drone.owner,
                DroneStatus.DOCKED,
                drone.battery_pct,
                0.0,
                site.position,
                site.id,
            )
        self._retry_at: float | None = None
        self._waiting: dict[str, _Call] = {}  # received calls without a drone, by id
        self._idle = FleetView(  # the whole fleet docked at home and charged
            (
                DroneState(d.id, DroneStatus.DOCKED, 100.0, d.position, d.home)
                for d in self.drones.values()
            ),
            dispatcher.projection,
        )

    # --- the event loop -----------------------------------------------------------------

    def run(self) -> SimulationResult:
        reported = 0.0
        while self._queue:
            t, kind, _, payload = heapq.heappop(self._queue)
            handler = {
                _Event.ARRIVAL: self._arrival,
                _Event.ON_SCENE: self._on_scene,
                _Event.LEAVE: self._leave,
                _Event.LANDED: self._landed,
                _Event.RELIEF: self._relief,
                _Event.GIVE_UP: self._give_up,
                _Event.RETRY: self._retry,
                _Event.GO_HOME: self._go_home,
            }[_Event(kind)]
            handler(t, payload)
            if self.progress is not None and t - reported >= 3600.0:
                self.progress(min(t, self.duration_s) - reported)
                reported = min(t, self.duration_s)
        if self.progress is not None and reported < self.duration_s:
            self.progress(self.duration_s - reported)
        return self._result()

    def _push(self, t: float, kind: _Event, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, int(kind), self._seq, payload))

    def _now(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    # --- handlers -------------------------------------------------------------------------

    def _arrival(self, t: float, call: _Call) -> None:
        self._push(t + self.config.max_wait_s, _Event.GIVE_UP, call)
        self._waiting[call.incident.id] = call
        self._dispatch(t, arriving=call)

    def _give_up(self, t: float, call: _Call) -> None:
        if call.queued:
            call.unserved = f"no drone free within {self.config.max_wait_s / 60:.0f} min"
            self._waiting.pop(call.incident.id, None)

    def _retry(self, t: float, _: object) -> None:
        self._retry_at = None
        self._dispatch(t)

    def _on_scene(self, t: float, token: tuple[_Drone, int]) -> None:
        drone, generation = token
        if drone.generation != generation or drone.call is None or drone.candidate is None:
            return
        call, candidate = drone.call, drone.candidate
        self._settle(drone, t)
        drone.status = DroneStatus.ON_SCENE
        drone.flight = None
        scene = call.incident.position
        alt = self.flight_model.scene_alt_m(self.network.kinds[call.incident.kind].task)
        drone.position = GeoPoint(scene.lat, scene.lon, alt)
        drone.battery, drone.since = candidate.sortie.battery_on_arrival_pct, t
        if call.arrived_s is None:
            call.arrived_s = t
            call.needed_until_s = t + call.on_scene_s
        needed_until = call.needed_until_s if call.needed_until_s is not None else t
        stay = max(0.0, min(needed_until - t, candidate.sortie.station_s))
        self._push(t + stay, _Event.LEAVE, (drone, generation))
        if needed_until - t > candidate.sortie.station_s + 1e-6:
            self._plan_relief(t, drone, needed_until)

    def _plan_relief(self, t: float, drone: _Drone, needed_until: float) -> None:
        assert drone.call is not None
        plan = self.dispatcher.plan_relief(
            drone.call.incident,
            drone.id,
            self._view(t),
            self._now(t),
            needed_until=self._now(needed_until),
        )
        self.decisions += 1
        if not plan.needed:
            return
        at = (plan.launch_at - self.start).total_seconds() if plan.launch_at else t
        self._push(max(t, at), _Event.RELIEF, (drone, drone.generation, needed_until))

    def _relief(self, t: float, token: tuple[_Drone, int, float]) -> None:
        drone, generation, needed_until = token
        if drone.generation != generation or drone.call is None:
            return
        call = drone.call
        plan = self.dispatcher.plan_relief(
            call.incident,
            drone.id,
            self._view(t),
            self._now(t),
            needed_until=self._now(needed_until),
        )
        self.decisions += 1
        if plan.relief is None:
            call.relief_gap_s += plan.gap_s
            return
        relief = self.drones[plan.relief.drone_id]
        if relief.call is not None:
            self._release(relief, t, requeue=True)
        self.reliefs += 1
        call.relief_gap_s += plan.gap_s
        self._commit(relief, call, plan.relief, t, approval_s=0.0)

    def _leave(self, t: float, token: tuple[_Drone, int]) -> None:
        drone, generation = token
        if drone.generation != generation or drone.call is None or drone.candidate is None:
            return
        call, candidate = drone.call, drone.candidate
        task = self.network.kinds[call.incident.kind].task
        model = self.network.drones[drone.id].model
        scene_pct_per_s = (
            self.flight_model.scene_power_w(model, task) / 3600.0 * 100.0 / model.battery_wh
        )
        stayed = t - drone.since
        battery = max(0.0, drone.battery - scene_pct_per_s * stayed)
        if call.needed_until_s is not None and t >= call.needed_until_s - 1e-6:
            call.closed = True
        back = candidate.sortie.back
        dock = self.network.sites[candidate.return_site_id]
        path = self.dispatcher.paths(
            GeoPoint(call.incident.position.lat, call.incident.position.lon),
            dock.position,
            call.incident.agency,
            self._now(t),
        )
        used = back.energy_wh * 100.0 / model.battery_wh
        drone.status = DroneStatus.RETURNING
        drone.call, drone.candidate = None, None
        drone.dock = candidate.return_site_id  # where it will land
        drone.flight = _Flight(
            t,
            t + back.time_s,
            path if isinstance(path, Path) else None,
            battery,
            max(0.0, battery - used),
        )
        drone.battery, drone.since = battery, t
        drone.generation += 1
        self._push(t + back.time_s, _Event.LANDED, (drone, drone.generation))
        self._dispatch(t)

    def _landed(self, t: float, token: tuple[_Drone, int]) -> None:
        drone, generation = token
        if drone.generation != generation:
            return
        assert drone.flight is not None and drone.dock is not None
        drone.battery, drone.since = drone.flight.battery1, t
        drone.flight = None
        drone.position = self.network.sites[drone.dock].position
        drone.status = DroneStatus.CHARGING if drone.battery < 100.0 else DroneStatus.DOCKED
        self._close_sortie(drone, t)
        if drone.dock != drone.home:
            self._plan_going_home(t, drone)
        self._dispatch(t)

    def _plan_going_home(self, t: float, drone: _Drone) -> None:
        """A drone that landed away from home flies back once charged enough to land there
        with the reserve (it stays available for calls until it lifts)."""
        assert drone.dock is not None
        model = self.network.drones[drone.id].model
        home = self.network.sites[drone.home].position
        path = self.dispatcher.paths(
            self.network.sites[drone.dock].position, home, drone.owner, self._now(t)
        )
        if not isinstance(path, Path):
            return  # no legal way home: it stays where it is
        flight = self.flight_model.flight(model, path, from_alt_m=0.0, to_alt_m=0.0, wind=CALM)
        if flight is None:
            return
        need = flight.energy_wh * 100.0 / model.battery_wh + self.dispatcher.config.reserve_pct
        wait_s = max(0.0, need - drone.battery) / self.config.charge_pct_per_min * 60.0
        self._push(t + wait_s, _Event.GO_HOME, (drone, drone.generation, path, flight))

    def _go_home(self, t: float, token: tuple[_Drone, int, Path, Flight]) -> None:
        drone, generation, path, flight = token
        if drone.generation != generation or drone.call is not None or drone.flight is not None:
            return
        self._settle(drone, t)
        model = self.network.drones[drone.id].model
        used = flight.energy_wh * 100.0 / model.battery_wh
        drone.status = DroneStatus.RETURNING
        drone.dock = drone.home
        drone.flight = _Flight(t, t + flight.time_s, path, drone.battery, drone.battery - used)
        drone.generation += 1
        drone.airborne_total += flight.time_s
        self.repositions += 1
        self._push(t + flight.time_s, _Event.LANDED, (drone, drone.generation))

    # --- deciding ---------------------------------------------------------------------------

    def _dispatch(self, t: float, arriving: _Call | None = None) -> None:
        if not self._waiting:
            return
        pending = sorted(
            self._waiting.values(),
            key=lambda c: (c.incident.priority, c.received_s, c.incident.id),
        )
        view = self._view(t)
        now = self._now(t)
        if len(pending) == 1:
            proposals = {
                pending[0].incident.id: self.dispatcher.propose(pending[0].incident, view, now)
            }
        else:
            proposals = self.dispatcher.assign([c.incident for c in pending], view, now)
        self.decisions += 1
        taken: set[str] = set()
        for call in pending:
            proposal = proposals.get(call.incident.id)
            chosen = None if proposal is None else proposal.chosen
            if chosen is None or chosen.drone_id in taken:
                if call is arriving:
                    self._first_refusal(call, now)
                continue
            taken.add(chosen.drone_id)
            drone = self.drones[chosen.drone_id]
            if drone.call is not None:  # preemption: its lower-priority call loses it
                self._release(drone, t, requeue=True)
            auto = auto_launched(self.network, call.incident)
            self._commit(drone, call, chosen, t, 0.0 if auto else self.config.approval_delay_s)
        if self._waiting:
            self._schedule_retry(t)

    def _first_refusal(self, call: _Call, now: datetime) -> None:
        """A new call got no drone. If no drone could take it even with the whole fleet
        docked and charged (no capable drone, not shared, no legal route, out of range),
        it is unserved at once; otherwise it waits for a drone."""
        proposal = self.dispatcher.propose(call.incident, self._idle, now)
        self.decisions += 1
        if proposal.chosen is None:
            why = proposal.unserved_reason or "no drone can serve this call"
            call.unserved = f"even with every drone free: {why}"
            self._waiting.pop(call.incident.id, None)
        else:
            call.waited = True

    def _schedule_retry(self, t: float) -> None:
        at = t + self.config.retry_s
        if self._retry_at is None or self._retry_at > at:
            self._retry_at = at
            self._push(at, _Event.RETRY, None)

    def _commit(
        self, drone: _Drone, call: _Call, chosen: Candidate, t: float, approval_s: float
    ) -> None:
        self._settle(drone, t)
        if drone.committed_s is None:
            drone.committed_s = t
        if drone.launched_s is None:
            drone.launched_s = t + approval_s
        drone.generation += 1
        drone.call, drone.candidate = call, chosen
        drone.agency = call.incident.agency
        drone.status = DroneStatus.EN_ROUTE if chosen.airborne else DroneStatus.LAUNCHING
        arrive = t + approval_s + chosen.eta_s
        drone.flight = _Flight(
            t + approval_s, arrive, chosen.path, drone.battery, chosen.sortie.battery_on_arrival_pct
        )
        drone.dock = None
        if call.assigned_s is None:
            call.assigned_s = t
            call.drone_id, call.site_id = drone.id, chosen.site_id
        self._waiting.pop(call.incident.id, None)
        self._push(arrive, _Event.ON_SCENE, (drone, drone.generation))

    def _release(self, drone: _Drone, t: float, *, requeue: bool) -> None:
        """Take a drone off its call (preempted or re-tasked); the call waits again if the
        drone had not reached it."""
        call = drone.call
        self._settle(drone, t)
        drone.generation += 1
        drone.call, drone.candidate = None, None
        if call is None:
            return
        call.preempted += 1
        if requeue and call.arrived_s is None:
            call.assigned_s = call.drone_id = call.site_id = None
            self._waiting[call.incident.id] = call
        elif call.needed_until_s is not None:
            call.closed = True  # it was on scene: the scene is left early

    # --- state ------------------------------------------------------------------------------

    def _settle(self, drone: _Drone, t: float) -> None:
        """Bring a drone's battery and position up to ``t``."""
        if drone.flight is not None:
            f = drone.flight
            share = 1.0 if f.t1 <= f.t0 else min(1.0, max(0.0, (t - f.t0) / (f.t1 - f.t0)))
            drone.battery = f.battery0 + (f.battery1 - f.battery0) * share
            if f.path is not None and t > f.t0:
                drone.position = _along(f.path, share)
        elif drone.status in (DroneStatus.CHARGING, DroneStatus.DOCKED):
            drone.battery = self._charged(drone, t)
            if drone.battery >= 100.0:
                drone.status = DroneStatus.DOCKED
        drone.since = t

    def _charged(self, drone: _Drone, t: float) -> float:
        if drone.status is not DroneStatus.CHARGING:
            return drone.battery
        return min(100.0, drone.battery + self.config.charge_pct_per_min * (t - drone.since) / 60)

    def _view(self, t: float) -> FleetView:
        states = []
        for drone in self.drones.values():
            battery, position = drone.battery, drone.position
            if drone.flight is not None:
                f = drone.flight
                share = 1.0 if f.t1 <= f.t0 else min(1.0, max(0.0, (t - f.t0) / (f.t1 - f.t0)))
                battery = f.battery0 + (f.battery1 - f.battery0) * share
                if f.path is not None and t > f.t0:
                    position = _along(f.path, share)
            else:
                battery = self._charged(drone, t)
            call = drone.call
            states.append(
                DroneState(
                    drone.id,
                    drone.status,
                    min(100.0, max(0.0, battery)),
                    position,
                    drone.home,
                    call.incident.id if call else None,
                    call.incident.priority if call else None,
                    drone.dock if drone.dock != drone.home else None,
                )
            )
        return FleetView(states, self.dispatcher.projection)

    def _close_sortie(self, drone: _Drone, t: float) -> None:
        if drone.launched_s is not None:
            airborne = max(0.0, t - drone.launched_s)
            drone.airborne_total += airborne
            self.ledger.record_flight(self.network, drone.id, drone.agency or drone.owner, airborne)
        if drone.committed_s is not None:
            drone.committed_total += t - drone.committed_s
        if drone.committed_s is not None:
            drone.sorties += 1
        drone.launched_s = drone.committed_s = None

    def _result(self) -> SimulationResult:
        calls = tuple(
            CallOutcome(
                c.incident.id,
                c.incident.agency,
                c.incident.priority,
                c.incident.kind,
                c.incident.borough,
                c.received_s,
                c.assigned_s,
                c.arrived_s,
                c.drone_id,
                c.site_id,
                c.waited,
                c.unserved if c.arrived_s is None else None,
                c.preempted,
                c.relief_gap_s,
            )
            for c in self.calls
        )
        drones = tuple(
            DroneUse(d.id, d.home, d.owner, d.sorties, d.airborne_total, d.committed_total)
            for d in self.drones.values()
        )
        return SimulationResult(
            self.start,
            self.duration_s,
            calls,
            drones,
            self.ledger,
            self.reliefs,
            self.decisions,
            self.repositions,
        )


def auto_launched(network: Network, incident: Incident) -> bool:
    """Does the drone lift without waiting for an operator (the agency auto-launches the
    priority, or lets a P1 drone fly provisionally while the operator decides)?"""
    agency = network.agencies[incident.agency]
    return incident.priority in agency.auto_launch or (
        agency.provisional_launch and incident.priority is Priority.P1
    )


def _along(path: Path, share: float) -> GeoPoint:
    """The point ``share`` of the way along a path's waypoints, at its cruise altitude."""
    points = path.waypoints
    if len(points) < 2:
        p = points[0] if points else GeoPoint(0.0, 0.0)
        return GeoPoint(p.lat, p.lon, path.cruise_alt_m)
    lengths = [
        math.dist(
            (a.lat, a.lon * math.cos(math.radians(a.lat))),
            (b.lat, b.lon * math.cos(math.radians(a.lat))),
        )
        for a, b in pairwise(points)
    ]
    goal = share * sum(lengths)
    for a, b, length in zip(points, points[1:], lengths, strict=False):
        if goal <= length and length > 0:
            f = goal / length
            return GeoPoint(
                a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f, path.cruise_alt_m
            )
        goal -= length
    last = points[-1]
    return GeoPoint(last.lat, last.lon, path.cruise_alt_m)


def simulate(
    network: Network,
    dispatcher: Dispatcher,
    incidents: Sequence[Incident],
    *,
    start: datetime,
    duration_s: float,
    config: SimulationConfig | None = None,
    on_scene_s: Mapping[str, float] | None = None,
    progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Run one simulation; see the module docstring."""
    return Simulation(
        network,
        dispatcher,
        incidents,
        start=start,
        duration_s=duration_s,
        config=config,
        on_scene_s=on_scene_s,
        progress=progress,
    ).run()
