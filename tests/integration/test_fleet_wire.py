"""The fleet link at the byte level: what it parses, normalises, sends and to whom.

The simulator tests (test_fleet_flight.py) fly whole sorties; these pin down the
protocol details a simulator might paper over, using MAVLink bytes encoded here with
pymavlink and peers on real loopback UDP sockets.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from skyshare.domain.errors import InputError
from skyshare.fleet import (
    CommandDenied,
    CommandTimeout,
    Fence,
    FenceCircle,
    FencePolygon,
    FleetConfig,
    FleetLink,
    FlightPhase,
    LandedState,
    LinkLost,
    LinkRestored,
    MissionItem,
    ModeKind,
    StatusText,
)
from skyshare.fleet.endpoints import Scheme, parse_endpoint
from skyshare.fleet.mission import MISSION

HOME = (51.5074, -0.1278, 20.0)
AP = mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA
PX4 = mavlink.MAV_AUTOPILOT_PX4
QUAD = mavlink.MAV_TYPE_QUADROTOR


class Encoder:
    """Packs messages as a vehicle with ``system_id`` would send them."""

    def __init__(self, system_id: int, component_id: int = 1) -> None:
        self.mav = mavlink.MAVLink(None, system_id, component_id)

    def __call__(self, msg: Any, seq: int | None = None) -> bytes:
        if seq is not None:
            self.mav.seq = seq
        data = msg.pack(self.mav)
        self.mav.seq = (self.mav.seq + 1) % 256
        return bytes(data)


def heartbeat(autopilot: int, custom_mode: int, armed: bool = False) -> Any:
    base = mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (128 if armed else 0)
    return mavlink.MAVLink_heartbeat_message(QUAD, autopilot, base, custom_mode, 3, 3)


def position(lat: float, lon: float, alt_rel: float, vn: float = 0.0, ve: float = 0.0) -> Any:
    return mavlink.MAVLink_global_position_int_message(
        1000,
        round(lat * 1e7),
        round(lon * 1e7),
        round((HOME[2] + alt_rel) * 1000),
        round(alt_rel * 1000),
        round(vn * 100),
        round(ve * 100),
        -50,
        9000,
    )


def ready_telemetry(enc: Encoder, autopilot: int, custom_mode: int, armed: bool) -> bytes:
    """What a booted, GPS-locked vehicle streams."""
    prearm = mavlink.MAV_SYS_STATUS_PREARM_CHECK
    out = enc(heartbeat(autopilot, custom_mode, armed))
    out += enc(position(51.5080, -0.1290, 30.0, vn=3.0, ve=4.0))
    out += enc(mavlink.MAVLink_gps_raw_int_message(0, 3, 0, 0, 0, 100, 100, 0, 0, 14))
    out += enc(
        mavlink.MAVLink_sys_status_message(
            prearm, prearm, prearm, 0, 15800, 1000, 76, 0, 0, 0, 0, 0, 0
        )
    )
    out += enc(
        mavlink.MAVLink_home_position_message(
            round(HOME[0] * 1e7),
            round(HOME[1] * 1e7),
            round(HOME[2] * 1000),
            0,
            0,
            0,
            [1, 0, 0, 0],
            0,
            0,
            0,
        )
    )
    out += enc(mavlink.MAVLink_extended_sys_state_message(0, mavlink.MAV_LANDED_STATE_IN_AIR))
    return out


def fast_config(**overrides: Any) -> FleetConfig:
    base: dict[str, Any] = {
        "speedup": 10.0,
        "command_timeout_s": 1.0,
        "command_attempts": 3,
        "min_wall_wait_s": 0.05,
    }
    base.update(overrides)
    return FleetConfig(**base)


# ---- connection strings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("udpin:0.0.0.0:14550", Scheme.UDPIN, "0.0.0.0", 14550),
        ("udp:127.0.0.1:14540", Scheme.UDPIN, "127.0.0.1", 14540),
        ("udpout:10.1.2.3:14555", Scheme.UDPOUT, "10.1.2.3", 14555),
        ("tcp:127.0.0.1:5760", Scheme.TCP, "127.0.0.1", 5760),
        ("tcpin:0.0.0.0:5761", Scheme.TCPIN, "0.0.0.0", 5761),
        ("TCP:[::1]:5760", Scheme.TCP, "::1", 5760),
    ],
)
def test_connection_strings_in_mavutil_syntax(
    text: str, scheme: Scheme, host: str, port: int
) -> None:
    endpoint = parse_endpoint(text)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == (scheme, host, port)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("serial:/dev/ttyUSB0:57600", "unknown scheme"),
        ("tcp:127.0.0.1", "expected tcp:HOST:PORT"),
        ("udpin:0.0.0.0:port", "is not a number"),
        ("udpout:127.0.0.1:70000", "outside 0..65535"),
        ("", "empty"),
    ],
)
def test_bad_connection_strings_say_why(text: str, reason: str) -> None:
    with pytest.raises(InputError) as err:
        parse_endpoint(text)
    assert err.value.field == "connection"
    assert reason in str(err.value)


def test_config_rejects_nonsense() -> None:
    with pytest.raises(InputError, match="speedup"):
        FleetConfig(speedup=0)
    with pytest.raises(InputError, match="command_attempts"):
        FleetConfig(command_attempts=0)


# ---- normalising telemetry ----------------------------------------------------------------


async def test_ardupilot_telemetry_becomes_a_normalised_state() -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    enc = Encoder(3)
    ekf = mavlink.MAVLink_ekf_status_report_message(
        mavlink.EKF_POS_HORIZ_ABS | mavlink.EKF_ATTITUDE, 0.1, 0.1, 0.1, 0.1, 0.1
    )
    link.feed(ready_telemetry(enc, AP, 4, armed=True) + enc(ekf))
    state = link.vehicle(3).state
    assert state.autopilot == "ardupilot"
    assert (state.mode, state.mode_kind) == ("GUIDED", ModeKind.GUIDED)
    assert state.armed and state.landed is LandedState.IN_AIR
    assert state.phase is FlightPhase.AIRBORNE
    assert state.lat == pytest.approx(51.5080) and state.lon == pytest.approx(-0.1290)
    assert state.alt_rel_m == pytest.approx(30.0) and state.alt_amsl_m == pytest.approx(50.0)
    assert state.ground_speed_mps == pytest.approx(5.0)
    assert state.climb_mps == pytest.approx(0.5)
    assert state.heading_deg == pytest.approx(90.0)
    assert (state.battery_pct, state.battery_v) == (76.0, pytest.approx(15.8))
    assert (state.gps_fix, state.gps_sats) == (3, 14)
    assert state.home == pytest.approx(HOME)
    assert state.ekf_ok is True and state.prearm_ok is True and state.ready
    assert state.link.connected and state.link.packet_loss == 0.0


async def test_ardupilot_without_ekf_position_is_not_ready() -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    enc = Encoder(1)
    ekf = mavlink.MAVLink_ekf_status_report_message(
        mavlink.EKF_POS_HORIZ_ABS | mavlink.EKF_CONST_POS_MODE, 0, 0, 0, 0, 0
    )
    link.feed(ready_telemetry(enc, AP, 0, armed=False) + enc(ekf))
    state = link.vehicle(1).state
    assert state.ekf_ok is False and not state.ready
    assert state.mode == "STABILIZE" and state.mode_kind is ModeKind.MANUAL


@pytest.mark.parametrize(
    ("custom_mode", "name", "kind"),
    [
        (0x03040000, "HOLD", ModeKind.HOLD),
        (0x02040000, "TAKEOFF", ModeKind.TAKEOFF),
        (0x04040000, "MISSION", ModeKind.MISSION),
        (0x05040000, "RTL", ModeKind.RETURN),
        (0x06040000, "LAND", ModeKind.LAND),
        (0x00060000, "OFFBOARD", ModeKind.GUIDED),
        (0x00030000, "POSCTL", ModeKind.MANUAL),
        (0x01030000, "ORBIT", ModeKind.ORBIT),
        (0x00020000, "ALTCTL", ModeKind.MANUAL),
    ],
)
async def test_px4_custom_modes_decode(custom_mode: int, name: str, kind: ModeKind) -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    link.feed(Encoder(2)(heartbeat(PX4, custom_mode)))
    state = link.vehicle(2).state
    assert (state.autopilot, state.mode, state.mode_kind) == ("px4", name, kind)


async def test_mode_arming_and_landing_changes_are_events() -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    enc = Encoder(5)
    with link.subscribe() as events:
        link.feed(enc(heartbeat(PX4, 0x03040000)))
        link.feed(enc(mavlink.MAVLink_extended_sys_state_message(0, 1)))
        link.feed(enc(heartbeat(PX4, 0x02040000, armed=True)))
        link.feed(enc(mavlink.MAVLink_extended_sys_state_message(0, 3)))
        link.feed(enc(heartbeat(PX4, 0x06040000, armed=True)))
        link.feed(enc(mavlink.MAVLink_extended_sys_state_message(0, 1)))
        link.feed(enc(heartbeat(PX4, 0x06040000, armed=False)))
        kinds = [type(e).__name__ for e in events.pending()]
    assert kinds == [
        "VehicleDiscovered",
        "ModeChanged",
        "Armed",
        "TookOff",
        "ModeChanged",
        "Landed",
        "Disarmed",
    ]


async def test_an_aircraft_first_heard_armed_is_not_taken_for_landed_until_it_says() -> None:
    """A ground station that starts while an aircraft flies hears its HEARTBEAT first:
    armed, with no altitude yet, it may be up or down, and is not guessed on the ground
    (a restarted service would hand its sortie on); its altitude says. Disarmed, it is
    down; armed at a dock's height, down too."""
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    flying, docked, armed_on_dock = Encoder(1), Encoder(2), Encoder(3)
    link.feed(flying(heartbeat(AP, 4, armed=True)))
    assert link.vehicle(1).state.landed is LandedState.UNKNOWN
    link.feed(flying(position(51.5080, -0.1290, 40.0)))
    assert link.vehicle(1).state.landed is LandedState.IN_AIR
    link.feed(docked(heartbeat(AP, 0, armed=False)))
    assert link.vehicle(2).state.landed is LandedState.ON_GROUND
    link.feed(armed_on_dock(heartbeat(AP, 4, armed=True)))
    link.feed(armed_on_dock(position(51.5080, -0.1290, 0.1)))
    assert link.vehicle(3).state.landed is LandedState.ON_GROUND


