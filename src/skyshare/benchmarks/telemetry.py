"""Telemetry throughput of the fleet link against bare pymavlink parsing.

The same MAVLink bytes (a realistic stream from several vehicles: position at 10 Hz,
attitude, HUD, status, GPS, battery, landed state, heartbeats), cut into datagram-sized
chunks, go once through pymavlink's ``parse_buffer`` alone (the baseline: nothing is
done with the messages) and once through ``FleetLink.feed`` (parsed, routed to the
vehicle by system id, sequence-checked, and applied to its normalised state). The
target is at least half the baseline's rate.
"""

from __future__ import annotations

import asyncio
import math

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from skyshare.benchmarks import Figure, Report, benchmark, best_of
from skyshare.fleet import FleetConfig, FleetLink

# Messages per second of each kind, per vehicle (ArduCopter-like stream rates).
_MIX = (
    ("GLOBAL_POSITION_INT", 10),
    ("ATTITUDE", 10),
    ("VFR_HUD", 4),
    ("SYS_STATUS", 2),
    ("GPS_RAW_INT", 2),
    ("EXTENDED_SYS_STATE", 2),
    ("EKF_STATUS_REPORT", 2),
    ("BATTERY_STATUS", 1),
    ("HEARTBEAT", 1),
)
_MESSAGES_PER_DATAGRAM = 3


def _message(kind: str, step: int, vehicle: int) -> mavlink.MAVLink_message:
    t = step * 0.1
    lat = 51.5 + 0.001 * vehicle + 1e-5 * step
    lon = -0.12 + 1e-5 * step
    if kind == "GLOBAL_POSITION_INT":
        return mavlink.MAVLink_global_position_int_message(
            int(t * 1000), round(lat * 1e7), round(lon * 1e7), 80_000, 60_000, 300, 400, -10, 9000
        )
    if kind == "ATTITUDE":
        return mavlink.MAVLink_attitude_message(int(t * 1000), 0.01, -0.02, math.pi / 2, 0, 0, 0)
    if kind == "VFR_HUD":
        return mavlink.MAVLink_vfr_hud_message(5.0, 5.0, 90, 45, 60.0, 0.1)
    if kind == "SYS_STATUS":
        bits = mavlink.MAV_SYS_STATUS_PREARM_CHECK
        return mavlink.MAVLink_sys_status_message(
            bits, bits, bits, 300, 15800, 1200, 80, 0, 0, 0, 0, 0, 0
        )
    if kind == "GPS_RAW_INT":
        return mavlink.MAVLink_gps_raw_int_message(
            int(t * 1e6), 3, round(lat * 1e7), round(lon * 1e7), 80_000, 90, 120, 500, 9000, 15
        )
    if kind == "EXTENDED_SYS_STATE":
        return mavlink.MAVLink_extended_sys_state_message(0, mavlink.MAV_LANDED_STATE_IN_AIR)
    if kind == "EKF_STATUS_REPORT":
        return mavlink.MAVLink_ekf_status_report_message(0x1FF, 0.1, 0.1, 0.1, 0.1, 0.0)
    if kind == "BATTERY_STATUS":
        return mavlink.MAVLink_battery_status_message(
            0, 0, 0, 2500, [3950] * 4 + [65535] * 6, 1200, 100, 100, 80
        )
    return mavlink.MAVLink_heartbeat_message(
        mavlink.MAV_TYPE_QUADROTOR,
        mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
        mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | mavlink.MAV_MODE_FLAG_SAFETY_ARMED,
        4,
        mavlink.MAV_STATE_ACTIVE,
        3,
    )


def telemetry_stream(vehicles: int, seconds: int) -> tuple[list[tuple[int, bytes]], int]:
    """(vehicle, datagram) chunks of ``seconds`` of telemetry from each vehicle, and the count."""
    encoders = [mavlink.MAVLink(None, v + 1, 1) for v in range(vehicles)]
    chunks: list[tuple[int, bytes]] = []
    count = 0
    for step in range(seconds * 10):  # 10 Hz ticks
        for v, enc in enumerate(encoders):
            pending: list[bytes] = []
            for kind, rate in _MIX:
                if step % (10 // rate) != 0:
                    continue
                msg = _message(kind, step, v)
                pending.append(bytes(msg.pack(enc)))
                enc.seq = (enc.seq + 1) % 256
                count += 1
            for i in range(0, len(pending), _MESSAGES_PER_DATAGRAM):
                chunks.append((v, b"".join(pending[i : i + _MESSAGES_PER_DATAGRAM])))
    return chunks, count


def _raw_parse(chunks: list[tuple[int, bytes]]) -> int:
    parsers: dict[int, mavlink.MAVLink] = {}
    n = 0
    for peer, data in chunks:
        parser = parsers.get(peer)
        if parser is None:
            parser = parsers[peer] = mavlink.MAVLink(None)
            parser.robust_parsing = True
        messages = parser.parse_buffer(data)
        if messages:
            n += len(messages)
    return n


async def _measure(
    chunks: list[tuple[int, bytes]], count: int, repeat: int
) -> tuple[float, float, dict]:
    link = FleetLink("udpin:127.0.0.1:0", FleetConfig(request_streams=False))
    for peer, data in chunks[:200]:  # discover every vehicle before timing
        link.feed(data, peer)
    assert _raw_parse(chunks) == count

    def through_link() -> None:
        for peer, data in chunks:
            link.feed(data, peer)

    raw_s = best_of(lambda: _raw_parse(chunks), repeat=repeat)
    link_s = best_of(through_link, repeat=repeat)
    state = link.vehicle(1).state
    await asyncio.sleep(0)  # let the discovery tasks finish before the loop closes
    sample = {"mode": state.mode, "lat": state.lat, "battery_pct": state.battery_pct}
    return count / raw_s, count / link_s, sample


@benchmark("telemetry", "MAVLink telemetry through the fleet link vs raw pymavlink parse_buffer")
def run(quick: bool) -> Report:
    vehicles, seconds, repeat = (5, 20, 3) if quick else (20, 60, 5)
    chunks, count = telemetry_stream(vehicles, seconds)
    raw_rate, link_rate, sample = asyncio.run(_measure(chunks, count, repeat))
    report = Report("telemetry", "fleet link: bytes -> parsed -> VehicleState, messages/s")
    report.figures.append(
        Figure(
            "fleet link telemetry",
            link_rate,
            "messages/s",
            "pymavlink parse_buffer",
            raw_rate,
            note="target: ratio >= 0.5",
        )
    )
    report.context.update(
        {
            "vehicles": vehicles,
            "messages": count,
            "datagrams": len(chunks),
            "mix_per_vehicle_hz": dict(_MIX),
            "state_sample": sample,
        }
    )
    return report
