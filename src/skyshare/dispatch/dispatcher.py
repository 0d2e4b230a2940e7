"""The facade the runtime and the what-if simulator call: ``Dispatcher``.

    router = AirspaceRouter(airspace_map, permissions)   # dispatch.airspace_router
    dispatcher = Dispatcher(network, router, DispatchConfig())
    dispatcher.warm_up(now, fleet)                      # once, at start-up
    fleet = FleetView(states)                           # the fleet now
    proposal = dispatcher.propose(incident, fleet, now)
    proposals = dispatcher.assign(pending, fleet, now)  # several incidents together
    plan = dispatcher.plan_relief(incident, "D-12", fleet, now, needed_until=end)

Everything is synchronous and deterministic; time and wind are parameters. The
dispatcher keeps a cache of routes between calls (that is what makes a decision cheap).
Routes are keyed by the router's ``epoch`` (for ``AirspaceRouter``: the map's version
and the timed zones active), so after ``router.update(new_map)`` no stale route is
served; ``invalidate_routes()`` drops them all. Any object with ``route(start, goal,
agency, *, at)`` can route (``StraightLineRouter`` for open sky); the optional
``clear_segments``, ``obstacle_disks``, ``min_cruise_alt_m`` and ``prepare`` (done by
``warm_up``) make decisions cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from skyshare.dispatch import kernels
from skyshare.dispatch.batch import BatchProblem, BatchSolution
from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.cover import CoverIndex, Demand
from skyshare.dispatch.detour import Disks
from skyshare.dispatch.eta import CALM, FlightModel, Wind
from skyshare.dispatch.evaluate import Evaluator, Job, JobBuilder
from skyshare.dispatch.explain import explain_choice
from skyshare.dispatch.fleet import FleetView
from skyshare.dispatch.index import FleetIndex, IndexCache, ReturnGroup
from skyshare.dispatch.policy import Decider, reason_counts, screen
from skyshare.dispatch.proposal import Candidate, Proposal, Rejection, Why
from skyshare.dispatch.relief import ReliefPlan, schedule_relief, station_left_s
from skyshare.dispatch.routing import (
    PathSource,
    Prefetch,
    RouteCache,
    Router,
    fresh_path,
)
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint, Incident
from skyshare.domain.network import Network
from skyshare.geo import Projection, projection


class Dispatcher:
    """Proposes drones for incidents: one at a time, in batches, and as relief."""

    def __init__(
        self,
        network: Network,
        router: Router,
        config: DispatchConfig | None = None,
        *,
        demand: Demand | None = None,
        proj: Projection | None = None,
        route_epoch: Callable[[datetime], Hashable] | None = None,
    ) -> None:
        self.network = network
        config = config or DispatchConfig()
        floor = getattr(router, "min_cruise_alt_m", None)
        if floor is not None and floor > config.min_cruise_alt_m:
            config = replace(config, min_cruise_alt_m=float(floor))  # tighter lower bounds
        self.config = config
        self.projection = proj or getattr(router, "projection", None) or projection()
        self.flight_model = FlightModel(self.config)
        self.routes = RouteCache(router, epoch=route_epoch)
        self.indexes = IndexCache(network)
        self.jobs = JobBuilder(network, self.config, self.flight_model, self.projection)
        self.evaluator = Evaluator(network, self.flight_model, self.paths)
        demand = demand or Demand.uniform([s.position for s in network.sites.values()])
        self.cover = CoverIndex(network.sites, demand, self.config.cover_radius_m, self.projection)
        self.decider = Decider(
            network,
            self.config,
            self.flight_model,
            self.evaluator,
            self.cover,
            exhaustive=self._exhaustive,
            prefetch=self.prefetch,
            disks=self.disks,
        )

    _exhaustive = False  # NaiveDispatcher: every shortcut off

    @property
    def paths(self) -> PathSource:
        return self.routes.path

    @property
    def prefetch(self) -> Prefetch | None:
        return None if self._exhaustive else self.routes.prefetch

    def disks(self, agency: str, at: datetime) -> Disks:
        """Disks inside the zones ``agency``'s routes avoid (when the router offers them)."""
        offered = getattr(self.routes.router, "obstacle_disks", None)
        if offered is None or self._exhaustive:
            return Disks.none()
        return offered(agency, at)

    def warm_up(self, now: datetime, fleet: FleetView | None = None) -> None:
        """Build what is built once, so that the first real decision does not pay for it:
        for each agency, the router's graphs and obstacle tables and what it knows about
        each dock as an end of a route; given a fleet, the fleet's index and ready-drone
        counts; and the compiled loops (``kernels.py``). Call at start-up and after the
        airspace changes (a few hundred milliseconds for London)."""
        kernels.warm_up()
        if fleet is not None:
            self.indexes.get(fleet.ids)
            fleet.ready_by_site(self.config.min_launch_battery_pct)
        router = self.routes.router
        prepare = getattr(router, "prepare", None)
        sites = [s.position for s in self.network.sites.values()]
        for agency in self.network.agencies:
            self.disks(agency, now)
            if prepare is not None:
                prepare(sites, agency, at=now)
                continue
            for start in sites:  # every dock once, as the start of some route
                fresh_path(router, start, sites[0], agency, now)

    def dock_home(
        self,
        drone_id: str,
        here: GeoPoint,
        agency: str,
        now: datetime,
        free: Collection[str],
        *,
        wind: Wind = CALM,
    ) -> str | None:
        """The dock among ``free`` that ``drone_id``, flying at ``here`` under ``agency``'s
        rules, reaches for the least energy by a legal route: the rule its way back was
        planned by when it was chosen. None if it can reach none of them."""
        drone = self.network.drones[drone_id]
        group = ReturnGroup(drone.model, drone.owner)
        leg = self.jobs.cheapest_dock(here, agency, group, self.paths, now, wind, free)
        return None if leg is None else leg.site_id

    def invalidate_routes(self) -> None:
        """Forget every cached route (call when the airspace changes)."""
        self.routes.clear()

    def job(
        self, incident: Incident, fleet: FleetView, now: datetime, wind: Wind = CALM
    ) -> tuple[Job, FleetIndex]:
        index = self.indexes.get(fleet.ids)
        return (
            self.jobs.build(
                incident,
                index,
                self.paths,
                now,
                wind,
                self.prefetch,
                self.disks(incident.agency, now),
            ),
            index,
        )

    def propose(
        self,
        incident: Incident,
        fleet: FleetView,
        now: datetime,
        *,
        wind: Wind = CALM,
        exclude: Collection[str] = (),
    ) -> Proposal:
        """The best drone for one incident, the next best, and why; ``exclude`` holds
        drones an operator declined or that are held for other incidents."""
        job, index = self.job(incident, fleet, now, wind)
        return self.decider.decide(job, index, fleet, exclude)

    def batch(
        self,
        pending: Sequence[Incident],
        fleet: FleetView,
        now: datetime,
        *,
        wind: Wind = CALM,
        exclude: Collection[str] = (),
    ) -> BatchProblem:
        """The assignment problem of ``pending`` (for ``assign``, benchmarks and tests)."""
        refuse_duplicates(pending)
        index = self.indexes.get(fleet.ids)
        jobs = [
            self.jobs.build(
                i, index, self.paths, now, wind, self.prefetch, self.disks(i.agency, now)
            )
            for i in pending
        ]
        verdicts = [
            screen(
                index,
                fleet,
                j,
                self.flight_model,
                exclude,
                allow_preempt=False,
                use_bounds=not self._exhaustive,
            )
            for j in jobs
        ]
        return BatchProblem(jobs, verdicts, index, fleet, self.evaluator, self.config)

    def assign(
        self,
        pending: Sequence[Incident],
        fleet: FleetView,
        now: datetime,
        *,
        wind: Wind = CALM,
        exclude: Collection[str] = (),
    ) -> dict[str, Proposal]:
        """Assign several pending incidents together at the least total priority-weighted
        ETA. First, each call that may preempt (P1), in order of arrival, takes a busy
        drone of a lower-priority task if that gains ``preempt_gain_s`` over the best
        free drone (as ``propose`` would); the rest are assigned together."""
        refuse_duplicates(pending)
        out: dict[str, Proposal] = {}
        held = set(exclude)
        for incident in sorted(pending, key=lambda i: (i.priority, i.received_at, i.id)):
            if incident.priority <= self.config.preempt_priority:
                single = self.propose(incident, fleet, now, wind=wind, exclude=held)
                if single.chosen is not None and single.chosen.preempts is not None:
                    out[incident.id] = single
                    held.add(single.chosen.drone_id)
        rest = [i for i in pending if i.id not in out]
        problem = self.batch(rest, fleet, now, wind=wind, exclude=held)
        solution = problem.optimal()
        taken = {d for d in solution.drone_of if d is not None}
        by_row: dict[int, dict[int, Candidate | Rejection]] = {}
        for (row, drone), answer in problem.exact.items():
            by_row.setdefault(row, {})[drone] = answer
        for row, job in enumerate(problem.jobs):
            answers = by_row.get(row, {})
            out[job.incident.id] = self._batch_proposal(problem, solution, row, answers, taken)
        return {i.id: out[i.id] for i in pending if i.id in out}

    def _batch_proposal(
        self,
        problem: BatchProblem,
        solution: BatchSolution,
        row: int,
        answers: dict[int, Candidate | Rejection],
        taken: set[int],
    ) -> Proposal:
        """One incident's part of a batch solution, as a proposal with its alternatives
        (drones evaluated for it and left free by the batch)."""
        job = problem.jobs[row]
        fleet = problem.view
        drone = solution.drone_of[row]
        spare = sorted(
            (a for d, a in answers.items() if isinstance(a, Candidate) and d not in taken),
            key=lambda c: (c.score_s, c.drone_id),
        )
        rejected = {d: a for d, a in answers.items() if isinstance(a, Rejection)}
        if drone is None:
            verdict = problem.verdicts[row]
            proposal = self.decider.propose(job, problem.index, fleet, verdict, [], rejected)
            if any(isinstance(a, Candidate) for a in answers.values()) or (verdict.code == 0).any():
                reason = (
                    "the drones that could serve it are assigned to other pending "
                    "incidents in this batch"
                )
                proposal = replace(proposal, explanation=reason, unserved_reason=reason)
            return proposal
        chosen = answers[drone]
        assert isinstance(chosen, Candidate)
        chosen = replace(chosen, why=(Why.BATCH, *chosen.why))
        ranked = (chosen, *spare[: self.config.top_n - 1])
        explanation = explain_choice(
            chosen,
            ranked,
            fastest=chosen,
            best_free=None,
            preempted_priority=None,
            kind_on_scene_s=job.kind.on_scene_s,
        )
        if len(problem.jobs) > 1:
            explanation += (
                f"; assigned together with {len(problem.jobs) - 1} other pending "
                f"incident(s) for the least total priority-weighted ETA"
            )
        verdict = problem.verdicts[row]
        listed = self.decider.rejections(problem.index, fleet, job, verdict, rejected, chosen.eta_s)
        counts = reason_counts(verdict, rejected)
        return Proposal(job.incident.id, chosen, ranked, listed, counts, explanation)

    def plan_relief(
        self,
        incident: Incident,
        on_scene_drone_id: str,
        fleet: FleetView,
        now: datetime,
        *,
        needed_until: datetime,
        wind: Wind = CALM,
    ) -> ReliefPlan:
        """When the drone on scene must leave, and which drone relieves it when."""
        if on_scene_drone_id not in fleet:
            raise InputError("on_scene_drone_id", f"unknown drone {on_scene_drone_id!r}")
        state = fleet[on_scene_drone_id]
        drone = self.network.drones[on_scene_drone_id]
        job, index = self.job(incident, fleet, now, wind)
        must_leave_at = now + timedelta(
            seconds=station_left_s(self.flight_model, drone, state, job)
        )
        if must_leave_at >= needed_until:
            return ReliefPlan(
                incident.id,
                on_scene_drone_id,
                needed_until,
                must_leave_at,
                False,
                explanation=f"{on_scene_drone_id} can stay until {needed_until:%H:%M:%S}; "
                f"no relief needed",
            )
        overlap = self.config.handover_overlap_s
        remaining = (needed_until - must_leave_at).total_seconds() + overlap
        relief_job = job.with_on_scene(remaining, self.config)
        proposal = self.decider.decide(
            relief_job, index, fleet, {on_scene_drone_id}, allow_preempt=False
        )
        return schedule_relief(state, must_leave_at, needed_until, proposal, now, overlap)


def refuse_duplicates(pending: Sequence[Incident]) -> None:
    seen: set[str] = set()
    for incident in pending:
        if incident.id in seen:
            raise InputError("pending", f"incident {incident.id!r} appears twice")
        seen.add(incident.id)