async def test_statustext_tab_stripped_and_chunks_joined() -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    enc = Encoder(1)
    long_text = "Geofence: approaching or outside geofence, stopping at the boundary now"
    first, rest = long_text[:50].encode(), (long_text[50:] + "\t").encode()
    with link.subscribe() as events:
        link.feed(enc(heartbeat(PX4, 0x03040000)))
        link.feed(enc(mavlink.MAVLink_statustext_message(2, b"Arming denied: Resolve health\t")))
        link.feed(enc(mavlink.MAVLink_statustext_message(4, first, 7, 0)))
        link.feed(enc(mavlink.MAVLink_statustext_message(4, rest, 7, 1)))
        texts = [e.text for e in events.pending() if isinstance(e, StatusText)]
    assert texts == ["Arming denied: Resolve health", long_text]
    assert link.vehicle(1).state.status_text == long_text


async def test_packet_loss_is_measured_from_sequence_gaps() -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    enc = Encoder(4)
    link.feed(enc(heartbeat(AP, 5), seq=250))
    sent = 0
    for seq in range(251, 552):  # wraps past 255 (and ends on a received one)
        if seq % 10 == 0:
            continue  # lost on the way
        link.feed(enc(position(51.5, -0.1, 10.0), seq=seq % 256))
        sent += 1
    health = link.vehicle(4).state.link
    assert health.packets_received == sent + 1
    assert health.packets_lost == 30
    assert health.packet_loss == pytest.approx(0.1, abs=0.02)


