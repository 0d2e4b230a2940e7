"""mavsim's ArduCopter personality, driven over real TCP with a pymavlink-based probe.

Each test checks something a ground station or the fleet link would notice: the
COMMAND_ACK result, a STATUSTEXT, a mode in HEARTBEAT, where the vehicle actually
went (read from the simulator's truth), and how long it took in sim seconds.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pymavlink.dialects.v20 import ardupilotmega as C

from simulators.mavsim import SimConfig, Simulator
from simulators.mavsim.probe import Probe, item_int, upload
from skyshare.geo import haversine_m

pytestmark = pytest.mark.sitl

ACCEPTED, FAILED, DENIED, UNSUPPORTED = (
    C.MAV_RESULT_ACCEPTED,
    C.MAV_RESULT_FAILED,
    C.MAV_RESULT_DENIED,
    C.MAV_RESULT_UNSUPPORTED,
)
GUIDED, AUTO, RTL, LAND, STABILIZE, CIRCLE = 4, 3, 6, 9, 0, 7
HOME = (51.5074, -0.1278)


@asynccontextmanager
async def ardupilot(
    speedup: float = 50.0, boot_scale: float = 0.2, **kw: object
) -> AsyncIterator[tuple[Simulator, Probe]]:
    cfg = SimConfig(
        autopilot="ardupilot",
        home=HOME,
        tcp_base_port=0,
        speedup=speedup,
        boot_scale=boot_scale,
        seed=3,
        **kw,  # type: ignore[arg-type]
    )
    async with Simulator(cfg) as sim:
        probe = await Probe.connect(sim.connection_string(0))
        try:
            yield sim, probe
        finally:
            probe.close()
        assert sim.errors == []


async def set_mode(probe: Probe, mode: int) -> int:
    ack = await probe.command(1, C.MAV_CMD_DO_SET_MODE, 1, mode)
    return int(ack.result)


async def airborne_guided(sim: Simulator, probe: Probe, alt: float = 20.0) -> None:
    v = sim.vehicles[0]
    await sim.wait_for(lambda: "position_ready" in v.reached, 120)
    assert await set_mode(probe, GUIDED) == ACCEPTED
    assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
    assert (await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, alt)).result == (
        ACCEPTED
    )
    await sim.wait_for(lambda: v.alt_rel > alt - 0.5, 60)


def goto(probe: Probe, lat: float, lon: float, alt: float) -> None:
    probe.send(
        C.MAVLink_set_position_target_global_int_message(
            0, 1, 1, C.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, 0x0DF8,
            round(lat * 1e7), round(lon * 1e7), alt, 0, 0, 0, 0, 0, 0, 0, 0,
        )
    )  # fmt: skip


async def test_boot_prearm_refusals_follow_the_real_milestones() -> None:
    async with ardupilot(speedup=20, boot_scale=1.0) as (sim, probe):
        v = sim.vehicles[0]
        hb = await probe.recv("HEARTBEAT")
        assert (hb.autopilot, hb.type, hb.custom_mode) == (
            C.MAV_AUTOPILOT_ARDUPILOTMEGA,
            C.MAV_TYPE_QUADROTOR,
            STABILIZE,
        )
        # A mode set while initialising is accepted, then STABILIZE overwrites it.
        assert sim.now < 1.5
        assert await set_mode(probe, GUIDED) == ACCEPTED
        await probe.recv("HEARTBEAT", lambda m: m.custom_mode == STABILIZE and sim.now > 1.5)
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == FAILED
        assert (await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10)).result == (
            FAILED
        )

        # Before the EKF origin, GUIDED is refused; STABILIZE's pre-arm bit turns healthy
        # about 20 s before GUIDED can arm.
        await sim.wait_for(lambda: sim.now > 12, 30)
        assert await set_mode(probe, GUIDED) == FAILED
        assert "Mode change to GUIDED failed: requires position" in probe.texts()
        prearm = C.MAV_SYS_STATUS_PREARM_CHECK
        healthy = await probe.recv(
            "SYS_STATUS", lambda m: m.onboard_control_sensors_health & prearm
        )
        t_stabilize_ready = sim.now
        assert 20 <= t_stabilize_ready <= 25

        assert await set_mode(probe, GUIDED) == ACCEPTED
        assert healthy is not None
        unhealthy = await probe.recv("SYS_STATUS")
        assert not unhealthy.onboard_control_sensors_health & prearm
        ack = await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)
        assert ack.result == FAILED
        assert probe.texts().count("PreArm: Need Position Estimate") >= 1

        await probe.recv("SYS_STATUS", lambda m: m.onboard_control_sensors_health & prearm)
        assert 41 <= sim.now <= 48
        assert t_stabilize_ready < sim.now - 15
        assert "EKF3 IMU0 is using GPS" in probe.texts()
        ekf = await probe.recv("EKF_STATUS_REPORT")
        assert ekf.flags & C.EKF_POS_HORIZ_ABS and not ekf.flags & C.EKF_CONST_POS_MODE
        gps = await probe.recv("GPS_RAW_INT")
        assert gps.fix_type >= 3
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        assert v.armed and "Arming motors" in v.text_log()


async def test_guided_takeoff_cruise_and_rtl_take_sitl_times() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: "position_ready" in v.reached, 60)
        assert await set_mode(probe, GUIDED) == ACCEPTED
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        t0 = sim.now
        assert (await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 30)).result == (
            ACCEPTED
        )
        await sim.wait_for(lambda: v.alt_rel > 29.7, 60)
        assert 14 <= sim.now - t0 <= 18  # SITL: 15.8 s

        lat, lon = v.frame.to_latlon(500.0, 0.0)
        t0 = sim.now
        goto(probe, lat, lon, 30)
        await sim.wait_for(
            lambda: haversine_m(v.lat, v.lon, lat, lon) < 1 and v.ground_speed < 0.3, 90
        )
        assert 50 <= sim.now - t0 <= 58  # SITL: 54 s for 500 m at WPNAV_SPEED 10 m/s
        assert abs(v.alt_rel - 30) < 0.5

        t0 = sim.now
        max_alt = 0.0

        def landed() -> bool:
            nonlocal max_alt
            max_alt = max(max_alt, v.alt_rel)
            return not v.armed

        disarm_text = probe.expect("STATUSTEXT", lambda m: m.text == "Disarming motors")
        t_send = sim.now
        assert await set_mode(probe, RTL) == ACCEPTED
        t_ack = sim.now
        await sim.wait_for(landed, 150)
        assert sim.now - t_ack >= 85 and sim.now - t_send <= 110  # SITL: ~100 s from 500 m
        assert max_alt < 30.5  # above RTL_ALT it returns at its current altitude
        assert haversine_m(v.lat, v.lon, *HOME) < 0.5
        assert v.alt_rel == pytest.approx(0.0, abs=0.01)
        await disarm_text


async def test_command_acks_match_arducopter() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: "position_ready" in v.reached, 60)
        # Take-off is refused unless armed in a take-off capable mode.
        assert (await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10)).result == (
            FAILED
        )
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        assert (await probe.command(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10)).result == (
            FAILED
        )  # armed, but in STABILIZE
        # SET_MODE (the message) is acked with its message id as the "command".
        ack = probe.expect("COMMAND_ACK", lambda m: m.command == C.MAVLINK_MSG_ID_SET_MODE)
        probe.send(C.MAVLink_set_mode_message(1, C.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, GUIDED))
        assert (await ack).result == ACCEPTED
        frame6 = C.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
        denied = await probe.command_int(1, C.MAV_CMD_NAV_TAKEOFF, frame6, alt=10)
        assert denied.result == DENIED  # COMMAND_INT take-off wants MAV_FRAME_GLOBAL_RELATIVE_ALT
        frame3 = C.MAV_FRAME_GLOBAL_RELATIVE_ALT
        assert (await probe.command_int(1, C.MAV_CMD_NAV_TAKEOFF, frame3, alt=10)).result == (
            ACCEPTED
        )
        await sim.wait_for(lambda: v.alt_rel > 9.5, 30)
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 0)).result == FAILED
        assert v.armed  # a GCS cannot disarm a flying copter without the force magic
        assert (await probe.command(1, C.MAV_CMD_DO_ORBIT, 10, 2)).result == UNSUPPORTED
        assert (await probe.command(1, 31999)).result == UNSUPPORTED
        assert (await probe.command(1, C.MAV_CMD_DO_CHANGE_SPEED, 1, 0)).result == DENIED
        assert (await probe.command(1, C.MAV_CMD_DO_CHANGE_SPEED, 1, 4)).result == ACCEPTED

        # DO_REPOSITION outside GUIDED needs the change-mode flag.
        assert await set_mode(probe, LAND) == ACCEPTED
        lat, lon = v.frame.to_latlon(40, 0)
        flags = (-1.0, 0.0, 0.0, 0.0)
        no_flag = await probe.command_int(1, C.MAV_CMD_DO_REPOSITION, frame6, flags, lat, lon, 10)
        assert no_flag.result == DENIED
        change = (-1.0, float(C.MAV_DO_REPOSITION_FLAGS_CHANGE_MODE), 0.0, 0.0)
        ok = await probe.command_int(1, C.MAV_CMD_DO_REPOSITION, frame6, change, lat, lon, 12)
        assert ok.result == ACCEPTED
        assert v.mode == "GUIDED"
        await sim.wait_for(lambda: haversine_m(v.lat, v.lon, lat, lon) < 1.0, 60)
        assert abs(v.alt_rel - 12) < 1.0

        # Land, then auto-disarm; arming in AUTO is refused.
        assert (await probe.command(1, C.MAV_CMD_NAV_LAND)).result == ACCEPTED
        await sim.wait_for(lambda: not v.armed, 60)
        assert await set_mode(probe, AUTO) == ACCEPTED
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == FAILED
        assert "Arm: Mode not armable" in probe.texts()


async def test_idle_on_the_ground_disarms_after_disarm_delay() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: "position_ready" in v.reached, 60)
        assert await set_mode(probe, GUIDED) == ACCEPTED
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        await sim.wait_for(lambda: not v.armed, 15)
        assert 9.9 <= sim.now - v.arm_time <= 10.2  # DISARM_DELAY 10 s
        hb = await probe.recv("HEARTBEAT", lambda m: not m.base_mode & C.MAV_MODE_FLAG_SAFETY_ARMED)
        assert hb.custom_mode == GUIDED
        # and a forced arm skips the pre-arm checks (ArduPilot's magic 21196)
        v2 = sim.vehicles[0]
        v2.inject(gps_loss=True)
        await sim.wait_for(lambda: not v2.prearm_ok, 5)
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == FAILED
        forced = await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1, 21196)
        assert forced.result == ACCEPTED


async def test_mission_protocol_edge_cases() -> None:
    async with ardupilot(speedup=10) as (sim, probe):  # retry timing is measured on the wire
        v = sim.vehicles[0]
        await sim.wait_for(lambda: v.home_set, 30)
        wp = [v.frame.to_latlon(100, 0), v.frame.to_latlon(100, 100)]
        items = [
            item_int(0, C.MAV_CMD_NAV_WAYPOINT, 0, 0, 0, frame=C.MAV_FRAME_GLOBAL),
            item_int(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 20),
            item_int(2, C.MAV_CMD_NAV_WAYPOINT, *wp[0], 20),
            item_int(3, C.MAV_CMD_NAV_WAYPOINT, *wp[1], 20),
        ]
        assert await upload(probe, 1, items, C.MAV_MISSION_TYPE_MISSION) == C.MAV_MISSION_ACCEPTED

        # Download: item 0 is home, whatever was uploaded there.
        count = probe.expect("MISSION_COUNT")
        probe.send(C.MAVLink_mission_request_list_message(1, 1, 0))
        assert (await count).count == 4
        got = probe.expect("MISSION_ITEM_INT", lambda m: m.seq == 0)
        probe.send(C.MAVLink_mission_request_int_message(1, 1, 0, 0))
        home = await got
        assert (home.x, home.y) == (round(HOME[0] * 1e7), round(HOME[1] * 1e7))
        bad = probe.expect("MISSION_ACK")
        probe.send(C.MAVLink_mission_request_int_message(1, 1, 9, 0))
        assert (await bad).type == C.MAV_MISSION_INVALID_SEQUENCE

        # Out-of-order item: INVALID_SEQUENCE, and the transfer carries on.
        req0 = probe.expect("MISSION_REQUEST_INT")
        probe.send(C.MAVLink_mission_count_message(1, 1, 2, 0))
        assert (await req0).seq == 0
        t_request = sim.now
        nak = probe.expect("MISSION_ACK")
        probe.send(items[2])  # seq 2 while 0 was asked for
        assert (await nak).type == C.MAV_MISSION_INVALID_SEQUENCE
        # A second GCS may not barge into the upload.
        other = await Probe.connect(sim.connection_string(0), sysid=254)
        denied = other.expect("MISSION_ACK")
        other.send(C.MAVLink_mission_count_message(1, 1, 1, 0))
        assert (await denied).type == C.MAV_MISSION_DENIED
        other.close()
        # Silence: the vehicle asks again after ~1 s, gives up after ~8 s.
        again = await probe.recv("MISSION_REQUEST_INT", timeout=10)
        assert again.seq == 0 and 0.8 <= sim.now - t_request <= 1.6
        cancelled = await probe.recv("MISSION_ACK", timeout=10)
        assert cancelled.type == C.MAV_MISSION_OPERATION_CANCELLED
        assert 7.8 <= sim.now - t_request <= 9.0
        assert len(v.items[0]) == 4  # the failed upload left the stored mission alone

        # Legacy MISSION_ITEM: the vehicle follows with legacy MISSION_REQUEST.
        req = probe.expect("MISSION_REQUEST_INT")
        probe.send(C.MAVLink_mission_count_message(1, 1, 2, 0))
        await req
        legacy_req = probe.expect("MISSION_REQUEST")
        probe.send(
            C.MAVLink_mission_item_message(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, HOME[0], HOME[1], 0, 0)
        )
        assert (await legacy_req).seq == 1
        done = probe.expect("MISSION_ACK")
        lat, lon = wp[0]
        probe.send(
            C.MAVLink_mission_item_message(1, 1, 1, 3, 16, 0, 1, 0, 0, 0, 0, lat, lon, 15, 0)
        )
        assert (await done).type == C.MAV_MISSION_ACCEPTED
        assert v.items[0][1].x == pytest.approx(lat * 1e7, abs=100)  # float32 degrees

        # What the vehicle cannot fly is refused as a whole.
        odd_frame = [items[0], item_int(1, 16, *wp[0], 20, frame=C.MAV_FRAME_LOCAL_NED)]
        assert await upload(probe, 1, odd_frame, 0) == C.MAV_MISSION_UNSUPPORTED_FRAME
        odd_cmd = [items[0], item_int(1, 31000, *wp[0], 20)]
        assert await upload(probe, 1, odd_cmd, 0) == C.MAV_MISSION_UNSUPPORTED
        fence_type = C.MAV_MISSION_TYPE_FENCE
        two_vertex = [
            item_int(i, C.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, *wp[i], 0,
                     params=(2, 0, 0, 0), frame=C.MAV_FRAME_GLOBAL, mission_type=fence_type)
            for i in range(2)
        ]  # fmt: skip
        assert await upload(probe, 1, two_vertex, fence_type) == C.MAV_MISSION_INVALID

        # CLEAR_ALL: ArduPilot still reports its home as item 0.
        cleared = probe.expect("MISSION_ACK")
        probe.send(C.MAVLink_mission_clear_all_message(1, 1, 0))
        assert (await cleared).type == C.MAV_MISSION_ACCEPTED
        count = probe.expect("MISSION_COUNT")
        probe.send(C.MAVLink_mission_request_list_message(1, 1, 0))
        assert (await count).count == 1


async def test_auto_mission_flies_waypoints_loiters_and_returns() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: "position_ready" in v.reached, 60)
        a, b = v.frame.to_latlon(80, 0), v.frame.to_latlon(80, 80)
        items = [
            item_int(0, C.MAV_CMD_NAV_WAYPOINT, 0, 0, 0, frame=C.MAV_FRAME_GLOBAL),
            item_int(1, C.MAV_CMD_NAV_TAKEOFF, 0, 0, 20),
            item_int(2, C.MAV_CMD_NAV_WAYPOINT, *a, 20),
            item_int(3, C.MAV_CMD_DO_CHANGE_SPEED, params=(1, 5, -1, 0), frame=C.MAV_FRAME_MISSION),
            item_int(4, C.MAV_CMD_NAV_LOITER_TIME, *b, 25, params=(6, 0, 0, 0)),
            item_int(5, C.MAV_CMD_NAV_RETURN_TO_LAUNCH),
        ]
        assert await upload(probe, 1, items, 0) == C.MAV_MISSION_ACCEPTED
        assert await set_mode(probe, GUIDED) == ACCEPTED
        assert (await probe.command(1, C.MAV_CMD_COMPONENT_ARM_DISARM, 1)).result == ACCEPTED
        assert await set_mode(probe, AUTO) == ACCEPTED

        closest = {"a": 1e9, "b": 1e9}
        fastest_after_a = 0.0
        b_arrival: list[float] = []

        def track() -> bool:
            nonlocal fastest_after_a
            da = haversine_m(v.lat, v.lon, *a)
            db = haversine_m(v.lat, v.lon, *b)
            closest["a"] = min(closest["a"], da)
            closest["b"] = min(closest["b"], db)
            if closest["a"] < 2 and db > 5 and not b_arrival:
                fastest_after_a = max(fastest_after_a, v.ground_speed)
            if db < 2 and not b_arrival:
                b_arrival.append(sim.now)
            return not v.armed

        await sim.wait_for(track, 200)
        assert closest["a"] < 2.0 and closest["b"] < 2.0
        assert fastest_after_a == pytest.approx(5.0, abs=0.3)  # DO_CHANGE_SPEED took effect
        assert haversine_m(v.lat, v.lon, *HOME) < 0.5
        reached = [m.seq for m in probe.log if m.get_type() == "MISSION_ITEM_REACHED"]
        assert reached[:3] == [1, 2, 4]
        texts = probe.texts()
        assert "Mission: 1 Takeoff" in texts and "Reached command #4" in texts
        assert sim.now - b_arrival[0] >= 6.0  # loitered its 6 s at B


async def test_polygon_fence_breach_triggers_rtl() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: "position_ready" in v.reached, 60)
        corners = [
            v.frame.to_latlon(n, e) for n, e in ((-200, -200), (-200, 200), (200, 200), (200, -200))
        ]
        fence = [
            item_int(i, C.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, lat, lon, 0,
                     params=(4, 0, 0, 0), frame=C.MAV_FRAME_GLOBAL,
                     mission_type=C.MAV_MISSION_TYPE_FENCE)
            for i, (lat, lon) in enumerate(corners)
        ]  # fmt: skip
        assert await upload(probe, 1, fence, C.MAV_MISSION_TYPE_FENCE) == C.MAV_MISSION_ACCEPTED
        for name, value in (("FENCE_TYPE", 4), ("FENCE_ENABLE", 1)):
            echo = await probe.set_param(1, name, value, C.MAV_PARAM_TYPE_INT8)
            assert echo.param_value == value
        await airborne_guided(sim, probe, 20)
        target = v.frame.to_latlon(400, 0)
        goto(probe, *target, 20)
        furthest = 0.0

        def home_again() -> bool:
            nonlocal furthest
            furthest = max(furthest, v.body.n)
            return not v.armed

        await sim.wait_for(lambda: v.mode == "RTL", 60)
        assert "Polygon fence breached" in v.text_log()
        status = await probe.recv("FENCE_STATUS", lambda m: m.breach_count >= 1)
        assert status.breach_type == C.FENCE_BREACH_BOUNDARY
        await sim.wait_for(home_again, 200)
        assert 200 < furthest < 240  # crossed, then stopped within its braking distance
        assert haversine_m(v.lat, v.lon, *HOME) < 0.5


async def test_gcs_failsafe_needs_a_gcs_first_then_returns() -> None:
    async with ardupilot(params={"FS_GCS_ENABLE": 1}) as (sim, probe):
        v = sim.vehicles[0]
        # No heartbeat from SYSID_MYGCS (255) yet: flying silently is no failsafe.
        stranger = await Probe.connect(sim.connection_string(0), sysid=200)
        stranger.heartbeat()
        await airborne_guided(sim, probe, 15)
        t = sim.now
        await sim.wait_for(lambda: sim.now > t + 20, 30)
        assert v.mode == "GUIDED"
        stranger.close()

        probe.heartbeat()  # the GCS shows up once, then falls silent
        await sim.wait_for(lambda: v.gcs_seen_at is not None, 5)
        seen = v.gcs_seen_at
        await sim.wait_for(lambda: v.mode == "RTL", 10)
        assert "GCS Failsafe" in v.text_log()
        assert 5.0 <= sim.now - seen <= 5.3  # FS_GCS_TIMEOUT 5 s
        # The first heartbeat in RTL (one sent before the switch may still be queued).
        hb = await probe.recv("HEARTBEAT", lambda m: m.custom_mode == 6)  # Copter RTL
        assert hb.system_status == C.MAV_STATE_CRITICAL
        await sim.wait_for(lambda: not v.armed, 120)
        assert haversine_m(v.lat, v.lon, *HOME) < 0.5


async def test_battery_low_returns_then_critical_lands() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await airborne_guided(sim, probe, 20)
        goto(probe, *v.frame.to_latlon(300, 0), 20)
        await sim.wait_for(lambda: v.body.n > 150, 60)
        v.inject(battery_fault=0.15)
        await sim.wait_for(lambda: v.mode == "RTL", 5)
        assert any(t.startswith("Battery 1 is low") for t in v.text_log())
        batt = await probe.recv("BATTERY_STATUS")
        assert batt.battery_remaining <= 15 and batt.charge_state == C.MAV_BATTERY_CHARGE_STATE_LOW
        v.inject(battery_fault=0.05)
        await sim.wait_for(lambda: v.mode == "LAND", 5)
        assert any(t.startswith("Battery 1 is critical") for t in v.text_log())
        await sim.wait_for(lambda: not v.armed, 60)
        assert v.body.n > 50  # landed where it was, not at home


async def test_gps_loss_leads_to_ekf_failsafe_land() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await airborne_guided(sim, probe, 20)
        t0 = sim.now
        v.inject(gps_loss=True)
        gps = await probe.recv("GPS_RAW_INT")
        assert gps.fix_type == 0
        await sim.wait_for(lambda: v.mode == "LAND", 20)
        assert 5.0 <= sim.now - t0 <= 7.0
        assert "EKF variance" in v.text_log()
        await sim.wait_for(lambda: not v.armed, 60)


async def test_motor_failure_falls_and_crashes() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await airborne_guided(sim, probe, 30)
        t0 = sim.now
        v.inject(motor_failure=True)
        # Within a heartbeat or two (one sent before the failure may still be queued).
        await probe.recv("HEARTBEAT", lambda m: m.system_status == C.MAV_STATE_EMERGENCY)
        await sim.wait_for(lambda: not v.armed, 30)
        assert sim.now - t0 < 5  # 30 m does not take long without lift
        assert v.crashed and "Crash: Disarming" in v.text_log()


async def test_circle_mode_orbits_a_point_ahead() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await airborne_guided(sim, probe, 20)
        assert await set_mode(probe, CIRCLE) == ACCEPTED
        act = v.activity
        center = (act.cn, act.ce)  # type: ignore[union-attr]
        samples: list[float] = []

        def sample() -> bool:
            samples.append(math.hypot(v.body.n - center[0], v.body.e - center[1]))
            return len(samples) > 300

        await sim.wait_for(sample, 60)
        tail = samples[100:]
        assert min(tail) > 8.5 and max(tail) < 11.5  # CIRCLE_RADIUS 10 m
        assert v.ground_speed == pytest.approx(math.radians(20) * 10, abs=0.5)  # CIRCLE_RATE 20


async def test_streams_params_and_requests() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await probe.recv("HEARTBEAT")
        # SET_MESSAGE_INTERVAL: GLOBAL_POSITION_INT at 2 Hz.
        ack = await probe.command(1, C.MAV_CMD_SET_MESSAGE_INTERVAL, 33, 500_000)
        assert ack.result == ACCEPTED
        start, n0 = sim.now, len(probe.log)
        await sim.wait_for(lambda: sim.now >= start + 10, 20)
        gpi = [m for m in probe.log[n0:] if m.get_type() == "GLOBAL_POSITION_INT"]
        assert 18 <= len(gpi) <= 22
        # REQUEST_DATA_STREAM POSITION off: no more GLOBAL_POSITION_INT.
        probe.send(C.MAVLink_request_data_stream_message(1, 1, C.MAV_DATA_STREAM_POSITION, 0, 0))
        await probe.recv("HEARTBEAT")
        await probe.recv("HEARTBEAT")
        n1 = len(probe.log)
        await probe.recv("HEARTBEAT")
        assert not [m for m in probe.log[n1:] if m.get_type() == "GLOBAL_POSITION_INT"]
        # MAV_CMD_REQUEST_MESSAGE: ACK first, then the message.
        version = probe.expect("AUTOPILOT_VERSION")
        ack = await probe.command(1, C.MAV_CMD_REQUEST_MESSAGE, C.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
        assert ack.result == ACCEPTED
        caps = (await version).capabilities
        assert caps & C.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
        assert caps & C.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST
        # Parameters: the whole list, then a single one by name (C-cast integers).
        probe.send(C.MAVLink_param_request_list_message(1, 1))
        first = await probe.recv("PARAM_VALUE")
        total = first.param_count
        await sim.wait_for(
            lambda: len({m.param_id for m in probe.log if m.get_type() == "PARAM_VALUE"}) == total,
            10,
        )
        assert total == len(v.params) and total > 30
        one = probe.expect("PARAM_VALUE", lambda m: m.param_id == "DISARM_DELAY")
        probe.send(C.MAVLink_param_request_read_message(1, 1, b"DISARM_DELAY", -1))
        assert (await one).param_value == 10.0


async def test_rtl_goes_to_a_closer_rally_point() -> None:
    async with ardupilot() as (sim, probe):
        v = sim.vehicles[0]
        await sim.wait_for(lambda: v.home_set, 30)
        rally = v.frame.to_latlon(250.0, 20.0)
        point = item_int(0, C.MAV_CMD_NAV_RALLY_POINT, *rally, 15,
                         mission_type=C.MAV_MISSION_TYPE_RALLY)  # fmt: skip
        assert await upload(probe, 1, [point], C.MAV_MISSION_TYPE_RALLY) == C.MAV_MISSION_ACCEPTED
        await airborne_guided(sim, probe, 20)
        goto(probe, *v.frame.to_latlon(300.0, 0.0), 20)
        await sim.wait_for(lambda: v.body.n > 299 and v.ground_speed < 0.3, 90)
        assert await set_mode(probe, RTL) == ACCEPTED
        await sim.wait_for(lambda: not v.armed, 120)
        assert haversine_m(v.lat, v.lon, *rally) < 0.5
        assert haversine_m(v.lat, v.lon, *HOME) > 200
