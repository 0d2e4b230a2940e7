"""mavsim as a whole: determinism, several vehicles, link faults, ports, config and CLI."""

from __future__ import annotations

import io
import itertools
import time
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as C

from simulators.mavsim import SimConfig, Simulator, run_from_args
from simulators.mavsim.cli import main
from simulators.mavsim.faults import parse_cli
from simulators.mavsim.probe import Probe, free_udp_port
from skyshare.domain.errors import InputError

pytestmark = pytest.mark.sitl


class Tape:
    """An in-process channel that records every byte the vehicle sends."""

    def __init__(self) -> None:
        self.data = bytearray()

    def send(self, data: bytes) -> None:
        self.data += data


def _command(cmd: int, *params: float, src: int = 255) -> Any:
    p = [*params, *([0.0] * (7 - len(params)))]
    msg = C.MAVLink_command_long_message(1, 1, cmd, 0, *p)
    msg.pack(C.MAVLink(None, src, 190))  # gives it a source system id, as if received
    return msg


async def _scripted_flight(seed: int) -> bytes:
    """Same inputs at the same sim times; returns everything vehicle 1 sent."""
    cfg = SimConfig(
        vehicles=2,
        autopilot="ardupilot",
        seed=seed,
        boot_scale=0.2,
        params={"FS_GCS_ENABLE": 1},
        wind=(4.0, 250.0),
    )
    sim = Simulator(cfg, paced=False, sockets=False)
    await sim.start()
    tape = Tape()
    v = sim.vehicles[1]
    v.attach(tape)
    v.inject(packet_loss=0.2)  # exercises the seeded random stream too
    script = [
        (9.0, _command(C.MAV_CMD_DO_SET_MODE, 1, 4)),
        (9.5, _command(C.MAV_CMD_COMPONENT_ARM_DISARM, 1)),
        (10.0, _command(C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 25)),
    ]
    for at, msg in script:
        await sim.advance(at - sim.now)
        v.handle(tape, msg)  # deliver past the lossy link: the script must land
    v.inject(gust=(8.0, 90.0, 5.0))
    await sim.advance(60.0)
    await sim.stop()
    return bytes(tape.data)


async def test_same_seed_same_bytes_different_seed_differs() -> None:
    first = await _scripted_flight(seed=11)
    again = await _scripted_flight(seed=11)
    other = await _scripted_flight(seed=12)
    assert len(first) > 20_000
    assert first == again
    assert first != other


async def test_vehicles_have_own_ports_and_system_ids() -> None:
    cfg = SimConfig(vehicles=3, autopilot="ardupilot", tcp_base_port=0, speedup=20)
    async with Simulator(cfg) as sim:
        conns = [sim.connection_string(i) for i in range(3)]
        assert len(set(conns)) == 3 and all(c.startswith("tcp:127.0.0.1:") for c in conns)
        for i, conn in enumerate(conns):
            probe = await Probe.connect(conn)
            hb = await probe.recv("HEARTBEAT")
            assert hb.get_srcSystem() == i + 1 and hb.get_srcComponent() == 1
            probe.close()


async def test_shared_udp_port_commands_reach_only_their_target() -> None:
    port = free_udp_port()
    probe = await Probe.connect(f"udpin:127.0.0.1:{port}")
    cfg = SimConfig(
        vehicles=3, autopilot="px4", speedup=20, px4_api_ports=[port] * 3, px4_bind_base=0
    )
    try:
        async with Simulator(cfg) as sim:
            seen = set()
            while len(seen) < 3:
                seen.add((await probe.recv("HEARTBEAT")).get_srcSystem())
            await sim.wait_for(lambda: all(v.prearm_ok for v in sim.vehicles), 30)
            # Like a router, the probe sends to every vehicle; target_system decides who acts.
            probe.route_to_all = True
            ack = await probe.command(2, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)
            assert ack.get_srcSystem() == 2 and ack.result == C.MAV_RESULT_ACCEPTED
            assert [v.armed for v in sim.vehicles] == [False, True, False]
    finally:
        probe.close()


