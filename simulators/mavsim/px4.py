"""PX4 personality: what a PX4 v1.16 SITL (SIH quadrotor) says and does on the wire.

Measured behaviour this imitates (see the project's real-autopilot notes): custom_mode
= sub_mode << 24 | main_mode << 16, initial AUTO.LOITER (Hold), first HEARTBEAT at
1.2 s with system_status UNINIT until ~3 s, HOME_POSITION at 2.3 s, position at 2.6 s,
arming refused (TEMPORARILY_REJECTED, "Arming denied: Resolve system health failures
first") until ~4.2 s; NAV_TAKEOFF while disarmed is accepted and switches to TAKEOFF,
the next arm climbs to MIS_TAKEOFF_ALT at MPC_TKO_SPEED and switches to Hold;
DO_SET_MODE gets two COMMAND_ACKs (ACCEPTED, then the real answer); reposition keeps
Hold; disarm 2 s after landing, 10 s armed idle; geofence breach -> GF_ACTION (Hold,
stopping at the boundary); STATUSTEXT ends with a tab and is chunked past 50 chars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulators.mavsim.mission import MISSION
from simulators.mavsim.missionrun import MissionRun
from simulators.mavsim.nav import Activity, Goto, Hold, Land, Orbit, Return, Takeoff, Velocity
from simulators.mavsim.params import INT32, REAL32
from simulators.mavsim.physics import Setpoint
from simulators.mavsim.vehicle import SimVehicle
from simulators.mavsim.wire import (
    ACCEPTED,
    CRITICAL,
    DENIED,
    INFO,
    TEMPORARILY_REJECTED,
    UNSUPPORTED,
    WARNING,
    Channel,
    Command,
)

C = mavlink
FORCE_MAGIC = 21196
AUTO = 4


def _mode(main: int, sub: int = 0) -> int:
    return (sub << 24) | (main << 16)


MODES = {
    "MANUAL": _mode(1),
    "ALTCTL": _mode(2),
    "POSCTL": _mode(3),
    "ORBIT": _mode(3, 1),
    "ACRO": _mode(5),
    "OFFBOARD": _mode(6),
    "STABILIZED": _mode(7),
    "TAKEOFF": _mode(AUTO, 2),
    "HOLD": _mode(AUTO, 3),
    "MISSION": _mode(AUTO, 4),
    "RTL": _mode(AUTO, 5),
    "LAND": _mode(AUTO, 6),
}
DISPLAY = {
    "MANUAL": "Manual",
    "ALTCTL": "Altitude",
    "POSCTL": "Position",
    "ORBIT": "Orbit",
    "ACRO": "Acro",
    "OFFBOARD": "Offboard",
    "STABILIZED": "Stabilized",
    "TAKEOFF": "Takeoff",
    "HOLD": "Hold",
    "MISSION": "Mission",
    "RTL": "Return",
    "LAND": "Land",
}
NEEDS_RC = frozenset({"MANUAL", "ALTCTL", "POSCTL", "ACRO", "STABILIZED"})
AUTO_MODES = frozenset({"TAKEOFF", "HOLD", "MISSION", "RTL", "LAND", "OFFBOARD"})
SENSORS = (
    C.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | C.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | C.MAV_SYS_STATUS_SENSOR_3D_MAG
    | C.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | C.MAV_SYS_STATUS_SENSOR_GPS
    | C.MAV_SYS_STATUS_AHRS
    | C.MAV_SYS_STATUS_SENSOR_BATTERY
    | C.MAV_SYS_STATUS_PREARM_CHECK
)
NOT_READY = "Arming denied: Resolve system health failures first"


class _TakeoffThenGoto(Activity):
    """PX4 reposition while armed on the ground: climb first, then go."""

    name = "takeoff"
    lifts_off = True

    def __init__(self, takeoff: Takeoff, goto: Goto) -> None:
        self.takeoff = takeoff
        self.goto = goto

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        if not self.takeoff.done:
            self.lifts_off = True
            sp = self.takeoff.update(v, dt)
            if not self.takeoff.done:
                return sp
        self.lifts_off = False
        return self.goto.update(v, dt)


class PX4(SimVehicle):
    personality = "px4"
    mav_autopilot = C.MAV_AUTOPILOT_PX4
    initial_mode = "HOLD"
    modes: ClassVar[dict[str, int]] = MODES
    mission_retry_s = 0.25
    mission_timeout_s = 5.0
    flight_sw_version = (1 << 24) | (16 << 16) | (0 << 8) | C.FIRMWARE_VERSION_TYPE_OFFICIAL
    param_bytewise = True
    reports_uid64 = True
    command_long_frame = C.MAV_FRAME_GLOBAL  # PX4 reads COMMAND_LONG altitudes as AMSL

    def __init__(self, index: int, cfg: Any) -> None:
        self.takeoff_u: float | None = None
        self.setpoint_at: float | None = None
        self.failsafe = False
        self.fs_dl = False
        self.fs_batt = 0  # 0 none, 1 low, 2 critical, 3 emergency
        self.fs_pos = False
        self.gps_lost_at: float | None = None
        self.fence_alert = False
        self.mission_rtl = False
        super().__init__(index, cfg)

    # ------------------------------------------------------------ tables
    def default_params(self) -> list[tuple[str, float, int]]:
        a = self.cfg.airframe
        return [
            ("SYS_AUTOSTART", 10040, INT32),
            ("MAV_SYS_ID", self.sysid, INT32),
            ("SYS_HITL", 0, INT32),
            ("MIS_TAKEOFF_ALT", 2.5, REAL32),
            ("NAV_ACC_RAD", 2.0, REAL32),
            ("MPC_XY_CRUISE", 5.0, REAL32),
            ("MPC_XY_VEL_MAX", 12.0, REAL32),
            ("MPC_ACC_HOR", 3.0, REAL32),
            ("MPC_Z_VEL_MAX_UP", 3.0, REAL32),
            ("MPC_Z_VEL_MAX_DN", 1.5, REAL32),
            ("MPC_TKO_SPEED", 1.5, REAL32),
            ("MPC_LAND_SPEED", 0.7, REAL32),
            ("MPC_LAND_ALT1", 10.0, REAL32),
            ("MPC_LAND_ALT2", 5.0, REAL32),
            ("RTL_RETURN_ALT", 30.0, REAL32),
            ("RTL_DESCEND_ALT", 30.0, REAL32),
            ("RTL_LAND_DELAY", 0.0, REAL32),
            ("COM_DISARM_LAND", 2.0, REAL32),
            ("COM_DISARM_PRFLT", 10.0, REAL32),
            ("COM_DL_LOSS_T", 10, INT32),
            ("NAV_DLL_ACT", 0, INT32),  # stock default; tests switch it on
            ("COM_OF_LOSS_T", 1.0, REAL32),
            ("COM_OBL_RC_ACT", 0, INT32),
            ("COM_POS_FS_DELAY", 1, INT32),
            ("COM_LOW_BAT_ACT", 3, INT32),
            ("COM_RC_IN_MODE", 4, INT32),
            ("BAT_LOW_THR", 0.15, REAL32),
            ("BAT_CRIT_THR", 0.07, REAL32),
            ("BAT_EMERGEN_THR", 0.05, REAL32),
            ("BAT1_N_CELLS", a.cells, INT32),
            ("BAT1_CAPACITY", a.capacity_mah, REAL32),
            ("GF_ACTION", 2, INT32),
            ("GF_MAX_HOR_DIST", 0.0, REAL32),
            ("GF_MAX_VER_DIST", 0.0, REAL32),
            ("MC_ORBIT_RAD_MAX", 1000.0, REAL32),
        ]

    def default_rates(self) -> dict[str, float]:
        # PX4's API-link defaults, capped at the tick rate (ATTITUDE is 100 Hz on PX4).
        return {
            "HEARTBEAT": 1.0,
            "ATTITUDE": 50.0,
            "GLOBAL_POSITION_INT": 50.0,
            "LOCAL_POSITION_NED": 30.0,
            "VFR_HUD": 10.0,
            "GPS_RAW_INT": 8.0,
            "SYS_STATUS": 5.0,
            "EXTENDED_SYS_STATE": 5.0,
            "MISSION_CURRENT": 1.0,
            "HOME_POSITION": 0.5,
            "BATTERY_STATUS": 0.5,
            "TIMESYNC": 1.0,
        }

    def boot_milestones(self) -> dict[str, float]:
        return {
            "heartbeat": 1.2,
            "home": 2.3,
            "position": 2.6,
            "standby": 3.0,
            "arm_ready": 4.2,
            "healthy": 5.2,
        }

    def on_milestone(self, name: str) -> None:
        if name == "heartbeat":
            self.streams.kick(self.now)
        elif name == "home":
            self.set_home(self.home_lat, self.home_lon, self.home_alt_amsl)
        elif name == "position":
            self.streams.kick(
                self.now, ("GLOBAL_POSITION_INT", "GPS_RAW_INT", "LOCAL_POSITION_NED")
            )

    def apply_params(self) -> None:
        p = self.params
        lim = self.limits
        lim.speed_xy = max(0.5, p["MPC_XY_CRUISE"])
        lim.accel_xy = max(0.5, p["MPC_ACC_HOR"])
        lim.speed_up = max(0.1, p["MPC_Z_VEL_MAX_UP"])
        lim.speed_down = max(0.1, p["MPC_Z_VEL_MAX_DN"])
        lim.accel_z = 1.0
        self.wp_radius = max(0.5, p["NAV_ACC_RAD"])

    def stream_enabled(self, name: str) -> bool:
        if "heartbeat" not in self.reached:
            return False
        if name in ("GLOBAL_POSITION_INT", "GPS_RAW_INT", "LOCAL_POSITION_NED"):
            return "position" in self.reached
        if name == "HOME_POSITION":
            return self.home_set
        return True

    def format_text(self, text: str) -> list[tuple[str, int, int]]:
        text = text + "\t"
        if len(text) <= 50:
            return [(text, 0, 0)]
        text_id = self.next_text_id()
        chunks = [text[i : i + 50] for i in range(0, len(text), 50)]
        if len(text) % 50 == 0:
            chunks.append("")  # the terminating chunk
        return [(chunk, text_id, seq) for seq, chunk in enumerate(chunks)]

    # ------------------------------------------------------------ status
    @property
    def position_valid(self) -> bool:
        return "position" in self.reached and not self.fs_pos

    def gps_fix(self) -> tuple[int, int]:
        if self.faults.gps_loss or "position" not in self.reached:
            return 0, 0
        return 3, 12

    def heartbeat_fields(self) -> tuple[int, int, int]:
        base = C.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        if self.mode in AUTO_MODES:
            base |= (
                C.MAV_MODE_FLAG_AUTO_ENABLED
                | C.MAV_MODE_FLAG_GUIDED_ENABLED
                | C.MAV_MODE_FLAG_STABILIZE_ENABLED
            )
        elif self.mode in ("POSCTL", "ORBIT"):
            base |= (
                C.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED
                | C.MAV_MODE_FLAG_STABILIZE_ENABLED
                | C.MAV_MODE_FLAG_GUIDED_ENABLED
            )
        else:
            base |= C.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED | C.MAV_MODE_FLAG_STABILIZE_ENABLED
        if self.armed:
            base |= C.MAV_MODE_FLAG_SAFETY_ARMED
        if "standby" not in self.reached:
            status = C.MAV_STATE_UNINIT
        elif self.falling:
            status = C.MAV_STATE_EMERGENCY
        elif self.failsafe:
            status = C.MAV_STATE_CRITICAL
        elif self.armed:
            status = C.MAV_STATE_ACTIVE
        else:
            status = C.MAV_STATE_STANDBY
        return base, MODES[self.mode], status

    def sensors(self) -> tuple[int, int, int]:
        health = SENSORS
        if "healthy" not in self.reached or self.faults.gps_loss:
            health &= ~C.MAV_SYS_STATUS_SENSOR_GPS
        if self.prearm_failure() is not None:
            health &= ~C.MAV_SYS_STATUS_PREARM_CHECK
        if self.fs_batt >= 2:
            health &= ~C.MAV_SYS_STATUS_SENSOR_BATTERY
        return SENSORS, SENSORS, health

    def prearm_failure(self) -> str | None:
        if "arm_ready" not in self.reached or self.faults.gps_loss or self.fs_pos:
            return NOT_READY
        if self.fs_batt >= 2:
            return NOT_READY
        return None

    def mission_current_fields(self) -> tuple[int, int, int, int]:
        items = self.items[MISSION]
        total = len(items) if self.mission_ever_uploaded else 65535
        if not items:
            state = C.MISSION_STATE_NO_MISSION
        elif self.mission_complete:
            state = C.MISSION_STATE_COMPLETE
        elif self.mode == "MISSION" and self.mission_started:
            state = C.MISSION_STATE_ACTIVE
        elif self.mission_started:
            state = C.MISSION_STATE_PAUSED
        else:
            state = C.MISSION_STATE_NOT_STARTED
        return self.mission_seq, total, state, 1 if self.mode == "MISSION" else 0

    # -------------------------------------------------------------- mission
    def new_mission_run(self, index: int) -> MissionRun:
        return MissionRun(self, self.flyable_items(), index, implicit_takeoff_u=self._takeoff_alt())

    def make_takeoff(self, u: float) -> Activity:
        return Takeoff(self.body.n, self.body.e, u, self.params["MPC_TKO_SPEED"])

    def mission_return(self) -> Activity:
        # A mission's RTL item hands over to Return mode; MISSION shows again after disarm.
        self.enter_mode("RTL")
        self.mission_rtl = True
        assert self.activity is not None
        return self.activity

    # ----------------------------------------------------------------- modes
    def mode_entry_refusal(self, name: str) -> str | None:
        unavailable = f"Switching to {DISPLAY[name]} is currently not available"
        if name == self.mode:
            return None
        if name in NEEDS_RC or name == "ORBIT":
            return unavailable  # no RC on this vehicle; Orbit only via DO_ORBIT
        if name != "LAND" and not self.position_valid:
            return unavailable
        if name == "MISSION" and not self.items[MISSION]:
            return unavailable
        if name == "OFFBOARD" and not self._offboard_fresh():
            return unavailable
        return None

    def _offboard_fresh(self) -> bool:
        return self.setpoint_at is not None and self.now - self.setpoint_at <= 0.5

    def enter_mode(self, name: str) -> None:
        if name != "RTL":
            self.mission_rtl = False
        super().enter_mode(name)

    def activity_for_mode(self, name: str) -> Activity | None:
        if name == "MISSION":
            return self.new_mission_run(self.mission_index())
        if name == "TAKEOFF":
            if not self.armed and not self.airborne:
                return None  # climbs on the next arm
            u = self.takeoff_u if self.takeoff_u is not None else self._takeoff_alt()
            return self.make_takeoff(max(u, self.body.u))
        if not self.airborne:
            return None
        if name == "RTL":
            return self._rtl_activity()
        if name == "LAND":
            stop = Hold.here(self)
            return Land(stop.n, stop.e)
        return Hold.here(self)

    def _takeoff_alt(self) -> float:
        return self.home_alt_amsl - self.frame.alt0 + self.params["MIS_TAKEOFF_ALT"]

    def _rtl_activity(self) -> Return:
        n, e = self.return_target()
        home_u = self.home_alt_amsl - self.frame.alt0
        return Return(
            self,
            n,
            e,
            home_u + self.params["RTL_RETURN_ALT"],
            self.limits.speed_xy,
            self.params["RTL_LAND_DELAY"],
            descend_u=home_u + self.params["RTL_DESCEND_ALT"],
        )

    def land_speed(self, u: float) -> float:
        p = self.params
        h = u - (self.home_alt_amsl - self.frame.alt0)
        fast, slow = p["MPC_Z_VEL_MAX_DN"], p["MPC_LAND_SPEED"]
        hi, lo = p["MPC_LAND_ALT1"], p["MPC_LAND_ALT2"]
        if h >= hi:
            return fast
        if h <= lo:
            return slow
        return slow + (fast - slow) * (h - lo) / max(hi - lo, 0.1)

    def _decode_mode(self, main: int, sub: int) -> str | None:
        if main == AUTO and sub == 1:
            sub = 3  # AUTO.READY behaves as Hold
        for name, value in MODES.items():
            if value == _mode(main, sub if main in (AUTO, 3) else 0):
                return name
        return None

    def _on_set_mode(self, channel: Channel, msg: Any) -> None:
        main = (msg.custom_mode >> 16) & 0xFF
        sub = (msg.custom_mode >> 24) & 0xFF
        result = self._switch_result(self._decode_mode(main, sub))
        self.ack(channel, msg, C.MAV_CMD_DO_SET_MODE, result)

    def _switch_result(self, name: str | None) -> int:
        if name is None:
            return DENIED
        return ACCEPTED if self.set_mode(name) else TEMPORARILY_REJECTED

    def _cmd_set_mode(self, cmd: Command, ch: Channel, msg: Any) -> None:
        # PX4 answers DO_SET_MODE twice: an immediate ACCEPTED, then the real result.
        self.ack(ch, msg, cmd.command, ACCEPTED)
        if not cmd.int_param(1) & C.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            self.ack(ch, msg, cmd.command, DENIED)
            return
        name = self._decode_mode(cmd.int_param(2), cmd.int_param(3))
        self.ack(ch, msg, cmd.command, self._switch_result(name))

    # -------------------------------------------------------------- commands
    def command_handlers(self) -> dict[int, Callable[[Command, Channel, Any], int | None]]:
        return {
            C.MAV_CMD_COMPONENT_ARM_DISARM: self._cmd_arm_disarm,
            C.MAV_CMD_DO_SET_MODE: self._cmd_set_mode,
            C.MAV_CMD_NAV_TAKEOFF: self._cmd_takeoff,
            C.MAV_CMD_NAV_LAND: lambda c, ch, m: self._switch_result("LAND"),
            C.MAV_CMD_NAV_RETURN_TO_LAUNCH: lambda c, ch, m: self._switch_result("RTL"),
            C.MAV_CMD_MISSION_START: self._cmd_mission_start,
            C.MAV_CMD_DO_REPOSITION: self._cmd_reposition,
            C.MAV_CMD_DO_ORBIT: self._cmd_orbit,
            C.MAV_CMD_DO_PAUSE_CONTINUE: self._cmd_pause_continue,
            C.MAV_CMD_DO_FENCE_ENABLE: lambda c, ch, m: UNSUPPORTED,
        }

    def _cmd_arm_disarm(self, cmd: Command, ch: Channel, msg: Any) -> int:
        force = cmd.int_param(2) == FORCE_MAGIC
        if cmd.param1 == 1:
            if self.armed:
                return ACCEPTED
            if not force and self.prearm_failure() is not None:
                self.text(NOT_READY, CRITICAL)
                return TEMPORARILY_REJECTED
            self.arm()
            return ACCEPTED
        if cmd.param1 == 0:
            if not self.armed:
                return ACCEPTED
            if self.airborne and not force:
                self.text("Disarming denied: not landed", CRITICAL)
                return TEMPORARILY_REJECTED
            self.disarm()
            return ACCEPTED
        return DENIED

    def on_armed(self) -> None:
        if self.mode in ("TAKEOFF", "MISSION"):
            self.activity = self.activity_for_mode(self.mode)
            self.mission_run = self.activity if isinstance(self.activity, MissionRun) else None

    def _cmd_takeoff(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if not self.position_valid:
            return TEMPORARILY_REJECTED
        if math.isfinite(cmd.alt):
            self.takeoff_u = self.alt_to_amsl(cmd.alt, cmd.frame) - self.frame.alt0
        else:
            self.takeoff_u = self._takeoff_alt()
        if self.mode == "TAKEOFF":
            self.activity = self.activity_for_mode("TAKEOFF")
        else:
            self.enter_mode("TAKEOFF")
        return ACCEPTED

    def _cmd_mission_start(self, cmd: Command, ch: Channel, msg: Any) -> int:
        result = self._switch_result("MISSION")
        if result == ACCEPTED and self.mission_complete and self.flyable_items():
            self.set_mission_current(self.flyable_items()[0].seq)
        return result

    def _target(self, cmd: Command) -> tuple[float, float, float]:
        if cmd.lat is not None and cmd.lon is not None and math.isfinite(cmd.lat):
            n, e = self.frame.to_ne(cmd.lat, cmd.lon)
        else:
            n, e = Hold.here(self).n, Hold.here(self).e
        u = (
            self.alt_to_amsl(cmd.alt, cmd.frame) - self.frame.alt0
            if math.isfinite(cmd.alt)
            else (self.body.u)
        )
        return n, e, u

    def _cmd_reposition(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if not self.position_valid:
            return TEMPORARILY_REJECTED
        n, e, u = self._target(cmd)
        speed = cmd.param1 if math.isfinite(cmd.param1) and cmd.param1 > 0 else None
        if self.mode != "HOLD":
            self.enter_mode("HOLD")
        goto = Goto(n, e, u, speed or self.speed_override)
        if self.airborne:
            self.activity = goto
        elif self.armed:
            climb = max(u, self._takeoff_alt())
            self.activity = _TakeoffThenGoto(self.make_takeoff(climb), goto)
        return ACCEPTED

    def _cmd_orbit(self, cmd: Command, ch: Channel, msg: Any) -> int:
        radius = cmd.param1 if math.isfinite(cmd.param1) else 10.0
        if not 1.0 <= abs(radius) <= self.params["MC_ORBIT_RAD_MAX"]:
            return DENIED
        if not self.airborne or not self.position_valid:
            return TEMPORARILY_REJECTED
        n, e, u = self._target(cmd)
        if cmd.lat is None:
            n, e = self.body.n, self.body.e
        velocity = cmd.param2 if math.isfinite(cmd.param2) else 1.0
        self.mode = "ORBIT"
        self.speed_override = None
        self.activity = Orbit(n, e, abs(radius), velocity, u)
        self.mission_run = None
        return ACCEPTED

    def _cmd_pause_continue(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if cmd.int_param(1) == 0:
            return self._switch_result("HOLD")
        if cmd.int_param(1) == 1:
            return self._switch_result("MISSION")
        return DENIED

    def on_setpoint(
        self,
        position: tuple[float, float, float] | None,
        velocity: tuple[float, float, float] | None,
    ) -> None:
        self.setpoint_at = self.now
        if self.mode != "OFFBOARD":
            return
        if position is not None:
            goto = Goto(*position)
            if not self.airborne and self.armed and position[2] > self.body.u + 0.5:
                goto.lifts_off = True
            self.activity = goto
        elif velocity is not None:
            act = Velocity(*velocity, until=self.now + 3600.0)
            act.lifts_off = self.armed and not self.airborne and velocity[2] > 0
            self.activity = act

    # ------------------------------------------------------- arming, landing
    def auto_disarm_delay(self) -> float | None:
        if self.flew_since_arm:
            return self.params["COM_DISARM_LAND"]
        return self.params["COM_DISARM_PRFLT"] if self.mode != "TAKEOFF" else None

    def on_touchdown(self, landing: bool) -> None:
        self.text("Landing detected", INFO)
        if self.mission_rtl:
            flyable = self.flyable_items()
            rtl = next((it for it in flyable if it.command == C.MAV_CMD_NAV_RETURN_TO_LAUNCH), None)
            if rtl is not None:
                self.mission_item_reached(rtl.seq)
            self.mission_finished()

    def on_disarmed(self) -> None:
        if self.mission_rtl:
            self.enter_mode("MISSION")
        if self.mode == "TAKEOFF":
            self.enter_mode("HOLD")

    def on_crash(self) -> None:
        self.text("Critical failure detected: lockdown", CRITICAL)

    # ------------------------------------------------------------- failsafes
    def personality_tick(self) -> None:
        if self.mode == "TAKEOFF" and isinstance(self.activity, Takeoff) and self.activity.done:
            self.enter_mode("HOLD")  # PX4 switches to Hold by itself at the top
        self._check_offboard()
        self._check_position()
        self._check_fence()
        self._check_datalink()
        self._check_battery()
        self.failsafe = bool(self.fs_dl or self.fs_batt >= 2 or self.fs_pos or self.fence_alert)

    def _failsafe_to(self, name: str) -> None:
        self.text("Failsafe activated", CRITICAL)
        if self.mode != name and not (name == "RTL" and self.mode == "LAND"):
            self.enter_mode(name)

    def _check_offboard(self) -> None:
        if self.mode != "OFFBOARD" or self.setpoint_at is None:
            return
        if self.now - self.setpoint_at > self.params["COM_OF_LOSS_T"]:
            self.text("Failsafe activated", CRITICAL)
            self.enter_mode("POSCTL")

    def _check_position(self) -> None:
        if not self.faults.gps_loss:
            self.gps_lost_at = None
            self.fs_pos = False
            return
        if self.gps_lost_at is None:
            self.gps_lost_at = self.now
        if not self.fs_pos and self.now - self.gps_lost_at > self.params["COM_POS_FS_DELAY"]:
            self.fs_pos = True
            if self.armed and self.airborne:
                self._failsafe_to("LAND")

    def _check_fence(self) -> None:
        if not self.armed or not self.airborne or self.mode in ("RTL", "LAND"):
            self.fence_alert = False
            return
        b = self.body
        stop_n, stop_e = Hold.here(self).n, Hold.here(self).e
        # PX4 predicts the breach: where the vehicle would stop, plus a small margin.
        speed = b.ground_speed
        margin = 2.0
        if speed > 0.1:
            stop_n += b.vn / speed * margin
            stop_e += b.ve / speed * margin
        breach = not self.geofence.empty and self.geofence.breached(
            stop_n, stop_e, union_of_inclusions=True
        )
        hn, he = self.frame.to_ne(self.home_lat, self.home_lon)
        max_hor = self.params["GF_MAX_HOR_DIST"]
        if max_hor > 0 and math.hypot(stop_n - hn, stop_e - he) > max_hor:
            breach = True
        max_ver = self.params["GF_MAX_VER_DIST"]
        if max_ver > 0 and self.alt_rel > max_ver:
            breach = True
        if not breach:
            self.fence_alert = False
            return
        if self.fence_alert:
            return
        self.fence_alert = True
        self.text("Geofence: approaching or outside geofence", WARNING)
        action = int(self.params["GF_ACTION"])
        if action == 2:
            self.text("Failsafe activated", CRITICAL)
            self.mode = "HOLD"
            self.mission_run = None
            self.activity = Hold.here(self)
        elif action == 3:
            self._failsafe_to("RTL")
        elif action == 5:
            self._failsafe_to("LAND")
        elif action == 4:
            self.text("Failsafe activated", CRITICAL)
            self.disarm()

    def _check_datalink(self) -> None:
        if self.gcs_seen_at is None:
            return
        lost = self.now - self.gcs_seen_at > self.params["COM_DL_LOSS_T"]
        if lost and not self.fs_dl:
            self.fs_dl = True
            self.text("Connection to ground station lost", WARNING)
            action = int(self.params["NAV_DLL_ACT"])
            if self.armed and self.airborne and action and self.mode not in ("RTL", "LAND"):
                self._failsafe_to({1: "HOLD", 2: "RTL", 3: "LAND"}.get(action, "RTL"))
        elif not lost and self.fs_dl:
            self.fs_dl = False
            self.text("Data link regained", INFO)

    def _check_battery(self) -> None:
        r = self.battery.remaining
        p = self.params
        level = 0
        if r < p["BAT_EMERGEN_THR"]:
            level = 3
        elif r < p["BAT_CRIT_THR"]:
            level = 2
        elif r < p["BAT_LOW_THR"]:
            level = 1
        if level <= self.fs_batt:
            return
        self.fs_batt = level
        act = int(p["COM_LOW_BAT_ACT"])
        if level == 1:
            self.text("Low battery level, return advised", WARNING)
            return
        if level == 2:
            self.text("Critical battery level, land now", CRITICAL)
        else:
            self.text("Emergency battery level, land immediately", CRITICAL)
        if not (self.armed and self.airborne):
            return
        if act == 3:
            self._failsafe_to("RTL" if level == 2 else "LAND")
        elif act == 2:
            self._failsafe_to("LAND")
