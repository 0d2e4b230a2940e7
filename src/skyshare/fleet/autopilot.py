"""What differs between autopilots: mode names and numbers, readiness, command recipes.

``AutopilotDialect`` holds the behaviour common to MAVLink autopilots; ArduPilot and
PX4 override what they do differently (``ardupilot.py``, ``px4.py``). Every recipe is
written against the real autopilot's behaviour as measured (see
shared/notes/real-autopilot-behaviour.md), not against a simulator.
"""

from __future__ import annotations

import math
import struct
from enum import StrEnum
from typing import TYPE_CHECKING

from skyshare.fleet.errors import CommandTimeout, UnsupportedMode
from skyshare.fleet.mission import MissionItem
from skyshare.fleet.protocol import mavlink
from skyshare.fleet.state import Autopilot, ModeKind, Telemetry

if TYPE_CHECKING:
    from skyshare.fleet.vehicle import Vehicle

_INT_PARAM_TYPES = {
    mavlink.MAV_PARAM_TYPE_UINT8,
    mavlink.MAV_PARAM_TYPE_INT8,
    mavlink.MAV_PARAM_TYPE_UINT16,
    mavlink.MAV_PARAM_TYPE_INT16,
    mavlink.MAV_PARAM_TYPE_UINT32,
    mavlink.MAV_PARAM_TYPE_INT32,
}
_BOOTING = {mavlink.MAV_STATE_UNINIT, mavlink.MAV_STATE_BOOT, mavlink.MAV_STATE_CALIBRATING}


class FenceAction(StrEnum):
    """What the vehicle does on a fence breach."""

    REPORT = "report"
    HOLD = "hold"
    RTL = "rtl"
    LAND = "land"