async def test_garbage_between_packets_is_skipped() -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    enc = Encoder(6)
    link.feed(b"\x00\x11garbage" + enc(heartbeat(AP, 3)) + b"junk" + enc(position(51.5, 0.1, 5)))
    state = link.vehicle(6).state
    assert state.mode == "AUTO" and state.lat == pytest.approx(51.5)
    assert link.stats.bad_data >= 1


async def test_gcs_and_companion_heartbeats_are_not_vehicles() -> None:
    link = FleetLink("udpin:127.0.0.1:0", fast_config())
    gcs = mavlink.MAVLink_heartbeat_message(
        mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 4, 3
    )
    companion = mavlink.MAVLink_heartbeat_message(
        mavlink.MAV_TYPE_ONBOARD_CONTROLLER, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 4, 3
    )
    link.feed(Encoder(200)(gcs) + Encoder(9, 191)(companion))
    assert link.vehicles == {}
    link.feed(Encoder(9, 1)(heartbeat(AP, 4)) + Encoder(9, 191)(companion))
    assert link.vehicle(9).component_id == 1 and link.vehicle(9).state.mode == "GUIDED"


# ---- real sockets: routing, ACKs, retries, link loss ---------------------------------------------


class ScriptedVehicle:
    """A UDP peer speaking as vehicle ``system_id``, for wire-level assertions."""

    def __init__(self, system_id: int, autopilot: int, link_port: int) -> None:
        self.enc = Encoder(system_id)
        self.autopilot = autopilot
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.dest = ("127.0.0.1", link_port)
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        self.received: list[Any] = []

    def send(self, msg: Any) -> None:
        self.sock.sendto(self.enc(msg), self.dest)

    async def recv(self, msg_type: str, timeout: float = 2.0, command: int | None = None) -> Any:
        """The next ``msg_type`` received (of MAV_CMD ``command``, for command messages)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, msg in enumerate(self.received):
                if msg.get_type() == msg_type and command in (None, getattr(msg, "command", None)):
                    return self.received.pop(i)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {msg_type}")
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), remaining)
            self.received.extend(self.parser.parse_buffer(data) or [])

    def drain(self) -> list[Any]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                break
            self.received.extend(self.parser.parse_buffer(data) or [])
        out, self.received = self.received, []
        return out

    def close(self) -> None:
        self.sock.close()


async def open_link(config: FleetConfig | None = None) -> FleetLink:
    return await FleetLink("udpin:127.0.0.1:0", config or fast_config()).open()


async def test_commands_reach_only_the_addressed_vehicle_on_a_shared_port() -> None:
    link = await open_link()
    one = ScriptedVehicle(1, PX4, link.local_port)
    two = ScriptedVehicle(2, PX4, link.local_port)
    try:
        one.send(heartbeat(PX4, 0x03040000))
        two.send(heartbeat(PX4, 0x03040000))
        await link.wait_vehicles([1, 2], timeout_s=2)
        one.drain(), two.drain()

        command = asyncio.create_task(link.vehicle(2).command_long(mavlink.MAV_CMD_DO_SET_HOME, 1))
        received = await two.recv("COMMAND_LONG", command=mavlink.MAV_CMD_DO_SET_HOME)
        assert (received.target_system, received.command) == (2, mavlink.MAV_CMD_DO_SET_HOME)
        # An ACK from vehicle 1 for the same command must not resolve vehicle 2's.
        one.send(
            mavlink.MAVLink_command_ack_message(mavlink.MAV_CMD_DO_SET_HOME, 0, 0, 0, 255, 190)
        )
        await asyncio.sleep(0)  # let the stray ACK in before vehicle 2 answers
        two.send(
            mavlink.MAVLink_command_ack_message(mavlink.MAV_CMD_DO_SET_HOME, 0, 0, 0, 255, 190)
        )
        outcome = await asyncio.wait_for(command, 2)
        assert outcome.ack.accepted and outcome.attempts == 1
        assert [
            m.get_type() for m in one.drain() if m.get_type() in ("COMMAND_LONG", "COMMAND_INT")
        ] == []
    finally:
        one.close(), two.close()
        await link.close()


async def test_unanswered_command_is_retried_with_confirmation_counting_up() -> None:
    link = await open_link(fast_config(command_attempts=3))
    peer = ScriptedVehicle(7, AP, link.local_port)
    try:
        peer.send(heartbeat(AP, 4))
        vehicle = await link.wait_vehicle(7, timeout_s=2)
        attempt = asyncio.create_task(vehicle.command_long(mavlink.MAV_CMD_DO_SET_HOME, 1))
        set_home = mavlink.MAV_CMD_DO_SET_HOME
        sent = [await peer.recv("COMMAND_LONG", command=set_home) for _ in range(3)]
        confirmations = [m.confirmation for m in sent]
        with pytest.raises(CommandTimeout) as err:
            await attempt
        assert confirmations == [0, 1, 2]
        assert err.value.attempts == 3 and "MAV_CMD_DO_SET_HOME" in str(err.value)
    finally:
        peer.close()
        await link.close()


async def test_refusal_raises_with_result_name_and_statustext() -> None:
    link = await open_link()
    peer = ScriptedVehicle(1, AP, link.local_port)
    try:
        peer.send(heartbeat(AP, 0))
        vehicle = await link.wait_vehicle(1, timeout_s=2)
        arming = asyncio.create_task(vehicle.arm())
        await peer.recv("COMMAND_LONG", command=mavlink.MAV_CMD_COMPONENT_ARM_DISARM)
        peer.send(mavlink.MAVLink_statustext_message(2, b"PreArm: Need Position Estimate"))
        peer.send(
            mavlink.MAVLink_command_ack_message(
                mavlink.MAV_CMD_COMPONENT_ARM_DISARM, mavlink.MAV_RESULT_FAILED, 0, 0, 255, 190
            )
        )
        with pytest.raises(CommandDenied) as err:
            await arming
        assert err.value.result == "MAV_RESULT_FAILED"
        assert err.value.reason == "PreArm: Need Position Estimate"
        assert "vehicle 1" in str(err.value)
    finally:
        peer.close()
        await link.close()


async def test_px4_second_mode_ack_refusal_fails_the_mode_change() -> None:
    link = await open_link()
    peer = ScriptedVehicle(1, PX4, link.local_port)
    try:
        peer.send(heartbeat(PX4, 0x03040000))
        vehicle = await link.wait_vehicle(1, timeout_s=2)
        change = asyncio.create_task(vehicle.set_mode("MISSION"))
        request = await peer.recv("COMMAND_LONG", command=mavlink.MAV_CMD_DO_SET_MODE)
        assert (request.param2, request.param3) == (4, 4)  # AUTO.MISSION
        ack = mavlink.MAVLink_command_ack_message
        peer.send(ack(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_RESULT_ACCEPTED, 0, 0, 255, 190))
        peer.send(
            mavlink.MAVLink_statustext_message(
                3, b"Switching to Mission is currently not available\t"
            )
        )
        peer.send(ack(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_RESULT_FAILED, 0, 0, 255, 190))
        with pytest.raises(CommandDenied) as err:
            await change
        assert err.value.result == "MAV_RESULT_FAILED"
        assert "currently not available" in err.value.reason
    finally:
        peer.close()
        await link.close()


async def test_mission_upload_answers_legacy_requests_and_lost_items() -> None:
    link = await open_link(fast_config(mission_timeout_s=1.0))
    peer = ScriptedVehicle(3, PX4, link.local_port)
    items = [
        MissionItem.takeoff(20, 51.5074, -0.1278),
        MissionItem.waypoint(51.5090, -0.1300, 40),
        MissionItem.return_to_launch(),
    ]
    try:
        peer.send(heartbeat(PX4, 0x03040000))
        vehicle = await link.wait_vehicle(3, timeout_s=2)
        upload = asyncio.create_task(vehicle.upload_mission(items))
        count = await peer.recv("MISSION_COUNT")
        assert (count.target_system, count.count, count.mission_type) == (3, 3, MISSION)
        peer.send(mavlink.MAVLink_mission_request_int_message(255, 190, 0, MISSION))
        first = await peer.recv("MISSION_ITEM_INT")
        assert (first.seq, first.command, first.z) == (0, mavlink.MAV_CMD_NAV_TAKEOFF, 20)
        peer.send(mavlink.MAVLink_mission_request_message(255, 190, 1, MISSION))  # legacy
        second = await peer.recv("MISSION_ITEM")
        assert second.x == pytest.approx(51.5090, abs=1e-5) and second.frame == 3
        # Item 2's request is "lost": the link re-sends its last item until asked again.
        again = await peer.recv("MISSION_ITEM", timeout=3)
        assert again.seq == 1
        peer.send(mavlink.MAVLink_mission_request_int_message(255, 190, 2, MISSION))
        third = await peer.recv("MISSION_ITEM_INT")
        assert third.command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
        peer.send(
            mavlink.MAVLink_mission_ack_message(255, 190, mavlink.MAV_MISSION_ACCEPTED, MISSION)
        )
        await asyncio.wait_for(upload, 2)
    finally:
        peer.close()
        await link.close()


async def test_mission_rejection_names_the_result() -> None:
    link = await open_link()
    peer = ScriptedVehicle(3, PX4, link.local_port)
    try:
        peer.send(heartbeat(PX4, 0x03040000))
        vehicle = await link.wait_vehicle(3, timeout_s=2)
        upload = asyncio.create_task(vehicle.upload_mission([MissionItem.return_to_launch()]))
        await peer.recv("MISSION_COUNT")
        peer.send(
            mavlink.MAVLink_mission_ack_message(255, 190, mavlink.MAV_MISSION_NO_SPACE, MISSION)
        )
        with pytest.raises(CommandDenied) as err:
            await asyncio.wait_for(upload, 2)
        assert err.value.result == "MAV_MISSION_NO_SPACE"
    finally:
        peer.close()
        await link.close()


async def test_link_lost_after_silence_and_restored_when_heard_again() -> None:
    cfg = fast_config(speedup=10.0, link_timeout_s=2.5, watchdog_period_s=0.2)
    link = await open_link(cfg)
    peer = ScriptedVehicle(1, AP, link.local_port)
    try:
        with link.subscribe() as events:
            # Timed (on the link's clock) from before the last heartbeat is sent: the link
            # hears it a little later, so no loss can come sooner than the timeout after.
            silent_from = time.monotonic()
            peer.send(heartbeat(AP, 4))
            await link.wait_vehicle(1, timeout_s=2)
            lost = await events.wait_for(LinkLost, timeout_s=2)
            # 2.5 vehicle-seconds at 10x is 0.25 s of wall time. How soon after that the
            # watchdog notices is its own period (``test_the_watchdog_...``), not timed here.
            assert time.monotonic() - silent_from >= 0.25 and lost.silent_s > 0.25
            assert lost.system_id == 1 and not link.vehicle(1).state.link.connected
            peer.send(heartbeat(AP, 4))
            restored = await events.wait_for(LinkRestored, timeout_s=2)
            assert restored.outage_s >= 0.25 and link.vehicle(1).state.link.connected
    finally:
        peer.close()
        await link.close()


async def test_the_watchdog_declares_a_link_lost_only_past_the_timeout_and_once() -> None:
    # The link's own watchdog is kept out of the way; its check is driven with given times.
    link = await open_link(fast_config(link_timeout_s=1000.0))
    peer = ScriptedVehicle(1, AP, link.local_port)
    seen: list[Any] = []
    link.add_listener(seen.append)
    try:
        peer.send(heartbeat(AP, 4))
        vehicle = await link.wait_vehicle(1, timeout_s=2)
        last = vehicle.telemetry.last_message
        assert last is not None
        vehicle.check_link(last + 3.0, timeout=3.0)  # exactly the timeout: not yet
        assert not [e for e in seen if isinstance(e, LinkLost)]
        assert vehicle.state.link.connected
        vehicle.check_link(last + 3.001, timeout=3.0)
        vehicle.check_link(last + 9.0, timeout=3.0)  # still silent: no second loss
        lost = [e for e in seen if isinstance(e, LinkLost)]
        assert len(lost) == 1 and lost[0].silent_s == pytest.approx(3.001)
        assert not vehicle.state.link.connected
    finally:
        peer.close()
        await link.close()


async def test_gcs_heartbeats_and_timesync_reach_every_vehicle() -> None:
    link = await open_link(fast_config(speedup=20.0, timesync_period_s=1.0))
    peers = [ScriptedVehicle(i, PX4, link.local_port) for i in (1, 2)]
    try:
        for p in peers:
            p.send(heartbeat(PX4, 0x03040000))
        await link.wait_vehicles([1, 2], timeout_s=2)
        for p in peers:
            hb = await p.recv("HEARTBEAT")
            assert hb.type == mavlink.MAV_TYPE_GCS and hb.get_srcSystem() == 255
            probe = await p.recv("TIMESYNC")
            assert probe.tc1 == 0
            p.send(mavlink.MAVLink_timesync_message(123456789, probe.ts1))
        vehicle = link.vehicle(2)
        await vehicle.wait_for(lambda s: s.link.rtt_s is not None, timeout_s=20, what="timed")
        assert 0 <= vehicle.state.link.rtt_s < 1.0
        # PX4 asks for our clock too: we answer its ts1.
        peers[0].send(mavlink.MAVLink_timesync_message(0, 42))
        for _ in range(20):
            answer = await peers[0].recv("TIMESYNC")
            if answer.ts1 == 42:
                break
        assert answer.tc1 > 0
        # ... and its PING requests.
        peers[1].send(mavlink.MAVLink_ping_message(777, 9, 0, 0))
        pong = await peers[1].recv("PING")
        assert (pong.time_usec, pong.seq, pong.target_system) == (777, 9, 2)
    finally:
        for p in peers:
            p.close()
        await link.close()


async def test_tcp_link_connects_late_and_reconnects_after_a_drop() -> None:
    """ArduPilot SITL style: the vehicle is a TCP server that may come up late or restart."""
    enc = Encoder(1)
    connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await connections.put((reader, writer))

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    link = await FleetLink(f"tcp:127.0.0.1:{port}", fast_config()).open()  # nobody there yet
    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        for round_ in range(2):
            reader, writer = await asyncio.wait_for(connections.get(), 5)
            writer.write(enc(heartbeat(AP, 4 if round_ == 0 else 5)))
            await writer.drain()
            vehicle = await link.wait_vehicle(1, timeout_s=2)
            want = "GUIDED" if round_ == 0 else "LOITER"
            await vehicle.wait_telemetry(lambda t, want=want: t.mode == want, want, 10)
            # The link's GCS heartbeat arrives on this connection.
            parser = mavlink.MAVLink(None)
            got: list[Any] = []
            while not any(m.get_type() == "HEARTBEAT" for m in got):
                got += parser.parse_buffer(await asyncio.wait_for(reader.read(1024), 5)) or []
            writer.close()  # the vehicle restarts: the link must dial again
    finally:
        server.close()
        await server.wait_closed()
        await link.close()


def test_fence_becomes_mission_protocol_items() -> None:
    square = ((51.50, -0.13), (51.50, -0.12), (51.51, -0.12), (51.51, -0.13), (51.50, -0.13))
    fence = Fence(
        polygons=(FencePolygon(square), FencePolygon(square[:3], inclusion=False)),
        circles=(FenceCircle(51.505, -0.125, 80.0, inclusion=False),),
        return_point=(51.505, -0.126),
    )
    items = fence.items()
    commands = [i.command for i in items]
    assert commands == [
        mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT,
        *[mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION] * 4,  # the closing repeat dropped
        *[mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION] * 3,
        mavlink.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
    ]
    assert [i.param1 for i in items[1:8]] == [4, 4, 4, 4, 3, 3, 3]  # vertex count
    assert items[-1].param1 == 80.0 and items[-1].lat == pytest.approx(51.505)
    assert {i.frame for i in items} == {mavlink.MAV_FRAME_GLOBAL}
    with pytest.raises(InputError) as err:
        FencePolygon(((51.5, -0.1), (51.6, -0.1)))
    assert err.value.field == "fence.polygon.vertices"
    with pytest.raises(InputError, match="radius_m"):
        FenceCircle(51.5, -0.1, 0)


def test_mission_items_validate_their_input() -> None:
    with pytest.raises(InputError) as err:
        MissionItem.waypoint(95.0, 0.0, 10)
    assert err.value.field == "waypoint.lat"
    with pytest.raises(InputError, match=r"takeoff\.alt_m"):
        MissionItem.takeoff(-5)
    assert MissionItem.waypoint(51.5, -0.12, 30).lat == pytest.approx(51.5)
    assert math.isclose(MissionItem.change_speed(7).param2, 7)


async def test_a_link_keeps_parse_state_for_a_bounded_number_of_senders() -> None:
    """Anyone who can reach a udpin port can send from new source addresses without end:
    the link keeps parse state for the newest 1,024 and still hears its vehicles."""
    # No MAVLink start byte: a parser left waiting for the rest of a frame would swallow
    # the vehicle's heartbeat if it came from a port a junk sender had used.
    junk = b"not mavlink"
    link = await open_link()
    sources: set[tuple[str, int]] = set()
    try:
        deadline = time.monotonic() + 10
        for n in range(1, 1101):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(junk, ("127.0.0.1", link.local_port))
                sources.add(sock.getsockname())
            # One at a time: the link reads a datagram per turn of the loop, and a burst
            # would overflow the socket's buffer.
            while link.stats.bytes_received < n * len(junk) and time.monotonic() < deadline:
                await asyncio.sleep(0)
        assert len(sources) > 1024 and link.stats.bytes_received == 1100 * len(junk)
        assert link.stats.senders == 1024
        vehicle = ScriptedVehicle(1, PX4, link.local_port)
        try:
            vehicle.send(heartbeat(PX4, 0x03040000))
            await link.wait_vehicles([1], timeout_s=2)
            assert link.stats.senders == 1024
        finally:
            vehicle.close()
    finally:
        await link.close()
