"""Where to put K more launch sites: greedy and exact (MILP, HiGHS), for three objectives.

The problem: demand rows (grid cells or incidents, with weights), the best response time
each already has from the existing sites, and for every candidate site the response
times it would add (sparse: only within the horizon). Choose K candidates.

Objectives
    ``coverage``: the most demand reached within ``within_s`` (the maximal covering
    location problem). MILP: ``max sum w_i y_i`` s.t. ``y_i <= sum_{j covers i} x_j``,
    ``sum x_j = K``, ``x`` binary, ``0 <= y <= 1``. Rows with the same set of covering
    candidates are merged first, which shrinks the problem by orders of magnitude.

    ``mean``: the least demand-weighted mean response time (a p-median with the existing
    sites fixed open; demand beyond the horizon counts as the horizon). MILP in the
    "radius" form: per row, the distinct candidate times below what it already has,
    ``L_1 < ... < L_m < L_{m+1} = b_i``, and ``z_ik = 1`` when no chosen site reaches
    it within ``L_k``: cost ``L_1 + sum_k (L_{k+1} - L_k) z_ik`` with
    ``z_ik + sum_{j: t_ij <= L_k} x_j >= 1``. Times are rounded to ``resolution_s``
    inside the model only; reported figures use the exact times.

    ``p90``: the least 90th percentile of response time. The percentile is at most T
    exactly when at least 90% of the demand is reached within T, so the optimum is the
    least T at which the best coverage with K sites reaches 90%: a binary search over
    the distinct times, solving the coverage MILP at each (coverage never falls as T
    grows). The greedy answer runs the same search with the greedy coverage rule.

The two objectives place sites very differently: ``mean`` pulls sites toward dense,
already well-served demand, ``p90`` and ``coverage`` push them out to the worst-served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from skyshare.domain.errors import InputError


class Objective(StrEnum):
    COVERAGE = "coverage"
    MEAN = "mean"
    P90 = "p90"


@dataclass(frozen=True)
class SiteProblem:
    """Demand ``weights`` (n), the ``existing`` best seconds (n; inf if unreached), and
    per candidate the rows it reaches within ``horizon_s`` with their seconds."""

    candidate_ids: tuple[str, ...]
    weights: NDArray[np.float64]
    existing: NDArray[np.float64]
    rows: tuple[NDArray[np.int64], ...]
    seconds: tuple[NDArray[np.float64], ...]
    horizon_s: float

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.candidate_ids) or len(self.seconds) != len(self.rows):
            raise InputError("candidates", "one row list and one time list per candidate")
        if len(self.weights) != len(self.existing):
            raise InputError("weights", "one weight per demand row")

    @property
    def n_rows(self) -> int:
        return len(self.weights)

    @property
    def n_candidates(self) -> int:
        return len(self.candidate_ids)

    def best_with(self, chosen: Sequence[int]) -> NDArray[np.float64]:
        best = self.existing.copy()
        for j in chosen:
            rows = self.rows[j]
            best[rows] = np.minimum(best[rows], self.seconds[j])
        return best

    def cover_matrix(self, within_s: float) -> sparse.csc_matrix:
        """Rows x candidates, 1 where the candidate reaches the row within ``within_s``."""
        r, c = [], []
        for j, (rows, secs) in enumerate(zip(self.rows, self.seconds, strict=True)):
            hit = rows[secs <= within_s]
            r.append(hit)
            c.append(np.full(len(hit), j, dtype=np.int64))
        rr = np.concatenate(r) if r else np.zeros(0, np.int64)
        cc = np.concatenate(c) if c else np.zeros(0, np.int64)
        return sparse.csc_matrix(
            (np.ones(len(rr)), (rr, cc)), shape=(self.n_rows, self.n_candidates)
        )


@dataclass(frozen=True)
class Evaluation:
    """How a set of sites serves the demand."""

    covered_share: float  # of demand weight, within ``within_s``
    mean_s: float  # demand beyond the horizon counted as the horizon
    p90_s: float  # inf when more than 10% of demand is beyond the horizon
    unreached_share: float  # of demand weight, beyond the horizon

    def to_json(self) -> dict[str, float | None]:
        return {
            "covered_share": round(self.covered_share, 5),
            "mean_s": round(self.mean_s, 1),
            "p90_s": None if not np.isfinite(self.p90_s) else round(self.p90_s, 1),
            "unreached_share": round(self.unreached_share, 5),
        }


def weighted_quantile(values: NDArray, weights: NDArray, q: float) -> float:
    """The least value v with at least a share ``q`` of the weight at or below v."""
    if not len(values) or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    k = int(np.searchsorted(cumulative, q * cumulative[-1] * (1 - 1e-12), side="left"))
    return float(values[order][min(k, len(values) - 1)])


def evaluate(problem: SiteProblem, chosen: Sequence[int], within_s: float) -> Evaluation:
    best = problem.best_with(chosen)
    w = problem.weights
    total = w.sum()
    capped = np.minimum(best, problem.horizon_s)
    return Evaluation(
        covered_share=float(w[best <= within_s].sum() / total),
        mean_s=float((w * capped).sum() / total),
        p90_s=weighted_quantile(best, w, 0.9),
        unreached_share=float(w[~np.isfinite(best)].sum() / total),
    )


@dataclass(frozen=True)
class Plan:
    """K chosen candidates (indices into the problem), in the order a greedy added them,
    with the objective value the method optimised."""

    method: str
    objective: Objective
    chosen: tuple[int, ...]
    value: float
    status: str = "optimal"
    mip_gap: float | None = None
    bound: float | None = None  # when a solver stopped early: no plan can do better

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


# --- coverage -------------------------------------------------------------------------


def greedy_coverage(problem: SiteProblem, k: int, within_s: float) -> Plan:
    """Add, K times, the candidate that covers the most still-uncovered demand."""
    _check_k(problem, k)
    a = problem.cover_matrix(within_s)
    open_weight = problem.weights * (problem.existing > within_s)
    chosen: list[int] = []
    for _ in range(k):
        gains = a.T @ open_weight
        gains[chosen] = -1.0
        j = int(np.argmax(gains))
        chosen.append(j)
        open_weight[a[:, j].nonzero()[0]] = 0.0
    value = float(problem.weights[problem.best_with(chosen) <= within_s].sum())
    return Plan("greedy", Objective.COVERAGE, tuple(chosen), value, "heuristic")


def exact_coverage(
    problem: SiteProblem, k: int, within_s: float, time_limit_s: float = 60.0
) -> Plan:
    """The maximal covering location problem solved to optimality by HiGHS."""
    _check_k(problem, k)
    a = problem.cover_matrix(within_s).tocsr()
    base = float(problem.weights[problem.existing <= within_s].sum())
    open_rows = np.flatnonzero((problem.existing > within_s) & (np.diff(a.indptr) > 0))
    groups, weights = _merge_rows(a[open_rows], problem.weights[open_rows])
    m, g = problem.n_candidates, groups.shape[0]
    if g == 0:
        return Plan("milp", Objective.COVERAGE, tuple(range(k)), base)
    # y_g - sum_{j covers g} x_j <= 0
    cover = sparse.hstack([-groups, sparse.identity(g, format="csr")], format="csr")
    pick = sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(g)])[None, :])
    result = milp(
        c=np.concatenate([np.zeros(m), -weights]),
        constraints=[
            LinearConstraint(cover, -np.inf, 0.0),
            LinearConstraint(pick, k, k),
        ],
        integrality=np.concatenate([np.ones(m), np.zeros(g)]),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": time_limit_s, "disp": False},
    )
    chosen = _chosen(result, m, k)
    value = float(problem.weights[problem.best_with(chosen) <= within_s].sum())
    bound = getattr(result, "mip_dual_bound", None)
    return Plan(
        "milp",
        Objective.COVERAGE,
        chosen,
        value,
        _status(result),
        _gap(result),
        None if bound is None or result.status == 0 else base - float(bound),
    )


def _merge_rows(
    a: sparse.csr_matrix, weights: NDArray[np.float64]
) -> tuple[sparse.csr_matrix, NDArray[np.float64]]:
    """Rows with the same covering candidates become one row carrying their summed weight."""
    if a.shape[0] == 0:
        return a, weights
    dense = np.packbits(a.toarray().astype(bool), axis=1)
    unique, inverse = np.unique(dense, axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=weights, minlength=len(unique))
    bits = np.unpackbits(unique, axis=1)[:, : a.shape[1]]
    return sparse.csr_matrix(bits.astype(float)), merged


# --- mean response time --------------------------------------------------------------


def greedy_mean(problem: SiteProblem, k: int) -> Plan:
    """Add, K times, the candidate that cuts the weighted mean response time the most."""
    _check_k(problem, k)
    best = np.minimum(problem.existing, problem.horizon_s)
    chosen: list[int] = []
    for _ in range(k):
        gains = np.full(problem.n_candidates, -1.0)
        for j in range(problem.n_candidates):
            if j in chosen:
                continue
            rows = problem.rows[j]
            gains[j] = float(
                (problem.weights[rows] * np.maximum(0.0, best[rows] - problem.seconds[j])).sum()
            )
        j = int(np.argmax(gains))
        chosen.append(j)
        rows = problem.rows[j]
        best[rows] = np.minimum(best[rows], problem.seconds[j])
    return Plan("greedy", Objective.MEAN, tuple(chosen), _mean(problem, chosen), "heuristic")


def exact_mean(
    problem: SiteProblem, k: int, time_limit_s: float = 60.0, resolution_s: float = 5.0
) -> Plan:
    """The least weighted mean response time with K more sites (radius formulation)."""
    _check_k(problem, k)
    m = problem.n_candidates
    cap = np.minimum(problem.existing, problem.horizon_s)
    by_row: dict[int, list[tuple[float, int]]] = {}
    for j, (rows, secs) in enumerate(zip(problem.rows, problem.seconds, strict=True)):
        rounded = np.ceil(secs / resolution_s) * resolution_s
        useful = rounded < cap[rows]
        for r, t in zip(rows[useful].tolist(), rounded[useful].tolist(), strict=True):
            by_row.setdefault(r, []).append((t, j))
    z_cost: list[float] = []
    cons_rows: list[int] = []
    cons_cols: list[int] = []
    for r, pairs in by_row.items():
        w = float(problem.weights[r])
        if w <= 0:
            continue
        pairs.sort()
        levels = sorted({t for t, _ in pairs})
        steps = [*levels[1:], float(cap[r])]
        reach: list[int] = []
        p = 0
        for level, nxt in zip(levels, steps, strict=True):
            while p < len(pairs) and pairs[p][0] <= level:
                reach.append(pairs[p][1])
                p += 1
            z = len(z_cost)
            z_cost.append(w * (nxt - level))
            cons_rows.extend([z] * (len(reach) + 1))
            cons_cols.extend([*reach, m + z])
    nz = len(z_cost)
    if nz == 0:
        return Plan("milp", Objective.MEAN, tuple(range(k)), _mean(problem, range(k)))
    matrix = sparse.csr_matrix(
        (np.ones(len(cons_rows)), (cons_rows, cons_cols)), shape=(nz, m + nz)
    )
    pick = sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(nz)])[None, :])
    result = milp(
        c=np.concatenate([np.zeros(m), np.array(z_cost)]),
        constraints=[LinearConstraint(matrix, 1.0, np.inf), LinearConstraint(pick, k, k)],
        integrality=np.concatenate([np.ones(m), np.zeros(nz)]),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": time_limit_s, "disp": False},
    )
    chosen = _chosen(result, m, k)
    return Plan(
        "milp", Objective.MEAN, chosen, _mean(problem, chosen), _status(result), _gap(result)
    )


def _mean(problem: SiteProblem, chosen: Sequence[int]) -> float:
    best = np.minimum(problem.best_with(list(chosen)), problem.horizon_s)
    return float((problem.weights * best).sum() / problem.weights.sum())


# --- 90th percentile -----------------------------------------------------------------


def greedy_p90(problem: SiteProblem, k: int, share: float = 0.9) -> Plan:
    return _percentile_search(problem, k, share, lambda t: greedy_coverage(problem, k, t), "greedy")


def exact_p90(problem: SiteProblem, k: int, share: float = 0.9, time_limit_s: float = 60.0) -> Plan:
    return _percentile_search(
        problem, k, share, lambda t: exact_coverage(problem, k, t, time_limit_s), "milp"
    )


def _percentile_search(problem: SiteProblem, k: int, share: float, solve, method: str) -> Plan:
    """The least threshold T at which ``solve(T)`` covers ``share`` of the demand."""
    _check_k(problem, k)
    if not 0 < share < 1:
        raise InputError("share", f"must be between 0 and 1, got {share}")
    values = np.unique(
        np.concatenate([problem.existing[np.isfinite(problem.existing)], *problem.seconds])
    )
    need = share * problem.weights.sum() * (1 - 1e-12)
    lo, hi = 0, len(values) - 1
    best_plan: Plan | None = None
    status = "optimal"
    while lo <= hi:
        mid = (lo + hi) // 2
        plan = solve(float(values[mid]))
        if plan.status != "optimal":
            status = plan.status
        if plan.value >= need:
            best_plan, hi = plan, mid - 1
        else:
            lo = mid + 1
    if best_plan is None:  # not reachable within the horizon: keep the widest cover
        best_plan = solve(float(values[-1])) if len(values) else Plan(method, Objective.P90, (), 0)
    chosen = best_plan.chosen
    p90 = weighted_quantile(problem.best_with(chosen), problem.weights, share)
    return Plan(method, Objective.P90, chosen, p90, "heuristic" if method == "greedy" else status)


# --- fewest sites for a service level --------------------------------------------------


def _needs(
    problem: SiteProblem,
    within_s: float,
    share: float | Mapping[int, float],
    labels: NDArray[np.int64],
) -> dict[int, float] | None:
    """Per group, the demand weight still to reach (None if out of reach even with every
    candidate)."""
    done = problem.existing <= within_s
    best = problem.best_with(range(problem.n_candidates)) <= within_s
    needs = {}
    for g in np.unique(labels).tolist():
        wanted = share if isinstance(share, int | float) else share.get(g, 0.0)
        if not 0 <= wanted <= 1:
            raise InputError("share", f"must be in [0, 1], got {wanted}")
        in_group = labels == g
        need = wanted * problem.weights[in_group].sum() * (1 - 1e-9)
        if problem.weights[in_group & best].sum() < need:
            return None
        needs[g] = need - problem.weights[in_group & done].sum()
    return needs


def fewest_sites(
    problem: SiteProblem,
    within_s: float,
    share: float | Mapping[int, float],
    groups: NDArray[np.int64] | None = None,
    time_limit_s: float = 60.0,
) -> Plan | None:
    """The fewest candidates that, with the existing sites, reach ``share`` of the demand
    within ``within_s``: in every group of rows when ``groups`` labels them (by agency,
    by borough), with one share for all groups or one per group label. ``None`` when even
    every candidate together falls short.

    MILP: ``min sum x_j`` s.t. ``sum_{i in g} w_i y_i >= need_g`` for each group,
    ``y_i <= sum_{j covers i} x_j`` (rows already reached do not need a variable; rows
    of one group covered by the same candidates are merged).
    """
    labels = np.zeros(problem.n_rows, np.int64) if groups is None else np.asarray(groups)
    needs = _needs(problem, within_s, share, labels)
    if needs is None:
        return None
    a = problem.cover_matrix(within_s).tocsr()
    m = problem.n_candidates
    open_rows = np.flatnonzero((problem.existing > within_s) & (np.diff(a.indptr) > 0))
    blocks, weights, owners = [], [], []
    for g in needs:
        mine = open_rows[labels[open_rows] == g]
        merged, w = _merge_rows(a[mine], problem.weights[mine])
        blocks.append(merged)
        weights.append(w)
        owners.append(np.full(len(w), g))
    rows_a = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, m))
    w_all = np.concatenate(weights) if weights else np.zeros(0)
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    n = rows_a.shape[0]
    cover = sparse.hstack([-rows_a, sparse.identity(n, format="csr")], format="csr")
    constraints = [LinearConstraint(cover, -np.inf, 0.0)]
    for g, need in needs.items():
        if need <= 0:
            continue
        w = np.where(owner == g, w_all, 0.0)
        row = sparse.csr_matrix(np.concatenate([np.zeros(m), w])[None, :])
        constraints.append(LinearConstraint(row, need, np.inf))
    result = milp(
        c=np.concatenate([np.ones(m), np.zeros(n)]),
        constraints=constraints,
        integrality=np.concatenate([np.ones(m), np.zeros(n)]),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": time_limit_s, "disp": False},
    )
    if result.x is None:
        return None
    chosen = tuple(int(j) for j in np.flatnonzero(np.asarray(result.x[:m]) > 0.5))
    bound = getattr(result, "mip_dual_bound", None)
    return Plan(
        "milp",
        Objective.COVERAGE,
        chosen,
        float(len(chosen)),
        _status(result),
        _gap(result),
        None if bound is None or result.status == 0 else float(bound),
    )


def greedy_fewest_sites(
    problem: SiteProblem,
    within_s: float,
    share: float | Mapping[int, float],
    groups: NDArray[np.int64] | None = None,
) -> Plan | None:
    """Add the candidate that closes the most of the groups' remaining shortfall until
    every group has its share (None when out of reach)."""
    labels = np.zeros(problem.n_rows, np.int64) if groups is None else np.asarray(groups)
    needs = _needs(problem, within_s, share, labels)
    if needs is None:
        return None
    a = problem.cover_matrix(within_s).tocsc()
    open_weight = problem.weights * (problem.existing > within_s)
    short = {g: n for g, n in needs.items() if n > 0}
    keys = sorted(short)
    index = {g: k for k, g in enumerate(keys)}
    chosen: list[int] = []
    while short:
        # gain of each candidate per group, capped at what the group still needs
        per_group = np.zeros((problem.n_candidates, len(keys)))
        for g in short:
            w = np.where(labels == g, open_weight, 0.0)
            per_group[:, index[g]] = a.T @ w
        caps = np.array([short.get(g, 0.0) for g in keys])
        gains = np.minimum(per_group, caps[None, :]).sum(axis=1)
        gains[chosen] = -1.0
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            return None
        chosen.append(j)
        hit = a[:, j].nonzero()[0]
        for g in list(short):
            short[g] -= float(open_weight[hit][labels[hit] == g].sum())
            if short[g] <= 1e-9:
                del short[g]
        open_weight[hit] = 0.0
    return Plan("greedy", Objective.COVERAGE, tuple(chosen), float(len(chosen)), "heuristic")


def reachable_share(
    problem: SiteProblem, within_s: float, groups: NDArray[np.int64] | None = None
) -> float:
    """The most any choice of candidates can reach within ``within_s`` (every candidate
    at once): the least share over the groups of rows."""
    labels = np.zeros(problem.n_rows, np.int64) if groups is None else np.asarray(groups)
    best = problem.best_with(range(problem.n_candidates)) <= within_s
    shares = []
    for g in np.unique(labels):
        in_group = labels == g
        total = problem.weights[in_group].sum()
        shares.append(problem.weights[in_group & best].sum() / total if total else 1.0)
    return min(shares, default=0.0)


# --- helpers -------------------------------------------------------------------------


def _check_k(problem: SiteProblem, k: int) -> None:
    if not 1 <= k <= problem.n_candidates:
        raise InputError(
            "add", f"must be between 1 and the {problem.n_candidates} candidate sites, got {k}"
        )


def _chosen(result, m: int, k: int) -> tuple[int, ...]:
    if result.x is None:
        raise InputError("optimize", f"the MILP solver found no solution: {result.message}")
    x = np.asarray(result.x[:m])
    return tuple(int(j) for j in np.argsort(-x, kind="stable")[:k])


def _status(result) -> str:
    return "optimal" if result.status == 0 else f"stopped: {result.message}"


def _gap(result) -> float | None:
    gap = getattr(result, "mip_gap", None)
    return None if gap is None else float(gap)
