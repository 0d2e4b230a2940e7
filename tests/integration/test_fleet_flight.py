"""Whole sorties through the fleet link, against every backend (mavsim; real SITL if given).

Each test flies what a dispatcher would ask for and checks what an operator would see:
the vehicle's reported state and the fleet's events. Waits are on the vehicle's state or
on events, with timeouts in vehicle seconds (scaled by the backend's speed-up).
"""

from __future__ import annotations

import asyncio

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from skyshare.fleet import (
    BatteryLow,
    CommandDenied,
    Disarmed,
    Fence,
    FenceAction,
    FencePolygon,
    Landed,
    LandedState,
    LinkLost,
    LinkRestored,
    MissionItem,
    ModeKind,
    Vehicle,
    VehicleState,
)
from skyshare.fleet.geometry import bearing_deg, distance_m, offset
from tests.integration.conftest import Backend

pytestmark = pytest.mark.sitl


def _dist(state: VehicleState, lat: float, lon: float) -> float:
    assert state.lat is not None and state.lon is not None
    return distance_m(state.lat, state.lon, lat, lon)


async def _airborne(vehicle: Vehicle, alt_m: float = 20.0) -> VehicleState:
    await vehicle.wait_ready(timeout_s=120)
    await vehicle.takeoff(alt_m)
    return await vehicle.wait_for(
        lambda s: s.alt_rel_m is not None and s.alt_rel_m >= alt_m - 1.0,
        timeout_s=60,
        what=f"at {alt_m} m",
    )


