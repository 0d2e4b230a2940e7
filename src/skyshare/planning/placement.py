"""Site placement for a network: candidate sites, the demand they serve, the two answers.

The demand is the grid's cells (each cell's area) or the incidents, for each agency in
turn: a new site is a shared one, so it serves every agency, each by its own legal routes
and each with the drones it may fly. ``optimize_sites`` returns the greedy and the exact
choice, what each does to the figures, and the gap between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from skyshare.domain.errors import InputError
from skyshare.domain.models import DroneModel, Incident
from skyshare.domain.network import Network
from skyshare.planning.scenario import common_model
from skyshare.planning.sites import (
    Evaluation,
    Objective,
    Plan,
    SiteProblem,
    evaluate,
    exact_coverage,
    exact_mean,
    exact_p90,
    fewest_sites,
    greedy_coverage,
    greedy_fewest_sites,
    greedy_mean,
    greedy_p90,
)
from skyshare.planning.study import Study
from skyshare.planning.travel import Source


class Demand(StrEnum):
    CELLS = "cells"  # every grid cell, weighted by area
    INCIDENTS = "incidents"  # every incident of the study, for its own agency


@dataclass(frozen=True)
class CandidateSite:
    """A place a dock could go. ``borough`` is filled in from the service area if empty."""

    id: str
    name: str
    lat: float
    lon: float
    borough: str = ""


@dataclass(frozen=True)
class DemandRows:
    """What each row of a ``SiteProblem`` stands for."""

    agency: tuple[str, ...]
    borough: tuple[str, ...]


def candidates_from_network(
    network: Network, exclude: Network | None = None
) -> list[CandidateSite]:
    """The sites of ``network`` (e.g. the London model network) that ``exclude`` lacks."""
    taken = set() if exclude is None else set(exclude.sites)
    return [
        CandidateSite(s.id, s.name, s.position.lat, s.position.lon, s.borough)
        for s in network.sites.values()
        if s.id not in taken
    ]


def lattice_candidates(study: Study, spacing_m: float) -> list[CandidateSite]:
    """Candidate sites on a square lattice over the boroughs, one per ``spacing_m``,
    named by their British National Grid position (e.g. ``grid-E530050-N180050``)."""
    grid = study.grid
    step = max(1, round(spacing_m / grid.cell_m))
    keep = np.flatnonzero((grid.ix % step == step // 2) & (grid.iy % step == step // 2))
    lon, lat = study.projection.to_wgs84(grid.x[keep], grid.y[keep])
    return [
        CandidateSite(
            f"grid-E{grid.x[k]:.0f}-N{grid.y[k]:.0f}",
            f"lattice point in {grid.names[grid.borough[k]]}",
            float(la),
            float(lo),
            grid.names[grid.borough[k]],
        )
        for k, la, lo in zip(keep.tolist(), lat, lon, strict=True)
    ]


def build_problem(
    study: Study,
    network: Network,
    candidates: Sequence[CandidateSite],
    *,
    agencies: Sequence[str],
    horizon_s: float,
    demand: Demand = Demand.CELLS,
    stride: int = 1,
    model: DroneModel | None = None,
    delay_s: Callable[[Incident], float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[SiteProblem, DemandRows]:
    """The site problem: rows per agency (cells sampled every ``stride`` cells, or the
    incidents of that agency), existing times from the network, candidate times.

    ``delay_s`` adds seconds to every time of an incident's row (e.g. the operator's
    approval for calls the agency does not auto-launch)."""
    if not candidates:
        raise InputError("candidates", "no candidate sites to choose from")
    if stride < 1:
        raise InputError("stride", f"must be at least 1, got {stride}")
    model = model or common_model(network)
    grid = study.grid
    if demand is Demand.CELLS:
        half = stride // 2
        keep = np.flatnonzero((grid.ix % stride == half) & (grid.iy % stride == half))
        targets = keep
        weights = np.full(len(keep), float(stride * stride))
    else:
        if not study.incidents:
            raise InputError("demand", "incident demand needs an incident file or rate")
        targets = study.incident_targets()
        weights = np.ones(len(targets))
    sources = []
    for c in candidates:
        x, y = study.projection.point(c.lat, c.lon)
        sources.append(Source(c.id, x, y, model))

    weight_blocks: list[NDArray] = []
    existing_blocks: list[NDArray] = []
    rows: list[list[NDArray]] = [[] for _ in candidates]
    seconds: list[list[NDArray]] = [[] for _ in candidates]
    agency_of: list[str] = []
    borough_of: list[str] = []
    offset = 0
    for agency in agencies:
        if demand is Demand.INCIDENTS:
            mine = np.array(
                [study.incidents[t - study.cells].agency == agency for t in targets], dtype=bool
            )
            block, block_weights = targets[mine], weights[mine]
        else:
            block, block_weights = targets, weights / len(agencies)
        late = np.zeros(len(block))
        if delay_s is not None and demand is Demand.INCIDENTS:
            late = np.array([delay_s(study.incidents[t - study.cells]) for t in block], float)
        position = np.full(len(study.x), -1, dtype=np.int64)
        position[block] = np.arange(len(block))
        existing = study.travel(
            agency,
            study.site_sources(network, agency),
            horizon_s,
            permissions=network.permissions,
        ).best()
        weight_blocks.append(block_weights)
        existing_blocks.append(existing[block] + late)
        added = study.travel(agency, sources, horizon_s, progress, network.permissions)
        for j in range(len(candidates)):
            at = position[added.index[j]]
            ok = at >= 0
            rows[j].append(at[ok] + offset)
            seconds[j].append(added.seconds[j][ok] + late[at[ok]])
        agency_of.extend([agency] * len(block))
        borough_of.extend(_boroughs(study, block))
        offset += len(block)

    problem = SiteProblem(
        candidate_ids=tuple(c.id for c in candidates),
        weights=np.concatenate(weight_blocks),
        existing=np.concatenate(existing_blocks),
        rows=tuple(np.concatenate(r) for r in rows),
        seconds=tuple(np.concatenate(s) for s in seconds),
        horizon_s=horizon_s,
    )
    return problem, DemandRows(tuple(agency_of), tuple(borough_of))


def _boroughs(study: Study, targets: NDArray[np.int64]) -> list[str]:
    names = study.grid.names
    out = []
    for t in targets.tolist():
        if t < study.cells:
            out.append(names[int(study.grid.borough[t])])
        else:
            out.append(study.incident_borough[t - study.cells])
    return out


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    evaluation: Evaluation
    sites: tuple[CandidateSite, ...]
    seconds: float | None  # wall time of the solve, when a clock was given

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.plan.method,
            "value": round(self.plan.value, 4),
            "status": self.plan.status,
            "mip_gap": self.plan.mip_gap,
            "bound": self.plan.bound,
            "sites": [
                {"id": s.id, "name": s.name, "lat": s.lat, "lon": s.lon, "borough": s.borough}
                for s in self.sites
            ],
            "figures": self.evaluation.to_json(),
            "solve_s": None if self.seconds is None else round(self.seconds, 3),
        }


@dataclass(frozen=True)
class OptimizeReport:
    objective: Objective
    k: int
    within_s: float
    agencies: tuple[str, ...]
    demand: Demand
    before: Evaluation
    greedy: PlanResult
    exact: PlanResult
    borough_share: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    # borough -> covered share within ``within_s``: today, with greedy, with exact

    @property
    def gap(self) -> float:
        """How much worse greedy is than the exact answer, as a fraction of the exact
        value (coverage: less covered; mean, p90: slower). 0 when they agree. If the
        solver stopped at its time limit, the gap is to the best bound it proved (for
        coverage), so it is never understated."""
        g, e = self.greedy.plan.value, self.exact.plan.value
        bound = self.exact.plan.bound
        if self.objective is Objective.COVERAGE and bound is not None:
            return (bound - g) / bound if bound else 0.0
        if self.objective is Objective.COVERAGE:
            return (e - g) / e if e else 0.0
        if not np.isfinite(e) or e == 0:
            return 0.0 if g == e else float("inf")
        return (g - e) / e

    def to_json(self) -> dict[str, object]:
        return {
            "objective": str(self.objective),
            "add": self.k,
            "within_s": self.within_s,
            "agencies": list(self.agencies),
            "demand": str(self.demand),
            "today": self.before.to_json(),
            "greedy": self.greedy.to_json(),
            "exact": self.exact.to_json(),
            "gap": round(self.gap, 6),
            "borough_share": {
                b: {"today": round(v[0], 4), "greedy": round(v[1], 4), "exact": round(v[2], 4)}
                for b, v in self.borough_share.items()
            },
        }


def optimize_sites(
    problem: SiteProblem,
    rows: DemandRows,
    candidates: Sequence[CandidateSite],
    *,
    k: int,
    objective: Objective,
    within_s: float,
    agencies: Sequence[str],
    demand: Demand,
    time_limit_s: float = 60.0,
    clock: Callable[[], float] | None = None,
) -> OptimizeReport:
    """Both answers for ``objective``; ``clock`` (e.g. ``time.perf_counter``) times them."""

    def timed(solve: Callable[[], Plan]) -> tuple[Plan, float | None]:
        if clock is None:
            return solve(), None
        start = clock()
        plan = solve()
        return plan, clock() - start

    if objective is Objective.COVERAGE:
        greedy, g_s = timed(lambda: greedy_coverage(problem, k, within_s))
        exact, e_s = timed(lambda: exact_coverage(problem, k, within_s, time_limit_s))
    elif objective is Objective.MEAN:
        greedy, g_s = timed(lambda: greedy_mean(problem, k))
        exact, e_s = timed(lambda: exact_mean(problem, k, time_limit_s))
    else:
        greedy, g_s = timed(lambda: greedy_p90(problem, k))
        exact, e_s = timed(lambda: exact_p90(problem, k, time_limit_s=time_limit_s))

    def result(plan: Plan, seconds: float | None) -> PlanResult:
        return PlanResult(
            plan,
            evaluate(problem, plan.chosen, within_s),
            tuple(candidates[j] for j in plan.chosen),
            seconds,
        )

    return OptimizeReport(
        objective=objective,
        k=k,
        within_s=within_s,
        agencies=tuple(agencies),
        demand=demand,
        before=evaluate(problem, (), within_s),
        greedy=result(greedy, g_s),
        exact=result(exact, e_s),
        borough_share=_borough_shares(problem, rows, (greedy.chosen, exact.chosen), within_s),
    )


def _borough_shares(
    problem: SiteProblem,
    rows: DemandRows,
    plans: tuple[tuple[int, ...], tuple[int, ...]],
    within_s: float,
) -> dict[str, tuple[float, float, float]]:
    names = sorted({b for b in rows.borough if b})
    index = {b: i for i, b in enumerate(names)}
    which = np.array([index.get(b, -1) for b in rows.borough])
    ok = which >= 0
    total = np.bincount(which[ok], weights=problem.weights[ok], minlength=len(names))
    shares = []
    for chosen in ((), *plans):
        hit = (problem.best_with(chosen) <= within_s) & ok
        covered = np.bincount(which[hit], weights=problem.weights[hit], minlength=len(names))
        shares.append(covered / np.maximum(total, 1e-12))
    return {
        b: (float(shares[0][i]), float(shares[1][i]), float(shares[2][i]))
        for i, b in enumerate(names)
    }


# --- cover in every borough ---------------------------------------------------------------


@dataclass(frozen=True)
class EveryBoroughReport:
    """The fewest added sites giving every borough (for every agency) its share of cover.

    ``ceiling`` is the most of each borough any choice of the candidates could cover
    (zones the agency may not enter, and places no candidate reaches, cap it);
    a borough asks for ``min(share, ceiling)``.
    """

    share: float
    within_s: float
    agencies: tuple[str, ...]
    ceiling: dict[str, float]
    greedy: PlanResult | None
    exact: PlanResult | None
    borough_share: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    @property
    def capped(self) -> list[str]:
        """Boroughs that cannot have the share asked for, whatever is built."""
        return sorted(b for b, c in self.ceiling.items() if c < self.share - 1e-9)

    def to_json(self) -> dict[str, object]:
        return {
            "every_borough_share": self.share,
            "within_s": self.within_s,
            "agencies": list(self.agencies),
            "greedy": None if self.greedy is None else self.greedy.to_json(),
            "exact": None if self.exact is None else self.exact.to_json(),
            "capped_by_airspace_or_candidates": self.capped,
            "boroughs": {
                b: {
                    "ceiling": round(self.ceiling.get(b, 0.0), 4),
                    "today": round(v[0], 4),
                    "greedy": round(v[1], 4),
                    "exact": round(v[2], 4),
                }
                for b, v in self.borough_share.items()
            },
        }


def cover_every_borough(
    problem: SiteProblem,
    rows: DemandRows,
    candidates: Sequence[CandidateSite],
    *,
    share: float,
    within_s: float,
    agencies: Sequence[str],
    time_limit_s: float = 60.0,
    clock: Callable[[], float] | None = None,
) -> EveryBoroughReport:
    """Fewest sites so that each borough has ``share`` of its demand covered (or all
    that can be), for each agency: greedy and exact."""
    if not 0 < share <= 1:
        raise InputError("every-borough", f"must be a share in (0%, 100%], got {share}")
    keys = sorted({(a, b) for a, b in zip(rows.agency, rows.borough, strict=True)})
    label_of = {k: n for n, k in enumerate(keys)}
    groups = np.array(
        [label_of[(a, b)] for a, b in zip(rows.agency, rows.borough, strict=True)], np.int64
    )
    reached = problem.best_with(range(problem.n_candidates)) <= within_s
    ceiling_by_group = {}
    for g in label_of.values():
        mine = groups == g
        total = problem.weights[mine].sum()
        ceiling_by_group[g] = problem.weights[mine & reached].sum() / total if total else 1.0
    wanted = {g: min(share, c) for g, c in ceiling_by_group.items()}

    def timed(solve: Callable[[], Plan | None]) -> tuple[Plan | None, float | None]:
        if clock is None:
            return solve(), None
        begin = clock()
        plan = solve()
        return plan, clock() - begin

    greedy, g_s = timed(lambda: greedy_fewest_sites(problem, within_s, wanted, groups))
    exact, e_s = timed(lambda: fewest_sites(problem, within_s, wanted, groups, time_limit_s))

    def result(plan: Plan | None, seconds: float | None) -> PlanResult | None:
        if plan is None:
            return None
        return PlanResult(
            plan,
            evaluate(problem, plan.chosen, within_s),
            tuple(candidates[j] for j in plan.chosen),
            seconds,
        )

    ceiling: dict[str, float] = {}
    for (_, borough), g in label_of.items():
        ceiling[borough] = min(ceiling.get(borough, 1.0), ceiling_by_group[g])
    plans = tuple(p.chosen if p is not None else () for p in (greedy, exact))
    return EveryBoroughReport(
        share,
        within_s,
        tuple(agencies),
        ceiling,
        result(greedy, g_s),
        result(exact, e_s),
        _borough_shares(problem, rows, plans, within_s),
    )
