"""mavsim in a child process, configured by JSON on stdin.

The parent writes one JSON object (``SimConfig`` fields) and a newline; the child starts
the simulator, prints one JSON line ``{"connections": [...]}`` and runs until its stdin
closes (the parent went away) or it is terminated. Further lines on stdin are commands:
``{"recover": {"index": i, "lat": ..., "lon": ..., "battery_pct": ...}}`` has a ground
crew carry vehicle ``i`` (``Vehicle.recover``); a bad command is reported on stderr and
skipped. Used to keep the simulated aircraft off the control system's CPU and event
loop, as real aircraft are.
"""

from __future__ import annotations

import asyncio
import json
import sys

from simulators.mavsim.config import SimConfig
from simulators.mavsim.simulator import Simulator


async def _serve(config: SimConfig) -> None:
    async with Simulator(config) as sim:
        connections = [sim.connection_string(i) for i in range(config.vehicles)]
        print(json.dumps({"connections": connections}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):  # "": closed
            try:
                _command(sim, json.loads(line))
            except (ValueError, KeyError, IndexError, TypeError) as exc:  # InputError too
                print(f"mavsim: command {line.strip()!r} refused: {exc}", file=sys.stderr)


def _command(sim: Simulator, command: dict) -> None:
    recover = command["recover"]
    sim.vehicles[int(recover["index"])].recover(
        float(recover["lat"]), float(recover["lon"]), recover.get("battery_pct")
    )


def main() -> int:
    fields = json.loads(sys.stdin.readline())
    for key in ("homes",):
        if fields.get(key) is not None:
            fields[key] = [tuple(h) for h in fields[key]]
    asyncio.run(_serve(SimConfig(**fields)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
