"""``skyshare whatif coverage``: per borough, the share a drone reaches in time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skyshare.planning.coverage import CoverageReport, assess_coverage
from skyshare.planning.report import Chart, Section, bar_chart, borough_map
from skyshare.planning.report import Table as ReportTable
from skyshare.planning.study import Study
from skyshare.whatif import options as opt
from skyshare.whatif.calls import CallOptions
from skyshare.whatif.inputs import read_study_inputs
from skyshare.whatif.output import emit, handled, out, pct, progress_bar, rich_table
from skyshare.whatif.parsing import parse_seconds
from skyshare.whatif.reports import map_layers, write_report
from skyshare.whatif.world import World, WorldFiles


def coverage_command(
    sites: opt.Sites = None,
    within: opt.Within = "120s",
    agency: opt.Agency = None,
    incidents: opt.Incidents = None,
    rate: opt.Rate = None,
    weights: opt.Weights = None,
    in_borough: opt.InBorough = None,
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
    """Per borough, the share of its area (and of its incidents) a drone reaches in time."""
    with handled():
        within_s = parse_seconds(within)
        world, calls, study = read_study_inputs(
            WorldFiles(sites, airspace, boroughs, open_sky),
            CallOptions(incidents, rate, weights, in_borough, days, seed, start),
            cell,
        )
        network = world.network
        agencies = agency or list(network.agencies)
        total = sum(len(study.site_sources(network, a)) for a in agencies)
        with progress_bar(as_json or as_csv) as bar:
            task = bar.add_task("legal-route flight times", total=total)
            result = assess_coverage(
                study, network, within_s, agencies, progress=lambda n: bar.advance(task, n)
            )
    headers, rows, styles = coverage_rows(result)
    payload = result.to_json() | {"calls": calls.description if calls else None}
    if not emit(
        as_json=as_json, as_csv=as_csv, payload=payload, csv_headers=headers, csv_rows=rows
    ):
        out.print(rich_table(f"Cover within {within_s:g} s by legal routes", headers, rows, styles))
        shares = ", ".join(f"{a} {pct(result.share_of_area(a))}" for a in result.agencies)
        out.print(f"Area of London covered: {shares}.")
        if result.incident_share is not None:
            out.print(f"Incidents covered: {pct(result.incident_share)} ({calls.description}).")
        if result.uncovered:
            out.print(
                f"[bold red]{len(result.uncovered)} boroughs without any cover:[/] "
                + ", ".join(result.uncovered)
            )
        for site, note in result.site_notes.items():
            out.print(f"[yellow]note:[/] {site}: {note}")
    if report is not None:
        with handled():
            coverage_report(world, study, result, headers, rows, report)


def coverage_rows(result: CoverageReport) -> tuple[list[str], list[list[Any]], list[str | None]]:
    headers = ["borough", "area km²", *[f"{a} cover" for a in result.agencies]]
    has_calls = result.incident_share is not None
    if has_calls:
        headers += ["incidents", "incidents covered"]
    rows, styles = [], []
    for b in result.boroughs:
        row: list[Any] = [
            b.borough,
            f"{b.area_km2:.1f}",
            *[pct(b.share_by_agency[a]) for a in result.agencies],
        ]
        if has_calls:
            row += [b.incidents, pct(b.incident_share)]
        rows.append(row)
        styles.append("bold red" if b.uncovered else None)
    return headers, rows, styles


def coverage_report(
    world: World,
    study: Study,
    result: CoverageReport,
    headers: list[str],
    rows: list[list[Any]],
    directory: Path,
) -> tuple[Path, Path]:
    best = np.min(np.stack([result.cell_seconds[a] for a in result.agencies]), axis=0)
    covered = np.where(best <= result.within_s, 1.0, np.nan)
    image = study.grid.raster(covered)
    g = study.grid
    extent = (g.x0, g.x0 + g.nx * g.cell_m, g.y0, g.y0 + g.ny * g.cell_m)
    values = {b.borough: b.best_share for b in result.boroughs}
    png = borough_map(
        world.area,
        values,
        title=f"Cover within {result.within_s:g} s (legal routes)",
        label="share of borough area covered",
        layers=map_layers(world, world.network, cells=(image, extent)),
    )
    chart = bar_chart(
        [b.borough for b in result.boroughs],
        {a: [b.share_by_agency[a] for b in result.boroughs] for a in result.agencies},
        title="Share of each borough's area covered",
        ylabel="share of area",
    )
    sections = [
        Section(
            "Map",
            [
                f"Cells reached within {result.within_s:g} s are green; boroughs "
                "are shaded by the share of their area covered (best agency). "
                "Hatched: restricted airspace."
            ],
            charts=[Chart("map", png)],
        ),
        Section(
            "By borough",
            charts=[Chart("bars", chart)],
            tables=[ReportTable("Cover by borough", headers, rows)],
        ),
    ]
    if result.uncovered:
        sections.insert(1, Section("Boroughs without cover", [", ".join(result.uncovered)]))
    return write_report(
        directory, "whatif-coverage", "SkyShare what-if: coverage", png, sections, world
    )
