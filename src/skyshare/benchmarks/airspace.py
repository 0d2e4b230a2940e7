"""Airspace benchmarks on the London zones, each figure beside a same-run baseline.

- Conformance: position checks per second (which zone, if any, each position breaches;
  the depth is computed later, for breaches only), vectorised (numpy, STRtree, prepared
  geometries, from lat/lon) against the plain loop of every point against every zone
  (given metric positions, which favours the loop). Targets: >= 1,000,000 checks/s and
  >= 20x the loop.
- Routing: p50 and p99 latency of dispatcher-like queries (30 launch sites, a different
  goal each time) with the cached visibility graph, against building the graph afresh for
  each query; every pair of routes must have identical lengths. Target: p99 < 2 ms.
"""

from __future__ import annotations

import gc
import json
import os
import time
from datetime import UTC, datetime

import numpy as np

from skyshare.airspace import AirspaceMap, NoRoute, load_zones
from skyshare.airspace.conformance import naive_check
from skyshare.benchmarks import Figure, Report, benchmark, best_of
from skyshare.config import REPO_ROOT
from skyshare.domain.models import GeoPoint

NOON = datetime(2025, 3, 4, 12, tzinfo=UTC)
LONDON_BOX = ((51.30, 51.68), (-0.50, 0.30))  # (lat range, lon range)


def london() -> AirspaceMap:
    path = REPO_ROOT / "airspace" / "london.geojson"
    return AirspaceMap(load_zones(json.loads(path.read_text()), str(path)))


def _conformance(airspace: AirspaceMap, quick: bool) -> list[Figure]:
    rng = np.random.default_rng(42)
    n = 100_000 if quick else 1_000_000
    lat = rng.uniform(*LONDON_BOX[0], n)
    lon = rng.uniform(*LONDON_BOX[1], n)
    alt = rng.uniform(0.0, 140.0, n)
    t = np.full(n, NOON.timestamp())
    fast_s = best_of(
        lambda: airspace.check_positions(lat, lon, alt, t, agency="fire"), repeat=3 if quick else 5
    )
    m = 2_000 if quick else 10_000
    x, y = airspace.projection.to_metric(lon[:m], lat[:m])
    slow_s = best_of(lambda: naive_check(airspace, x, y, alt[:m], t[:m], agency="fire"), repeat=1)
    fast = airspace.check_positions(lat[:m], lon[:m], alt[:m], t[:m], agency="fire")
    slow = naive_check(airspace, x, y, alt[:m], t[:m], agency="fire")
    agree = bool((fast.zone_index == slow).all())
    near = float(airspace.near_grid.near(lat, lon).mean())
    return [
        Figure(
            "conformance checks",
            n / fast_s,
            "checks/s",
            "per-zone loop",
            m / slow_s,
            note=f"{n:,} positions x {len(airspace)} zones, {near:.0%} near a zone; "
            f"same answers: {agree}; "
            "target >= 1,000,000/s and >= 20x",
        )
    ]


def _sample_points(airspace: AirspaceMap, rng: np.random.Generator, count: int) -> list[GeoPoint]:
    """Random London points outside every zone (for fire, the most restricted agency)."""
    points: list[GeoPoint] = []
    while len(points) < count:
        lat = float(rng.uniform(*LONDON_BOX[0]))
        lon = float(rng.uniform(*LONDON_BOX[1]))
        if airspace.check(lat, lon, 60.0, "fire", at=NOON).allowed:
            points.append(GeoPoint(lat, lon))
    return points


def _timed(call) -> tuple[object, float, float]:
    """(result or the NoRoute raised, wall ms, this thread's CPU ms)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        result: object = call()
    except NoRoute as refused:
        result = refused
    return result, (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3


def _routing(airspace: AirspaceMap, quick: bool) -> tuple[list[Figure], dict[str, object]]:
    rng = np.random.default_rng(7)
    queries = 100 if quick else 600
    baseline_queries = 15 if quick else 60
    sites = _sample_points(airspace, rng, 30)
    goals = _sample_points(airspace, rng, queries)
    pairs = [
        (sites[i % len(sites)], goals[i], ("fire", "police", "ambulance")[i % 3])
        for i in range(queries)
    ]

    start = time.perf_counter()
    for agency in ("fire", "police"):  # build the graphs once, as a running system would
        airspace.route(sites[0], sites[1], agency, at=NOON)
    build_s = time.perf_counter() - start

    def run(route_fn, count: int) -> tuple[list[object], list[float], list[float]]:
        results, wall, cpu = [], [], []
        gc.collect()
        gc.disable()  # as timeit does: a collection pause is not the router's latency
        try:
            for a, b, agency in pairs[:count]:
                result, w, c = _timed(lambda: route_fn(a, b, agency, at=NOON))  # noqa: B023
                results.append(result)
                wall.append(w)
                cpu.append(c)
        finally:
            gc.enable()
        return results, wall, cpu

    cached, cached_wall, cached_cpu = run(airspace.route, queries)
    fresh, fresh_wall, fresh_cpu = run(airspace.route_uncached, baseline_queries)
    lengths = [
        (getattr(a, "length_m", None), getattr(b, "length_m", None))
        for a, b in zip(cached, fresh, strict=False)
    ]
    identical = all(
        a == b or (a is not None and b is not None and abs(a - b) <= 1e-6) for a, b in lengths
    )
    refused = sum(isinstance(r, NoRoute) for r in cached)

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q))

    figures = [
        Figure(
            "routing p50",
            pct(cached_wall, 50),
            "ms",
            "graph rebuilt per query, p50",
            pct(fresh_wall, 50),
            note="wall clock; lower is better",
        ),
        Figure(
            "routing p99",
            pct(cached_wall, 99),
            "ms",
            "graph rebuilt per query, p99",
            pct(fresh_wall, 99),
            note=f"wall clock; target < 2 ms; identical lengths: {identical}",
        ),
        Figure(
            "routing p99 (CPU)",
            pct(cached_cpu, 99),
            "ms",
            "graph rebuilt per query, p99 (CPU)",
            pct(fresh_cpu, 99),
            note="this thread's CPU time: what other processes on a shared machine cannot inflate",
        ),
    ]
    context = {
        "routing queries": queries,
        "baseline queries": baseline_queries,
        "no route (start or goal cut off)": refused,
        "graph build, two agencies (s)": round(build_s, 3),
        "load average (1 min) during the run": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
    }
    return figures, context


@benchmark("airspace", "conformance checks and routing on the London zones")
def run(quick: bool) -> Report:
    airspace = london()
    report = Report("airspace", "conformance checks and routing on the London zones")
    report.figures += _conformance(airspace, quick)
    figures, context = _routing(airspace, quick)
    report.figures += figures
    report.context.update(context)
    report.context["zones"] = len(airspace)
    return report
