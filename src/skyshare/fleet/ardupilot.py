"""ArduCopter: its flight modes and the quirks a ground station must respect.

Observed on ArduCopter SITL (shared/notes/real-autopilot-behaviour.md):
- Custom mode numbers are Copter's own (GUIDED 4, AUTO 3, RTL 6, CIRCLE 7, LAND 9 ...).
- A mode set in the first 1-2 s after boot is overwritten by the initial mode
  (STABILIZE), after which a takeoff fails: so a mode change is confirmed from the
  HEARTBEAT, and a failed takeoff outside GUIDED sets GUIDED again and retries once.
- Armed on the ground and idle, it disarms itself after 10 s: take off right after arming.
- Arming before the EKF has an absolute position fails ("PreArm: Need Position
  Estimate"); readiness therefore also reads EKF_STATUS_REPORT.
- Telemetry streams must be requested (REQUEST_DATA_STREAM).
- Mission item 0 is home: a GCS uploads a placeholder there.
- CIRCLE mode orbits a centre one radius ahead of the vehicle, along its heading; a fence
  becomes active with MAV_CMD_DO_FENCE_ENABLE.
Mode tables here are Copter's (Plane and Rover number their modes differently).
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

from skyshare.fleet.autopilot import AutopilotDialect, FenceAction
from skyshare.fleet.errors import CommandDenied, WaitTimeout
from skyshare.fleet.geometry import bearing_deg, distance_m, offset
from skyshare.fleet.mission import MissionItem
from skyshare.fleet.protocol import POSITION_ONLY_TYPE_MASK, mavlink
from skyshare.fleet.state import Autopilot, ModeKind

if TYPE_CHECKING:
    from skyshare.fleet.vehicle import Vehicle

COPTER_MODES: dict[int, tuple[str, ModeKind]] = {
    0: ("STABILIZE", ModeKind.MANUAL),
    1: ("ACRO", ModeKind.MANUAL),
    2: ("ALT_HOLD", ModeKind.MANUAL),
    3: ("AUTO", ModeKind.MISSION),
    4: ("GUIDED", ModeKind.GUIDED),
    5: ("LOITER", ModeKind.HOLD),
    6: ("RTL", ModeKind.RETURN),
    7: ("CIRCLE", ModeKind.ORBIT),
    9: ("LAND", ModeKind.LAND),
    11: ("DRIFT", ModeKind.MANUAL),
    13: ("SPORT", ModeKind.MANUAL),
    14: ("FLIP", ModeKind.MANUAL),
    15: ("AUTOTUNE", ModeKind.MANUAL),
    16: ("POSHOLD", ModeKind.MANUAL),
    17: ("BRAKE", ModeKind.HOLD),
    18: ("THROW", ModeKind.OTHER),
    19: ("AVOID_ADSB", ModeKind.OTHER),
    20: ("GUIDED_NOGPS", ModeKind.GUIDED),
    21: ("SMART_RTL", ModeKind.RETURN),
    22: ("FLOWHOLD", ModeKind.MANUAL),
    23: ("FOLLOW", ModeKind.GUIDED),
    24: ("ZIGZAG", ModeKind.MANUAL),
    25: ("SYSTEMID", ModeKind.OTHER),
    26: ("AUTOROTATE", ModeKind.OTHER),
    27: ("AUTO_RTL", ModeKind.RETURN),
    28: ("TURTLE", ModeKind.OTHER),
}

# REQUEST_DATA_STREAM groups and what SkyShare needs from them.
_STREAMS = (
    (mavlink.MAV_DATA_STREAM_POSITION, "position"),  # GLOBAL_POSITION_INT
    (mavlink.MAV_DATA_STREAM_EXTENDED_STATUS, "status"),  # SYS_STATUS, GPS_RAW_INT, MISSION_CURRENT
    (mavlink.MAV_DATA_STREAM_EXTRA1, "status"),  # ATTITUDE
    (mavlink.MAV_DATA_STREAM_EXTRA2, "status"),  # VFR_HUD
    (mavlink.MAV_DATA_STREAM_EXTRA3, "status"),  # EKF_STATUS_REPORT, BATTERY_STATUS
)


# (message, Hz; 0 = status rate) requested with MAV_CMD_SET_MESSAGE_INTERVAL.
_BY_INTERVAL = (
    (mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE, 0.0),  # landed state
    (mavlink.MAVLINK_MSG_ID_HOME_POSITION, 0.5),  # home moves when the vehicle arms
)

_APPROACH_M = 20.0  # length of the inward leg that lines the vehicle up with the centre


def _angle_between(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


class ArduCopterDialect(AutopilotDialect):
    autopilot = Autopilot.ARDUPILOT
    mode_numbers = {name: (number, 0) for number, (name, _) in COPTER_MODES.items()}
    mode_kinds = {name: kind for name, kind in COPTER_MODES.values()}
    aliases = {"HOLD": "LOITER", "MISSION": "AUTO", "RETURN": "RTL", "ORBIT": "CIRCLE"}
    unset_latlon = 0.0
    fence_action_param = "FENCE_ACTION"
    fence_action_values = {
        FenceAction.REPORT: 0,
        FenceAction.RTL: 1,  # RTL, or land if RTL is impossible
        FenceAction.LAND: 2,
        FenceAction.HOLD: 4,  # brake, or land
    }

    def mode_name(self, base_mode: int, custom_mode: int) -> str:
        entry = COPTER_MODES.get(custom_mode)
        return entry[0] if entry else f"MODE_{custom_mode}"

    async def on_discovered(self, v: Vehicle) -> None:
        cfg = v.config
        if not cfg.request_streams:
            return
        self._request_streams(v)
        # Not in Copter's stream groups: ask for them by message (answers are not awaited).
        for message_id, rate in _BY_INTERVAL:
            v.send(
                mavlink.MAVLink_command_long_message(
                    v.system_id,
                    v.component_id,
                    mavlink.MAV_CMD_SET_MESSAGE_INTERVAL,
                    0,
                    float(message_id),
                    1e6 / (rate or cfg.status_rate_hz),
                    *(0.0,) * 5,
                )
            )

    def on_armed_changed(self, v: Vehicle) -> None:
        if v.config.request_streams:
            self._request_streams(v)

    def _request_streams(self, v: Vehicle) -> None:
        """Flight rates while armed, idle rates on the ground disarmed."""
        cfg = v.config
        armed = v.telemetry.armed
        for stream_id, kind in _STREAMS:
            if kind == "position":
                rate = cfg.position_rate_hz if armed else cfg.idle_position_rate_hz
            else:
                rate = cfg.status_rate_hz if armed else cfg.idle_status_rate_hz
            v.send(
                mavlink.MAVLink_request_data_stream_message(
                    v.system_id, v.component_id, stream_id, max(1, round(rate)), 1
                )
            )

    def prepare_mission(self, v: Vehicle, items: list[MissionItem]) -> list[MissionItem]:
        home = v.telemetry.home
        x, y, z = (
            (round(home.lat * 1e7), round(home.lon * 1e7), home.alt_amsl_m) if home else (0, 0, 0.0)
        )
        placeholder = MissionItem(
            mavlink.MAV_CMD_NAV_WAYPOINT, frame=mavlink.MAV_FRAME_GLOBAL, x=x, y=y, z=z
        )
        return [placeholder, *items]

    async def takeoff(self, v: Vehicle, alt_m: float) -> None:
        t = v.telemetry
        if t.mode != "GUIDED":
            await self.set_mode(v, "GUIDED")
        if not t.armed:
            await self.arm(v, confirm=False)  # and take off at once: idle, it disarms
        try:
            await self.send_takeoff(v, alt_m)
        except CommandDenied as exc:
            if exc.result != "MAV_RESULT_FAILED" or t.mode == "GUIDED":
                raise
            # The boot-time mode overwrite: GUIDED was replaced by the initial mode.
            await self.set_mode(v, "GUIDED")
            if not t.armed:
                await self.arm(v, confirm=False)
            await self.send_takeoff(v, alt_m)

    async def goto(
        self, v: Vehicle, lat: float, lon: float, alt_m: float, speed_mps: float | None
    ) -> None:
        try:
            await super().goto(v, lat, lon, alt_m, None)
        except CommandDenied as exc:
            if exc.result != "MAV_RESULT_UNSUPPORTED":
                raise
            await self._goto_position_target(v, lat, lon, alt_m)
        if speed_mps:
            await self.set_speed(v, speed_mps)

    async def _goto_position_target(self, v: Vehicle, lat: float, lon: float, alt_m: float) -> None:
        """Older firmware: GUIDED plus SET_POSITION_TARGET_GLOBAL_INT (no ACK exists for it)."""
        await self.set_mode(v, "GUIDED")
        v.send(
            mavlink.MAVLink_set_position_target_global_int_message(
                0,
                v.system_id,
                v.component_id,
                mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                POSITION_ONLY_TYPE_MASK,
                round(lat * 1e7),
                round(lon * 1e7),
                alt_m,
                *(0.0,) * 8,
            )
        )

    async def orbit(
        self,
        v: Vehicle,
        lat: float,
        lon: float,
        radius_m: float,
        velocity_mps: float,
        alt_m: float | None,
        clockwise: bool,
    ) -> None:
        """CIRCLE mode around (lat, lon).

        Copter's CIRCLE centres its circle one radius ahead of the vehicle, along its
        heading. So: set the radius and rate, fly inward along the radius to the circle
        (a copter in GUIDED faces where it flies, so it arrives facing the centre), turn
        to face the centre exactly (CONDITION_YAW), then switch to CIRCLE.
        """
        t = v.telemetry
        await v.set_param("CIRCLE_RADIUS", round(radius_m * 100))  # centimetres
        rate = math.degrees(velocity_mps / radius_m) * (1 if clockwise else -1)
        await v.set_param("CIRCLE_RATE", round(rate, 2))
        alt = alt_m if alt_m is not None else (t.alt_rel if t.alt_rel is not None else 0.0)
        here = (t.lat, t.lon) if t.lat is not None and t.lon is not None else (lat, lon)
        outward = bearing_deg(lat, lon, *here) if distance_m(lat, lon, *here) > 1 else 180.0
        entry = offset(lat, lon, outward, radius_m)
        if distance_m(lat, lon, *here) < radius_m + _APPROACH_M / 2:
            # Inside (or on) the circle: back out first, so the last leg points inward.
            before = offset(lat, lon, outward, radius_m + _APPROACH_M)
            await self.goto(v, *before, alt, None)
            await v.wait_reached(*before, alt, tolerance_m=3.0)
        await self.goto(v, *entry, alt, None)
        await v.wait_reached(*entry, alt, tolerance_m=max(1.5, radius_m * 0.03))
        to_centre = (outward + 180.0) % 360.0
        await v.commands.long(mavlink.MAV_CMD_CONDITION_YAW, (to_centre, 0.0, 0.0, 0.0))
        with contextlib.suppress(WaitTimeout):  # it already faces about there
            await v.wait_telemetry(
                lambda tt: tt.heading is not None and _angle_between(tt.heading, to_centre) < 3,
                f"facing {to_centre:.0f} deg",
                v.config.mode_confirm_s,
            )
        await self.set_mode(v, "CIRCLE")

    async def start_mission(self, v: Vehicle) -> None:
        """GUIDED, arm, MAV_CMD_MISSION_START (Copter will not arm in AUTO by default)."""
        t = v.telemetry
        if not t.armed:
            if t.mode != "GUIDED":
                await self.set_mode(v, "GUIDED")
            await self.arm(v, confirm=False)
        await v.commands.long(mavlink.MAV_CMD_MISSION_START, (0.0, 0.0))
        await v.wait_telemetry(lambda tt: tt.mode == "AUTO", "in AUTO", v.config.mode_confirm_s)

    async def enable_fence(self, v: Vehicle, enable: bool) -> None:
        await v.commands.long(mavlink.MAV_CMD_DO_FENCE_ENABLE, (1.0 if enable else 0.0,))
