"""Command line: ``python -m simulators.mavsim`` and the function ``skyshare sim`` calls.

Runs until Ctrl-C (or ``--duration`` sim seconds), printing each vehicle's connection
string first. Faults can be scheduled at sim times: ``--fault 1:gps_loss=1@120``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from simulators.mavsim.config import SimConfig, parse_home
from simulators.mavsim.faults import parse_cli
from simulators.mavsim.simulator import Simulator
from skyshare.domain.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.mavsim",
        description="Multi-vehicle MAVLink simulator (ArduCopter / PX4 personalities).",
    )
    p.add_argument("--vehicles", type=int, default=1, help="number of vehicles (sysid i+1)")
    p.add_argument("--autopilot", choices=("ardupilot", "px4"), default="ardupilot")
    p.add_argument("--home", action="append", default=None,
                   help="LAT,LON of vehicle 0 (default 51.5074,-0.1278); give it once per "
                   "vehicle to place each, e.g. on its dock")  # fmt: skip
    p.add_argument("--spacing", type=float, default=0.0,
                   help="metres between vehicles' homes, in a row eastwards")  # fmt: skip
    p.add_argument("--speedup", type=float, default=1.0, help="sim seconds per wall second")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tick-hz", type=float, default=10.0, help="physics/stream rate, sim Hz")
    p.add_argument("--boot-scale", type=float, default=1.0, help="scales boot milestones")
    p.add_argument("--tcp-base-port", type=int, default=5760, help="ArduPilot: 5760+10*i")
    p.add_argument("--px4-api-base", type=int, default=14540, help="PX4: sends to 14540+i")
    p.add_argument("--px4-bind-base", type=int, default=14580, help="PX4: binds 14580+i; 0 free")
    p.add_argument("--px4-gcs-port", type=str, default="14550", help="PX4 GCS link or 'none'")
    p.add_argument("--wind", type=str, default="0,0", help="SPEED_MPS,FROM_DEG")
    p.add_argument("--fault", action="append", default=[],
                   help="VEHICLE:NAME=VALUE[@SIM_SECONDS], e.g. 0:packet_loss=0.2")  # fmt: skip
    p.add_argument("--wait-for-client", action="store_true",
                   help="ArduPilot: boot when the first TCP client connects (as SITL)")  # fmt: skip
    p.add_argument("--duration", type=float, default=None, help="stop after this many sim s")
    p.add_argument("--quiet", action="store_true")
    return p


def _homes(home: tuple[float, float], vehicles: int, spacing: float) -> list[tuple[float, float]]:
    from simulators.mavsim.frame import LocalFrame

    frame = LocalFrame(home[0], home[1], 0.0)
    return [frame.to_latlon(0.0, i * spacing) for i in range(vehicles)]


def run_from_args(
    vehicles: int = 1,
    autopilot: str = "ardupilot",
    home: tuple[float, float] | str = (51.5074, -0.1278),
    speedup: float = 1.0,
    seed: int = 0,
    *,
    spacing: float = 0.0,
    tick_hz: float = 10.0,
    boot_scale: float = 1.0,
    tcp_base_port: int = 5760,
    px4_api_base: int = 14540,
    px4_bind_base: int = 14580,
    px4_gcs_port: int | None = 14550,
    wind: tuple[float, float] = (0.0, 0.0),
    faults: Sequence[str] = (),
    wait_for_client: bool = False,
    duration: float | None = None,
    out: TextIO | None = None,
    homes: Sequence[tuple[float, float] | str] | None = None,
) -> int:
    """Build the config, serve until Ctrl-C or ``duration`` sim seconds; exit code.
    ``homes``: one per vehicle, instead of ``home`` and ``spacing``."""
    out = out or sys.stdout
    home_ll = parse_home(home) if isinstance(home, str) else home
    each = [parse_home(h) if isinstance(h, str) else h for h in homes] if homes else None
    cfg = SimConfig(
        vehicles=vehicles,
        autopilot=autopilot,  # type: ignore[arg-type]
        home=each[0] if each else home_ll,
        homes=each or (_homes(home_ll, vehicles, spacing) if spacing else None),
        speedup=speedup,
        seed=seed,
        tick_hz=tick_hz,
        boot_scale=boot_scale,
        tcp_base_port=tcp_base_port,
        px4_api_base=px4_api_base,
        px4_bind_base=px4_bind_base,
        px4_gcs_port=px4_gcs_port,
        px4_gcs_bind_base=0 if px4_bind_base == 0 else 18570,
        wind=wind,
        ardupilot_wait_for_client=wait_for_client,
    )
    scheduled = [parse_cli(f) for f in faults]
    for index, name, _, _ in scheduled:
        if not 0 <= index < vehicles:
            raise InputError("fault", f"vehicle {index} does not exist ({name})")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(cfg, scheduled, duration, out))
    return 0


async def _serve(
    cfg: SimConfig,
    scheduled: list[tuple[int, str, Any, float | None]],
    duration: float | None,
    out: TextIO,
) -> None:
    async with Simulator(cfg) as sim:
        for i in range(cfg.vehicles):
            print(f"vehicle {i} sysid {i + 1}: {sim.connection_string(i)}", file=out, flush=True)
        tasks = [asyncio.create_task(_apply_fault(sim, *f, out)) for f in scheduled]
        try:
            if duration is None:
                await asyncio.Event().wait()
            else:
                await sim.wait_for(lambda: sim.now >= duration, duration + 1.0)
        finally:
            for t in tasks:
                t.cancel()


async def _apply_fault(
    sim: Simulator, index: int, name: str, value: Any, at: float | None, out: TextIO
) -> None:
    if at is not None:
        await sim.wait_for(lambda: sim.now >= at, at + 1.0)
    sim.vehicles[index].inject(**{name: value})
    print(f"sim {sim.now:.1f} s: vehicle {index} {name}={value}", file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        wind_parts = [float(x) for x in args.wind.split(",")]
        if len(wind_parts) != 2:
            raise ValueError
    except ValueError:
        print(f"error: --wind: expected SPEED,FROM_DEG, got {args.wind!r}", file=sys.stderr)
        return 2
    gcs = None if args.px4_gcs_port.lower() == "none" else int(args.px4_gcs_port)
    homes = args.home or ["51.5074,-0.1278"]
    try:
        return run_from_args(
            args.vehicles,
            args.autopilot,
            homes[0],
            args.speedup,
            args.seed,
            spacing=args.spacing,
            tick_hz=args.tick_hz,
            boot_scale=args.boot_scale,
            tcp_base_port=args.tcp_base_port,
            px4_api_base=args.px4_api_base,
            px4_bind_base=args.px4_bind_base,
            px4_gcs_port=gcs,
            wind=(wind_parts[0], wind_parts[1]),
            faults=args.fault,
            wait_for_client=args.wait_for_client,
            duration=args.duration,
            out=io.StringIO() if args.quiet else None,
            homes=homes if len(homes) > 1 else None,  # SimConfig checks there is one each
        )
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
