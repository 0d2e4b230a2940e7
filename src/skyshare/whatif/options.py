"""The typer option types the ``whatif`` commands share, so each is spelt once.

Imported as a module: ``sites: opt.Sites = None``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Sites = Annotated[
    Path | None, typer.Option("--sites", help="Network file (YAML): sites, drones, sharing.")
]
Airspace = Annotated[Path | None, typer.Option("--airspace", help="Zones (GeoJSON or ED-269).")]
OpenSky = Annotated[
    bool, typer.Option("--open-sky", help="Ignore airspace: straight lines everywhere.")
]
Boroughs = Annotated[
    Path | None, typer.Option("--boroughs", help="Service area (GeoJSON of boroughs).")
]
Within = Annotated[str, typer.Option("--within", help="Response time, e.g. 120s or 2min.")]
Incidents = Annotated[
    Path | None,
    typer.Option("--incidents", help="police.uk-style CSV of real incidents to replay."),
]
Rate = Annotated[str | None, typer.Option("--rate", help="Poisson calls, e.g. 200/week or 30/day.")]
Weights = Annotated[
    Path | None,
    typer.Option(
        "--weights",
        help="CSV with a borough column: calls per borough for --rate (default: borough area).",
    ),
]
InBorough = Annotated[
    list[str] | None,
    typer.Option("--in-borough", help="Keep only calls in this borough (repeatable)."),
]
Days = Annotated[float | None, typer.Option("--days", help="Days to simulate.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of every random draw.")]
Start = Annotated[
    str | None,
    typer.Option("--start", help="ISO time the period starts (default 2025-03-03T00:00Z)."),
]
Approval = Annotated[
    str, typer.Option("--approval", help="Operator approval time for calls not auto-launched.")
]
Cell = Annotated[float, typer.Option("--cell", help="Grid cell size in metres.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
Csv = Annotated[bool, typer.Option("--csv", help="Print the main table as CSV on stdout.")]
Report = Annotated[
    Path | None, typer.Option("--report", help="Write a PNG map and an HTML page here.")
]
Agency = Annotated[
    list[str] | None, typer.Option("--agency", help="Only this agency (repeatable).")
]
