"""``skyshare whatif fleet``: how many drones each site needs to meet a target."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from skyshare.planning.des import SimulationConfig
from skyshare.planning.fleet import FleetPlan, Target, size_fleet
from skyshare.planning.report import Chart, Section, borough_map
from skyshare.planning.report import Table as ReportTable
from skyshare.whatif import options as opt
from skyshare.whatif.calls import CallOptions
from skyshare.whatif.inputs import read_simulation_inputs
from skyshare.whatif.output import emit, err, handled, out, pct, rich_table
from skyshare.whatif.parsing import parse_approval
from skyshare.whatif.reports import map_layers, write_report
from skyshare.whatif.world import World, WorldFiles


def fleet_command(
    target: Annotated[str, typer.Option("--target", help='e.g. "90% within 120s".')],
    sites: opt.Sites = None,
    incidents: opt.Incidents = None,
    rate: opt.Rate = None,
    weights: opt.Weights = None,
    in_borough: opt.InBorough = None,
    days: opt.Days = None,
    seed: opt.Seed = 1,
    start: opt.Start = None,
    approval: opt.Approval = "30s",
    max_runs: Annotated[int, typer.Option("--max-runs", help="Simulations at most.")] = 30,
    per_agency: Annotated[
        bool, typer.Option("--per-agency", help="Every agency must meet the target.")
    ] = False,
    airspace: opt.Airspace = None,
    open_sky: opt.OpenSky = False,
    boroughs: opt.Boroughs = None,
    as_json: opt.Json = False,
    as_csv: opt.Csv = False,
    report: opt.Report = None,
) -> None:
    """How many drones each site needs to meet a target under the simulated load."""
    with handled():
        goal = Target.parse(target)
        world, calls = read_simulation_inputs(
            WorldFiles(sites, airspace, boroughs, open_sky),
            CallOptions(incidents, rate, weights, in_borough, days, seed, start),
        )
        config = SimulationConfig(approval_delay_s=parse_approval(approval))
        quiet = as_json or as_csv
        plan = size_fleet(
            world.network,
            world.dispatcher_factory(),
            calls.incidents,
            target=goal,
            start=calls.start,
            duration_s=calls.duration_s,
            config=config,
            max_runs=max_runs,
            per_agency=per_agency,
            progress=None if quiet else (lambda m: err.print(m)),
        )
    headers = ["site", "drones today", "drones needed", "utilisation", "calls missed"]
    use = {s.site_id: s.utilisation for s in plan.summary.sites} if plan.summary else {}
    rows = [
        [s, plan.before.get(s, 0), n, pct(use.get(s)), plan.missed_by_site.get(s, 0)]
        for s, n in plan.counts.items()
    ]
    payload = plan.to_json() | {"calls": calls.description}
    if not emit(
        as_json=as_json, as_csv=as_csv, payload=payload, csv_headers=headers, csv_rows=rows
    ):
        out.print(calls.description)
        if not plan.feasible:
            out.print(
                f"[bold red]Out of reach:[/] with every drone free, these sites reach "
                f"{pct(plan.ceiling)} of calls within {goal.within_s:g}s "
                f"(target {goal}). More sites are needed: see whatif optimize."
            )
        else:
            out.print(rich_table(f"Drones per site for {goal}", headers, rows))
            achieved = plan.summary.overall.within_share if plan.summary else None
            state = "[green]met[/]" if plan.met else "[red]not met[/]"
            out.print(
                f"Target {state}: {pct(achieved)} within {goal.within_s:g}s with "
                f"{plan.drones} drones (today {sum(plan.before.values())}); ceiling "
                f"{pct(plan.ceiling)}; {plan.runs} simulations."
            )
    if report is not None and plan.summary is not None:
        with handled():
            fleet_report(world, plan, goal, headers, rows, report)


def fleet_report(
    world: World,
    plan: FleetPlan,
    goal: Target,
    headers: list[str],
    rows: list[list[Any]],
    directory: Path,
) -> tuple[Path, Path]:
    assert plan.summary is not None  # the caller writes no report without a simulation
    values = {g.name: g.within_share for g in plan.summary.by_borough}
    png = borough_map(
        world.area,
        values,
        title=f"Calls within {goal.within_s:g}s with the sized fleet",
        label="share of calls in time",
        layers=map_layers(world, world.network),
    )
    sections = [
        Section(
            "Fleet",
            [f"Target {goal}; {plan.drones} drones; ceiling {pct(plan.ceiling)}."],
            charts=[Chart("map", png)],
            tables=[ReportTable("Drones per site", headers, rows)],
        )
    ]
    return write_report(
        directory, "whatif-fleet", "SkyShare what-if: fleet size", png, sections, world
    )