async def test_link_faults_drop_lose_and_delay_messages() -> None:
    cfg = SimConfig(autopilot="ardupilot", tcp_base_port=0, speedup=40, seed=2)
    async with Simulator(cfg) as sim:
        v = sim.vehicles[0]
        probe = await Probe.connect(sim.connection_string(0))
        await probe.recv("HEARTBEAT")

        def count(kind: str, since: int) -> int:
            return sum(1 for m in probe.log[since:] if m.get_type() == kind)

        async def run_for(seconds: float) -> int:
            start, n = sim.now, len(probe.log)
            await sim.wait_for(lambda: sim.now >= start + seconds, seconds + 5)
            await probe.recv("HEARTBEAT")  # flush what is in flight
            return count("GLOBAL_POSITION_INT", n)

        clean = await run_for(20)
        n = len(probe.log)
        v.inject(packet_loss=0.5)
        lossy = await run_for(20)
        assert 0.35 * clean < lossy < 0.65 * clean

        # Lost packets show as gaps in the sequence numbers, as on a real radio link.
        def gaps(msgs: list[Any]) -> int:
            seqs = [m.get_seq() for m in msgs]
            return sum((b - a - 1) % 256 for a, b in itertools.pairwise(seqs))

        assert gaps(probe.log[:n]) == 0
        assert 0.7 < gaps(probe.log[n:]) / len(probe.log[n:]) < 1.4  # one lost per one received
        v.inject(packet_loss=0.0, link_drop=True)
        start, n = sim.now, len(probe.log)
        await sim.wait_for(lambda: sim.now >= start + 10, 20)
        assert count("HEARTBEAT", n) == 0
        v.inject(link_drop=False, latency_s=1.5)
        t0 = sim.now
        ack = await probe.command(1, C.MAV_CMD_DO_SET_MODE, 1, 0)
        assert ack.result == C.MAV_RESULT_ACCEPTED
        assert 3.0 <= sim.now - t0 <= 4.5  # 1.5 s each way, plus the wire
        probe.close()


async def test_gust_pushes_the_vehicle_and_it_recovers() -> None:
    cfg = SimConfig(autopilot="ardupilot", boot_scale=0.2, seed=1)
    sim = Simulator(cfg, paced=False, sockets=False)
    await sim.start()
    v = sim.vehicles[0]
    tape = Tape()
    v.attach(tape)
    await sim.advance(9.0)
    for msg in (
        _command(C.MAV_CMD_DO_SET_MODE, 1, 4),
        _command(C.MAV_CMD_COMPONENT_ARM_DISARM, 1),
        _command(C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 20),
    ):
        v.handle(tape, msg)
    await sim.wait_for(lambda: v.alt_rel > 19.8 and v.ground_speed < 0.01, 60)
    hover = (v.body.n, v.body.e)
    v.inject(gust=(10.0, 270.0, 3.0))  # from the west: pushes east
    drift = 0.0

    def recovered() -> bool:
        nonlocal drift
        drift = max(drift, v.body.e - hover[1])
        return drift > 1 and abs(v.body.e - hover[1]) < 0.3

    await sim.wait_for(recovered, 60)
    assert drift > 1.0
    await sim.stop()


def test_fence_items_become_geometry_with_exclusions_and_circles() -> None:
    from simulators.mavsim import fence
    from simulators.mavsim.frame import LocalFrame
    from simulators.mavsim.mission import Item

    frame = LocalFrame(51.5, -0.1, 0.0)

    def at(n: float, e: float) -> tuple[int, int]:
        lat, lon = frame.to_latlon(n, e)
        return round(lat * 1e7), round(lon * 1e7)

    square = [(-100, -100), (-100, 100), (100, 100), (100, -100)]
    items = [
        Item(i, 0, fence.POLY_IN, param1=4, x=at(n, e)[0], y=at(n, e)[1], mission_type=1)
        for i, (n, e) in enumerate(square)
    ]
    items.append(Item(4, 0, fence.CIRCLE_OUT, param1=20, x=at(50, 50)[0], y=at(50, 50)[1]))
    items.append(Item(5, 0, fence.RETURN_POINT, x=at(0, 10)[0], y=at(0, 10)[1], z=30))
    assert fence.validate(items) is None
    geo = fence.build(items, frame)
    assert not geo.breached(0, 0, union_of_inclusions=False)
    assert geo.breached(150, 0, union_of_inclusions=False)  # outside the square
    assert geo.breached(55, 45, union_of_inclusions=False)  # inside the excluded circle
    assert geo.return_point is not None and abs(geo.return_point[1] - 10) < 0.01
    # A second inclusion zone: ArduPilot needs both, PX4 either.
    items.append(Item(6, 0, fence.CIRCLE_IN, param1=30, x=at(180, 0)[0], y=at(180, 0)[1]))
    geo = fence.build(items, frame)
    assert geo.breached(190, 0, union_of_inclusions=False)
    assert not geo.breached(190, 0, union_of_inclusions=True)
    assert "does not have 4 matching vertices" in (fence.validate(items[1:]) or "")