async def test_connects_and_becomes_ready(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        assert vehicle.autopilot == backend.autopilot
        state = await vehicle.wait_ready(timeout_s=120)
        assert state.ready and state.gps_fix >= 3
        assert state.home is not None
        assert distance_m(state.home.lat, state.home.lon, *backend.homes[0]) < 5
        assert state.home.alt_amsl_m == pytest.approx(backend.home[2], abs=3)
        assert not state.armed and state.landed is LandedState.ON_GROUND
        assert state.mode == ("STABILIZE" if backend.autopilot == "ardupilot" else "HOLD")
        assert state.battery_pct is not None and state.battery_pct > 90
        assert state.link.connected and state.link.heartbeat_age_s is not None
        # It says which aircraft it is (AUTOPILOT_VERSION), asked for when first heard.
        board = await vehicle.identify(10)
        assert board is not None and int(board, 16) > 0
        assert vehicle.state.board_id == board


@pytest.mark.backend(speedup=10, boot_scale={"px4": 2.0})
async def test_arming_is_refused_until_ready_then_accepted(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        assert not vehicle.state.ready
        with pytest.raises(CommandDenied) as refused:
            await vehicle.arm()
        if backend.autopilot == "ardupilot":
            assert refused.value.result == "MAV_RESULT_FAILED"
            assert refused.value.reason.startswith("PreArm:")
        else:
            assert refused.value.result == "MAV_RESULT_TEMPORARILY_REJECTED"
            assert refused.value.reason.startswith("Arming denied")
        assert not vehicle.state.armed
        await vehicle.wait_ready(timeout_s=120)
        await vehicle.set_mode("GUIDED" if backend.autopilot == "ardupilot" else "HOLD")
        await vehicle.arm()
        assert vehicle.state.armed
        await vehicle.disarm()
        assert not vehicle.state.armed


async def test_takeoff_then_goto_reaches_the_target(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await _airborne(vehicle, 20)
        lat, lon = offset(*backend.homes[0], 45.0, 150.0)
        await vehicle.goto(lat, lon, 30)
        state = await vehicle.wait_reached(lat, lon, 30, tolerance_m=3, timeout_s=120)
        assert state.armed and state.airborne
        assert state.mode == ("GUIDED" if backend.autopilot == "ardupilot" else "HOLD")
        held = await vehicle.wait_for(lambda s: s.ground_speed_mps < 0.5, 30, "holding")
        assert _dist(held, lat, lon) < 3


async def test_orbit_circles_the_point(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await _airborne(vehicle, 25)
        centre = offset(*backend.homes[0], 0.0, 120.0)
        await vehicle.orbit(*centre, radius_m=40, velocity_mps=5, alt_m=25)
        state = await vehicle.wait_for(
            lambda s: s.mode_kind is ModeKind.ORBIT and abs(_dist(s, *centre) - 40) < 5,
            timeout_s=120,
            what="on the circle",
        )
        start = bearing_deg(*centre, state.lat, state.lon)
        # A quarter turn later (~13 s at 5 m/s on a 40 m circle) it is still on the circle.
        moved = await vehicle.wait_for(
            lambda s: abs((bearing_deg(*centre, s.lat, s.lon) - start + 180) % 360 - 180) > 80,
            timeout_s=60,
            what="a quarter turn on",
        )
        assert abs(_dist(moved, *centre) - 40) < 6
        assert moved.mode_kind is ModeKind.ORBIT


async def test_uploaded_mission_is_flown_in_auto(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await vehicle.wait_ready(timeout_s=120)
        home_lat, home_lon = backend.homes[0]
        a = offset(home_lat, home_lon, 90.0, 120.0)
        b = offset(home_lat, home_lon, 0.0, 120.0)
        await vehicle.upload_mission(
            [
                MissionItem.takeoff(20),
                MissionItem.waypoint(*a, 30),
                MissionItem.waypoint(*b, 30),
                MissionItem.return_to_launch(),
            ]
        )
        with vehicle.link.subscribe() as events:
            await vehicle.start_mission()
            assert vehicle.state.mode_kind is ModeKind.MISSION
            await vehicle.wait_for(lambda s: _dist(s, *a) < 5, 120, "at waypoint A")
            await vehicle.wait_for(lambda s: _dist(s, *b) < 5, 120, "at waypoint B")
            landed = await events.wait_for(
                Landed, lambda e: e.system_id == vehicle.system_id, timeout_s=300 / backend.speedup
            )
        assert landed.position is not None
        assert distance_m(landed.position.lat, landed.position.lon, home_lat, home_lon) < 3


async def test_fence_breach_turns_the_vehicle_home(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await vehicle.wait_ready(timeout_s=120)
        home_lat, home_lon = backend.homes[0]
        corners = [offset(home_lat, home_lon, b, 140.0) for b in (45.0, 135.0, 225.0, 315.0)]
        fence = Fence(polygons=(FencePolygon(tuple(corners)),))
        await vehicle.upload_fence(fence, action=FenceAction.RTL)
        await _airborne(vehicle, 20)
        outside = offset(home_lat, home_lon, 90.0, 250.0)
        await vehicle.goto(*outside, 20)
        state = await vehicle.wait_for(
            lambda s: s.mode_kind is ModeKind.RETURN, timeout_s=90, what="returning"
        )
        assert _dist(state, home_lat, home_lon) < 130  # turned at the fence, not at the target
        landed = await vehicle.wait_landed(timeout_s=300)
        assert _dist(landed, home_lat, home_lon) < 3


async def test_rtl_lands_at_home_and_disarms(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await _airborne(vehicle, 15)
        away = offset(*backend.homes[0], 200.0, 80.0)
        await vehicle.goto(*away, 15)
        await vehicle.wait_reached(*away, 15, tolerance_m=3)
        with vehicle.link.subscribe() as events:
            await vehicle.rtl()
            assert vehicle.state.mode_kind is ModeKind.RETURN
            landed = await events.wait_for(Landed, timeout_s=300 / backend.speedup)
            await events.wait_for(Disarmed, timeout_s=60 / backend.speedup)
        assert landed.position is not None
        assert distance_m(landed.position.lat, landed.position.lon, *backend.homes[0]) < 3
        assert not vehicle.state.armed


async def test_land_where_it_is_then_disarm(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await _airborne(vehicle, 12)
        spot = offset(*backend.homes[0], 90.0, 50.0)
        await vehicle.goto(*spot, 12)
        await vehicle.wait_reached(*spot, 12, tolerance_m=2)
        updates = vehicle.updates()
        with vehicle.link.subscribe() as events:
            await vehicle.land()
            assert vehicle.state.mode_kind is ModeKind.LAND
            descending = await anext(updates)
            assert descending.phase.value in ("landing", "airborne")
            landed = await events.wait_for(Landed, timeout_s=120 / backend.speedup)
            await events.wait_for(Disarmed, timeout_s=60 / backend.speedup)
        await updates.aclose()
        assert landed.position is not None
        assert distance_m(landed.position.lat, landed.position.lon, *spot) < 3
        final = vehicle.state
        assert final.phase.value == "on_ground" and final.alt_rel_m < 0.5


@pytest.mark.backend(vehicles=2, shared_link=True)
async def test_two_vehicles_on_one_link_are_commanded_independently(backend: Backend) -> None:
    shared = backend.shared_connection is not None
    async with backend.fleet(shared=shared) as fleet:
        one, two = (fleet.vehicle(s) for s in backend.system_ids)
        if shared:
            assert one.link is two.link  # PX4-style: both on the one GCS port
        await asyncio.gather(one.wait_ready(timeout_s=120), two.wait_ready(timeout_s=120))
        before = two.state
        await _airborne(one, 20)
        target = offset(*backend.homes[0], 135.0, 100.0)
        await one.goto(*target, 20)
        await one.wait_reached(*target, 20, tolerance_m=3)
        after = two.state
        assert not after.armed and after.landed is LandedState.ON_GROUND
        assert after.mode == before.mode
        assert _dist(after, before.lat, before.lon) < 1.0
        assert after.link.connected and after.link.message_age_s < 2.0
        # An upload for vehicle 2 lands on vehicle 2 only.
        one_total = one.state.mission_total
        spot = offset(*backend.homes[1], 0.0, 50.0)
        await two.upload_mission([MissionItem.takeoff(10), MissionItem.waypoint(*spot, 10)])
        loaded = await two.wait_for(
            lambda s: s.mission_total is not None and s.mission_total >= 2, 30, "mission loaded"
        )
        assert loaded.mission_total in (2, 3)  # ArduPilot counts its home item
        assert one.state.mission_total == one_total


async def test_link_drop_is_reported_within_3s_and_restored(backend: Backend) -> None:
    faults = backend.require_faults()
    async with backend.vehicle() as vehicle:
        await vehicle.wait_for(lambda s: s.lat is not None, 60, "positioned")
        with vehicle.link.subscribe() as events:
            dropped_at = faults.now
            faults.inject(0, link_drop=True)
            lost = await events.wait_for(LinkLost, timeout_s=5)
            assert faults.now - dropped_at <= 3.0 + 0.5  # sim seconds (+ one tick of slack)
            assert lost.system_id == vehicle.system_id and not vehicle.state.link.connected
            faults.inject(0, link_drop=False)
            restored = await events.wait_for(LinkRestored, timeout_s=5)
        assert restored.outage_s > 0 and vehicle.state.link.connected


async def test_low_battery_is_reported_and_the_vehicle_returns(backend: Backend) -> None:
    faults = backend.require_faults()
    async with backend.vehicle(battery_low_pct=25.0) as vehicle:
        await _airborne(vehicle, 20)
        away = offset(*backend.homes[0], 0.0, 80.0)
        await vehicle.goto(*away, 20)
        await vehicle.wait_reached(*away, 20, tolerance_m=3)
        with vehicle.link.subscribe() as events:
            faults.inject(0, battery_fault=0.05)
            low = await events.wait_for(BatteryLow, timeout_s=60 / backend.speedup)
            assert low.system_id == vehicle.system_id and low.remaining_pct < 25
            state = await vehicle.wait_for(
                lambda s: s.mode_kind in (ModeKind.RETURN, ModeKind.LAND), 30, "failsafe"
            )
        assert state.battery_pct is not None and state.battery_pct < 25


@pytest.mark.backend(speedup=10)
async def test_packet_loss_is_seen_in_link_health(backend: Backend) -> None:
    faults = backend.require_faults()
    async with backend.vehicle() as vehicle:
        await vehicle.wait_ready(timeout_s=120)
        # Loss is measured from gaps in the packets' sequence numbers; a sender that never
        # advances them shows none (mavsim, at the time of writing, sends every packet as 0).
        tracker = vehicle.telemetry.seq
        seqs = {tracker.last_seq}
        for _ in range(20):
            received = tracker.received
            await vehicle.wait_for(lambda s, n=received: s.link.packets_received > n, 10)
            seqs.add(tracker.last_seq)
        if seqs == {0}:
            pytest.skip("the simulator does not number its MAVLink packets (seq stays 0)")
        faults.inject(0, packet_loss=0.3)
        start = vehicle.state.link.packets_received
        # The figure covers the last 200-400 packets: wait until they are all lossy ones.
        state = await vehicle.wait_for(
            lambda s: s.link.packets_received > start + 450, timeout_s=120, what="counting"
        )
        assert 0.2 < state.link.packet_loss < 0.4
        assert state.link.packets_lost > 100
        assert state.link.connected  # lossy is not lost


async def test_refusals_raise_with_the_result_and_reason(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await vehicle.wait_ready(timeout_s=120)
        if backend.autopilot == "ardupilot":
            # Copter refuses a non-positive speed outright.
            with pytest.raises(CommandDenied) as err:
                await vehicle.command_long(mavlink.MAV_CMD_DO_CHANGE_SPEED, 1, 0)
            assert err.value.result == "MAV_RESULT_DENIED"
        else:
            # PX4: OFFBOARD without a setpoint stream is refused in the second ACK.
            with pytest.raises(CommandDenied) as err:
                await vehicle.set_mode("OFFBOARD")
            assert "not available" in err.value.reason
            assert vehicle.state.mode == "HOLD"
        assert f"vehicle {vehicle.system_id}" in str(err.value)


async def test_speed_change_is_accepted_and_flown(backend: Backend) -> None:
    async with backend.vehicle() as vehicle:
        await _airborne(vehicle, 20)
        far = offset(*backend.homes[0], 270.0, 400.0)
        await vehicle.goto(*far, 20)
        await vehicle.wait_for(lambda s: s.ground_speed_mps > 4.5, 60, "cruising")
        await vehicle.set_speed(3.0)
        slowed = await vehicle.wait_for(lambda s: s.ground_speed_mps < 3.3, 30, "slowed")
        assert _dist(slowed, *far) > 50  # slowed on the way, not by arriving
        near = offset(*backend.homes[0], 0.0, 60.0)
        await vehicle.goto(*near, 20, speed_mps=2.0)
        steady = await vehicle.wait_for(
            lambda s: _dist(s, *near) < 40 and s.ground_speed_mps > 1.0, 120, "on the way back"
        )
        assert steady.ground_speed_mps < 2.4


@pytest.mark.parametrize("exchange", ["command", "parameter", "fence"])
async def test_a_cancelled_exchange_stays_cancelled_when_its_answer_arrives(
    backend: Backend, exchange: str
) -> None:
    """A sortie recalled at the very moment the aircraft answers must stop there. With
    ``asyncio.wait_for`` on Python 3.11 the answer won the race and the cancellation was
    dropped: the recalled sortie went on flying its route beside the return."""
    answers = {
        "command": {mavlink.MAVLINK_MSG_ID_COMMAND_ACK},
        "parameter": {mavlink.MAVLINK_MSG_ID_PARAM_VALUE},
        "fence": {
            mavlink.MAVLINK_MSG_ID_MISSION_REQUEST_INT,
            mavlink.MAVLINK_MSG_ID_MISSION_REQUEST,
        },
    }[exchange]
    async with backend.vehicle() as vehicle:
        lat, lon = backend.homes[0]
        corners = tuple(offset(lat, lon, b, 300.0) for b in (45.0, 135.0, 225.0, 315.0))
        param = "FENCE_ENABLE" if vehicle.autopilot == "ardupilot" else "GF_ACTION"
        exchanges = {
            "command": lambda: vehicle.commands.long(
                mavlink.MAV_CMD_REQUEST_MESSAGE, (float(mavlink.MAVLINK_MSG_ID_HOME_POSITION),)
            ),
            "parameter": lambda: vehicle.get_param(param),
            "fence": lambda: vehicle.upload_fence(Fence(polygons=(FencePolygon(corners),))),
        }
        task = asyncio.create_task(exchanges[exchange]())
        handle = vehicle.handle

        def answered_then_cancelled(msg: object, msg_id: int, now: float) -> None:
            handle(msg, msg_id, now)
            if msg_id in answers:
                task.cancel()  # in the same step as the answer, as a recall can land

        vehicle.handle = answered_then_cancelled  # type: ignore[method-assign]
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_telemetry_is_slow_on_the_ground_and_fast_once_armed(backend: Backend) -> None:
    """A hundred docked aircraft at flight rates would swamp the ground station; an
    airborne one must report often enough to monitor its conformance."""
    if backend.autopilot != "ardupilot":
        pytest.skip("PX4 streams by its MAVLink mode, not on request")
    async with backend.vehicle() as vehicle:
        boot_ms: list[int] = []
        handle = vehicle.handle

        def counting(msg: object, msg_id: int, now: float) -> None:
            handle(msg, msg_id, now)
            if msg_id == mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT:
                boot_ms.append(msg.time_boot_ms)  # type: ignore[attr-defined]

        async def rate_hz(samples: int) -> float:
            """Position reports per second of vehicle time, over ``samples`` reports."""
            boot_ms.clear()
            await vehicle.wait_for(lambda _: len(boot_ms) > samples, 120, "position reports")
            return samples / ((boot_ms[samples] - boot_ms[0]) / 1000)

        vehicle.handle = counting  # type: ignore[method-assign]
        await vehicle.wait_ready(timeout_s=120)
        await rate_hz(2)  # let the idle rates, asked for on discovery, take hold
        idle = await rate_hz(4)
        await _airborne(vehicle, 10)
        await rate_hz(5)
        flying = await rate_hz(20)
        assert idle == pytest.approx(vehicle.config.idle_position_rate_hz, rel=0.3)
        assert flying == pytest.approx(vehicle.config.position_rate_hz, rel=0.3)
        assert vehicle.config.position_rate_hz >= 4 * vehicle.config.idle_position_rate_hz
