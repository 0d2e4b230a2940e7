"""PX4: its main/sub custom-mode encoding and the quirks a ground station must respect.

Observed on PX4 SITL (shared/notes/real-autopilot-behaviour.md):
- custom_mode = (sub_mode << 24) | (main_mode << 16); DO_SET_MODE takes the main mode
  in param2 and the sub mode in param3.
- Every DO_SET_MODE is answered twice, ~10 ms apart: first ACCEPTED, then the real
  answer. So a mode change is confirmed from the HEARTBEAT, and a later refusal fails it.
- Altitudes of NAV_TAKEOFF, DO_REPOSITION and DO_ORBIT are sent above mean sea level
  (home + relative altitude), as MAVSDK does; latitude/longitude "unset" is NaN.
- NAV_TAKEOFF while disarmed is accepted but its altitude is lost (the next arm climbs
  to MIS_TAKEOFF_ALT): so arm first, then take off.
- DO_REPOSITION keeps the mode HOLD; integer parameters travel byte-wise in the float.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from skyshare.fleet.autopilot import (
    AutopilotDialect,
    FenceAction,
    bytewise_int,
    from_bytewise_int,
    is_int_param,
)
from skyshare.fleet.mission import MissionItem
from skyshare.fleet.protocol import mavlink
from skyshare.fleet.state import Autopilot, ModeKind

if TYPE_CHECKING:
    from skyshare.fleet.vehicle import Vehicle

# (main, sub) -> (name, kind)
PX4_MODES: dict[tuple[int, int], tuple[str, ModeKind]] = {
    (1, 0): ("MANUAL", ModeKind.MANUAL),
    (2, 0): ("ALTCTL", ModeKind.MANUAL),
    (3, 0): ("POSCTL", ModeKind.MANUAL),
    (3, 1): ("ORBIT", ModeKind.ORBIT),
    (3, 2): ("POSCTL_SLOW", ModeKind.MANUAL),
    (4, 1): ("READY", ModeKind.HOLD),
    (4, 2): ("TAKEOFF", ModeKind.TAKEOFF),
    (4, 3): ("HOLD", ModeKind.HOLD),
    (4, 4): ("MISSION", ModeKind.MISSION),
    (4, 5): ("RTL", ModeKind.RETURN),
    (4, 6): ("LAND", ModeKind.LAND),
    (4, 7): ("RTGS", ModeKind.RETURN),
    (4, 8): ("FOLLOW_TARGET", ModeKind.GUIDED),
    (4, 9): ("PRECLAND", ModeKind.LAND),
    (5, 0): ("ACRO", ModeKind.MANUAL),
    (6, 0): ("OFFBOARD", ModeKind.GUIDED),
    (7, 0): ("STABILIZED", ModeKind.MANUAL),
}


def px4_custom_mode(main: int, sub: int) -> int:
    return (sub << 24) | (main << 16)


class PX4Dialect(AutopilotDialect):
    autopilot = Autopilot.PX4
    mode_numbers = {name: key for key, (name, _) in PX4_MODES.items()}
    mode_kinds = {name: kind for name, kind in PX4_MODES.values()}
    aliases = {
        "LOITER": "HOLD",
        "AUTO.LOITER": "HOLD",
        "AUTO.MISSION": "MISSION",
        "AUTO": "MISSION",
        "AUTO.RTL": "RTL",
        "RETURN": "RTL",
        "AUTO.LAND": "LAND",
        "AUTO.TAKEOFF": "TAKEOFF",
        "POSITION": "POSCTL",
        "ALTITUDE": "ALTCTL",
        "GUIDED": "OFFBOARD",
    }
    unset_latlon = math.nan
    fence_action_param = "GF_ACTION"
    fence_action_values = {
        FenceAction.REPORT: 1,  # warning
        FenceAction.HOLD: 2,
        FenceAction.RTL: 3,
        FenceAction.LAND: 5,
    }

    def mode_name(self, base_mode: int, custom_mode: int) -> str:
        main = (custom_mode >> 16) & 0xFF
        sub = (custom_mode >> 24) & 0xFF
        entry = PX4_MODES.get((main, sub)) or PX4_MODES.get((main, 0))
        return entry[0] if entry else f"MODE_{main}.{sub}"

    def encode_param(self, value: float, param_type: int) -> float:
        return bytewise_int(value) if is_int_param(param_type) else float(value)

    def decode_param(self, value: float, param_type: int) -> float:
        return float(from_bytewise_int(value)) if is_int_param(param_type) else float(value)

    def _amsl(self, v: Vehicle, alt_rel_m: float) -> float:
        home = v.telemetry.home
        if home is None:
            raise RuntimeError(
                "PX4 needs the home altitude (HOME_POSITION); call wait_ready() first"
            )
        return home.alt_amsl_m + alt_rel_m

    def prepare_mission(self, v: Vehicle, items: list[MissionItem]) -> list[MissionItem]:
        """A takeoff item without a position takes off where the vehicle is."""
        t = v.telemetry
        out = []
        for item in items:
            if (
                item.command == mavlink.MAV_CMD_NAV_TAKEOFF
                and not item.has_position
                and t.lat is not None
            ):
                item = MissionItem(
                    item.command,
                    frame=item.frame,
                    param1=item.param1,
                    param4=math.nan,
                    x=round(t.lat * 1e7),
                    y=round((t.lon or 0.0) * 1e7),
                    z=item.z,
                )
            out.append(item)
        return out

    async def send_takeoff(self, v: Vehicle, alt_m: float) -> None:
        nan = math.nan
        await v.commands.long(
            mavlink.MAV_CMD_NAV_TAKEOFF, (nan, 0.0, 0.0, nan, nan, nan, self._amsl(v, alt_m))
        )

    async def goto(
        self, v: Vehicle, lat: float, lon: float, alt_m: float, speed_mps: float | None
    ) -> None:
        await v.commands.int(
            mavlink.MAV_CMD_DO_REPOSITION,
            mavlink.MAV_FRAME_GLOBAL_INT,
            (speed_mps if speed_mps else -1.0, 1.0, 0.0, math.nan),
            round(lat * 1e7),
            round(lon * 1e7),
            self._amsl(v, alt_m),
        )

    def orbit_altitude(self, v: Vehicle, alt_m: float | None) -> tuple[int, float]:
        # PX4 takes the orbit's altitude above mean sea level.
        return mavlink.MAV_FRAME_GLOBAL_INT, math.nan if alt_m is None else self._amsl(v, alt_m)

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
        await super().orbit(v, lat, lon, radius_m, velocity_mps, alt_m, clockwise)
        await v.wait_telemetry(lambda t: t.mode == "ORBIT", "orbiting", v.config.mode_confirm_s)

    async def start_mission(self, v: Vehicle) -> None:
        """Mode MISSION (allowed disarmed), then arm: PX4 takes off into the mission."""
        await self.set_mode(v, "MISSION")
        if not v.telemetry.armed:
            await self.arm(v, confirm=False)