def test_config_and_fault_errors_name_the_field() -> None:
    with pytest.raises(InputError, match="vehicles"):
        SimConfig(vehicles=0)
    with pytest.raises(InputError, match="autopilot"):
        SimConfig(autopilot="inav")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="homes"):
        SimConfig(vehicles=2, homes=[(51.0, 0.0)])
    with pytest.raises(InputError, match="speedup"):
        SimConfig(speedup=0)
    with pytest.raises(InputError, match="packet_loss"):
        parse_cli("0:packet_loss=1.5")
    with pytest.raises(InputError, match="unknown fault"):
        parse_cli("0:engine_fire=1")
    assert parse_cli("1:gps_loss=true@120") == (1, "gps_loss", True, 120.0)
    assert parse_cli("0:gust=8,270,5") == (0, "gust", (8.0, 270.0, 5.0), None)
    sim = Simulator(SimConfig(), paced=False, sockets=False)
    with pytest.raises(InputError, match="latency_s"):
        sim.vehicles[0].inject(latency_s=-1)


def test_cli_serves_for_a_duration_and_applies_faults() -> None:
    out = io.StringIO()
    code = run_from_args(
        2,
        "px4",
        "47.3977,8.5456",
        speedup=50,
        seed=1,
        px4_api_base=free_udp_port(),
        px4_bind_base=0,
        px4_gcs_port=None,
        faults=["1:gps_loss=1@2"],
        duration=6,
        out=out,
    )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("vehicle 0 sysid 1: udpin:0.0.0.0:")
    assert lines[1].startswith("vehicle 1 sysid 2: udpin:0.0.0.0:")
    assert lines[2] == "sim 2.0 s: vehicle 1 gps_loss=True"
    assert main(["--vehicles", "0"]) == 2  # a clear error, not a traceback


async def test_sim_time_never_runs_ahead_of_speedup() -> None:
    async with Simulator(SimConfig(speedup=20, tcp_base_port=0)) as sim:
        wall0, sim0 = time.perf_counter(), sim.now
        await sim.wait_for(lambda: sim.now >= sim0 + 6.0, 10)
        elapsed = time.perf_counter() - wall0
        assert elapsed >= (sim.now - sim0 - 2 * sim.dt) / 20


async def test_a_landed_aircraft_charges_on_a_dock_and_drains_elsewhere() -> None:
    dock, field = (51.5074, -0.1278), (51.5200, -0.1000)
    cfg = SimConfig(vehicles=2, homes=[dock, field], chargers=[dock], charge_pct_per_s=0.5)
    sim = Simulator(cfg, paced=False, sockets=False)
    await sim.start()
    try:
        on_dock, in_field = sim.vehicles
        for v in sim.vehicles:
            v.recover(v.lat, v.lon, battery_pct=50.0)  # a crew swaps in a half pack
        await sim.advance(20.0)
        assert on_dock.battery_remaining == pytest.approx(0.60, abs=0.005)  # 0.5 %/s
        assert in_field.battery_remaining < 0.50  # idle draw, no charger
        await sim.advance(100.0)
        assert on_dock.battery_remaining == 1.0  # full, and no further
        with pytest.raises(InputError, match="chargers"):
            SimConfig(chargers=[(95.0, 0.0)])
        with pytest.raises(InputError, match="battery_pct"):
            on_dock.recover(*dock, battery_pct=120.0)
    finally:
        await sim.stop()
