"""Coverage benchmark: legal-route flight times over London, and greedy against the MILP.

1. Flight-time fields. Every cell of a 100 m grid over the 33 boroughs (~160,000 cells),
   from 100 candidate sites (the model network's 59 sites and lattice points), by legal
   routes for the fire brigade (the agency with the most zones in its way: every FRZ and
   R157-R159), out to 600 s of flight. Baselines from the same run: the same fields as
   straight lines (no airspace, a KD-tree and numpy), which is the floor any legal-route
   method pays; and the router asked cell by cell (the naive way), timed on a sample and
   scaled to every site-cell pair within reach. The router's route lengths on that
   sample must equal the fields' (largest difference reported). Target: under 20 s.
2. Site choice. From those 100 sites, the 10 that reach the most cells within 300 s
   (reaches of ~4 km overlap, so the choice is not trivial): greedy and the exact MILP
   (HiGHS) on the same instance, both timed; greedy must reach at least 98% of the
   optimum's cover.

``quick`` runs six central boroughs and 30 candidates.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import yaml
from scipy.spatial import cKDTree

from skyshare.airspace import AirspaceMap, NoRoute, load_zones
from skyshare.airspace.service_area import ServiceArea, parse_service_area
from skyshare.benchmarks import Figure, Report, benchmark
from skyshare.config import REPO_ROOT
from skyshare.domain.models import GeoPoint
from skyshare.domain.network import Network, parse_network
from skyshare.planning.grid import build_grid
from skyshare.planning.placement import (
    CandidateSite,
    build_problem,
    candidates_from_network,
    lattice_candidates,
)
from skyshare.planning.scenario import common_model
from skyshare.planning.sites import exact_coverage, greedy_coverage
from skyshare.planning.study import Study
from skyshare.planning.travel import Source, TravelTimes

AT = datetime(2025, 3, 4, 12, tzinfo=UTC)
AGENCY = "fire"
HORIZON_S = 600.0
WITHIN_S = 300.0  # reaches of ~4 km overlap, so the choice is not trivial
ADD = 10
CENTRAL = ("Camden", "City of London", "Islington", "Lambeth", "Southwark", "Westminster")


def _load() -> tuple[AirspaceMap, ServiceArea, Network]:
    airspace_path = REPO_ROOT / "airspace" / "london.geojson"
    boroughs_path = REPO_ROOT / "airspace" / "london_boroughs.geojson"
    network_path = REPO_ROOT / "launch_sites" / "london.yaml"
    airspace = AirspaceMap(load_zones(json.loads(airspace_path.read_text()), str(airspace_path)))
    area = parse_service_area(json.loads(boroughs_path.read_text()), str(boroughs_path))
    network = parse_network(yaml.safe_load(network_path.read_text()), str(network_path))
    return airspace, area, network


def _candidates(study: Study, network: Network, count: int) -> list[CandidateSite]:
    """The network's sites (inside the studied boroughs), topped up with lattice points
    spread evenly over the lattice, ``count`` in all."""
    names = set(study.grid.names)
    own = [c for c in candidates_from_network(network) if c.borough in names][:count]
    lattice = lattice_candidates(study, 1000.0)
    need = count - len(own)
    picks = np.linspace(0, len(lattice) - 1, need).round().astype(int) if need > 0 else []
    return own + [lattice[i] for i in picks]


def _straight_fields(study: Study, candidates: list[CandidateSite], horizon_m: float) -> int:
    """The baseline: straight-line distances from every candidate within the horizon."""
    tree = cKDTree(np.column_stack([study.x, study.y]))
    pairs = 0
    for c in candidates:
        x, y = study.projection.point(c.lat, c.lon)
        rows = np.asarray(tree.query_ball_point((x, y), horizon_m), dtype=np.int64)
        _ = np.hypot(study.x[rows] - x, study.y[rows] - y)
        pairs += len(rows)
    return pairs


@benchmark("coverage", "legal-route flight-time fields over London; greedy vs MILP sites")
def run(quick: bool) -> Report:
    airspace, area, network = _load()
    count = 30 if quick else 100
    clock = time.perf_counter

    start = clock()
    grid = build_grid(area, 100.0, list(CENTRAL) if quick else None)
    study = Study(area, airspace, at=AT, grid=grid)
    grid_s = clock() - start
    candidates = _candidates(study, network, count)
    model = common_model(network)
    sources = [Source(c.id, *study.projection.point(c.lat, c.lon), model) for c in candidates]

    start = clock()  # from nothing: obstacles, targets, corner views, every field
    times = study.travel(AGENCY, sources, HORIZON_S)
    fields_s = clock() - start
    pairs = sum(len(i) for i in times.index)

    reach_m = study.response.reach_m(model, HORIZON_S)
    start = clock()
    straight_pairs = _straight_fields(study, candidates, reach_m)
    straight_s = clock() - start

    per_route_s, worst_m, sampled = _router_sample(study, airspace, candidates, times)
    naive_s = per_route_s * straight_pairs

    # From scratch: which 10 of the 100 sites reach the most cells.
    empty = replace(network, sites={}, drones={}, permissions=frozenset())
    problem, _rows = build_problem(
        study, empty, candidates, agencies=[AGENCY], horizon_s=WITHIN_S, model=model
    )
    start = clock()
    greedy = greedy_coverage(problem, ADD, WITHIN_S)
    greedy_s = clock() - start
    start = clock()
    exact = exact_coverage(problem, ADD, WITHIN_S, time_limit_s=300.0)
    exact_s = clock() - start
    ratio = greedy.value / exact.value if exact.value else 1.0

    sizes = f"{len(candidates)} sites x {study.cells:,} cells"
    return Report(
        "coverage",
        "legal-route flight-time fields over London; greedy vs MILP sites",
        [
            Figure(
                "legal-route flight times",
                fields_s,
                "s",
                "straight lines, no airspace",
                straight_s,
                note=f"{sizes}, {pairs:,} pairs within {HORIZON_S:g} s; target < 20 s",
            ),
            Figure(
                "legal-route flight times",
                fields_s,
                "s",
                "router cell by cell (extrapolated)",
                naive_s,
                note=f"router timed on {sampled} cells; length difference <= {worst_m:.3f} m",
            ),
            Figure(
                "greedy site choice",
                greedy_s,
                "s",
                "exact MILP (HiGHS)",
                exact_s,
                note=f"add {ADD} of {len(candidates)} sites, most cells within {WITHIN_S:g} s",
            ),
            Figure(
                "greedy cover / MILP optimum",
                ratio,
                "",
                note=f"target >= 0.98; {greedy.value:,.0f} vs {exact.value:,.0f} cells "
                f"({exact.status})",
            ),
        ],
        {
            "cells": study.cells,
            "candidates": len(candidates),
            "agency": AGENCY,
            "grid_s": round(grid_s, 3),
            "site_cell_pairs": pairs,
            "router_sample_max_difference_m": round(worst_m, 4),
            "greedy_within_2pct": bool(ratio >= 0.98),
        },
    )


def _router_sample(
    study: Study, airspace: AirspaceMap, candidates: list[CandidateSite], times: TravelTimes
) -> tuple[float, float, int]:
    """Seconds per route when the router is asked cell by cell (its caches warm), and the
    largest difference between its route lengths and the fields' on the sample."""
    rng = np.random.default_rng(7)
    worst = elapsed = 0.0
    sampled = 0
    for k in rng.choice(len(candidates), min(len(candidates), 25), replace=False).tolist():
        rows = times.index[k]
        if not len(rows):
            continue
        source = GeoPoint(candidates[k].lat, candidates[k].lon)
        timing = study.response.of(times.sources[k].model)
        for p in rng.choice(len(rows), min(4, len(rows)), replace=False).tolist():
            cell = int(rows[p])
            lat, lon = study.projection.latlon(study.x[cell], study.y[cell])
            start = time.perf_counter()
            try:
                route = airspace.route(source, GeoPoint(lat, lon), AGENCY, at=AT)
            except NoRoute:
                continue
            elapsed += time.perf_counter() - start
            sampled += 1
            field_m = (times.seconds[k][p] - timing.fixed_s) * timing.speed_mps
            worst = max(worst, abs(route.length_m - field_m))
    return elapsed / max(sampled, 1), worst, sampled