class AutopilotDialect:
    """Behaviour shared by MAVLink autopilots; subclasses add modes and quirks."""

    autopilot = Autopilot.GENERIC
    # name -> (DO_SET_MODE param2, param3), and name -> kind
    mode_numbers: dict[str, tuple[int, int]] = {}
    mode_kinds: dict[str, ModeKind] = {}
    aliases: dict[str, str] = {}
    # MAV_CMD_NAV_TAKEOFF / NAV_LAND latitude and longitude "not given".
    unset_latlon: float | None = 0.0
    # Fence action parameter and its value per action.
    fence_action_param = ""
    fence_action_values: dict[FenceAction, int] = {}

    # ---- modes -----------------------------------------------------------------

    def mode_name(self, base_mode: int, custom_mode: int) -> str:
        return f"MODE_{custom_mode}"

    def mode_kind(self, name: str) -> ModeKind:
        return self.mode_kinds.get(name, ModeKind.OTHER)

    def canonical_mode(self, name: str) -> str:
        key = name.strip().upper().replace(" ", "_")
        key = self.aliases.get(key, key)
        if key not in self.mode_numbers:
            raise UnsupportedMode(self.autopilot.value, name, sorted(self.mode_numbers))
        return key

    def set_mode_params(self, name: str) -> tuple[float, ...]:
        main, sub = self.mode_numbers[name]
        return (float(mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED), float(main), float(sub))

    # ---- readiness -------------------------------------------------------------

    def readiness(self, t: Telemetry) -> tuple[bool, str]:
        """Whether a ground station would call the vehicle ready to arm, and if not why."""
        if t.last_heartbeat is None:
            return False, "no heartbeat yet"
        if t.system_status in _BOOTING:
            return False, "booting"
        if t.gps_fix < 3:
            return False, f"GPS fix type {t.gps_fix} (needs 3D)"
        if t.home is None:
            return False, "home position not set"
        if t.lat is None:
            return False, "no global position"
        if t.ekf_flags is not None and not self.ekf_ok(t.ekf_flags):
            return False, "EKF has no absolute position"
        if t.prearm_ok is False:
            return False, "pre-arm checks failing"
        return True, "ready"

    @staticmethod
    def ekf_ok(flags: int) -> bool:
        return bool(flags & mavlink.EKF_POS_HORIZ_ABS) and not flags & mavlink.EKF_CONST_POS_MODE

    # ---- parameters ------------------------------------------------------------

    def encode_param(self, value: float, param_type: int) -> float:
        return float(value)

    def decode_param(self, value: float, param_type: int) -> float:
        return float(value)

    # ---- behaviour hooks ----------------------------------------------------------

    async def on_discovered(self, v: Vehicle) -> None:
        """Called once when the vehicle is first heard (request telemetry, etc.)."""

    async def on_link_restored(self, v: Vehicle) -> None:
        await self.on_discovered(v)

    def on_armed_changed(self, v: Vehicle) -> None:
        """Called when the vehicle arms or disarms (e.g. to change telemetry rates)."""

    def prepare_mission(self, v: Vehicle, items: list[MissionItem]) -> list[MissionItem]:
        return items

    # ---- recipes ---------------------------------------------------------------

    async def set_mode(self, v: Vehicle, name: str) -> None:
        """DO_SET_MODE, then wait for the HEARTBEAT to show the mode (re-sending if not)."""
        mode = self.canonical_mode(name)
        if v.telemetry.mode == mode:
            return
        cfg = v.config
        for _ in range(cfg.command_attempts):
            mark = v.text_mark()
            outcome = await v.commands.long(mavlink.MAV_CMD_DO_SET_MODE, self.set_mode_params(mode))
            if await v.wait_mode_confirmed(mode, outcome.ack.at, mark):
                return
        raise CommandTimeout(
            v.system_id, f"set mode {mode}", cfg.command_attempts, cfg.wall(cfg.mode_confirm_s)
        )

    async def arm(self, v: Vehicle, confirm: bool = True) -> None:
        await v.commands.long(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, (1.0,))
        if confirm:
            await v.wait_telemetry(lambda t: t.armed, "armed", v.config.mode_confirm_s)

    async def disarm(self, v: Vehicle, force: bool = False) -> None:
        await v.commands.long(
            mavlink.MAV_CMD_COMPONENT_ARM_DISARM, (0.0, 21196.0 if force else 0.0)
        )
        await v.wait_telemetry(lambda t: not t.armed, "disarmed", v.config.mode_confirm_s)

    async def takeoff(self, v: Vehicle, alt_m: float) -> None:
        if not v.telemetry.armed:
            await self.arm(v, confirm=False)
        await self.send_takeoff(v, alt_m)

    async def send_takeoff(self, v: Vehicle, alt_m: float) -> None:
        u = self.unset_latlon
        await v.commands.long(mavlink.MAV_CMD_NAV_TAKEOFF, (0.0, 0.0, 0.0, math.nan, u, u, alt_m))

    async def goto(
        self, v: Vehicle, lat: float, lon: float, alt_m: float, speed_mps: float | None
    ) -> None:
        await v.commands.int(
            mavlink.MAV_CMD_DO_REPOSITION,
            mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            (speed_mps if speed_mps else -1.0, 1.0, 0.0, math.nan),
            round(lat * 1e7),
            round(lon * 1e7),
            alt_m,
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
        frame, alt = self.orbit_altitude(v, alt_m)
        await v.commands.int(
            mavlink.MAV_CMD_DO_ORBIT,
            frame,
            (radius_m if clockwise else -radius_m, velocity_mps, 0.0, math.nan),
            round(lat * 1e7),
            round(lon * 1e7),
            alt,
        )

    def orbit_altitude(self, v: Vehicle, alt_m: float | None) -> tuple[int, float]:
        """The frame and altitude DO_ORBIT takes here (NaN: keep the current altitude)."""
        return mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, math.nan if alt_m is None else alt_m

    async def start_mission(self, v: Vehicle) -> None:
        if not v.telemetry.armed:
            await self.arm(v, confirm=False)
        await v.commands.long(mavlink.MAV_CMD_MISSION_START, (0.0, 0.0))

    async def rtl(self, v: Vehicle) -> None:
        await v.commands.long(mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH)
        await v.wait_telemetry(
            lambda t: t.mode_kind is ModeKind.RETURN, "returning", v.config.mode_confirm_s
        )

    async def land(self, v: Vehicle) -> None:
        u = self.unset_latlon
        await v.commands.long(mavlink.MAV_CMD_NAV_LAND, (0.0, 0.0, 0.0, math.nan, u, u, 0.0))
        await v.wait_telemetry(
            lambda t: t.mode_kind is ModeKind.LAND, "landing", v.config.mode_confirm_s
        )

    async def set_speed(self, v: Vehicle, speed_mps: float) -> None:
        await v.commands.long(mavlink.MAV_CMD_DO_CHANGE_SPEED, (1.0, speed_mps, -1.0))

    async def enable_fence(self, v: Vehicle, enable: bool) -> None:
        """After a fence upload: make it active (no-op where uploading is enough)."""

    async def set_fence_action(self, v: Vehicle, action: FenceAction) -> None:
        if not self.fence_action_param:
            return
        await v.set_param(self.fence_action_param, self.fence_action_values[action])


class GenericDialect(AutopilotDialect):
    """A MAVLink autopilot we have no mode table for: common commands only."""


def bytewise_int(value: float) -> float:
    """An integer parameter as PX4 sends it: the int32's bytes read as a float32."""
    return struct.unpack("<f", struct.pack("<i", int(value)))[0]


def from_bytewise_int(value: float) -> int:
    return struct.unpack("<i", struct.pack("<f", value))[0]


def is_int_param(param_type: int) -> bool:
    return param_type in _INT_PARAM_TYPES
