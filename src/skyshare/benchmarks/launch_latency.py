"""Figure 3 of ``skyshare bench dispatch``: incident POST to the first MAVLink command on
the wire, under auto-launch, at a steady rate of incidents.

The whole live path runs: HTTP (uvicorn) -> validation -> dispatcher -> SQLite
transaction (in the store's process, as deployed) -> event bus -> flight director ->
route and fence -> fleet link, stamped when the first command for the launching vehicle
is written to its TCP socket. mavsim runs in a child process, as real aircraft are not
on the control system's CPU, and at a lower priority (niceness 10), so that on a machine
short of cores it takes what the control system leaves rather than the other way round.
The load generator (``loadgen``) runs in a process too, as control rooms are not on the
control system's CPU either. The same-run baseline
is an authenticated ``GET /api/v1/sites`` round trip under the same load: the floor of
the HTTP stack.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from uvicorn.loops.auto import auto_loop_factory

from skyshare.benchmarks import Figure

KEY = "bench-admin-key-0123"
# What a ground station sends all the time, whether or not anything is launching.
BACKGROUND = {"HEARTBEAT", "TIMESYNC", "PING", "REQUEST_DATA_STREAM", "SYSTEM_TIME"}
BACKGROUND_COMMANDS = {511, 512, 520}  # message intervals, message and version requests
SIMULATOR_NICENESS = 10


def _is_command(msg: Any) -> bool:
    kind = msg.get_type()
    if kind in BACKGROUND:
        return False
    return not (kind == "COMMAND_LONG" and msg.command in BACKGROUND_COMMANDS)


def _clocks(store_pid: int | None) -> tuple[float, float, float]:
    """CPU seconds so far of this thread (the event loop's), this process, and the store's
    process (Linux's /proc; 0 if the store runs in this process)."""
    store_s = 0.0
    if store_pid is not None:
        fields = Path(f"/proc/{store_pid}/stat").read_text().rsplit(")", 1)[1].split()
        store_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return time.thread_time(), time.process_time(), store_s


async def _measure(n: int, rate_hz: float, seed: int) -> dict[str, Any]:
    from skyshare.api.app import create_app
    from skyshare.config import Settings
    from skyshare.fleet.link import FleetLink
    from skyshare.runtime.runtime import Runtime
    from skyshare.runtime.simfleet import start_simulated_fleet

    first_seen: dict[int, float] = {}
    original = FleetLink.send_to

    def stamped(self: FleetLink, vehicle: Any, message: Any) -> bool:
        sent = original(self, vehicle, message)
        if sent and _is_command(message):
            first_seen.setdefault(vehicle.system_id, time.perf_counter())
        return sent

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            mqtt_url=None,
            api_keys=f"{KEY}:*:admin",
        )
        runtime = await Runtime.create(settings)
        fleet = await start_simulated_fleet(
            runtime, speedup=1.0, boot_scale=0.1, separate_process=True
        )
        if fleet.child is not None:  # the aircraft are not on this machine: they yield to it
            os.setpriority(os.PRIO_PROCESS, fleet.child.pid, SIMULATOR_NICENESS)
        if fleet.director.warmed is not None:  # start-up work, as in a deployment
            await fleet.director.warmed
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, runtime=runtime),
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="on",
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        FleetLink.send_to = stamped  # type: ignore[method-assign]
        first_seen.clear()
        rng = random.Random(seed)
        area = runtime.world.area
        calls = []
        while len(calls) < n:  # calls spread over London, inside the service area
            lat, lon = rng.uniform(51.30, 51.68), rng.uniform(-0.48, 0.30)
            if area.contains(lat, lon):
                calls.append({"lat": lat, "lon": lon, "external_id": f"bench-{seed}-{len(calls)}"})
        spec = {"base": base, "key": KEY, "rate_hz": rate_hz, "calls": calls}
        try:
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "skyshare.benchmarks.loadgen",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            start = _clocks(runtime.writer.pid)
            out, _ = await client.communicate(json.dumps(spec).encode())
            end = _clocks(runtime.writer.pid)
            loop_s, process_s, store_s = (b - a for a, b in zip(start, end, strict=True))
            if client.returncode != 0:
                raise RuntimeError(f"load generator exited with {client.returncode}")
            load = json.loads(out)
            launched = [c for c in load["posted"] if c["status"] == "dispatched" and c["drone_id"]]
            wanted = {fleet.system_ids[c["drone_id"]] for c in launched}
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline and not wanted <= set(first_seen):
                await asyncio.sleep(0.05)
        finally:
            FleetLink.send_to = original  # type: ignore[method-assign]
            server.should_exit = True
            await serving
            await fleet.stop()
            await runtime.shutdown()
    # A drone's first command belongs to the last call it was given before it: a sortie
    # that failed before commanding anything hands its drone back, and a later call may
    # take it. The call it failed is not a launch measured.
    latencies = []
    for drone_id in {c["drone_id"] for c in launched}:
        seen = first_seen.get(fleet.system_ids[drone_id])
        if seen is None:
            continue
        sent = [c["sent"] for c in launched if c["drone_id"] == drone_id and c["sent"] <= seen]
        if sent:
            latencies.append(seen - max(sent))
    return {
        "latencies": latencies,
        "floor": load["floor"],
        "launched": len(launched),
        "posted": n,
        # The server's CPU per call while the calls came in (background work included):
        # what sets the queueing, and unlike latency, little moved by the rest of the
        # shared machine. The store's process counts too.
        "cpu_per_call_ms": (process_s + store_s) / n * 1000,
        "loop_per_call_ms": loop_s / n * 1000,
        "store_per_call_ms": store_s / n * 1000,
    }


def _run(n: int, rate_hz: float, seed: int) -> dict[str, Any]:
    # On the event loop the service runs on: ``skyshare serve`` leaves uvicorn to choose
    # ("auto": uvloop where installed, as it is with uvicorn[standard]).
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        return runner.run(_measure(n, rate_hz, seed))


def launch_latency_figures(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    n, rate = (40, 50.0) if quick else (90, 50.0)
    # In a fresh interpreter, as the service runs: not beside the memory and caches the
    # benchmark's other figures left in this process.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(_run, n, rate, 11).result()
    lat = np.array(result["latencies"]) * 1000
    floor = np.array(result["floor"]) * 1000
    p99, floor99 = float(np.percentile(lat, 99)), float(np.percentile(floor, 99))
    figures = [
        Figure(
            "POST to first MAVLink command, p50",
            float(np.percentile(lat, 50)),
            "ms",
            "GET /api/v1/sites p50",
            float(np.percentile(floor, 50)),
        ),
        Figure(
            "POST to first MAVLink command, p99",
            p99,
            "ms",
            "GET /api/v1/sites p99",
            floor99,
            note=f"target < 50 ms at {rate:g} incidents/s",
        ),
    ]
    context = {
        "launch_latency": f"{len(lat)} of {result['posted']} calls auto-launched and measured; "
        f"median {statistics.median(result['latencies']) * 1000:.1f} ms",
        "launch_server_cpu": f"{result['cpu_per_call_ms']:.1f} ms per call "
        f"({result['loop_per_call_ms']:.1f} ms of it on the event loop, "
        f"{result['store_per_call_ms']:.1f} ms in the store's process)",
    }
    return figures, context
