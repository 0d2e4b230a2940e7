"""An independent ground station, MAVProxy (from PyPI), flies mavsim's ArduCopter personality.

MAVProxy runs as a subprocess driven through its command prompt on stdin, exactly as
a person would type: mode GUIDED, arm throttle, takeoff, guided LAT LON ALT, mode RTL.
Each step waits on the simulator's truth (not on MAVProxy's printout) before the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest

from simulators.mavsim import SimConfig, Simulator
from skyshare.geo import haversine_m

pytestmark = pytest.mark.sitl

MAVPROXY = Path(sys.executable).with_name("mavproxy.py")


class Console:
    """MAVProxy's stdin/stdout, with a wait for a line of output."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self._changed.set()

    async def saw(self, text: str, timeout: float = 30.0) -> None:
        async def scan() -> None:
            while not any(text in line for line in self.lines):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(scan(), timeout)

    async def type(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((command + "\n").encode())
        await self.proc.stdin.drain()

    async def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()


@pytest.mark.skipif(not MAVPROXY.exists(), reason="MAVProxy is not installed in this venv")
async def test_mavproxy_arms_takes_off_and_flies_guided(tmp_path: Path) -> None:
    cfg = SimConfig(autopilot="ardupilot", tcp_base_port=0, speedup=10, boot_scale=0.2, seed=7)
    async with Simulator(cfg) as sim:
        v = sim.vehicles[0]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(MAVPROXY), "--master", sim.connection_string(0),
            "--no-state", "--default-modules", "link,param,wp,fence,arm,mode,cmdlong,misc",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        console = Console(proc)
        try:
            await console.saw("Detected vehicle 1:1")
            await sim.wait_for(lambda: v.prearm_ok and "position_ready" in v.reached, 60)

            await console.type("mode GUIDED")
            await sim.wait_for(lambda: v.mode == "GUIDED", 30)
            await console.type("arm throttle")
            await sim.wait_for(lambda: v.armed, 30)
            await console.type("takeoff 20")
            await sim.wait_for(lambda: v.alt_rel > 19.5, 60)
            assert v.mode == "GUIDED" and v.armed

            lat, lon = v.frame.to_latlon(90.0, 40.0)
            await console.type(f"guided {lat:.7f} {lon:.7f} 20")
            await sim.wait_for(lambda: haversine_m(v.lat, v.lon, lat, lon) < 1.0, 60)
            assert abs(v.alt_rel - 20.0) < 0.5

            await console.type("mode RTL")
            await sim.wait_for(lambda: not v.armed, 150)
            assert haversine_m(v.lat, v.lon, v.home_lat, v.home_lon) < 0.5
            assert v.alt_rel == pytest.approx(0.0, abs=0.01)

            await console.saw("Got COMMAND_ACK: NAV_TAKEOFF: ACCEPTED")
            await console.saw("DISARMED")
            assert any(
                "Got COMMAND_ACK: COMPONENT_ARM_DISARM: ACCEPTED" in x for x in console.lines
            )
            assert sim.errors == []
        finally:
            await console.close()
