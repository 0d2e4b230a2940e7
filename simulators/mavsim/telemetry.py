"""Telemetry: one builder per streamed message, and the per-vehicle stream scheduler.

Builders read the vehicle and return a pymavlink message object; the vehicle packs it
once and sends the bytes to every connected client. The scheduler runs in sim time:
each stream has an interval and the time it is next due, so SET_MESSAGE_INTERVAL and
REQUEST_DATA_STREAM only change numbers. A stream asked for faster than the tick rate
goes out once per tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

if TYPE_CHECKING:
    from simulators.mavsim.vehicle import SimVehicle

UINT16_MAX = 65535
INT16_MAX = 32767
_EPOCH_US = 1_700_000_000_000_000  # fixed wall-clock origin: runs stay deterministic


def heartbeat(v: SimVehicle) -> Any:
    base_mode, custom_mode, status = v.heartbeat_fields()
    return mavlink.MAVLink_heartbeat_message(
        mavlink.MAV_TYPE_QUADROTOR, v.mav_autopilot, base_mode, custom_mode, status, 3
    )


def sys_status(v: SimVehicle) -> Any:
    present, enabled, health = v.sensors()
    b = v.battery
    return mavlink.MAVLink_sys_status_message(
        present, enabled, health, 200,
        int(b.voltage * 1000), int(b.current_a * 100), round(b.remaining * 100),
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    )  # fmt: skip


def battery_status(v: SimVehicle) -> Any:
    b = v.battery
    voltages = [min(int(b.voltage * 1000), UINT16_MAX - 1)] + [UINT16_MAX] * 9
    return mavlink.MAVLink_battery_status_message(
        0, mavlink.MAV_BATTERY_FUNCTION_ALL, mavlink.MAV_BATTERY_TYPE_LIPO, INT16_MAX,
        voltages, int(b.current_a * 100), int(b.used_mah), -1,
        round(b.remaining * 100), 0, v.battery_charge_state(), [0, 0, 0, 0], 0, 0,
    )  # fmt: skip


def global_position_int(v: SimVehicle) -> Any:
    body = v.body
    if v.position_valid:
        lat, lon = round(v.lat * 1e7), round(v.lon * 1e7)
    else:
        lat = lon = 0  # ArduPilot reports zeros until the EKF has an origin
    return mavlink.MAVLink_global_position_int_message(
        v.time_boot_ms, lat, lon, round(v.alt_amsl * 1000), round(v.alt_rel * 1000),
        round(body.vn * 100), round(body.ve * 100), round(-body.vu * 100),
        round(body.heading * 100) % 36000,
    )  # fmt: skip


def gps_raw_int(v: SimVehicle) -> Any:
    fix, sats = v.gps_fix()
    body = v.body
    if fix >= 2:
        noise_n, noise_e = v.gps_noise()
        lat, lon = v.frame.to_latlon(body.n + noise_n, body.e + noise_e)
        lat_i, lon_i, alt = round(lat * 1e7), round(lon * 1e7), int(v.alt_amsl * 1000)
        eph, epv, hacc, vacc = 121, 200, 300, 500
    else:
        lat_i = lon_i = alt = 0
        eph = epv = UINT16_MAX
        hacc = vacc = 0
    cog = round(math.degrees(math.atan2(body.ve, body.vn)) % 360 * 100) % 36000
    return mavlink.MAVLink_gps_raw_int_message(
        v.time_usec, fix, lat_i, lon_i, alt, eph, epv, int(body.ground_speed * 100),
        cog if body.ground_speed > 0.2 else UINT16_MAX, sats, alt, hacc, vacc, 100, 0, 0,
    )  # fmt: skip


def attitude(v: SimVehicle) -> Any:
    b = v.body
    yaw = math.radians(b.heading)
    if yaw > math.pi:
        yaw -= 2 * math.pi
    return mavlink.MAVLink_attitude_message(
        v.time_boot_ms, b.roll, b.pitch, yaw, 0.0, 0.0, b.yaw_rate
    )


def vfr_hud(v: SimVehicle) -> Any:
    b = v.body
    return mavlink.MAVLink_vfr_hud_message(
        b.airspeed(), b.ground_speed, int(b.heading) % 360, v.throttle_pct(), v.alt_amsl, b.vu
    )


def local_position_ned(v: SimVehicle) -> Any:
    b = v.body
    return mavlink.MAVLink_local_position_ned_message(
        v.time_boot_ms, b.n, b.e, -b.u, b.vn, b.ve, -b.vu
    )


def home_position(v: SimVehicle) -> Any | None:
    if not v.home_set:
        return None
    hn, he = v.frame.to_ne(v.home_lat, v.home_lon)
    return mavlink.MAVLink_home_position_message(
        round(v.home_lat * 1e7), round(v.home_lon * 1e7),
        round(v.home_alt_amsl * 1000), hn, he, -(v.home_alt_amsl - v.frame.alt0),
        [1.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0, v.time_usec,
    )  # fmt: skip


def extended_sys_state(v: SimVehicle) -> Any:
    return mavlink.MAVLink_extended_sys_state_message(
        mavlink.MAV_VTOL_STATE_UNDEFINED, v.landed_state
    )


def mission_current(v: SimVehicle) -> Any:
    seq, total, state, mode = v.mission_current_fields()
    return mavlink.MAVLink_mission_current_message(seq, total, state, mode)


def ekf_status_report(v: SimVehicle) -> Any:
    return mavlink.MAVLink_ekf_status_report_message(
        v.ekf_flags(), 0.02, 0.02, 0.02, 0.02, 0.0, 0.0
    )


def system_time(v: SimVehicle) -> Any:
    return mavlink.MAVLink_system_time_message(_EPOCH_US + v.time_usec, v.time_boot_ms)


def fence_status(v: SimVehicle) -> Any | None:
    fields = v.fence_status_fields()
    if fields is None:
        return None
    return mavlink.MAVLink_fence_status_message(*fields)


def timesync_request(v: SimVehicle) -> Any:
    return mavlink.MAVLink_timesync_message(0, v.time_usec * 1000)


BUILDERS: dict[str, Callable[[SimVehicle], Any]] = {
    "HEARTBEAT": heartbeat,
    "SYS_STATUS": sys_status,
    "BATTERY_STATUS": battery_status,
    "GLOBAL_POSITION_INT": global_position_int,
    "GPS_RAW_INT": gps_raw_int,
    "ATTITUDE": attitude,
    "VFR_HUD": vfr_hud,
    "LOCAL_POSITION_NED": local_position_ned,
    "HOME_POSITION": home_position,
    "EXTENDED_SYS_STATE": extended_sys_state,
    "MISSION_CURRENT": mission_current,
    "EKF_STATUS_REPORT": ekf_status_report,
    "SYSTEM_TIME": system_time,
    "FENCE_STATUS": fence_status,
    "TIMESYNC": timesync_request,
}


def message_name(msg_id: int) -> str | None:
    cls = mavlink.mavlink_map.get(int(msg_id))
    return cls.msgname if cls is not None else None


class Streams:
    """Which messages go out how often, in sim seconds."""

    def __init__(self, default_hz: dict[str, float]) -> None:
        self.default_hz = {k: v for k, v in default_hz.items() if k in BUILDERS}
        self._interval: dict[str, float] = {}
        self._due: dict[str, float] = {}
        for name, hz in self.default_hz.items():
            self.set_hz(name, hz)

    def set_hz(self, name: str, hz: float | None, now: float = 0.0) -> bool:
        """``hz`` None restores the default; 0 stops the stream. False: not producible."""
        if name not in BUILDERS:
            return False
        if hz is None:
            hz = self.default_hz.get(name, 0.0)
        if hz <= 0:
            self._interval.pop(name, None)
            self._due.pop(name, None)
            return True
        self._interval[name] = 1.0 / hz
        self._due[name] = now
        return True

    def kick(self, now: float, names: tuple[str, ...] | None = None) -> None:
        """Make streams due now (when a milestone switches them on)."""
        for name in self._due:
            if names is None or name in names:
                self._due[name] = now

    def interval_us(self, name: str) -> int:
        """For MESSAGE_INTERVAL: -1 when the stream is off."""
        interval = self._interval.get(name)
        return -1 if interval is None else int(interval * 1e6)

    def due(self, now: float) -> list[str]:
        out = []
        for name, due in self._due.items():
            if now + 1e-9 >= due:
                out.append(name)
                interval = self._interval[name]
                nxt = due + interval
                self._due[name] = nxt if nxt > now else now + interval
        return out
