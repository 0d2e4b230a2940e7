"""The decision for one incident: who may go, who can go, who goes, and why.

1. Screen (vectorised over the fleet): status, exclusions, capabilities, sharing
   agreements, the launch battery floor, the wind, and a lower bound of the battery the
   job needs. Each drone gets a ``Reason`` code or stays open.
2. Search: open drones in order of a lower bound of their score; each is routed and
   evaluated exactly until the next lower bound cannot reach the top ``top_n`` nor the
   near-tie band of the best. Routes come from a cache shared by every drone on a dock.
3. Choose: the best score; among near-equal ETAs, the drone whose absence leaves the
   least demand uncovered (``cover.py``).

With ``exhaustive=True`` steps 1 and 2 skip every shortcut (no battery lower bound, no
pruning): that is the reference the fast path must agree with.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.cover import CoverIndex
from skyshare.dispatch.detour import Disks, route_length_bounds
from skyshare.dispatch.eta import FlightModel
from skyshare.dispatch.evaluate import (
    LB_SLACK,
    Bounds,
    Evaluator,
    Job,
    detour_cruise_s,
    group_floors_pct,
)
from skyshare.dispatch.explain import explain_choice, explain_unserved
from skyshare.dispatch.fleet import BUSY, ON_DOCK, OUT_OF_SERVICE, FleetView, status_table
from skyshare.dispatch.index import FleetIndex
from skyshare.dispatch.kernels import floats, screen_fleet
from skyshare.dispatch.proposal import (
    Candidate,
    Displacement,
    Proposal,
    Reason,
    Rejection,
    Why,
)
from skyshare.dispatch.routing import End, Ends, Prefetch
from skyshare.domain.network import Network

PREFETCH_CHUNK = 24  # drones whose straight routes are checked together
REASONS: tuple[Reason, ...] = tuple(Reason)
CODE = {reason: i + 1 for i, reason in enumerate(REASONS)}  # 0 means "still open"
IS_BUSY = status_table(BUSY)
IS_OUT = status_table(OUT_OF_SERVICE)
IS_ON_DOCK = status_table(ON_DOCK)
# The screen's reasons in order of precedence: a drone gets the first that applies.
PRECEDENCE = np.array(
    [
        CODE[reason]
        for reason in (
            Reason.OUT_OF_SERVICE,
            Reason.EXCLUDED,
            Reason.BUSY,
            Reason.NO_CAPABILITY,
            Reason.NOT_SHARED,
            Reason.LOW_BATTERY,
            Reason.NO_LEGAL_ROUTE,
            Reason.WIND,
        )
    ],
    np.int8,
)


@dataclass(frozen=True)
class Screen:
    """The vectorised verdict on every drone of a view for one job."""

    code: NDArray[np.int8]  # 0 = open, else CODE[reason]
    preemptible: NDArray[np.bool_]
    bounds: Bounds
    lb_score: NDArray[np.float64]
    needed_pct: NDArray[np.float64]  # lower bound of the battery the job needs
    needed_whole_pct: NDArray[np.float64]  # ... to stay the whole time on scene
    relief_sure: NDArray[np.bool_]  # the bound shows it will need relief (penalty in lb)


def screen(
    index: FleetIndex,
    view: FleetView,
    job: Job,
    fm: FlightModel,
    exclude: Collection[str] = (),
    *,
    use_bounds: bool = True,
    allow_preempt: bool = True,
) -> Screen:
    """Every drone's lower bounds to the scene and the first reason, if any, it cannot
    serve (``kernels.screen_fleet``, one compiled pass over the fleet)."""
    cfg = fm.config
    incident = job.incident
    free = np.ones(len(view), bool)
    if exclude:
        free[[view.index[d] for d in exclude if d in view.index]] = False
    # Per return group: battery needed beyond the flight out, for the least useful stay
    # on scene and for the whole stay (one figure when they are equal).
    stays = tuple(dict.fromkeys((job.min_scene_s, job.kind.on_scene_s)))
    floors = group_floors_pct(index, job, fm, stays)
    code, preemptible, bounds, lb_score, needed, needed_whole, relief_sure = screen_fleet(
        view.x,
        view.y,
        view.alt,
        view.battery,
        view.status,
        view.task_priority,
        index.model_columns,
        index.group_of,
        (
            index.capable(job.kind.capabilities),
            index.may_fly(incident.agency, incident.priority),
            free,
        ),
        (IS_OUT, IS_BUSY, IS_ON_DOCK),
        (floors[0], floors[-1]),
        floats(job.x, job.y, job.wind.east_mps, job.wind.north_mps, job.scene_alt_m),
        floats(
            cfg.launch_delay_s,
            cfg.min_cruise_alt_m,
            cfg.climb_power_factor,
            cfg.descent_power_factor,
            cfg.min_launch_battery_pct,
            cfg.preempt_gain_s,
            cfg.relief_penalty_s,
            1 - LB_SLACK,
        ),
        int(incident.priority),
        bool(allow_preempt and incident.priority <= cfg.preempt_priority),
        job.task in cfg.relief_tasks,
        bool(use_bounds),
        PRECEDENCE,
    )
    return Screen(code, preemptible, Bounds(*bounds), lb_score, needed, needed_whole, relief_sure)


def least(keys: NDArray[np.float64], ids: NDArray[np.intp], k: int) -> list[int]:
    """The (at most) ``k`` of ``ids`` with the least ``keys[id]``, ties by id, in order.
    A partition first drops what cannot be among them: the pool may be most of the fleet."""
    if len(ids) > 4 * k:
        part = keys[ids]
        ids = ids[part <= np.partition(part, k - 1)[k - 1]]  # keeps every tie of the k-th
    return ids[np.lexsort((ids, keys[ids]))][:k].tolist()


def reason_counts(verdict: Screen, rejected: dict[int, Rejection]) -> dict[Reason, int]:
    """How many drones were passed over for each reason (screened and evaluated)."""
    counts: Counter[Reason] = Counter()
    numbers = np.bincount(verdict.code, minlength=len(REASONS) + 1).tolist()
    for code, n in enumerate(numbers[1:], start=1):
        if n:
            counts[REASONS[code - 1]] = n
    for rejection in rejected.values():
        counts[rejection.reason] += 1
    return dict(counts)


class Decider:
    """Single-incident decisions over a fleet view."""

    def __init__(
        self,
        network: Network,
        config: DispatchConfig,
        fm: FlightModel,
        evaluator: Evaluator,
        cover: CoverIndex,
        *,
        exhaustive: bool = False,
        prefetch: Prefetch | None = None,
        disks: Callable[[str, datetime], Disks] | None = None,
    ) -> None:
        self.network = network
        self.prefetch = None if exhaustive else prefetch
        self.disks = disks or (lambda agency, at: Disks.none())
        self.config = config
        self.flight_model = fm
        self.evaluator = evaluator
        self.cover = cover
        self.exhaustive = exhaustive
        self.evaluations = 0  # exact evaluations made, for benchmarks and tests

    def decide(
        self,
        job: Job,
        index: FleetIndex,
        view: FleetView,
        exclude: Collection[str] = (),
        *,
        allow_preempt: bool = True,
    ) -> Proposal:
        verdict = screen(
            index,
            view,
            job,
            self.flight_model,
            exclude,
            use_bounds=not self.exhaustive,
            allow_preempt=allow_preempt,
        )
        accepted, rejected = self.search(job, index, view, verdict)
        return self.propose(job, index, view, verdict, accepted, rejected)

    def search(
        self, job: Job, index: FleetIndex, view: FleetView, verdict: Screen
    ) -> tuple[list[Candidate], dict[int, Rejection]]:
        """Exact answers, best lower bound first, for every drone that could matter.

        Drones come off the straight-line order in chunks; each chunk's bounds are
        tightened around the zones (``detour.py``) and its straight routes vouched for
        at once, then the drones wait in a heap by tightened bound. The search stops
        when the best waiting bound cannot reach the top ``top_n`` nor the near-tie band
        of the best score, and no unrefined drone can either.
        """
        cfg = self.config
        open_idx = np.flatnonzero(verdict.code == 0)
        # The first two chunks in order, and all of it only if the search gets past them.
        order = least(verdict.lb_score, open_idx, 2 * PREFETCH_CHUNK)
        accepted: list[Candidate] = []
        scores: list[float] = []
        rejected: dict[int, Rejection] = {}
        waiting: list[tuple[float, int]] = []
        taken = 0
        while True:
            while True:  # refine chunks while the next bound could beat the heap's best
                if taken == len(order) and len(order) < len(open_idx):
                    order = least(verdict.lb_score, open_idx, len(open_idx))  # past the first
                if taken == len(order):
                    break
                if waiting and verdict.lb_score[order[taken]] > waiting[0][0]:
                    break
                chunk = np.array(order[taken : taken + PREFETCH_CHUNK], np.intp)
                taken += len(chunk)
                for bound, i in zip(
                    *self._tighten(job, index, view, verdict, chunk, rejected), strict=True
                ):
                    heapq.heappush(waiting, (bound, i))
            if not waiting:
                break
            bound, i = heapq.heappop(waiting)
            if scores and not self.exhaustive:
                kth = scores[cfg.top_n - 1] if len(scores) >= cfg.top_n else np.inf
                if bound > max(kth, scores[0] + cfg.tie_margin_s):
                    break
            state = view[view.ids[i]]
            preempts = state.task_incident_id if verdict.preemptible[i] else None
            self.evaluations += 1
            result = self.evaluator.evaluate(state, index.drones[i].model, job, preempts)
            if isinstance(result, Rejection):
                rejected[i] = result
            else:
                accepted.append(result)
                bisect.insort(scores, result.score_s)
        return accepted, rejected

    def _tighten(
        self,
        job: Job,
        index: FleetIndex,
        view: FleetView,
        verdict: Screen,
        chunk: NDArray[np.intp],
        rejected: dict[int, Rejection],
    ) -> tuple[list[float], list[int]]:
        """Bounds of ``chunk`` tightened around the zones; drones that the tightened
        energy bound already rules out go to ``rejected`` instead."""
        if self.exhaustive:
            return verdict.lb_score[chunk].tolist(), chunk.tolist()
        straight = self.prefetch is not None and self._prefetch(job, view, chunk)
        disks = self.disks(job.incident.agency, job.now)
        if straight or not len(disks):  # the bounds cannot be tightened
            return verdict.lb_score[chunk].tolist(), chunk.tolist()
        bounds = verdict.bounds
        length = self._lengths(job, view, chunk, disks)
        cruise = detour_cruise_s(bounds.cruise_s[chunk], length, index.speed[chunk], job.wind)
        extra_s = (cruise - bounds.cruise_s[chunk]) * (1 - LB_SLACK)
        extra_pct = extra_s * index.cruise_w[chunk] / 36.0 / index.battery_wh[chunk]
        needed = verdict.needed_pct[chunk] + extra_pct
        short = view.battery[chunk] < needed
        if job.task in self.config.relief_tasks:
            newly = (view.battery[chunk] < verdict.needed_whole_pct[chunk] + extra_pct) & ~(
                verdict.relief_sure[chunk]
            )
            extra_s = extra_s + np.where(newly, self.config.relief_penalty_s, 0.0)
        for i, pct in zip(chunk[short].tolist(), needed[short].tolist(), strict=True):
            state = view[view.ids[i]]
            rejected[i] = Rejection(
                state.drone_id,
                Reason.LOW_BATTERY,
                f"battery {state.battery_pct:.0f}% < at least {pct:.0f}% needed "
                f"to fly around the zones, stay and land with the reserve",
            )
        keep = ~short
        return (verdict.lb_score[chunk] + extra_s)[keep].tolist(), chunk[keep].tolist()

    def _lengths(
        self, job: Job, view: FleetView, chunk: NDArray[np.intp], disks: Disks
    ) -> NDArray[np.float64]:
        """Route length bounds from the chunk's drones; drones on the docks the job has
        already bounded reuse those figures."""
        starts = list(zip(view.x[chunk].tolist(), view.y[chunk].tolist(), strict=True))
        known = [job.bounded.get(p) for p in starts]
        todo = [k for k, v in enumerate(known) if v is None]
        if todo:
            fresh = route_length_bounds(
                view.x[chunk[todo]], view.y[chunk[todo]], job.x, job.y, disks
            ).tolist()
            for k, value in zip(todo, fresh, strict=True):
                known[k] = value
        return np.array(known, float)

    def _prefetch(self, job: Job, view: FleetView, idx: NDArray[np.intp]) -> bool:
        """Straight routes for these drones' starts, vouched for in one vectorised check;
        True if all their routes are straight."""
        assert self.prefetch is not None
        starts = Ends(view.lat[idx], view.lon[idx], view.x[idx], view.y[idx])
        scene = End(job.goal.lat, job.goal.lon, job.x, job.y)
        return self.prefetch(starts, scene, job.incident.agency, job.now)

    def choose(self, accepted: list[Candidate], view: FleetView) -> Candidate:
        """Best score; among near-equal free candidates, the one that keeps most cover."""
        cfg = self.config
        best = min(accepted, key=lambda c: (c.score_s, c.drone_id))
        fastest = (Why.FASTEST, *best.why)
        if best.preempts is not None:
            return replace(best, why=fastest)
        ties = sorted(
            (
                c
                for c in accepted
                if c.preempts is None and c.score_s <= best.score_s + cfg.tie_margin_s
            ),
            key=lambda c: (c.score_s, c.drone_id),
        )
        if len(ties) < 2:
            return replace(best, why=fastest)
        ready = view.ready_by_site(cfg.min_launch_battery_pct)
        losses = self.cover.losses(
            ready, [None if c.airborne else c.site_id for c in ties], memo=view.memo
        )
        scored = sorted(
            zip(losses, ties, strict=True), key=lambda lc: (lc[0], lc[1].score_s, lc[1].drone_id)
        )
        loss, pick = scored[0]
        if pick.drone_id == best.drone_id:
            return replace(best, cover_loss=loss, why=fastest)
        return replace(pick, cover_loss=loss, why=(Why.COVER, *pick.why))

    def propose(
        self,
        job: Job,
        index: FleetIndex,
        view: FleetView,
        verdict: Screen,
        accepted: list[Candidate],
        rejected: dict[int, Rejection],
    ) -> Proposal:
        cfg = self.config
        incident = job.incident
        counts = reason_counts(verdict, rejected)
        if not accepted:
            listed = self.rejections(index, view, job, verdict, rejected, np.inf)
            why = explain_unserved(incident, counts, self._missing_capabilities(index, job))
            if job.closed is not None:
                why = f"no drone can serve: {job.no_way_back()}"
            return Proposal(incident.id, None, (), listed, counts, why, why)
        chosen = self.choose(accepted, view)
        by_score = sorted(accepted, key=lambda c: (c.score_s, c.drone_id))
        others = [c for c in by_score if c.drone_id != chosen.drone_id]
        ranked = (chosen, *others[: cfg.top_n - 1])
        fastest = by_score[0] if chosen.preempts is None else chosen
        best_free = next((c for c in by_score if c.preempts is None), None)
        displaced = None
        preempted_priority = None
        if chosen.preempts is not None:
            state = view[chosen.drone_id]
            preempted_priority = state.task_priority
            gain = (
                f"{best_free.eta_s - chosen.eta_s:.0f} s sooner than the best free drone"
                if best_free is not None
                else "no free drone can serve it"
            )
            displaced = Displacement(
                chosen.preempts,
                chosen.drone_id,
                f"drone {chosen.drone_id} preempted by {incident.priority.name} incident "
                f"{incident.id}: it arrives {gain}",
            )
        explanation = explain_choice(
            chosen,
            ranked,
            fastest=fastest,
            best_free=best_free,
            preempted_priority=preempted_priority,
            kind_on_scene_s=job.kind.on_scene_s,
        )
        listed = self.rejections(index, view, job, verdict, rejected, chosen.eta_s)
        return Proposal(incident.id, chosen, ranked, listed, counts, explanation, None, displaced)

    def _missing_capabilities(self, index: FleetIndex, job: Job) -> str:
        needed = job.kind.capabilities
        lacking = {c for m in index.models if not m.has(needed) for c in needed - m.capabilities}
        return ", ".join(sorted(lacking)) if lacking else ", ".join(sorted(needed))

    def rejections(
        self,
        index: FleetIndex,
        view: FleetView,
        job: Job,
        verdict: Screen,
        rejected: dict[int, Rejection],
        below_eta: float,
    ) -> tuple[Rejection, ...]:
        """The drones a straight line puts ahead of the choice, and why each was passed."""
        eta = verdict.bounds.eta_s
        pool = np.flatnonzero((verdict.code > 0) & (eta < below_eta))
        evaluated = [i for i in rejected if eta[i] < below_eta]
        if evaluated:
            pool = np.concatenate([pool, np.array(evaluated, np.intp)])
        return tuple(
            rejected[i] if i in rejected else self._describe(index, view, job, verdict, i)
            for i in least(eta, pool, self.config.max_rejections_listed)
        )

    def _describe(
        self, index: FleetIndex, view: FleetView, job: Job, verdict: Screen, i: int
    ) -> Rejection:
        reason = REASONS[int(verdict.code[i]) - 1]
        state = view[view.ids[i]]
        drone = index.drones[i]
        incident = job.incident
        cfg = self.config
        if reason is Reason.OUT_OF_SERVICE:
            detail = f"{state.status.value}"
        elif reason is Reason.EXCLUDED:
            detail = "excluded: declined by an operator or held for another incident"
        elif reason is Reason.BUSY:
            task = (
                f" with {state.task_priority.name} incident {state.task_incident_id}"
                if state.task_priority is not None
                else ""
            )
            detail = f"busy ({state.status.value}){task}"
        elif reason is Reason.NO_CAPABILITY:
            lacking = ", ".join(sorted(job.kind.capabilities - drone.model.capabilities))
            detail = f"{drone.model.name} lacks {lacking}"
        elif reason is Reason.NOT_SHARED:
            detail = (
                f"{drone.owner} does not share {state.home_site_id}'s drones with "
                f"{incident.agency} for {incident.priority.name}"
            )
        elif (
            reason is Reason.LOW_BATTERY
            and verdict.bounds.on_dock[i]
            and (state.battery_pct < cfg.min_launch_battery_pct)
        ):
            detail = (
                f"battery {state.battery_pct:.0f}% on the dock, below the "
                f"{cfg.min_launch_battery_pct:.0f}% launch floor"
            )
        elif reason is Reason.LOW_BATTERY:
            detail = (
                f"battery {state.battery_pct:.0f}% < at least {verdict.needed_pct[i]:.0f}% needed"
            )
        elif reason is Reason.NO_LEGAL_ROUTE:
            detail = job.no_way_back()
        else:
            detail = f"wind {job.wind.speed_mps:.0f} m/s is stronger than it toward the scene"
        return Rejection(state.drone_id, reason, detail)
