"""``skyshare whatif optimize``: where to put K more sites (``--add``), or the fewest
sites that give every borough a share of cover (``--every-borough``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from skyshare.domain import InputError
from skyshare.planning.placement import (
    Demand,
    OptimizeReport,
    build_problem,
    cover_every_borough,
    optimize_sites,
)
from skyshare.planning.report import Chart, Section, bar_chart, borough_map
from skyshare.planning.report import Table as ReportTable
from skyshare.planning.sites import Objective
from skyshare.whatif import options as opt
from skyshare.whatif.calls import CallOptions
from skyshare.whatif.candidates import default_candidates, load_candidates, save_network
from skyshare.whatif.every_borough import every_borough_output
from skyshare.whatif.inputs import read_study_inputs
from skyshare.whatif.output import emit, handled, out, pct, progress_bar, rich_table, secs
from skyshare.whatif.parsing import parse_seconds, parse_share
from skyshare.whatif.reports import map_layers, new_site_markers, write_report
from skyshare.whatif.world import World, WorldFiles

# The default --stride: the slower objectives look at fewer cells.
STRIDE_BY_OBJECTIVE = {Objective.COVERAGE: 1, Objective.P90: 3, Objective.MEAN: 5}


def optimize_command(
    add: Annotated[int | None, typer.Option("--add", help="How many sites to add.")] = None,
    every_borough: Annotated[
        str | None,
        typer.Option(
            "--every-borough",
            help="Instead of --add: the fewest sites giving every borough this share of "
            "its area within --within (or all its airspace allows), e.g. 25%.",
        ),
    ] = None,
    write_network: Annotated[
        Path | None,
        typer.Option(
            "--write-network",
            help="Write the network with the exact answer's sites added (one drone each).",
        ),
    ] = None,
    candidates: Annotated[
        Path | None,
        typer.Option(
            "--candidates", help="CSV (id,name,lat,lon) or network file of possible sites."
        ),
    ] = None,
    objective: Annotated[
        Objective,
        typer.Option(
            "--objective", help="coverage: most demand within --within; mean or p90: response time."
        ),
    ] = Objective.COVERAGE,
    lattice: Annotated[
        float | None,
        typer.Option("--lattice", help="Also consider a lattice of sites this many metres apart."),
    ] = None,
    demand: Annotated[
        Demand,
        typer.Option("--demand", help="cells (area) or incidents (needs --incidents or --rate)."),
    ] = Demand.CELLS,
    stride: Annotated[
        int | None,
        typer.Option(
            "--stride", help="Use every n-th cell as demand (default 1, 3 for p90, 5 for mean)."
        ),
    ] = None,
    horizon: Annotated[
        str, typer.Option("--horizon", help="Times beyond this count as this (mean, p90).")
    ] = "600s",
    time_limit: Annotated[float, typer.Option("--time-limit", help="MILP time limit, s.")] = 120,
    sites: opt.Sites = None,
    within: opt.Within = "120s",
    agency: opt.Agency = None,
    incidents: opt.Incidents = None,
    rate: opt.Rate = None,
    weights: opt.Weights = None,
    days: opt.Days = None,
    seed: opt.Seed = 1,
    start: opt.Start = None,
    cell: opt.Cell = 100.0,
    airspace: opt.Airspace = None,
    open_sky: opt.OpenSky = False,
    boroughs: opt.Boroughs = None,
    as_json: opt.Json = False,
    as_csv: opt.Csv = False,
    report: opt.Report = None,
) -> None:
    """Where to put K more sites: the greedy and the exact (MILP) answer, and the gap."""
    with handled():
        if (add is None) == (every_borough is None):
            raise InputError("add", "give --add K or --every-borough SHARE (one of them)")
        within_s = parse_seconds(within)
        horizon_s = max(within_s, parse_seconds(horizon, "horizon"))
        world, _, study = read_study_inputs(
            WorldFiles(sites, airspace, boroughs, open_sky),
            CallOptions(incidents, rate, weights, None, days, seed, start),
            cell,
        )
        network = world.network
        pool = (
            load_candidates(candidates)
            if candidates
            else default_candidates(world, study, lattice, add or 1)
        )
        agencies = agency or list(network.agencies)
        if every_borough is not None:
            objective = Objective.COVERAGE
        step = stride or STRIDE_BY_OBJECTIVE[objective]
        reach = within_s if objective is Objective.COVERAGE else horizon_s
        with progress_bar(as_json or as_csv) as bar:
            task = bar.add_task("legal-route flight times", total=len(pool) * len(agencies))
            problem, rows = build_problem(
                study,
                network,
                pool,
                agencies=agencies,
                horizon_s=reach,
                demand=demand,
                stride=step,
                progress=lambda n: bar.advance(task, n),
            )
            if every_borough is not None:
                bar.add_task(f"solving ({problem.n_rows} demand rows)", total=None)
                every = cover_every_borough(
                    problem,
                    rows,
                    pool,
                    share=parse_share(every_borough),
                    within_s=within_s,
                    agencies=agencies,
                    time_limit_s=time_limit,
                    clock=time.perf_counter,
                )
        if every_borough is not None:
            answers = [p for p in (every.exact, every.greedy) if p is not None]
            if write_network is not None and answers:
                fewest = min(answers, key=lambda p: len(p.sites))  # exact unless it timed out
                save_network(network, fewest.sites, write_network)
            every_borough_output(world, every, len(pool), as_json, as_csv, report)
            return
        with progress_bar(as_json or as_csv) as bar:
            bar.add_task(f"solving ({objective}, {problem.n_rows} demand rows)", total=None)
            result = optimize_sites(
                problem,
                rows,
                pool,
                k=add or 0,
                objective=objective,
                within_s=within_s,
                agencies=agencies,
                demand=demand,
                time_limit_s=time_limit,
                clock=time.perf_counter,
            )
    if write_network is not None:
        with handled():
            save_network(network, result.exact.sites, write_network)
    headers = ["", "sites added", f"within {within_s:g}s", "mean s", "p90 s", "solve s", "status"]
    rows_out = figure_rows(result)
    payload = result.to_json() | {"candidates": len(pool)}
    if not emit(
        as_json=as_json,
        as_csv=as_csv,
        payload=payload,
        csv_headers=["method", "id", "name", "lat", "lon", "borough"],
        csv_rows=[
            [p.plan.method, s.id, s.name, s.lat, s.lon, s.borough]
            for p in (result.greedy, result.exact)
            for s in p.sites
        ],
    ):
        out.print(
            rich_table(
                f"{add} more sites, objective {objective} "
                f"({len(pool)} candidates, {demand} demand)",
                headers,
                rows_out,
            )
        )
        gap_word = "less cover" if objective is Objective.COVERAGE else "slower"
        out.print(f"Greedy is {result.gap * 100:.2f}% {gap_word} than the exact optimum.")
        out.print(
            rich_table(
                "Exact choice",
                ["site", "name", "borough"],
                [[s.id, s.name, s.borough] for s in result.exact.sites],
            )
        )
        if set(result.greedy.plan.chosen) != set(result.exact.plan.chosen):
            out.print(
                rich_table(
                    "Greedy choice",
                    ["site", "name", "borough"],
                    [[s.id, s.name, s.borough] for s in result.greedy.sites],
                )
            )
    if report is not None:
        with handled():
            optimize_report(world, result, headers, rows_out, report)


def figure_rows(result: OptimizeReport) -> list[list[Any]]:
    """Today, then the greedy and the exact answer: cover, mean, p90, solve time."""
    return [
        [
            "today",
            0,
            pct(result.before.covered_share),
            secs(result.before.mean_s),
            secs(result.before.p90_s),
            "",
            "",
        ],
        *[
            [
                p.plan.method,
                len(p.sites),
                pct(p.evaluation.covered_share),
                secs(p.evaluation.mean_s),
                secs(p.evaluation.p90_s),
                f"{p.seconds:.2f}" if p.seconds is not None else "",
                p.plan.status,
            ]
            for p in (result.greedy, result.exact)
        ],
    ]


def optimize_report(
    world: World,
    result: OptimizeReport,
    headers: list[str],
    rows: list[list[Any]],
    directory: Path,
) -> tuple[Path, Path]:
    values = {b: v[2] for b, v in result.borough_share.items()}
    png = borough_map(
        world.area,
        values,
        title=f"{result.k} more sites (exact, {result.objective}): cover "
        f"within {result.within_s:g}s",
        label="share covered after",
        layers=map_layers(world, world.network, new_site_markers(world, result.exact.sites)),
    )
    names = sorted(result.borough_share)
    chart = bar_chart(
        names,
        {
            "today": [result.borough_share[b][0] for b in names],
            "greedy": [result.borough_share[b][1] for b in names],
            "exact": [result.borough_share[b][2] for b in names],
        },
        title=f"Cover within {result.within_s:g}s by borough",
        ylabel="share",
    )
    site_rows = [
        [p.plan.method, s.id, s.name, s.borough]
        for p in (result.greedy, result.exact)
        for s in p.sites
    ]
    sections = [
        Section(
            "Answer",
            [f"Greedy is {result.gap * 100:.2f}% off the exact optimum."],
            charts=[Chart("map", png)],
            tables=[
                ReportTable("Figures", headers, rows),
                ReportTable("Sites", ["method", "id", "name", "borough"], site_rows),
            ],
        ),
        Section("By borough", charts=[Chart("bars", chart)]),
    ]
    return write_report(
        directory, "whatif-optimize", "SkyShare what-if: new sites", png, sections, world
    )
