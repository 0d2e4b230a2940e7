"""Several pending incidents at once: the optimal assignment, and the greedy rule.

The cost of sending drone d to incident i is the incident's priority weight times the
drone's score (its ETA, plus the relief penalty when it cannot see the task through);
leaving an incident unserved costs its weight times ``unserved_penalty_s``. The optimal
assignment minimises the total with ``scipy.optimize.linear_sum_assignment``.

Exact costs need routes, so the matrix starts from the lower bounds of ``evaluate.py``
and is refined lazily: solve, compute the exact cost of every pair the solution uses
that is still a bound, and solve again until the solution uses only exact costs. The
result is optimal for the exact matrix: every bound is at most its exact cost, so no
assignment of the exact matrix costs less than the last (all-exact) solution.

The greedy rule, for comparison: incidents in order of priority then arrival, each
takes the best remaining drone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.evaluate import Evaluator, Job
from skyshare.dispatch.fleet import FleetView
from skyshare.dispatch.index import FleetIndex
from skyshare.dispatch.policy import Screen
from skyshare.dispatch.proposal import Candidate, Rejection

Exact = Candidate | Rejection


@dataclass
class BatchSolution:
    """Which drone (column of the view) each incident (row) gets, and the total cost."""

    drone_of: list[int | None]
    cost: float
    exact: dict[tuple[int, int], Exact] = field(default_factory=dict)
    iterations: int = 0
    evaluations: int = 0


class BatchProblem:
    """The jobs of one batch against one fleet view, with a cache of exact answers."""

    def __init__(
        self,
        jobs: Sequence[Job],
        verdicts: Sequence[Screen],
        index: FleetIndex,
        view: FleetView,
        evaluator: Evaluator,
        config: DispatchConfig,
    ) -> None:
        self.jobs = list(jobs)
        self.verdicts = list(verdicts)
        self.index = index
        self.view = view
        self.evaluator = evaluator
        self.config = config
        self.weights = np.array([config.weight(j.incident.priority) for j in self.jobs], float)
        self.exact: dict[tuple[int, int], Exact] = {}  # shared by optimal() and greedy()
        self.evaluations = 0
        if self.jobs:
            open_ = np.stack([v.code == 0 for v in self.verdicts])
            self.columns = np.flatnonzero(open_.any(axis=0))  # drones open to some incident
            lb = np.stack([v.lb_score for v in self.verdicts])[:, self.columns]
            self.lower = np.where(open_[:, self.columns], lb * self.weights[:, None], np.inf)
        else:
            self.columns = np.zeros(0, np.intp)
            self.lower = np.zeros((0, 0))

    def answer(self, row: int, drone: int) -> Exact:
        key = (row, drone)
        found = self.exact.get(key)
        if found is None:
            state = self.view[self.view.ids[drone]]
            found = self.evaluator.evaluate(state, self.index.drones[drone].model, self.jobs[row])
            self.exact[key] = found
            self.evaluations += 1
        return found

    def exact_cost(self, row: int, drone: int) -> float:
        found = self.answer(row, drone)
        return np.inf if isinstance(found, Rejection) else self.weights[row] * found.score_s

    def unserved_cost(self, row: int) -> float:
        return float(self.weights[row] * self.config.unserved_penalty_s)

    def _solve(self, costs: NDArray[np.float64]) -> tuple[list[int | None], float]:
        """Rows to columns of ``costs`` plus one "unserved" column per row."""
        n = len(self.jobs)
        dummy = np.full((n, n), np.inf)
        np.fill_diagonal(dummy, [self.unserved_cost(r) for r in range(n)])
        rows, cols = linear_sum_assignment(np.hstack([costs, dummy]))
        chosen: list[int | None] = [None] * n
        total = 0.0
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if c < costs.shape[1]:
                chosen[r] = c
                total += float(costs[r, c])
            else:
                total += self.unserved_cost(r)
        return chosen, total

    def optimal(self) -> BatchSolution:
        """Lazy refinement until the optimum of the bounds uses only exact costs."""
        costs = self.lower.copy()
        known = np.zeros(costs.shape, bool)
        for (row, drone), _ in self.exact.items():
            col = np.searchsorted(self.columns, drone)
            if col < len(self.columns) and self.columns[col] == drone:
                costs[row, col] = self.exact_cost(row, drone)
                known[row, col] = True
        iterations = 0
        while True:
            iterations += 1
            chosen, total = self._solve(costs)
            fresh = [(r, c) for r, c in enumerate(chosen) if c is not None and not known[r, c]]
            if not fresh:
                break
            for r, c in fresh:
                costs[r, c] = self.exact_cost(r, int(self.columns[c]))
                known[r, c] = True
        drone_of = [None if c is None else int(self.columns[c]) for c in chosen]
        return BatchSolution(drone_of, total, self.exact, iterations, self.evaluations)

    def greedy(self) -> BatchSolution:
        """Priority, then arrival order; each incident takes its best remaining drone."""
        order = sorted(
            range(len(self.jobs)),
            key=lambda r: (
                self.jobs[r].incident.priority,
                self.jobs[r].incident.received_at,
                self.jobs[r].incident.id,
            ),
        )
        taken = np.zeros(len(self.columns), bool)
        drone_of: list[int | None] = [None] * len(self.jobs)
        total = 0.0
        for r in order:
            bounds = np.where(taken, np.inf, self.lower[r])
            best: tuple[float, str, int] | None = None
            for c in np.argsort(bounds, kind="stable").tolist():
                if not np.isfinite(bounds[c]) or (best is not None and bounds[c] > best[0]):
                    break
                drone = int(self.columns[c])
                cost = self.exact_cost(r, drone)
                if np.isfinite(cost) and (best is None or (cost, self.view.ids[drone]) < best[:2]):
                    best = (cost, self.view.ids[drone], c)
            if best is None:
                total += self.unserved_cost(r)
                continue
            taken[best[2]] = True
            drone_of[r] = int(self.columns[best[2]])
            total += best[0]
        return BatchSolution(drone_of, total, self.exact, 0, self.evaluations)

    def full_costs(self) -> NDArray[np.float64]:
        """Every exact cost (rows: jobs, columns: ``self.columns``); for verification."""
        full = np.full(self.lower.shape, np.inf)
        for r in range(len(self.jobs)):
            for c in np.flatnonzero(np.isfinite(self.lower[r])).tolist():
                full[r, c] = self.exact_cost(r, int(self.columns[c]))
        return full

    def cost_of(self, drone_of: Sequence[int | None], costs: NDArray[np.float64]) -> float:
        """Total of an assignment on a given cost matrix (columns: ``self.columns``)."""
        where = {int(d): c for c, d in enumerate(self.columns.tolist())}
        return float(
            sum(
                self.unserved_cost(r) if d is None else costs[r, where[d]]
                for r, d in enumerate(drone_of)
            )
        )

    def solve_costs(self, costs: NDArray[np.float64]) -> tuple[list[int | None], float]:
        """Solve a given cost matrix directly (same shape as ``lower``)."""
        return self._solve(costs)
