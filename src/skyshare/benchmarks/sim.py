"""How many vehicles mavsim holds at 10 Hz in real time on one core (target: 200).

Every vehicle streams to a byte-counting client (as if a ground station were
connected: HEARTBEAT, GLOBAL_POSITION_INT and ATTITUDE at 10 Hz, VFR_HUD, status,
GPS, battery, EKF and mission reports) and half of them are cruising, so physics,
energy, failsafe checks and telemetry encoding all run. Measured in the same run:

* the cost of one vehicle-tick, beside the cost of encoding one GLOBAL_POSITION_INT
  with pymavlink (the baseline: the least a tick must do);
* the vehicles sustainable at 10 Hz on one core from that cost, beside the number a
  loop that only encoded one position message per tick would sustain;
* the same for a PX4 fleet (denser streams) sending over real UDP sockets, beside the
  same fleet streaming into memory (what the kernel's sendto costs);
* a paced run at speedup 1 with the target fleet: sim seconds per wall second
  (1.0 means it kept real time) and how often sim time had to slip.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from skyshare.benchmarks import Figure, Report, benchmark, best_of
from skyshare.config import REPO_ROOT

TICK_HZ = 10.0
ARM = mavlink.MAV_CMD_COMPONENT_ARM_DISARM
TAKEOFF = mavlink.MAV_CMD_NAV_TAKEOFF
SET_MODE = mavlink.MAV_CMD_DO_SET_MODE
TARGET_VEHICLES = 200


def _mavsim() -> Any:
    # ``simulators`` sits beside ``src`` in the repository; an editable install of the
    # package only puts ``src`` on the path, so fall back to the repository root.
    try:
        import simulators.mavsim as mavsim
    except ModuleNotFoundError:
        sys.path.insert(0, str(REPO_ROOT))
        import simulators.mavsim as mavsim
    return mavsim


class _Sink:
    """A client that only counts what it is sent."""

    def __init__(self) -> None:
        self.bytes = 0

    def send(self, data: bytes) -> None:
        self.bytes += len(data)


def _command(cmd: int, *params: float) -> Any:
    p = [*params, *([0.0] * (7 - len(params)))]
    msg = mavlink.MAVLink_command_long_message(0, 1, cmd, 0, *p)
    msg.pack(mavlink.MAVLink(None, 255, 190))
    return msg


async def _fleet(vehicles: int, autopilot: str = "ardupilot", udp: bool = False) -> Any:
    """A booted fleet, every other vehicle cruising towards a point 20 km away.

    Without ``udp`` every vehicle streams into a byte counter; with it (PX4 only) each
    streams over its own real UDP socket to one local port nobody reads, so the cost
    includes the kernel's sendto.
    """
    mavsim = _mavsim()
    extra: dict[str, Any] = {}
    if udp:
        sink_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink_sock.bind(("127.0.0.1", 0))
        extra = {"px4_api_ports": [sink_sock.getsockname()[1]] * vehicles, "px4_bind_base": 0}
    cfg = mavsim.SimConfig(
        vehicles=vehicles, autopilot=autopilot, boot_scale=0.2, tick_hz=TICK_HZ, seed=1, **extra
    )
    sim = mavsim.Simulator(cfg, paced=False, sockets=udp)
    await sim.start()
    if udp:
        sim.sink_socket = sink_sock  # closed with the fleet
    channel = _Sink()
    for v in sim.vehicles:
        if not udp:
            v.attach(channel)
    await sim.advance(9.0)
    px4 = autopilot == "px4"
    nan = float("nan")
    cruisers = sim.vehicles[::2]
    for v in cruisers:
        if px4:
            steps = [(ARM, 1), (TAKEOFF, 0, 0, 0, nan, nan, nan, nan)]
        else:
            steps = [(SET_MODE, 1, 4), (ARM, 1), (TAKEOFF, 0, 0, 0, 0, 0, 0, 40)]
        for cmd in steps:
            v.handle(channel, _command(*cmd))
    await sim.advance(20.0)
    for v in cruisers:
        lat, lon = v.frame.to_latlon(20_000.0, 5_000.0)
        if px4:
            msg = mavlink.MAVLink_command_int_message(
                v.sysid, 1, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                mavlink.MAV_CMD_DO_REPOSITION, 0, 0, -1, 1, 0, nan,
                round(lat * 1e7), round(lon * 1e7), 20,
            )  # fmt: skip
        else:
            msg = mavlink.MAVLink_set_position_target_global_int_message(
                0, v.sysid, 1, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, 0x0DF8,
                round(lat * 1e7), round(lon * 1e7), 40, 0, 0, 0, 0, 0, 0, 0, 0,
            )  # fmt: skip
        msg.pack(mavlink.MAVLink(None, 255, 190))
        v.handle(channel, msg)
    await sim.advance(10.0)
    flying = sum(1 for v in sim.vehicles if v.airborne and v.ground_speed > 4)
    assert flying >= len(cruisers), "the benchmark fleet is not cruising"
    return sim


async def _close(sim: Any) -> None:
    await sim.stop()
    sock = getattr(sim, "sink_socket", None)
    if sock is not None:
        sock.close()


def _tick_cost(vehicles: int, ticks: int, autopilot: str = "ardupilot", udp: bool = False) -> float:
    """Best-of wall seconds per vehicle-tick."""

    async def run() -> float:
        sim = await _fleet(vehicles, autopilot, udp)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(ticks):
                sim.step()
            best = min(best, (time.perf_counter() - start) / (ticks * vehicles))
        await _close(sim)
        return best

    return asyncio.run(run())


def _paced_realtime(vehicles: int, wall_s: float) -> tuple[float, int]:
    """Sim seconds per wall second at speedup 1, and how often sim time slipped."""

    async def run() -> tuple[float, int]:
        sim = await _fleet(vehicles)
        sim.start_pacing()
        start_sim, start_wall = sim.now, time.perf_counter()
        await asyncio.sleep(wall_s)  # the measurement window itself, not a synchronisation
        rate = (sim.now - start_sim) / (time.perf_counter() - start_wall)
        slips = sim.slips
        await _close(sim)
        return rate, slips

    return asyncio.run(run())


@benchmark("sim", "mavsim: vehicles held at 10 Hz in real time on one core (target >= 200)")
def run(quick: bool) -> Report:
    vehicles = 40 if quick else TARGET_VEHICLES
    ticks = 20 if quick else 50
    mav = mavlink.MAVLink(None, 1, 1)

    def encode_position() -> bytes:
        return mav.global_position_int_encode(
            123_456, 515_074_000, -1_278_000, 60_000, 40_000, 500, 300, -10, 9000
        ).pack(mav)

    encode_s = best_of(encode_position, repeat=5, number=2000)
    tick_s = _tick_cost(vehicles, ticks)
    sustainable = 1.0 / (tick_s * TICK_HZ)
    encode_only = 1.0 / (encode_s * TICK_HZ)
    px4_memory = _tick_cost(vehicles, ticks, "px4")
    px4_udp = _tick_cost(vehicles, ticks, "px4", udp=True)
    rate, slips = _paced_realtime(vehicles, 1.0 if quick else 3.0)
    return Report(
        name="sim",
        description="mavsim capacity at 10 Hz, one core, beside bare pymavlink encoding",
        figures=[
            Figure(
                "vehicle-tick cost",
                tick_s * 1e6,
                "us",
                "one GLOBAL_POSITION_INT encode (pymavlink)",
                encode_s * 1e6,
                note="physics, battery, failsafes and all due telemetry for one vehicle",
            ),
            Figure(
                "vehicles sustainable at 10 Hz on one core",
                sustainable,
                "vehicles",
                "a loop that only encodes one position per tick",
                encode_only,
                note=f"target >= {TARGET_VEHICLES}",
            ),
            Figure(
                "vehicles sustainable at 10 Hz over real UDP sockets (PX4 streams)",
                1.0 / (px4_udp * TICK_HZ),
                "vehicles",
                "the same PX4 fleet streaming into memory",
                1.0 / (px4_memory * TICK_HZ),
                note="PX4's denser default streams, each vehicle on its own socket",
            ),
            Figure(
                f"real-time factor with {vehicles} vehicles at speedup 1",
                rate,
                "sim s per wall s",
                "real time",
                1.0,
                note=f"{slips} slips; 1.0 means the fleet kept real time",
            ),
        ],
        context={"vehicles": vehicles, "tick_hz": TICK_HZ, "ticks_measured": ticks},
    )
