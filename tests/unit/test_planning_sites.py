"""Site choice: greedy against the exact MILP on instances whose optimum is known."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from skyshare.domain import InputError
from skyshare.planning.sites import (
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
    weighted_quantile,
)

INF = np.inf


def problem(
    cover: list[dict[int, float]], weights: list[float], existing=None, horizon_s: float = 600.0
) -> SiteProblem:
    """Candidates as {row: seconds}."""
    n = len(weights)
    return SiteProblem(
        candidate_ids=tuple(f"c{j}" for j in range(len(cover))),
        weights=np.array(weights, float),
        existing=np.full(n, INF) if existing is None else np.array(existing, float),
        rows=tuple(np.array(sorted(c), np.int64) for c in cover),
        seconds=tuple(np.array([c[r] for r in sorted(c)], float) for c in cover),
        horizon_s=horizon_s,
    )


def test_greedy_falls_into_the_classic_trap_and_the_milp_does_not() -> None:
    # Six calls of weight 1. c0 reaches calls 0-3; c1 reaches 0, 1, 4; c2 reaches 2, 3, 5.
    # With two sites greedy takes c0 (4 calls) and then one more call: 5. The optimum is
    # c1 + c2, which reach all 6.
    p = problem(
        [{0: 60, 1: 60, 2: 60, 3: 60}, {0: 60, 1: 60, 4: 60}, {2: 60, 3: 60, 5: 60}], [1.0] * 6
    )
    greedy = greedy_coverage(p, 2, within_s=120)
    exact = exact_coverage(p, 2, within_s=120)
    assert greedy.chosen[0] == 0 and greedy.value == 5.0
    assert set(exact.chosen) == {1, 2} and exact.value == 6.0
    assert exact.status == "optimal"


def test_cover_already_given_by_existing_sites_is_not_paid_for_twice() -> None:
    # Calls 0-3 are already reached in time from today's sites, so c0 adds nothing and
    # the best single addition is c1 (calls 4 and 5).
    p = problem(
        [{0: 30, 1: 30, 2: 30, 3: 30}, {4: 30, 5: 30}],
        [1.0] * 6,
        existing=[50, 50, 50, 50, INF, INF],
    )
    for plan in (greedy_coverage(p, 1, 120), exact_coverage(p, 1, 120)):
        assert plan.chosen == (1,) and plan.value == 6.0


def random_problem(seed: int, rows: int = 40, candidates: int = 8) -> SiteProblem:
    rng = np.random.default_rng(seed)
    cover = []
    for _ in range(candidates):
        reach = rng.choice(rows, size=rng.integers(4, 16), replace=False)
        cover.append({int(r): float(rng.integers(30, 500)) for r in reach})
    existing = np.where(rng.random(rows) < 0.2, rng.integers(100, 700, rows), INF)
    return problem(cover, rng.integers(1, 5, rows).astype(float).tolist(), existing)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_milp_matches_the_best_of_every_choice_of_three(seed: int) -> None:
    p = random_problem(seed)
    choices = list(combinations(range(p.n_candidates), 3))
    best_cover = max(evaluate(p, c, 200.0).covered_share for c in choices)
    best_mean = min(evaluate(p, c, 200.0).mean_s for c in choices)
    best_p90 = min(weighted_quantile(p.best_with(c), p.weights, 0.9) for c in choices)

    exact = exact_coverage(p, 3, 200.0)
    assert evaluate(p, exact.chosen, 200.0).covered_share == pytest.approx(best_cover)
    assert exact_mean(p, 3, resolution_s=1.0).value == pytest.approx(best_mean)
    assert exact_p90(p, 3).value == pytest.approx(best_p90)
    # Greedy never beats the optimum (it may match it).
    assert evaluate(p, greedy_coverage(p, 3, 200.0).chosen, 200.0).covered_share <= best_cover
    assert greedy_mean(p, 3).value >= best_mean - 1e-9
    assert greedy_p90(p, 3).value >= best_p90 - 1e-9


def test_mean_and_p90_can_disagree_on_where_sites_go() -> None:
    # 85 calls downtown reached in 200 s today; 15 far out not reached at all (counted
    # as the 600 s horizon in the mean). A site downtown cuts the 85 to 20 s: mean
    # (85*20 + 15*600)/100 = 107 s, but 15% are still never reached, so no 90th
    # percentile. A site far out reaches the 15 in 300 s: mean 215 s, 90th percentile
    # 300 s (the 90th call is one of them).
    downtown = {r: 20.0 for r in range(85)}
    far_out = {r: 300.0 for r in range(85, 100)}
    p = problem([downtown, far_out], [1.0] * 100, existing=[200.0] * 85 + [INF] * 15)
    assert evaluate(p, (0,), 120).mean_s == pytest.approx(107.0)
    assert evaluate(p, (1,), 120).p90_s == pytest.approx(300.0)
    assert exact_mean(p, 1).chosen == (0,)
    assert exact_p90(p, 1).chosen == (1,)


def test_fewest_sites_for_a_service_level_by_brute_force() -> None:
    p = random_problem(7, rows=30, candidates=7)
    for share in (0.5, 0.7):
        plan = fewest_sites(p, 250.0, share)
        least = next(
            k
            for k in range(0, p.n_candidates + 1)
            if any(
                evaluate(p, c, 250.0).covered_share >= share - 1e-9
                for c in combinations(range(p.n_candidates), k)
            )
        )
        assert plan is not None and len(plan.chosen) == least
        assert evaluate(p, plan.chosen, 250.0).covered_share >= share - 1e-9


def test_fewest_sites_says_none_when_even_all_fall_short() -> None:
    p = problem([{0: 60}], [1.0, 1.0])
    assert fewest_sites(p, 120.0, 0.9) is None


def test_asking_for_more_sites_than_candidates_is_refused() -> None:
    with pytest.raises(InputError, match="add"):
        greedy_coverage(problem([{0: 60}], [1.0]), 2, 120.0)


def test_weighted_quantile_counts_weight_not_rows() -> None:
    values = np.array([10.0, 20.0, 30.0])
    assert weighted_quantile(values, np.array([1.0, 1.0, 8.0]), 0.5) == 30.0
    assert weighted_quantile(values, np.array([8.0, 1.0, 1.0]), 0.8) == 10.0


def test_fewest_sites_per_group_by_brute_force_and_greedy_never_fewer() -> None:
    # Rows belong to two groups (boroughs); each must reach its own share.
    p = random_problem(11, rows=30, candidates=7)
    groups = np.arange(30) % 2
    shares = {0: 0.5, 1: 0.3}  # all candidates together reach 58% and 68%

    def meets(chosen) -> bool:
        reached = p.best_with(chosen) <= 250.0
        return all(
            p.weights[(groups == g) & reached].sum() >= s * p.weights[groups == g].sum() - 1e-9
            for g, s in shares.items()
        )

    least = next(
        k
        for k in range(p.n_candidates + 1)
        if any(meets(c) for c in combinations(range(p.n_candidates), k))
    )
    exact = fewest_sites(p, 250.0, shares, groups)
    greedy = greedy_fewest_sites(p, 250.0, shares, groups)
    assert exact is not None and len(exact.chosen) == least and meets(exact.chosen)
    assert greedy is not None and meets(greedy.chosen) and len(greedy.chosen) >= least
