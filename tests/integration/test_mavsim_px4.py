"""mavsim's PX4 personality over real UDP, as the measured PX4 v1.16 SITL behaves."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pymavlink.dialects.v20 import ardupilotmega as C

from simulators.mavsim import SimConfig, Simulator
from simulators.mavsim.probe import Probe, free_udp_port, item_int, upload
from skyshare.geo import haversine_m

pytestmark = pytest.mark.sitl

ACCEPTED = C.MAV_RESULT_ACCEPTED
TEMP_REJECTED = C.MAV_RESULT_TEMPORARILY_REJECTED
HOLD, TAKEOFF, MISSION, RTL, LAND = 0x03040000, 0x02040000, 0x04040000, 0x05040000, 0x06040000
OFFBOARD, POSCTL, ORBIT = 0x00060000, 0x00030000, 0x01030000
HOME = (47.3977, 8.5456)
NAN = math.nan


@asynccontextmanager
async def px4(speedup: float = 40.0, **kw: object) -> AsyncIterator[tuple[Simulator, Probe]]:
    port = free_udp_port()
    probe = await Probe.connect(f"udpin:127.0.0.1:{port}", sysid=245, compid=190)
    cfg = SimConfig(
        autopilot="px4",
        home=HOME,
        speedup=speedup,
        seed=5,
        px4_api_ports=[port],
        px4_bind_base=0,
        **kw,  # type: ignore[arg-type]
    )
    try:
        async with Simulator(cfg) as sim:
            yield sim, probe
            assert sim.errors == []
    finally:
        probe.close()


async def set_mode(probe: Probe, main: int, sub: int = 0) -> tuple[int, int]:
    """PX4 answers DO_SET_MODE twice; returns both results."""
    acks = probe.expect_n("COMMAND_ACK", 2, lambda m: m.command == C.MAV_CMD_DO_SET_MODE)
    probe.send(
        C.MAVLink_command_long_message(1, 1, C.MAV_CMD_DO_SET_MODE, 0, 1, main, sub, 0, 0, 0, 0)
    )
    first, second = await acks
    return int(first.result), int(second.result)


async def airborne(sim: Simulator, probe: Probe, alt: float = 20.0) -> None:
    v = sim.vehicles[0]
    await sim.wait_for(lambda: v.prearm_ok, 30)
    echo = await probe.set_param(1, "MIS_TAKEOFF_ALT", alt, C.MAV_PARAM_TYPE_REAL32)
    assert echo.param_value == pytest.approx(alt)
    assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
    assert (await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, NAN, NAN, NAN)).result == (
        ACCEPTED
    )
    await sim.wait_for(lambda: v.mode == "HOLD" and v.alt_rel > alt - 0.5, 60)


async def test_boot_heartbeat_and_arming_refusal_text() -> None:
    async with px4(speedup=20) as (sim, probe):
        v = sim.vehicles[0]
        hb = await probe.recv("HEARTBEAT")
        assert 1.1 <= sim.now <= 2.0  # PX4 SITL: 1.2 s
        assert (hb.autopilot, hb.type, hb.base_mode, hb.custom_mode, hb.system_status) == (
            C.MAV_AUTOPILOT_PX4, C.MAV_TYPE_QUADROTOR, 29, HOLD, C.MAV_STATE_UNINIT,
        )  # fmt: skip
        home = await probe.recv("HOME_POSITION")
        t_home = sim.now
        await probe.recv("GLOBAL_POSITION_INT")
        assert 2.2 <= t_home <= 3.0 and t_home < sim.now
        await sim.wait_for(lambda: sim.now >= 3.4, 5)
        refused = await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)
        assert refused.result == TEMP_REJECTED
        chunks = [m for m in probe.log if m.get_type() == "STATUSTEXT"]
        assert len(chunks) == 2 and chunks[1].id == chunks[0].id != 0
        assert [c.chunk_seq for c in chunks] == [0, 1]
        assert probe.texts() == ["Arming denied: Resolve system health failures first\t"]
        await probe.recv("HEARTBEAT", lambda m: m.system_status == C.MAV_STATE_STANDBY)
        await sim.wait_for(lambda: v.prearm_ok, 5)
        assert 4.1 <= sim.now <= 4.5
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        armed = await probe.recv("HEARTBEAT", lambda m: m.base_mode & C.MAV_MODE_FLAG_SAFETY_ARMED)
        assert armed.base_mode == 157 and armed.system_status == C.MAV_STATE_ACTIVE
        assert home.latitude == round(HOME[0] * 1e7)
        # Armed on the ground without taking off: disarmed after ~10 s, no text.
        await sim.wait_for(lambda: not v.armed, 15)
        assert 9.9 <= sim.now - v.arm_time <= 10.2  # COM_DISARM_PRFLT
        await probe.recv("HEARTBEAT", lambda m: not m.base_mode & C.MAV_MODE_FLAG_SAFETY_ARMED)
        assert len(probe.texts()) == 1


async def test_takeoff_while_disarmed_then_arm_climbs_and_holds() -> None:
    async with px4() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: v.prearm_ok, 30)
        ack = await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, NAN, NAN, NAN)
        assert ack.result == ACCEPTED
        hb = await probe.recv("HEARTBEAT")
        assert hb.custom_mode == TAKEOFF and not v.armed
        t0 = sim.now
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        await sim.wait_for(lambda: v.mode == "HOLD", 30)
        assert v.alt_rel == pytest.approx(2.5, abs=0.35)  # MIS_TAKEOFF_ALT
        assert sim.now - t0 < 5
        # A 30 m take-off at MPC_TKO_SPEED 1.5 m/s: ~22 s on SITL.
        alt_30 = v.home_alt_amsl + 30
        t0 = sim.now
        ack = await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, NAN, NAN, alt_30)
        assert ack.result == ACCEPTED
        await sim.wait_for(lambda: v.mode == "HOLD" and v.alt_rel > 29.6, 60)
        assert 17 <= sim.now - t0 <= 24


async def test_set_mode_is_acked_twice_and_says_why() -> None:
    async with px4() as (sim, probe):
        v = sim.vehicles[0]
        mc = await probe.recv("MISSION_CURRENT")
        assert mc.total == 65535  # no mission ever uploaded
        await sim.wait_for(lambda: v.prearm_ok, 30)
        text = probe.expect("STATUSTEXT", lambda m: "Mission" in m.text)
        assert await set_mode(probe, 4, 4) == (ACCEPTED, TEMP_REJECTED)
        assert (await text).text == "Switching to Mission is currently not available\t"
        assert await set_mode(probe, 3) == (ACCEPTED, TEMP_REJECTED)  # POSCTL without RC
        assert await set_mode(probe, 6) == (ACCEPTED, TEMP_REJECTED)  # OFFBOARD, no setpoints
        assert await set_mode(probe, 4, 5) == (ACCEPTED, ACCEPTED)  # RTL: allowed disarmed
        hb = await probe.recv("HEARTBEAT")
        assert hb.custom_mode == RTL
        # SET_MODE (the message): a single ACK.
        n = len([m for m in probe.log if m.get_type() == "COMMAND_ACK"])
        ack = probe.expect("COMMAND_ACK")
        probe.send(C.MAVLink_set_mode_message(1, 1, HOLD))
        assert (await ack).result == ACCEPTED
        await probe.recv("HEARTBEAT", lambda m: m.custom_mode == HOLD)
        assert len([m for m in probe.log if m.get_type() == "COMMAND_ACK"]) == n + 1
        # The mission's total shows once there is one.
        wp = item_int(0, C.MAV_CMD_NAV_WAYPOINT, *HOME, 10)
        assert await upload(probe, 1, [wp], C.MAV_MISSION_TYPE_MISSION) == C.MAV_MISSION_ACCEPTED
        mc = await probe.recv("MISSION_CURRENT")
        assert mc.total == 1


async def test_reposition_keeps_hold_cruises_at_5_and_change_speed() -> None:
    async with px4(speedup=20) as (sim, probe):  # 40x starved the loop on a loaded machine
        v = sim.vehicles[0]
        await airborne(sim, probe, 20)
        lat, lon = v.frame.to_latlon(200, 0)
        alt = v.home_alt_amsl + 20
        t0 = sim.now
        ack = await probe.command_int(
            1, C.MAV_CMD_DO_REPOSITION, C.MAV_FRAME_GLOBAL, (-1, 1, 0, NAN), lat, lon, alt
        )
        assert ack.result == ACCEPTED
        top = 0.0

        def arrived() -> bool:
            nonlocal top
            top = max(top, v.ground_speed)
            return haversine_m(v.lat, v.lon, lat, lon) < 1.0 and v.ground_speed < 0.2

        await sim.wait_for(arrived, 120)
        assert v.mode == "HOLD"
        assert top == pytest.approx(5.0, abs=0.05)  # MPC_XY_CRUISE
        assert 40 <= sim.now - t0 <= 48
        assert (await probe.command(1, C.MAV_CMD_DO_CHANGE_SPEED, 1, 10, -1)).result == ACCEPTED
        ack = await probe.command_int(
            1, C.MAV_CMD_DO_REPOSITION, C.MAV_FRAME_GLOBAL, (-1, 1, 0, NAN), *HOME, alt
        )
        await sim.wait_for(lambda: v.ground_speed > 9.5, 30)


async def test_orbit_circles_the_given_point() -> None:
    async with px4() as (sim, probe):
        v = sim.vehicles[0]
        await airborne(sim, probe, 15)
        center = v.frame.to_latlon(30, 0)
        ack = await probe.command_int(
            1, C.MAV_CMD_DO_ORBIT, C.MAV_FRAME_GLOBAL, (20, 3, 0, NAN), *center, NAN
        )
        assert ack.result == ACCEPTED
        hb = await probe.recv("HEARTBEAT")
        assert hb.custom_mode == ORBIT
        radii: list[float] = []

        def sample() -> bool:
            radii.append(haversine_m(v.lat, v.lon, *center))
            return len(radii) > 400

        await sim.wait_for(sample, 60)
        assert min(radii[150:]) > 18.5 and max(radii[150:]) < 21.5
        assert v.ground_speed == pytest.approx(3.0, abs=0.2)
        too_big = await probe.command(1, C.MAV_CMD_DO_ORBIT, 5000, 3, 0, NAN, NAN, NAN, NAN)
        assert too_big.result == C.MAV_RESULT_DENIED


async def test_geofence_breach_holds_at_the_boundary() -> None:
    async with px4() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: v.prearm_ok, 30)
        corners = [
            v.frame.to_latlon(n, e) for n, e in ((-100, -100), (-100, 100), (100, 100), (100, -100))
        ]
        fence = [
            item_int(i, C.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, lat, lon, 0,
                     params=(4, 0, 0, 0), frame=C.MAV_FRAME_GLOBAL,
                     mission_type=C.MAV_MISSION_TYPE_FENCE)
            for i, (lat, lon) in enumerate(corners)
        ]  # fmt: skip
        assert await upload(probe, 1, fence, C.MAV_MISSION_TYPE_FENCE) == C.MAV_MISSION_ACCEPTED
        await airborne(sim, probe, 10)
        lat, lon = v.frame.to_latlon(300, 0)
        alt = v.home_alt_amsl + 10
        ack = await probe.command_int(
            1, C.MAV_CMD_DO_REPOSITION, C.MAV_FRAME_GLOBAL, (-1, 1, 0, NAN), lat, lon, alt
        )
        assert ack.result == ACCEPTED
        text = probe.expect("STATUSTEXT", lambda m: m.text.startswith("Geofence"))
        furthest = 0.0

        def stopped() -> bool:
            nonlocal furthest
            furthest = max(furthest, v.body.n)
            return v.body.n > 50 and v.ground_speed < 0.05

        await sim.wait_for(stopped, 120)
        assert (await text).text == "Geofence: approaching or outside geofence\t"
        assert "Failsafe activated" in v.text_log()
        assert v.mode == "HOLD" and v.armed
        assert 90 < furthest <= 100  # stopped at the boundary, not beyond it


async def test_offboard_needs_setpoints_and_falls_back_to_position() -> None:
    async with px4() as (sim, probe):
        v = sim.vehicles[0]
        await airborne(sim, probe, 10)
        lat, lon = v.frame.to_latlon(20, 0)

        def setpoint() -> None:
            probe.send(
                C.MAVLink_set_position_target_global_int_message(
                    0, 1, 1, C.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, 0x0DF8,
                    round(lat * 1e7), round(lon * 1e7), 10, 0, 0, 0, 0, 0, 0, 0, 0,
                )
            )  # fmt: skip

        setpoint()
        await sim.wait_for(lambda: v.setpoint_at is not None, 5)  # type: ignore[attr-defined]
        assert await set_mode(probe, 6) == (ACCEPTED, ACCEPTED)
        # keep streaming until it arrives, then stop: ~1 s later PX4 gives up on offboard
        stream_until = sim.now + 15
        while sim.now < stream_until and haversine_m(v.lat, v.lon, lat, lon) > 1.0:
            setpoint()
            t = sim.now
            await sim.wait_for(lambda t=t: sim.now >= t + 0.2, 5)
        assert haversine_m(v.lat, v.lon, lat, lon) <= 1.0
        last = v.setpoint_at  # type: ignore[attr-defined]
        await sim.wait_for(lambda: v.mode == "POSCTL", 5)
        assert 1.0 <= sim.now - last <= 1.3  # COM_OF_LOSS_T
        hb = await probe.recv("HEARTBEAT")
        assert hb.custom_mode == POSCTL


async def test_datalink_loss_returns_and_lands_then_disarms_2s_later() -> None:
    async with px4(params={"NAV_DLL_ACT": 2}) as (sim, probe):
        v = sim.vehicles[0]
        await probe.recv("HEARTBEAT")

        async def gcs_heartbeats() -> None:
            while True:
                probe.heartbeat()
                t = sim.now
                await sim.wait_for(lambda t=t: sim.now >= t + 1.0, 5)

        beating = asyncio.create_task(gcs_heartbeats())
        await airborne(sim, probe, 15)
        beating.cancel()  # ...and then the GCS falls silent
        lat, lon = v.frame.to_latlon(60, 0)
        ack = await probe.command_int(
            1, C.MAV_CMD_DO_REPOSITION, C.MAV_FRAME_GLOBAL, (-1, 1, 0, NAN), lat, lon, NAN
        )
        assert ack.result == ACCEPTED
        seen = v.gcs_seen_at
        assert seen is not None
        await sim.wait_for(lambda: v.mode == "RTL", 30)
        assert 10.0 <= sim.now - seen <= 10.3  # COM_DL_LOSS_T
        assert "Connection to ground station lost" in v.text_log()
        await sim.wait_for(lambda: v.touchdown_at is not None, 120)
        touchdown = v.touchdown_at
        await sim.wait_for(lambda: not v.armed, 10)
        assert 1.9 <= sim.now - touchdown <= 2.2  # COM_DISARM_LAND
        assert haversine_m(v.lat, v.lon, *HOME) < 1.0


async def test_params_use_bytewise_integers() -> None:
    async with px4() as (_, probe):
        await probe.recv("HEARTBEAT")
        value = probe.expect("PARAM_VALUE", lambda m: m.param_id == "SYS_AUTOSTART")
        probe.send(C.MAVLink_param_request_read_message(1, 1, b"SYS_AUTOSTART", -1))
        msg = await value
        assert msg.param_type == C.MAV_PARAM_TYPE_INT32
        assert struct.unpack("<i", struct.pack("<f", msg.param_value))[0] == 10040
        version = probe.expect("AUTOPILOT_VERSION")
        await probe.command(1, C.MAV_CMD_REQUEST_MESSAGE, C.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
        caps = (await version).capabilities
        assert caps & C.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE


async def test_mission_with_rtl_item_lands_disarms_and_shows_mission_again() -> None:
    async with px4() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: v.prearm_ok, 30)
        a = v.frame.to_latlon(60, 0)
        items = [
            item_int(0, C.MAV_CMD_NAV_WAYPOINT, *a, 15),
            item_int(1, C.MAV_CMD_NAV_RETURN_TO_LAUNCH),
        ]
        assert await upload(probe, 1, items, C.MAV_MISSION_TYPE_MISSION) == C.MAV_MISSION_ACCEPTED
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        assert await set_mode(probe, 4, 4) == (ACCEPTED, ACCEPTED)
        closest = 1e9
        saw_rtl = False

        def done() -> bool:
            nonlocal closest, saw_rtl
            closest = min(closest, haversine_m(v.lat, v.lon, *a))
            saw_rtl = saw_rtl or v.mode == "RTL"
            return not v.armed

        await sim.wait_for(done, 200)
        assert closest < 2.0 and saw_rtl
        assert haversine_m(v.lat, v.lon, *HOME) < 1.0
        hb = await probe.recv("HEARTBEAT")
        assert hb.custom_mode == MISSION
        reached = [m.seq for m in probe.log if m.get_type() == "MISSION_ITEM_REACHED"]
        assert reached == [0, 1]


async def test_critical_battery_returns_and_emergency_lands() -> None:
    async with px4() as (sim, probe):
        v = sim.vehicles[0]
        await airborne(sim, probe, 15)
        lat, lon = v.frame.to_latlon(80, 0)
        ack = await probe.command_int(
            1, C.MAV_CMD_DO_REPOSITION, C.MAV_FRAME_GLOBAL, (-1, 1, 0, NAN), lat, lon, NAN
        )
        assert ack.result == ACCEPTED
        await sim.wait_for(lambda: v.body.n > 40, 60)
        v.inject(battery_fault=0.06)
        await sim.wait_for(lambda: v.mode == "RTL", 5)
        assert "Critical battery level, land now" in v.text_log()
        # The first heartbeat in RTL (one sent before the switch may still be queued).
        hb = await probe.recv("HEARTBEAT", lambda m: m.custom_mode == RTL)
        assert hb.system_status == C.MAV_STATE_CRITICAL
        v.inject(battery_fault=0.04)
        await sim.wait_for(lambda: v.mode == "LAND", 5)
        await sim.wait_for(lambda: not v.armed, 60)
