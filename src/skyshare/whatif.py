"""``skyshare whatif``: the planners' questions, answered by the live decision code.

    skyshare whatif coverage  [--sites FILE] [--within 120s]
    skyshare whatif simulate  [--sites FILE] [--incidents CSV | --rate 200/week] [--days 7]
    skyshare whatif optimize  --add K [--candidates FILE] [--objective coverage|mean|p90]
    skyshare whatif fleet     --target "90% within 120s"
    skyshare whatif compare   A.yaml [B.yaml] [--pooling --target "80% within 180s"]

Every command prints rich tables (progress on stderr), or ``--json`` / ``--csv`` on
stdout for machines, and ``--report DIR`` writes a PNG map and a self-contained HTML
page. Files are read here; the answers come from ``skyshare.planning``, which runs the
same ``Dispatcher`` the control room runs.

Defaults are reproducible: the simulated period starts (and the airspace is read) at a
fixed instant unless ``--start`` says otherwise, and every random draw has a ``--seed``.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import numpy as np
import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from skyshare.airspace import AirspaceMap, load_zones
from skyshare.airspace.service_area import ServiceArea, parse_service_area
from skyshare.config import REPO_ROOT, Settings
from skyshare.dispatch.airspace_router import AirspaceRouter
from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.dispatch.routing import StraightLineRouter
from skyshare.domain import InputError, Network
from skyshare.domain.models import Incident
from skyshare.planning.compare import (
    PoolingReport,
    ScenarioResult,
    compare_scenarios,
    pooling_study,
)
from skyshare.planning.coverage import CoverageReport, assess_coverage
from skyshare.planning.des import SimulationConfig, SimulationResult, simulate
from skyshare.planning.fleet import Target, size_fleet
from skyshare.planning.metrics import GroupStats, SimulationSummary, summarise
from skyshare.planning.placement import (
    CandidateSite,
    Demand,
    EveryBoroughReport,
    OptimizeReport,
    build_problem,
    candidates_from_network,
    cover_every_borough,
    lattice_candidates,
    optimize_sites,
)
from skyshare.planning.report import (
    Chart,
    MapLayers,
    MapSite,
    Section,
    bar_chart,
    borough_map,
    histogram,
    html_page,
)
from skyshare.planning.report import (
    Table as ReportTable,
)
from skyshare.planning.scenario import network_document, with_sites
from skyshare.planning.sites import Objective
from skyshare.planning.study import Study
from skyshare.runtime.world import load_network, read_document

app = typer.Typer(
    help="What-if planning: borough cover, simulated responses, new sites, fleet size, "
    "scenarios side by side.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
out = Console()
err = Console(stderr=True)

REFERENCE_START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday; see the module docstring

# --- options shared by the commands ------------------------------------------------------

SitesOpt = Annotated[
    Path | None, typer.Option("--sites", help="Network file (YAML): sites, drones, sharing.")
]
AirspaceOpt = Annotated[Path | None, typer.Option("--airspace", help="Zones (GeoJSON or ED-269).")]
OpenSkyOpt = Annotated[
    bool, typer.Option("--open-sky", help="Ignore airspace: straight lines everywhere.")
]
BoroughsOpt = Annotated[
    Path | None, typer.Option("--boroughs", help="Service area (GeoJSON of boroughs).")
]
WithinOpt = Annotated[str, typer.Option("--within", help="Response time, e.g. 120s or 2min.")]
IncidentsOpt = Annotated[
    Path | None,
    typer.Option("--incidents", help="police.uk-style CSV of real incidents to replay."),
]
RateOpt = Annotated[
    str | None, typer.Option("--rate", help="Poisson calls, e.g. 200/week or 30/day.")
]
WeightsOpt = Annotated[
    Path | None,
    typer.Option(
        "--weights",
        help="CSV with a borough column: calls per borough for --rate (default: borough area).",
    ),
]
InBoroughOpt = Annotated[
    list[str] | None,
    typer.Option("--in-borough", help="Keep only calls in this borough (repeatable)."),
]
DaysOpt = Annotated[float | None, typer.Option("--days", help="Days to simulate.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of every random draw.")]
StartOpt = Annotated[
    str | None,
    typer.Option("--start", help="ISO time the period starts (default 2025-03-03T00:00Z)."),
]
ApprovalOpt = Annotated[
    str, typer.Option("--approval", help="Operator approval time for calls not auto-launched.")
]
CellOpt = Annotated[float, typer.Option("--cell", help="Grid cell size in metres.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print the main table as CSV on stdout.")]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="Write a PNG map and an HTML page here.")
]
AgencyOpt = Annotated[
    list[str] | None, typer.Option("--agency", help="Only this agency (repeatable).")
]


def parse_seconds(text: str, field: str = "within") -> float:
    """``120``, ``120s``, ``2min``, ``1.5 m`` -> seconds."""
    match = re.fullmatch(
        r"\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*",
        text or "",
        re.IGNORECASE,
    )
    if match is None:
        raise InputError(field, f"expected a duration such as 120s or 2min, got {text!r}")
    unit = (match[2] or "s").lower()
    scale = 3600.0 if unit.startswith("h") else 60.0 if unit.startswith("m") else 1.0
    value = float(match[1]) * scale
    if not value > 0:
        raise InputError(field, "must be positive")
    return value


def parse_rate(text: str) -> float:
    """``200/week``, ``30/day``, ``200`` (per week) -> calls per week."""
    match = re.fullmatch(
        r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(week|wk|w|day|d))?\s*", text or "", re.IGNORECASE
    )
    if match is None:
        raise InputError("rate", f"expected e.g. 200/week or 30/day, got {text!r}")
    per = (match[2] or "week").lower()
    return float(match[1]) * (7.0 if per.startswith("d") else 1.0)


def parse_start(text: str | None) -> datetime:
    if text is None:
        return REFERENCE_START
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("start", f"not an ISO 8601 time: {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# --- loading -----------------------------------------------------------------------------


@dataclass
class World:
    settings: Settings
    network: Network
    network_path: Path
    area: ServiceArea
    airspace: AirspaceMap | None

    def dispatcher_factory(self) -> Callable[[Network], Dispatcher]:
        """A Dispatcher for a network: routes around the airspace with the network's
        recorded permissions, as the runtime builds it."""
        config = DispatchConfig(min_cruise_alt_m=self.settings.min_cruise_alt_m)
        open_sky = StraightLineRouter(self.settings.min_cruise_alt_m, self.area.projection)

        def make(network: Network) -> Dispatcher:
            if self.airspace is None:
                return Dispatcher(network, open_sky, config)
            grants: dict[str, list[tuple[str, str]]] = {}
            for agency, zone_id in network.permissions:
                grants.setdefault(agency, []).append((agency, zone_id))
            return Dispatcher(network, AirspaceRouter(self.airspace, grants), config)

        return make


def load_world(
    sites: Path | None, airspace: Path | None, boroughs: Path | None, open_sky: bool
) -> World:
    settings = Settings()
    network_path = sites or settings.network_file
    network = load_network(network_path)
    area_path = boroughs or settings.boroughs_file
    area = parse_service_area(read_document(area_path), source=str(area_path))
    zones_map = None
    if not open_sky:
        zones_path = airspace or settings.airspace_file
        zones_map = AirspaceMap(
            load_zones(read_document(zones_path), str(zones_path)),
            ceiling_m=settings.ceiling_m,
            min_cruise_alt_m=settings.min_cruise_alt_m,
            crs=settings.crs,
        )
    return World(settings, network, network_path, area, zones_map)


def incident_streams() -> ModuleType:
    """``simulators.incidents``, the shared incident generators. ``simulators`` is a
    top-level package of the repository (the wheel ships it); an editable install maps
    only ``src/``, so a console script started outside the repository root falls back
    to the repository itself."""
    try:
        return importlib.import_module("simulators.incidents")
    except ModuleNotFoundError:
        if str(REPO_ROOT) not in sys.path:
            sys.path.append(str(REPO_ROOT))
        return importlib.import_module("simulators.incidents")


@dataclass
class Calls:
    incidents: list[Incident]
    start: datetime
    duration_s: float
    description: str


def load_calls(
    world: World,
    agencies: Sequence[str],
    *,
    incidents_file: Path | None,
    rate: str | None,
    weights: Path | None,
    in_borough: Sequence[str] | None,
    days: float | None,
    seed: int,
    start: str | None,
    default_rate: str | None = None,
) -> Calls | None:
    """Replayed or Poisson calls (None when neither is asked for and there is no default)."""
    streams = incident_streams()
    borough_weights_csv, mix_for = streams.borough_weights_csv, streams.mix_for
    poisson_incidents, replay_csv = streams.poisson_incidents, streams.replay_csv

    if incidents_file is not None and rate is not None:
        raise InputError("incidents", "give --incidents or --rate, not both")
    keep = set(in_borough or ())
    unknown = sorted(keep - set(world.area.names))
    if unknown:
        raise InputError("in-borough", f"unknown borough(s): {', '.join(unknown)}")
    if incidents_file is not None:
        generated = replay_csv(incidents_file, seed, service_area=world.area)
        if not generated:
            raise InputError(
                "incidents", "the file has no incident with a location", source=str(incidents_file)
            )
        first = generated[0].at
        begin = (
            parse_start(start)
            if start
            else first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
        last = generated[-1].at
        after_last = (last.replace(day=1) + timedelta(days=32)).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )  # the first day of the month after the last record's month
        end = begin + timedelta(days=days) if days else after_last
        generated = [g for g in generated if begin <= g.at < end]
        what = f"{incidents_file.name} replayed (seed {seed})"
    else:
        rate = rate or default_rate
        if rate is None:
            return None
        per_week = parse_rate(rate)
        begin = parse_start(start)
        span = days if days is not None else 7.0
        end = begin + timedelta(days=span)
        if weights is not None:
            borough_weights = borough_weights_csv(weights, world.area.names)
        else:
            borough_weights = {b.name: b.geometry.area for b in world.area.boroughs}
        if keep:
            borough_weights = {b: w for b, w in borough_weights.items() if b in keep}
        mix = mix_for(agencies)
        generated = poisson_incidents(per_week, span, borough_weights, mix, world.area, seed, begin)
        what = f"Poisson {per_week:g}/week (seed {seed})"
    if keep:
        generated = [g for g in generated if g.borough in keep]
    calls = [g.to_incident(f"call-{k:06d}") for k, g in enumerate(generated)]
    duration = (end - begin).total_seconds()
    return Calls(
        calls,
        begin,
        duration,
        f"{len(calls)} calls, {what}, {duration / 86400:g} days from {begin:%Y-%m-%d}",
    )


# --- output ------------------------------------------------------------------------------


def fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(2)


@contextmanager
def handled() -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        raise fail(exc) from None
    except FileNotFoundError as exc:
        raise fail(exc) from None


def progress_bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=True,
    )


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def secs(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.0f}"


def emit(
    *,
    as_json: bool,
    as_csv: bool,
    payload: dict[str, Any],
    csv_headers: Sequence[str],
    csv_rows: Sequence[Sequence[Any]],
) -> bool:
    """Print JSON or CSV if asked; True when done (no rich tables wanted)."""
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return True
    if as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(csv_headers)
        writer.writerows(csv_rows)
        sys.stdout.write(buffer.getvalue())
        return True
    return False


def write_report(
    directory: Path, name: str, title: str, png: bytes, sections: list[Section], note: str
) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    png_path = directory / f"{name}.png"
    html_path = directory / f"{name}.html"
    png_path.write_bytes(png)
    html_path.write_text(html_page(title, sections, note), encoding="utf-8")
    return png_path, html_path


def rich_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    styles: Sequence[str | None] | None = None,
) -> Table:
    """A rich table; columns of figures are right-aligned, text columns left-aligned."""
    table = Table(title=title)
    for k, header in enumerate(headers):
        figures = all(_looks_numeric(row[k]) for row in rows) and k > 0
        table.add_column(header, justify="right" if figures else "left")
    for k, row in enumerate(rows):
        table.add_row(*(str(v) for v in row), style=(styles[k] if styles else None))
    return table


def _looks_numeric(value: Any) -> bool:
    return isinstance(value, int | float) or bool(re.fullmatch(r"[-+]?[\d.,]*%?|-|", str(value)))


def map_layers(
    world: World, network: Network, extra: Sequence[MapSite] = (), cells: tuple | None = None
) -> MapLayers:
    proj = world.area.projection
    sites = [
        MapSite(*proj.point(s.position.lat, s.position.lon), s.id) for s in network.sites.values()
    ]
    zones = [c.geometry for c in world.airspace.compiled] if world.airspace else []
    return MapLayers(zones=zones, sites=[*sites, *extra], cells=cells)


def note_for(world: World) -> str:
    airspace = (
        "open sky (no zones)"
        if world.airspace is None
        else (f"{len(world.airspace.zones)} zones, {world.airspace.buffer_m:g} m safety buffer")
    )
    return (
        f"Network: {world.network.name or world.network_path.name}. Airspace: {airspace}. "
        "Generated by skyshare whatif; figures come from the live dispatch code."
    )


# --- coverage ------------------------------------------------------------------------------


@app.command()
def coverage(
    sites: SitesOpt = None,
    within: WithinOpt = "120s",
    agency: AgencyOpt = None,
    incidents: IncidentsOpt = None,
    rate: RateOpt = None,
    weights: WeightsOpt = None,
    in_borough: InBoroughOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 1,
    start: StartOpt = None,
    cell: CellOpt = 100.0,
    airspace: AirspaceOpt = None,
    open_sky: OpenSkyOpt = False,
    boroughs: BoroughsOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    report: ReportOpt = None,
) -> None:
    """Per borough, the share of its area (and of its incidents) a drone reaches in time."""
    with handled():
        within_s = parse_seconds(within)
        world = load_world(sites, airspace, boroughs, open_sky)
        network = world.network
        calls = load_calls(
            world,
            list(network.agencies),
            incidents_file=incidents,
            rate=rate,
            weights=weights,
            in_borough=in_borough,
            days=days,
            seed=seed,
            start=start,
        )
        study = Study(
            world.area,
            world.airspace,
            at=calls.start if calls else parse_start(start),
            cell_m=cell,
            incidents=calls.incidents if calls else (),
        )
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
            paths = coverage_report(world, study, result, headers, rows, report)
        err.print(f"report: {paths[0]} and {paths[1]}")


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
    world: World, study: Study, result: CoverageReport, headers, rows, directory: Path
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
        directory, "whatif-coverage", "SkyShare what-if: coverage", png, sections, note_for(world)
    )


# --- simulate -----------------------------------------------------------------------------


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


GROUP_HEADERS = ["", "calls", "median s", "p90 s", "within 2 min", "waited", "unserved"]


@app.command("simulate")
def simulate_command(
    sites: SitesOpt = None,
    incidents: IncidentsOpt = None,
    rate: RateOpt = None,
    weights: WeightsOpt = None,
    in_borough: InBoroughOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 1,
    start: StartOpt = None,
    approval: ApprovalOpt = "30s",
    airspace: AirspaceOpt = None,
    open_sky: OpenSkyOpt = False,
    boroughs: BoroughsOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    report: ReportOpt = None,
) -> None:
    """Days of calls through the network with the live dispatcher: response times,
    waits, unserved calls and drone use."""
    with handled():
        world = load_world(sites, airspace, boroughs, open_sky)
        network = world.network
        calls = load_calls(
            world,
            list(network.agencies),
            incidents_file=incidents,
            rate=rate,
            weights=weights,
            in_borough=in_borough,
            days=days,
            seed=seed,
            start=start,
            default_rate="200/week",
        )
        assert calls is not None
        config = SimulationConfig(approval_delay_s=_seconds_or_zero(approval))
        result, summary = run_simulation(world, network, calls, config, as_json or as_csv)
    borough_rows = group_rows(summary.by_borough)
    payload = summary.to_json() | {"calls": calls.description, "decisions": result.decisions}
    if emit(
        as_json=as_json,
        as_csv=as_csv,
        payload=payload,
        csv_headers=["borough", *GROUP_HEADERS[1:]],
        csv_rows=borough_rows,
    ):
        pass
    else:
        out.print(f"{calls.description}; {result.decisions} dispatcher decisions.")
        out.print(
            rich_table(
                "Response by agency",
                ["agency", *GROUP_HEADERS[1:]],
                group_rows([summary.overall, *summary.by_agency]),
            )
        )
        out.print(rich_table("Response by borough", ["borough", *GROUP_HEADERS[1:]], borough_rows))
        out.print(
            rich_table(
                "Drone use by site",
                ["site", "drones", "sorties", "utilisation"],
                [[s.site_id, s.drones, s.sorties, pct(s.utilisation)] for s in summary.sites],
            )
        )
        out.print(
            f"Fleet utilisation {pct(summary.utilisation)}; reliefs {summary.reliefs}; "
            f"preemptions {summary.preemptions}."
        )
        for reason, n in sorted(summary.unserved_reasons.items(), key=lambda kv: -kv[1])[:6]:
            out.print(f"[yellow]unserved[/] {n} x {reason}")
    if report is not None:
        with handled():
            paths = simulation_report(world, network, calls, result, summary, report)
        err.print(f"report: {paths[0]} and {paths[1]}")


def _seconds_or_zero(text: str) -> float:
    return 0.0 if text.strip() in {"0", "0s"} else parse_seconds(text, "approval")


def simulation_report(world, network, calls, result, summary, directory: Path):
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
        Section(
            "Drone use",
            tables=[
                ReportTable(
                    "By site",
                    ["site", "drones", "sorties", "utilisation"],
                    [[s.site_id, s.drones, s.sorties, pct(s.utilisation)] for s in summary.sites],
                )
            ],
        ),
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
        directory, "whatif-simulate", "SkyShare what-if: simulation", png, sections, note_for(world)
    )


# --- optimize -------------------------------------------------------------------------------


def load_candidates(path: Path) -> list[CandidateSite]:
    """Candidate sites from a CSV (``id, name, lat, lon[, borough]``) or a network file."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        items = [(f"row {k + 2}", r) for k, r in enumerate(rows)]
    else:
        doc = read_document(path)
        sites = doc.get("sites") if isinstance(doc, dict) else None
        if not isinstance(sites, list):
            raise InputError("sites", "expected a list of sites", source=str(path))
        items = [(f"sites[{k}]", r) for k, r in enumerate(sites)]
    out_sites = []
    for item, raw in items:
        if not isinstance(raw, dict):
            raise InputError("(item)", "expected a mapping", source=str(path), item=item)
        try:
            lat, lon = float(raw["lat"]), float(raw["lon"])
        except KeyError as exc:
            raise InputError(str(exc.args[0]), "is required", source=str(path), item=item) from None
        except (TypeError, ValueError):
            raise InputError(
                "lat", "lat and lon must be numbers", source=str(path), item=item
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(
                "lat", f"({lat}, {lon}) is not a position", source=str(path), item=item
            )
        site_id = str(raw.get("id") or item)
        out_sites.append(
            CandidateSite(
                site_id, str(raw.get("name") or site_id), lat, lon, str(raw.get("borough") or "")
            )
        )
    if not out_sites:
        raise InputError("sites", "no candidate site in the file", source=str(path))
    return out_sites


def default_candidates(
    world: World, study: Study, lattice_m: float | None, at_least: int
) -> list[CandidateSite]:
    found: list[CandidateSite] = []
    default_path = world.settings.network_file
    if default_path.exists() and default_path.resolve() != world.network_path.resolve():
        found = candidates_from_network(load_network(default_path), world.network)
    if lattice_m is not None or len(found) < at_least:
        found += lattice_candidates(study, lattice_m or 2000.0)
    return found


@app.command()
def optimize(
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
    sites: SitesOpt = None,
    within: WithinOpt = "120s",
    agency: AgencyOpt = None,
    incidents: IncidentsOpt = None,
    rate: RateOpt = None,
    weights: WeightsOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 1,
    start: StartOpt = None,
    cell: CellOpt = 100.0,
    airspace: AirspaceOpt = None,
    open_sky: OpenSkyOpt = False,
    boroughs: BoroughsOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    report: ReportOpt = None,
) -> None:
    """Where to put K more sites: the greedy and the exact (MILP) answer, and the gap."""
    with handled():
        if (add is None) == (every_borough is None):
            raise InputError("add", "give --add K or --every-borough SHARE (one of them)")
        within_s = parse_seconds(within)
        horizon_s = max(within_s, parse_seconds(horizon, "horizon"))
        world = load_world(sites, airspace, boroughs, open_sky)
        network = world.network
        calls = load_calls(
            world,
            list(network.agencies),
            incidents_file=incidents,
            rate=rate,
            weights=weights,
            in_borough=None,
            days=days,
            seed=seed,
            start=start,
        )
        study = Study(
            world.area,
            world.airspace,
            at=calls.start if calls else parse_start(start),
            cell_m=cell,
            incidents=calls.incidents if calls else (),
        )
        pool = (
            load_candidates(candidates)
            if candidates
            else default_candidates(world, study, lattice, add or 1)
        )
        agencies = agency or list(network.agencies)
        if every_borough is not None:
            objective = Objective.COVERAGE
        step = stride or {Objective.COVERAGE: 1, Objective.P90: 3, Objective.MEAN: 5}[objective]
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
    rows_out = [
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
            paths = optimize_report(world, result, headers, rows_out, report)
        err.print(f"report: {paths[0]} and {paths[1]}")


def parse_share(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", text or "")
    if match is None or not 0 < float(match[1]) <= 100:
        raise InputError("every-borough", f"expected a share such as 25%, got {text!r}")
    return float(match[1]) / 100.0


def save_network(network: Network, added: Sequence[CandidateSite], path: Path) -> None:
    """The network plus ``added`` (shared sites of its first agency, one drone each)."""
    grown = with_sites(
        network,
        [(s.id, s.name, s.lat, s.lon, s.borough) for s in added],
        owner=next(iter(network.agencies)),
        drones_each=1,
    )
    doc = network_document(grown)
    path.write_text(
        "# Written by skyshare whatif optimize: the network with the sites it proposes.\n"
        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    err.print(f"network written: {path} ({len(added)} sites added)")


def every_borough_output(
    world: World,
    every: EveryBoroughReport,
    candidates: int,
    as_json: bool,
    as_csv: bool,
    report: Path | None,
) -> None:
    headers = ["borough", "most possible", "today", "greedy", "exact"]
    rows = [
        [b, pct(every.ceiling.get(b)), pct(v[0]), pct(v[1]), pct(v[2])]
        for b, v in every.borough_share.items()
    ]
    styles = ["yellow" if b in every.capped else None for b in every.borough_share]
    payload = every.to_json() | {"candidates": candidates}
    if not emit(
        as_json=as_json, as_csv=as_csv, payload=payload, csv_headers=headers, csv_rows=rows
    ):
        out.print(
            rich_table(
                f"Cover within {every.within_s:g}s, every borough at least "
                f"{every.share * 100:g}% ({candidates} candidate sites)",
                headers,
                rows,
                styles,
            )
        )
        for plan in (every.greedy, every.exact):
            if plan is None:
                continue
            solved = "" if plan.seconds is None else f" in {plan.seconds:.2f} s"
            bound = (
                f"; the solver stopped at its time limit and proved at least {plan.plan.bound:.0f}"
                if plan.plan.bound is not None
                else ""
            )
            out.print(
                f"{plan.plan.method}: {len(plan.sites)} sites{solved} "
                f"({plan.plan.status}{bound}); London covered "
                f"{pct(plan.evaluation.covered_share)}."
            )
        if every.capped:
            out.print(
                "[yellow]Capped by airspace or by the candidates' reach:[/] "
                + ", ".join(every.capped)
            )
    if report is not None and (every.exact or every.greedy) is not None:
        with handled():
            plan = every.exact or every.greedy
            proj = world.area.projection
            new = [MapSite(*proj.point(s.lat, s.lon), s.id, "new") for s in plan.sites]
            png = borough_map(
                world.area,
                {b: v[2] for b, v in every.borough_share.items()},
                title=f"{len(plan.sites)} more sites: every borough's cover within "
                f"{every.within_s:g}s",
                label="share covered after",
                layers=map_layers(world, world.network, new),
            )
            sections = [
                Section(
                    "Every borough",
                    [f"{len(plan.sites)} sites ({plan.plan.method})."],
                    charts=[Chart("map", png)],
                    tables=[ReportTable("By borough", headers, rows)],
                )
            ]
            paths = write_report(
                report,
                "whatif-every-borough",
                "SkyShare what-if: cover in every borough",
                png,
                sections,
                note_for(world),
            )
        err.print(f"report: {paths[0]} and {paths[1]}")


def optimize_report(world: World, result: OptimizeReport, headers, rows, directory: Path):
    proj = world.area.projection
    new = [MapSite(*proj.point(s.lat, s.lon), s.id, "new") for s in result.exact.sites]
    values = {b: v[2] for b, v in result.borough_share.items()}
    png = borough_map(
        world.area,
        values,
        title=f"{result.k} more sites (exact, {result.objective}): cover "
        f"within {result.within_s:g}s",
        label="share covered after",
        layers=map_layers(world, world.network, new),
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
        directory, "whatif-optimize", "SkyShare what-if: new sites", png, sections, note_for(world)
    )


# --- fleet ----------------------------------------------------------------------------------


@app.command()
def fleet(
    target: Annotated[str, typer.Option("--target", help='e.g. "90% within 120s".')],
    sites: SitesOpt = None,
    incidents: IncidentsOpt = None,
    rate: RateOpt = None,
    weights: WeightsOpt = None,
    in_borough: InBoroughOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 1,
    start: StartOpt = None,
    approval: ApprovalOpt = "30s",
    max_runs: Annotated[int, typer.Option("--max-runs", help="Simulations at most.")] = 30,
    per_agency: Annotated[
        bool, typer.Option("--per-agency", help="Every agency must meet the target.")
    ] = False,
    airspace: AirspaceOpt = None,
    open_sky: OpenSkyOpt = False,
    boroughs: BoroughsOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    report: ReportOpt = None,
) -> None:
    """How many drones each site needs to meet a target under the simulated load."""
    with handled():
        goal = Target.parse(target)
        world = load_world(sites, airspace, boroughs, open_sky)
        network = world.network
        calls = load_calls(
            world,
            list(network.agencies),
            incidents_file=incidents,
            rate=rate,
            weights=weights,
            in_borough=in_borough,
            days=days,
            seed=seed,
            start=start,
            default_rate="200/week",
        )
        assert calls is not None
        config = SimulationConfig(approval_delay_s=_seconds_or_zero(approval))
        quiet = as_json or as_csv
        plan = size_fleet(
            network,
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
            values = {g.name: g.within_share for g in plan.summary.by_borough}
            png = borough_map(
                world.area,
                values,
                title=f"Calls within {goal.within_s:g}s with the sized fleet",
                label="share of calls in time",
                layers=map_layers(world, network),
            )
            sections = [
                Section(
                    "Fleet",
                    [f"Target {goal}; {plan.drones} drones; ceiling {pct(plan.ceiling)}."],
                    charts=[Chart("map", png)],
                    tables=[ReportTable("Drones per site", headers, rows)],
                )
            ]
            paths = write_report(
                report,
                "whatif-fleet",
                "SkyShare what-if: fleet size",
                png,
                sections,
                note_for(world),
            )
        err.print(f"report: {paths[0]} and {paths[1]}")


# --- compare --------------------------------------------------------------------------------


@app.command()
def compare(
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
    within: WithinOpt = "120s",
    incidents: IncidentsOpt = None,
    rate: RateOpt = None,
    weights: WeightsOpt = None,
    in_borough: InBoroughOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 1,
    start: StartOpt = None,
    approval: ApprovalOpt = "30s",
    cell: CellOpt = 100.0,
    airspace: AirspaceOpt = None,
    open_sky: OpenSkyOpt = False,
    boroughs: BoroughsOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    report: ReportOpt = None,
) -> None:
    """Scenarios side by side on the same cells and calls; with --pooling, what sharing
    one network saves against separate per-agency networks."""
    with handled():
        within_s = parse_seconds(within)
        world = load_world(scenario_a, airspace, boroughs, open_sky)
        scenarios = [(scenario_a.stem, world.network)]
        if scenario_b is not None:
            scenarios.append((scenario_b.stem, load_network(scenario_b)))
        agencies = sorted({a for _, n in scenarios for a in n.agencies})
        calls = load_calls(
            world,
            agencies,
            incidents_file=incidents,
            rate=rate,
            weights=weights,
            in_borough=in_borough,
            days=days,
            seed=seed,
            start=start,
            default_rate="200/week",
        )
        assert calls is not None
        config = SimulationConfig(approval_delay_s=_seconds_or_zero(approval))
        study = Study(
            world.area, world.airspace, at=calls.start, cell_m=cell, incidents=calls.incidents
        )
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
    rows = [[k, *[_fmt(f.get(k)) for f in figures]] for k in keys]
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
            paths = compare_report(world, results, rows, names, pool_report, report)
        err.print(f"report: {paths[0]} and {paths[1]}")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value * 100:.1f}%" if 0 <= value <= 1 else f"{value:.0f}"
    return str(value)


def pooling_rows(report: PoolingReport) -> list[list[Any]]:
    rows = [
        [
            report.shared.name,
            report.shared.calls,
            report.shared.bases,
            report.shared.drones,
            "yes" if report.shared.feasible else "no",
            report.shared.note,
        ]
    ]
    for arm in report.separate:
        rows.append(
            [arm.name, arm.calls, arm.bases, arm.drones, "yes" if arm.feasible else "no", arm.note]
        )
    rows.append(
        [
            "separate, total",
            sum(a.calls for a in report.separate),
            report.separate_bases,
            report.separate_drones,
            "",
            "",
        ]
    )
    return rows


POOLING_HEADERS = ["network", "calls", "bases", "drones", "meets target", "note"]


def print_pooling(report: PoolingReport) -> None:
    out.print(
        rich_table(
            f"Shared against separate networks for {report.target} (same airframe: {report.model})",
            POOLING_HEADERS,
            pooling_rows(report),
        )
    )
    if report.feasible:
        out.print(
            f"Sharing needs {pct(report.bases_saving)} fewer bases and "
            f"{pct(report.drones_saving)} fewer drones for the same service level."
        )
    else:
        out.print("[yellow]Some networks cannot meet the target; no saving is claimed.[/]")


def compare_report(
    world: World,
    results: Sequence[ScenarioResult],
    rows,
    names,
    pool: PoolingReport | None,
    directory: Path,
):
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
        directory, "whatif-compare", "SkyShare what-if: scenarios", png, sections, note_for(world)
    )
