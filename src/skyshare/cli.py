"""The ``skyshare`` command line."""

from __future__ import annotations

import copy
import json
import os
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from skyshare import __version__

app = typer.Typer(
    help="SkyShare: dispatch and airspace coordination for a shared emergency-services "
    "drone network.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console()


def _version(value: bool) -> None:
    if value:
        console.print(f"skyshare {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run the control system, the demo, the simulators and the planners' tools."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run the API and dashboard with the configuration from SKYSHARE_* variables."""
    import uvicorn

    from skyshare.api.app import create_app

    uvicorn.run(create_app(), host=host, port=port, log_level="info", log_config=_log_config())


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with SkyShare's own from INFO up beside it, in its format: what
    start-up found (which aircraft were heard, on which links) is for the operator too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["skyshare"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """The demo: API + dashboard + the simulated London fleet, with embedded defaults.

    Generates API keys when none are configured and prints them.
    """
    import uvicorn

    from skyshare.api.app import create_app
    from skyshare.api.auth import generate_demo_keys
    from skyshare.config import Settings

    settings = Settings()
    if "SKYSHARE_FLEET" not in os.environ:
        settings = settings.model_copy(update={"fleet": "sim"})
    if not settings.api_keys and settings.api_keys_file is None:
        settings = settings.model_copy(
            update={"api_keys": generate_demo_keys(["police", "fire", "ambulance"])}
        )
    _print_keys(settings.api_keys, host, port)
    console.print(f"Database: {settings.database_url}")
    if settings.fleet == "sim":
        console.print(f"Booting {settings.sim_autopilot} vehicles in mavsim, one per drone ...")
    uvicorn.run(
        create_app(settings), host=host, port=port, log_level="info", log_config=_log_config()
    )


@app.command()
def sim(
    vehicles: Annotated[int, typer.Option(min=1, help="How many vehicles (sysid i+1).")] = 1,
    autopilot: Annotated[str, typer.Option(help="ardupilot or px4.")] = "ardupilot",
    home: Annotated[
        list[str] | None,
        typer.Option(
            help="LAT,LON of vehicle 0's home (default 51.5074,-0.1278); repeated, one per "
            "vehicle, e.g. each on its drone's dock."
        ),
    ] = None,
    speedup: Annotated[float, typer.Option(min=0.1, help="Sim seconds per wall second.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for every random choice.")] = 1,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="VEHICLE:NAME=VALUE[@SIM_SECONDS], e.g. 0:packet_loss=0.2"),
    ] = None,
) -> None:
    """Run mavsim: simulated ArduCopter or PX4 vehicles on the real SITL ports."""
    from simulators.mavsim import main as mavsim_main

    argv = [
        "--vehicles",
        str(vehicles),
        "--autopilot",
        autopilot,
        "--speedup",
        str(speedup),
        "--seed",
        str(seed),
    ]
    for h in home or []:
        argv += ["--home", h]
    for f in fault or []:
        argv += ["--fault", f]
    raise typer.Exit(mavsim_main(argv) or 0)


def _mount_whatif() -> None:
    from skyshare.whatif import app as whatif_app

    app.add_typer(whatif_app, name="whatif", help="What-if tools for borough coverage planners.")


_mount_whatif()


def _print_keys(api_keys: str, host: str, port: int) -> None:
    table = Table(title="API keys for this demo (header X-API-Key)")
    table.add_column("agency")
    table.add_column("role")
    table.add_column("key", style="bold")
    for entry in api_keys.split(","):
        key, agency, role = entry.split(":")
        table.add_row(agency, role, key)
    console.print(table)
    console.print(f"Dashboard: http://{host}:{port}/   API docs: http://{host}:{port}/docs")


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="A benchmark name, or 'all'.")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per benchmark.")] = False,
    quick: Annotated[bool, typer.Option(help="Smaller sizes, for a smoke run.")] = False,
) -> None:
    """Measure speed, each figure beside a baseline measured in the same run."""
    from skyshare.benchmarks import registry

    benches = registry()
    if name != "all" and name not in benches:
        known = ", ".join(benches) or "none registered"
        raise typer.BadParameter(f"unknown benchmark {name!r}; known: {known}", param_hint="NAME")
    for bench_name in benches if name == "all" else [name]:
        report = benches[bench_name].run(quick)
        if as_json:
            print(json.dumps(report.to_json()))
            continue
        table = Table(title=f"{report.name}: {report.description}")
        for column in ("figure", "value", "baseline", "baseline value", "ratio", "note"):
            table.add_column(column)
        for f in report.figures:
            table.add_row(
                f.name,
                f"{f.value:,.4g} {f.unit}",
                f.baseline_name,
                "" if f.baseline_value is None else f"{f.baseline_value:,.4g} {f.unit}",
                "" if f.ratio is None else f"{f.ratio:,.3g}x",
                f.note,
            )
        console.print(table)
        for key, value in report.context.items():
            console.print(f"  {key}: {value}")


if __name__ == "__main__":  # pragma: no cover
    app()
