"""``skyshare whatif compare``: scenarios side by side on the same cells and calls."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from skyshare.planning.compare import (
    PoolingReport,
    ScenarioResult,
    compare_scenarios,
    pooling_study,
)
from skyshare.planning.des import SimulationConfig
from skyshare.planning.fleet import Target
from skyshare.planning.placement import candidates_from_network, lattice_candidates
from skyshare.planning.report import Chart, MapSite, Section, bar_chart, borough_map
from skyshare.planning.report import Table as ReportTable
from skyshare.runtime.world import load_network
from skyshare.whatif import options as opt
from skyshare.whatif.calls import CallOptions
from skyshare.whatif.candidates import load_candidates
from skyshare.whatif.inputs import simulated_calls, study_for
from skyshare.whatif.output import emit, err, handled, out, pct, progress_bar, rich_table
from skyshare.whatif.parsing import parse_approval, parse_seconds
from skyshare.whatif.pooling import POOLING_HEADERS, pooling_rows, print_pooling
from skyshare.whatif.reports import map_layers, write_report
from skyshare.whatif.world import World, WorldFiles, load_world


def compare_command(
    scenario_a: Annotated[Path, typer.Argument(help="First network file.")],
    scenario_b: Annotated[Path | None, typer.Argument(help="Second network file.")] = None,
    pooling: Annotated[
        bool,
        typer.Option(
            "--pooling",
            help="Also: one shared network against separate per-agency networks "
            "for the same service level (from the first scenario).",
        ),
    ] = False,
    target: Annotated[
        str, typer.Option("--target", help="Service level for --pooling.")
    ] = "80% within 180s",
    candidates: Annotated[
        Path | None,
        typer.Option(
            "--candidates",
            help="Possible bases for --pooling (default: the scenario's sites and a lattice).",
        ),
    ] = None,
    lattice: Annotated[
        float,
        typer.Option("--lattice", help="Lattice spacing of candidate bases for --pooling, m."),
    ] = 1500.0,
    within: opt.Within = "120s",
    incidents: opt.Incidents = None,
    rate: opt.Rate = None,
    weights: opt.Weights = None,
    in_borough: opt.InBorough = None,
    days: opt.Days = None,
    seed: opt.Seed = 1,
    start: opt.Start = None,
    approval: opt.Approval = "30s",
    cell: opt.Cell = 100.0,
    airspace: opt.Airspace = None,
    open_sky: opt.OpenSky = False,
    boroughs: opt.Boroughs = None,
    as_json: opt.Json = False,
    as_csv: opt.Csv = False,
    report: opt.Report = None,
) -> None:
    """Scenarios side by side on the same cells and calls; with --pooling, what sharing
    one network saves against separate per-agency networks."""
    with handled():
        within_s = parse_seconds(within)
        world = load_world(WorldFiles(scenario_a, airspace, boroughs, open_sky))
        scenarios = [(scenario_a.stem, world.network)]
        if scenario_b is not None:
            scenarios.append((scenario_b.stem, load_network(scenario_b)))
        agencies = sorted({a for _, n in scenarios for a in n.agencies})
        options = CallOptions(incidents, rate, weights, in_borough, days, seed, start)
        calls = simulated_calls(world, agencies, options)
        config = SimulationConfig(approval_delay_s=parse_approval(approval))
        study = study_for(world, calls, options, cell)
        make = world.dispatcher_factory()
        with progress_bar(as_json or as_csv) as bar:
            bar.add_task("cover and simulation of each scenario", total=None)
            results = compare_scenarios(
                study,
                scenarios,
                make,
                within_s=within_s,
                incidents=calls.incidents,
                start=calls.start,
                duration_s=calls.duration_s,
                config=config,
            )
        pool_report = None
        if pooling:
            goal = Target.parse(target)
            pool = (
                load_candidates(candidates)
                if candidates
                else [*candidates_from_network(world.network), *lattice_candidates(study, lattice)]
            )
            pool_report = pooling_study(
                study,
                world.network,
                pool,
                make,
                target=goal,
                start=calls.start,
                duration_s=calls.duration_s,
                config=config,
                progress=None if as_json or as_csv else (lambda m: err.print(m)),
            )
    names = [r.label for r in results]
    figures = [r.figures() for r in results]
    keys = list(dict.fromkeys(k for f in figures for k in f))
    rows = [[k, *[format_figure(f.get(k)) for f in figures]] for k in keys]
    payload: dict[str, Any] = {
        "calls": calls.description,
        "scenarios": {r.label: r.figures() for r in results},
    }
    if pool_report is not None:
        payload["pooling"] = pool_report.to_json()
    if not emit(
        as_json=as_json,
        as_csv=as_csv,
        payload=payload,
        csv_headers=["figure", *names],
        csv_rows=rows,
    ):
        out.print(calls.description)
        out.print(rich_table("Scenarios side by side", ["", *names], rows))
        if pool_report is not None:
            print_pooling(pool_report)
    if report is not None:
        with handled():
            compare_report(world, results, rows, names, pool_report, report)


def format_figure(value: Any) -> str:
    """Shares (0..1) as percentages, other numbers rounded, missing ones as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value * 100:.1f}%" if 0 <= value <= 1 else f"{value:.0f}"
    return str(value)


def compare_report(
    world: World,
    results: Sequence[ScenarioResult],
    rows: list[list[Any]],
    names: list[str],
    pool: PoolingReport | None,
    directory: Path,
) -> tuple[Path, Path]:
    first = results[0]
    values = {b.borough: b.best_share for b in first.coverage.boroughs}
    extra = []
    proj = world.area.projection
    for other in results[1:]:
        extra += [
            MapSite(*proj.point(s.position.lat, s.position.lon), s.id, "other")
            for s in other.network.sites.values()
            if s.id not in first.network.sites
        ]
    png = borough_map(
        world.area,
        values,
        title=f"{first.label}: cover within {first.coverage.within_s:g}s",
        label="share of borough area covered",
        layers=map_layers(world, first.network, extra),
    )
    boroughs = [b.borough for b in first.coverage.boroughs]
    chart = bar_chart(
        boroughs,
        {r.label: [b.best_share for b in r.coverage.boroughs] for r in results},
        title="Area covered by borough",
        ylabel="share of area",
    )
    sections = [
        Section(
            "Side by side",
            charts=[Chart("map", png), Chart("bars", chart)],
            tables=[ReportTable("Figures", ["", *names], rows)],
        )
    ]
    if pool is not None:
        text = (
            f"Sharing needs {pct(pool.bases_saving)} fewer bases and "
            f"{pct(pool.drones_saving)} fewer drones."
            if pool.feasible
            else "Some networks cannot meet the target; no saving is claimed."
        )
        sections.append(
            Section(
                f"Shared against separate networks for {pool.target}",
                [text],
                tables=[ReportTable("Networks", POOLING_HEADERS, pooling_rows(pool))],
            )
        )
    return write_report(
        directory, "whatif-compare", "SkyShare what-if: scenarios", png, sections, world
    )
