"""``skyshare whatif simulate``: days of calls through the live dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skyshare.domain import Network
from skyshare.planning.des import SimulationConfig, SimulationResult, simulate
from skyshare.planning.metrics import GroupStats, SimulationSummary, summarise
from skyshare.planning.report import Chart, Section, borough_map, histogram
from skyshare.planning.report import Table as ReportTable
from skyshare.whatif import options as opt
from skyshare.whatif.calls import CallOptions, Calls
from skyshare.whatif.inputs import read_simulation_inputs
from skyshare.whatif.output import emit, handled, out, pct, progress_bar, rich_table, secs
from skyshare.whatif.parsing import parse_approval
from skyshare.whatif.reports import map_layers, write_report
from skyshare.whatif.world import World, WorldFiles

GROUP_HEADERS = ["", "calls", "median s", "p90 s", "within 2 min", "waited", "unserved"]
SITE_HEADERS = ["site", "drones", "sorties", "utilisation"]


def simulate_command(
    sites: opt.Sites = None,
    incidents: opt.Incidents = None,
    rate: opt.Rate = None,
    weights: opt.Weights = None,
    in_borough: opt.InBorough = None,
    days: opt.Days = None,
    seed: opt.Seed = 1,
    start: opt.Start = None,
    approval: opt.Approval = "30s",
    airspace: opt.Airspace = None,
    open_sky: opt.OpenSky = False,
    boroughs: opt.Boroughs = None,
    as_json: opt.Json = False,
    as_csv: opt.Csv = False,
    report: opt.Report = None,
) -> None:
    """Days of calls through the network with the live dispatcher: response times,
    waits, unserved calls and drone use."""
    with handled():
        world, calls = read_simulation_inputs(
            WorldFiles(sites, airspace, boroughs, open_sky),
            CallOptions(incidents, rate, weights, in_borough, days, seed, start),
        )
        network = world.network
        config = SimulationConfig(approval_delay_s=parse_approval(approval))
        result, summary = run_simulation(world, network, calls, config, as_json or as_csv)
    borough_rows = group_rows(summary.by_borough)
    payload = summary.to_json() | {"calls": calls.description, "decisions": result.decisions}
    if not emit(
        as_json=as_json,
        as_csv=as_csv,
        payload=payload,
        csv_headers=["borough", *GROUP_HEADERS[1:]],
        csv_rows=borough_rows,
    ):
        out.print(f"{calls.description}; {result.decisions} dispatcher decisions.")
        out.print(
            rich_table(
                "Response by agency",
                ["agency", *GROUP_HEADERS[1:]],
                group_rows([summary.overall, *summary.by_agency]),
            )
        )
        out.print(rich_table("Response by borough", ["borough", *GROUP_HEADERS[1:]], borough_rows))
        out.print(rich_table("Drone use by site", SITE_HEADERS, site_rows(summary)))
        out.print(
            f"Fleet utilisation {pct(summary.utilisation)}; reliefs {summary.reliefs}; "
            f"preemptions {summary.preemptions}."
        )
        for reason, n in sorted(summary.unserved_reasons.items(), key=lambda kv: -kv[1])[:6]:
            out.print(f"[yellow]unserved[/] {n} x {reason}")
    if report is not None:
        with handled():
            simulation_report(world, network, calls, result, summary, report)


def run_simulation(
    world: World, network: Network, calls: Calls, config: SimulationConfig, quiet: bool
) -> tuple[SimulationResult, SimulationSummary]:
    make = world.dispatcher_factory()
    with progress_bar(quiet) as bar:
        task = bar.add_task("simulating", total=calls.duration_s / 3600.0)
        result = simulate(
            network,
            make(network),
            calls.incidents,
            start=calls.start,
            duration_s=calls.duration_s,
            config=config,
            progress=lambda s: bar.advance(task, s / 3600.0),
        )
    return result, summarise(result, 120.0)


def group_rows(groups: Sequence[GroupStats]) -> list[list[Any]]:
    return [
        [
            g.name,
            g.calls,
            secs(g.median_s),
            secs(g.p90_s),
            pct(g.within_share),
            g.waited,
            g.unserved,
        ]
        for g in groups
    ]


def site_rows(summary: SimulationSummary) -> list[list[Any]]:
    return [[s.site_id, s.drones, s.sorties, pct(s.utilisation)] for s in summary.sites]


def simulation_report(
    world: World,
    network: Network,
    calls: Calls,
    result: SimulationResult,
    summary: SimulationSummary,
    directory: Path,
) -> tuple[Path, Path]:
    values = {g.name: g.within_share for g in summary.by_borough}
    png = borough_map(
        world.area,
        values,
        title="Calls reached within 2 min, by borough",
        label="share of calls within 2 min",
        layers=map_layers(world, network),
    )
    times = [c.response_s for c in result.calls if c.response_s is not None]
    sections = [
        Section(
            "Summary",
            [
                calls.description,
                f"Fleet utilisation {pct(summary.utilisation)}, "
                f"reliefs {summary.reliefs}, preemptions {summary.preemptions}.",
            ],
            charts=[
                Chart("map", png),
                Chart(
                    "hist",
                    histogram(
                        times,
                        title="Response times",
                        xlabel="seconds from call to drone on scene",
                        marker=120.0,
                    ),
                ),
            ],
            tables=[
                ReportTable(
                    "By agency",
                    ["agency", *GROUP_HEADERS[1:]],
                    group_rows([summary.overall, *summary.by_agency]),
                )
            ],
        ),
        Section(
            "By borough",
            tables=[
                ReportTable(
                    "By borough", ["borough", *GROUP_HEADERS[1:]], group_rows(summary.by_borough)
                )
            ],
        ),
        Section("Drone use", tables=[ReportTable("By site", SITE_HEADERS, site_rows(summary))]),
        Section(
            "Unserved calls",
            tables=[
                ReportTable(
                    "Reasons",
                    ["reason", "calls"],
                    sorted(summary.unserved_reasons.items(), key=lambda kv: -kv[1]),
                )
            ],
        ),
    ]
    return write_report(
        directory, "whatif-simulate", "SkyShare what-if: simulation", png, sections, world
    )
