"""ArduCopter personality: what an ArduCopter 4.7 SITL says and does on the wire.

Measured behaviour this imitates (see the project's real-autopilot notes): custom
modes STABILIZE 0 ... BRAKE 17, initial STABILIZE (a mode set in the first ~1.5 s is
overwritten), EKF milestones at 5/9/20/41 s, "PreArm: Need Position Estimate" until a
position estimate exists (~42 s), pre-arm bit healthy in STABILIZE ~20 s earlier,
COMMAND_ACK FAILED for refused arming and take-off, take-off only armed in a take-off
capable mode, auto-disarm after DISARM_DELAY (10 s) idle on the ground and at once
when a landing completes, mission item 0 = home, RTL at max(RTL_ALT, current altitude).
Command semantics follow ArduCopter's GCS_MAVLink handlers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulators.mavsim.mission import MISSION, Item, as_int
from simulators.mavsim.nav import Activity, Goto, Hold, Land, Orbit, Return, Takeoff, Velocity
from simulators.mavsim.params import INT8, INT16, INT32, REAL32
from simulators.mavsim.vehicle import SimVehicle
from simulators.mavsim.wire import (
    ACCEPTED,
    CRITICAL,
    DENIED,
    FAILED,
    NOTICE,
    UNSUPPORTED,
    WARNING,
    Channel,
    Command,
)

C = mavlink
FORCE_MAGIC = 21196
MODES = {
    "STABILIZE": 0,
    "ALT_HOLD": 2,
    "AUTO": 3,
    "GUIDED": 4,
    "LOITER": 5,
    "RTL": 6,
    "CIRCLE": 7,
    "LAND": 9,
    "POSHOLD": 16,
    "BRAKE": 17,
}
NEEDS_POSITION = frozenset({"AUTO", "GUIDED", "LOITER", "RTL", "CIRCLE", "POSHOLD", "BRAKE"})
ARMABLE = frozenset({"STABILIZE", "ALT_HOLD", "GUIDED", "LOITER", "POSHOLD"})
USER_TAKEOFF = frozenset({"GUIDED", "LOITER", "POSHOLD", "ALT_HOLD"})
POSITION_CONTROL = NEEDS_POSITION
MISSION_NAMES = {
    C.MAV_CMD_NAV_WAYPOINT: "WP",
    C.MAV_CMD_NAV_TAKEOFF: "Takeoff",
    C.MAV_CMD_NAV_LAND: "Land",
    C.MAV_CMD_NAV_RETURN_TO_LAUNCH: "RTL",
    C.MAV_CMD_NAV_LOITER_UNLIM: "LoitUnlim",
    C.MAV_CMD_NAV_LOITER_TIME: "LoitTime",
    C.MAV_CMD_NAV_LOITER_TURNS: "LoitTurns",
}
SENSORS = (
    C.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | C.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | C.MAV_SYS_STATUS_SENSOR_3D_MAG
    | C.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | C.MAV_SYS_STATUS_SENSOR_GPS
    | C.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL
    | C.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
    | C.MAV_SYS_STATUS_SENSOR_YAW_POSITION
    | C.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
    | C.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL
    | C.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
    | C.MAV_SYS_STATUS_SENSOR_RC_RECEIVER
    | C.MAV_SYS_STATUS_AHRS
    | C.MAV_SYS_STATUS_SENSOR_BATTERY
    | C.MAV_SYS_STATUS_PREARM_CHECK
)
EKF_GOOD = (
    C.EKF_ATTITUDE
    | C.EKF_VELOCITY_HORIZ
    | C.EKF_VELOCITY_VERT
    | C.EKF_POS_HORIZ_REL
    | C.EKF_POS_HORIZ_ABS
    | C.EKF_POS_VERT_ABS
    | C.EKF_PRED_POS_HORIZ_REL
    | C.EKF_PRED_POS_HORIZ_ABS
)
EKF_ALIGNED = C.EKF_ATTITUDE | C.EKF_VELOCITY_VERT | C.EKF_POS_VERT_ABS | C.EKF_CONST_POS_MODE
GPS_LOSS_TO_EKF_FAILSAFE_S = 5.0  # dead reckoning before the EKF gives up its position
GPS_RECOVERY_S = 3.0


class _Sink(Land):
    """STABILIZE or ALT_HOLD-less flight without a pilot: zero throttle, it comes down."""

    name = "sink"


class ArduCopter(SimVehicle):
    personality = "ardupilot"
    mav_autopilot = C.MAV_AUTOPILOT_ARDUPILOTMEGA
    initial_mode = "STABILIZE"
    modes: ClassVar[dict[str, int]] = MODES
    mission_retry_s = 1.0
    mission_timeout_s = 8.0
    flight_sw_version = (4 << 24) | (7 << 16) | (0 << 8) | C.FIRMWARE_VERSION_TYPE_DEV
    param_bytewise = False

    def __init__(self, index: int, cfg: Any) -> None:
        self.fs_gcs = False
        self.fs_batt = 0  # 0 none, 1 low, 2 critical
        self.fs_ekf = False
        self.gps_lost_at: float | None = None
        self.gps_back_at: float | None = None
        self.fence_breaches = 0
        self.fence_breach_type = 0
        self.fence_breach_time = 0
        self.fence_breached_now = 0  # bitmask: 1 alt max, 2 circle, 4 polygon
        self.fence_enabled_by_command: bool | None = None
        self._last_prearm_report = -1e9
        super().__init__(index, cfg)

    # ------------------------------------------------------------ tables
    def default_params(self) -> list[tuple[str, float, int]]:
        cap = self.cfg.airframe.capacity_mah
        return [
            ("SYSID_THISMAV", self.sysid, INT16),
            ("SYSID_MYGCS", 255, INT16),
            ("FRAME_CLASS", 1, INT8),
            ("FRAME_TYPE", 0, INT8),
            ("ARMING_CHECK", 1, INT32),
            ("DISARM_DELAY", 10, INT8),
            ("WPNAV_SPEED", 1000, REAL32),
            ("WPNAV_SPEED_UP", 250, REAL32),
            ("WPNAV_SPEED_DN", 150, REAL32),
            ("WPNAV_ACCEL", 250, REAL32),
            ("WPNAV_RADIUS", 200, REAL32),
            ("PILOT_SPEED_UP", 250, INT16),
            ("LAND_SPEED", 50, INT16),
            ("LAND_SPEED_HIGH", 0, INT16),
            ("LAND_ALT_LOW", 1000, INT16),
            ("RTL_ALT", 1500, INT32),
            ("RTL_ALT_FINAL", 0, INT16),
            ("RTL_LOIT_TIME", 5000, INT32),
            ("RTL_SPEED", 0, INT16),
            ("RTL_CLIMB_MIN", 0, INT16),
            ("CIRCLE_RADIUS", 1000, REAL32),
            ("CIRCLE_RATE", 20, REAL32),
            ("FENCE_ENABLE", 0, INT8),
            ("FENCE_TYPE", 7, INT8),
            ("FENCE_OPTIONS", 0, INT16),
            ("FENCE_ACTION", 1, INT8),
            ("FENCE_ALT_MAX", 100, REAL32),
            ("FENCE_RADIUS", 300, REAL32),
            ("FENCE_MARGIN", 2, REAL32),
            ("FS_GCS_ENABLE", 0, INT8),  # stock default; tests switch it on
            ("FS_GCS_TIMEOUT", 5, REAL32),
            ("FS_EKF_ACTION", 1, INT8),
            ("BATT_MONITOR", 4, INT8),
            ("BATT_CAPACITY", cap, INT32),
            ("BATT_LOW_MAH", round(cap * 0.2), INT32),
            ("BATT_CRT_MAH", round(cap * 0.1), INT32),
            ("BATT_LOW_VOLT", 0, REAL32),
            ("BATT_FS_LOW_ACT", 2, INT8),
            ("BATT_FS_CRT_ACT", 1, INT8),
            ("RALLY_INCL_HOME", 1, INT8),
            ("MIS_RESTART", 0, INT8),
            ("MIS_OPTIONS", 0, INT16),
            ("WP_YAW_BEHAVIOR", 2, INT8),
            ("AHRS_EKF_TYPE", 3, INT8),
            ("EK3_ENABLE", 1, INT8),
            ("GPS_TYPE", 1, INT8),
            ("SERIAL0_PROTOCOL", 2, INT8),
            ("LOG_BACKEND_TYPE", 1, INT8),
            ("SIM_SPEEDUP", self.cfg.speedup, REAL32),
        ]

    def default_rates(self) -> dict[str, float]:
        return {
            "HEARTBEAT": 1.0,
            "SYS_STATUS": 1.0,
            "BATTERY_STATUS": 1.0,
            "GLOBAL_POSITION_INT": 10.0,
            "GPS_RAW_INT": 2.0,
            "ATTITUDE": 10.0,
            "VFR_HUD": 4.0,
            "HOME_POSITION": 0.2,
            "EXTENDED_SYS_STATE": 1.0,
            "MISSION_CURRENT": 1.0,
            "EKF_STATUS_REPORT": 1.0,
            "SYSTEM_TIME": 1.0,
            "FENCE_STATUS": 1.0,
        }

    def boot_milestones(self) -> dict[str, float]:
        return {
            "heartbeat": 0.3,
            "banner": 0.5,
            "init_mode": 1.5,
            "ahrs": 5.0,
            "gps_detect": 9.0,
            "gps_fix": 10.0,
            "origin": 20.0,
            "stabilize_ready": 22.0,
            "using_gps": 41.0,
            "position_ready": 42.0,
        }

    def on_milestone(self, name: str) -> None:
        if name == "heartbeat":
            self.streams.kick(self.now)
        elif name == "banner":
            self.text("ArduCopter V4.7.0-dev (mavsim)")
            self.text("Frame: QUAD/PLUS")
        elif name == "init_mode":
            self.enter_mode(self.initial_mode)  # overwrites any mode set this early
        elif name == "ahrs":
            self.text("EKF3 IMU0 tilt alignment complete")
            self.text("EKF3 IMU0 MAG0 initial yaw alignment complete")
        elif name == "gps_detect":
            self.text("GPS 1: detected u-blox at 230400 baud")
        elif name == "origin":
            self.text("EKF3 IMU0 origin set")
            self.set_home(self.home_lat, self.home_lon, self.home_alt_amsl)
        elif name == "using_gps":
            self.text("EKF3 IMU0 is using GPS")

    def apply_params(self) -> None:
        p = self.params
        lim = self.limits
        lim.speed_xy = max(0.2, p["WPNAV_SPEED"] / 100.0)
        lim.accel_xy = max(0.5, p["WPNAV_ACCEL"] / 100.0)
        lim.speed_up = max(0.1, p["WPNAV_SPEED_UP"] / 100.0)
        lim.speed_down = max(0.1, p["WPNAV_SPEED_DN"] / 100.0)
        lim.accel_z = 0.5  # a 30 m take-off in ~16 s, as measured on SITL
        self.wp_radius = max(0.5, p["WPNAV_RADIUS"] / 100.0)
        self.default_orbit_radius = p["CIRCLE_RADIUS"] / 100.0 or 10.0

    def stream_enabled(self, name: str) -> bool:
        if "heartbeat" not in self.reached:
            return False
        if name == "FENCE_STATUS":
            return self.fence_enabled
        return True

    # ----------------------------------------------------------- estimator
    @property
    def ekf_has_position(self) -> bool:
        return "position_ready" in self.reached and not self.fs_ekf and self.gps_back_at is None

    @property
    def position_valid(self) -> bool:
        return "origin" in self.reached

    def gps_fix(self) -> tuple[int, int]:
        if self.faults.gps_loss or "gps_detect" not in self.reached:
            return 0, 0
        if "gps_fix" not in self.reached:
            return 1, 0
        return 3, 10

    def ekf_flags(self) -> int:
        if "ahrs" not in self.reached:
            return C.EKF_UNINITIALIZED
        if self.fs_ekf or (self.gps_lost_at is not None):
            lost_for = self.now - self.gps_lost_at if self.gps_lost_at is not None else 1e9
            if self.fs_ekf or lost_for > GPS_LOSS_TO_EKF_FAILSAFE_S:
                return EKF_ALIGNED | C.EKF_PRED_POS_HORIZ_REL
        if "using_gps" in self.reached and self.gps_back_at is None:
            return EKF_GOOD
        if "origin" in self.reached:
            return EKF_ALIGNED | C.EKF_PRED_POS_HORIZ_REL | C.EKF_PRED_POS_HORIZ_ABS
        return EKF_ALIGNED

    # ------------------------------------------------------------ status
    def heartbeat_fields(self) -> tuple[int, int, int]:
        base = (
            C.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
            | C.MAV_MODE_FLAG_STABILIZE_ENABLED
            | C.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED
        )
        if self.armed:
            base |= C.MAV_MODE_FLAG_SAFETY_ARMED
            if self.mode in POSITION_CONTROL:
                base |= C.MAV_MODE_FLAG_GUIDED_ENABLED
        if self.falling:
            status = C.MAV_STATE_EMERGENCY
        elif self.fs_gcs or self.fs_batt or self.fs_ekf:
            status = C.MAV_STATE_CRITICAL
        elif self.airborne:
            status = C.MAV_STATE_ACTIVE
        else:
            status = C.MAV_STATE_STANDBY
        return base, MODES[self.mode], status

    def sensors(self) -> tuple[int, int, int]:
        # The fence is "present" whenever FENCE_TYPE names a fence, healthy unless breached.
        present = SENSORS | (C.MAV_SYS_STATUS_GEOFENCE if self.params["FENCE_TYPE"] else 0)
        enabled = present if self.armed else present & ~C.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
        if not self.fence_enabled:
            enabled &= ~C.MAV_SYS_STATUS_GEOFENCE
        health = present
        if self.gps_fix()[0] < 3:
            health &= ~C.MAV_SYS_STATUS_SENSOR_GPS
        if "ahrs" not in self.reached or self.fs_ekf:
            health &= ~C.MAV_SYS_STATUS_AHRS
        if self.prearm_failure() is not None:
            health &= ~C.MAV_SYS_STATUS_PREARM_CHECK
        if self.fence_breached_now:
            health &= ~C.MAV_SYS_STATUS_GEOFENCE
        if self.fs_batt:
            health &= ~C.MAV_SYS_STATUS_SENSOR_BATTERY
        return present, enabled, health

    def prearm_failure(self) -> str | None:
        if "ahrs" not in self.reached:
            return "PreArm: AHRS: EKF3 not started"
        if self.mode in NEEDS_POSITION or self.fence_enabled:
            if not self.ekf_has_position or self.faults.gps_loss:
                return "PreArm: Need Position Estimate"
        elif "stabilize_ready" not in self.reached:
            return "PreArm: AHRS: waiting for home"
        if self.fs_batt or self._battery_low():
            return "PreArm: Battery 1 low capacity"
        if self.fence_enabled and self._fence_breaches(ignore_alt=True):
            return "PreArm: Fence: vehicle outside fence"
        return None

    def mission_current_fields(self) -> tuple[int, int, int, int]:
        total = max(0, len(self.items[MISSION]) - 1)
        if total == 0:
            state = C.MISSION_STATE_NO_MISSION
        elif self.mission_complete:
            state = C.MISSION_STATE_COMPLETE
        elif self.mode == "AUTO" and self.mission_started:
            state = C.MISSION_STATE_ACTIVE
        elif self.mission_started:
            state = C.MISSION_STATE_PAUSED
        else:
            state = C.MISSION_STATE_NOT_STARTED
        return self.mission_seq, total, state, 1 if self.mode == "AUTO" else 0

    def fence_status_fields(self) -> tuple[int, int, int, int, int] | None:
        return (
            1 if self.fence_breached_now else 0,
            self.fence_breaches,
            self.fence_breach_type,
            self.fence_breach_time,
            C.FENCE_MITIGATE_UNKNOWN,
        )

    # -------------------------------------------------------------- mission
    def _home_item(self) -> Item:
        return Item(
            0, C.MAV_FRAME_GLOBAL, C.MAV_CMD_NAV_WAYPOINT,
            x=round(self.home_lat * 1e7), y=round(self.home_lon * 1e7), z=self.home_alt_amsl,
        )  # fmt: skip

    def mission_items(self, mission_type: int) -> list[Item]:
        if mission_type == MISSION:
            return [self._home_item(), *self.items[MISSION][1:]]
        return self.items[mission_type]

    def flyable_items(self) -> list[Item]:
        return self.items[MISSION][1:]

    def mission_return(self) -> Activity:
        return self._rtl_activity()

    def make_takeoff(self, u: float) -> Activity:
        return Takeoff(self.body.n, self.body.e, u, self.limits.speed_up)

    def mission_current_changed(self, seq: int) -> None:
        super().mission_current_changed(seq)
        item = next((it for it in self.flyable_items() if it.seq == seq), None)
        if item is not None:
            self.text(f"Mission: {seq} {MISSION_NAMES.get(item.command, 'Cmd')}")

    def on_item_reached(self, seq: int) -> None:
        self.text(f"Reached command #{seq}")

    def guided_goto_item(self, item: Item, channel: Channel, msg: Any) -> None:
        ok = self.mode == "GUIDED" and self.ekf_has_position
        if ok:
            n, e = self.item_ne(item)
            self._guided_goto(n, e, self.item_up(item), None)
        result = C.MAV_MISSION_ACCEPTED if ok else C.MAV_MISSION_ERROR
        self.send_to(
            channel,
            C.MAVLink_mission_ack_message(
                msg.get_srcSystem(), msg.get_srcComponent(), result, MISSION
            ),
        )

    # ----------------------------------------------------------------- modes
    def mode_entry_refusal(self, name: str) -> str | None:
        if name == self.mode or "init_mode" not in self.reached:
            return None  # still initialising: accepted, then overwritten by STABILIZE
        if name in NEEDS_POSITION and not self._position_for_modes():
            return f"Mode change to {name} failed: requires position"
        if name == "AUTO" and self.armed and not self.airborne:
            first = next(iter(self.flyable_items()), None)
            if first is None or first.command != C.MAV_CMD_NAV_TAKEOFF:
                return "Auto: Missing Takeoff Cmd"
        return None

    def _position_for_modes(self) -> bool:
        # Disarmed, a predicted position (EKF origin) suffices; armed needs the real thing.
        if self.fs_ekf:
            return False
        return self.ekf_has_position if self.armed else "origin" in self.reached

    def activity_for_mode(self, name: str) -> Activity | None:
        if name == "AUTO":
            return self.new_mission_run(self.mission_index())
        if not self.airborne:
            return None
        if name == "RTL":
            return self._rtl_activity()
        if name == "LAND":
            stop = Hold.here(self)
            return Land(stop.n, stop.e)
        if name == "STABILIZE":
            return _Sink(self.body.n, self.body.e)
        if name == "CIRCLE":
            radius = self.params["CIRCLE_RADIUS"] / 100.0
            if radius <= 0:
                return Hold.here(self)
            h = math.radians(self.body.heading)
            cn, ce = self.body.n + radius * math.cos(h), self.body.e + radius * math.sin(h)
            rate = self.params["CIRCLE_RATE"]
            speed = math.radians(abs(rate)) * radius * (1.0 if rate >= 0 else -1.0)
            return Orbit(cn, ce, radius, speed, self.body.u)
        return Hold.here(self)

    def _rtl_activity(self) -> Return:
        n, e = self.return_target()
        rtl_alt = self.params["RTL_ALT"] / 100.0
        speed = self.params["RTL_SPEED"] / 100.0 or self.limits.speed_xy
        home_u = self.home_alt_amsl - self.frame.alt0
        final = self.params["RTL_ALT_FINAL"] / 100.0
        return Return(
            self,
            n,
            e,
            home_u + rtl_alt,
            speed,
            self.params["RTL_LOIT_TIME"] / 1000.0,
            descend_u=None if final <= 0 else home_u + final,
        )

    def land_speed(self, u: float) -> float:
        p = self.params
        if u - (self.home_alt_amsl - self.frame.alt0) > p["LAND_ALT_LOW"] / 100.0:
            return (p["LAND_SPEED_HIGH"] or p["WPNAV_SPEED_DN"]) / 100.0
        return p["LAND_SPEED"] / 100.0

    def _on_set_mode(self, channel: Channel, msg: Any) -> None:
        result = self._set_mode_common(msg.base_mode, msg.custom_mode)
        # ArduPilot acks the SET_MODE *message* with its message id as the command.
        self.ack(channel, msg, C.MAVLINK_MSG_ID_SET_MODE, result)

    def _set_mode_common(self, base_mode: float, custom_mode: float) -> int:
        if not as_int(base_mode) & C.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            return FAILED
        name = next((k for k, v in MODES.items() if v == as_int(custom_mode, -1)), None)
        if name is None:
            return FAILED
        return ACCEPTED if self.set_mode(name) else FAILED

    # -------------------------------------------------------------- commands
    def command_handlers(self) -> dict[int, Callable[[Command, Channel, Any], int | None]]:
        return {
            C.MAV_CMD_COMPONENT_ARM_DISARM: self._cmd_arm_disarm,
            C.MAV_CMD_DO_SET_MODE: lambda c, ch, m: self._set_mode_common(c.param1, c.param2),
            C.MAV_CMD_NAV_TAKEOFF: self._cmd_takeoff,
            C.MAV_CMD_NAV_LAND: lambda c, ch, m: self._mode_result("LAND"),
            C.MAV_CMD_NAV_RETURN_TO_LAUNCH: lambda c, ch, m: self._mode_result("RTL"),
            C.MAV_CMD_NAV_LOITER_UNLIM: lambda c, ch, m: self._mode_result("LOITER"),
            C.MAV_CMD_MISSION_START: self._cmd_mission_start,
            C.MAV_CMD_DO_REPOSITION: self._cmd_reposition,
            C.MAV_CMD_DO_FENCE_ENABLE: self._cmd_fence_enable,
            C.MAV_CMD_DO_PAUSE_CONTINUE: self._cmd_pause_continue,
        }

    def _mode_result(self, name: str) -> int:
        return ACCEPTED if self.set_mode(name) else FAILED

    def _cmd_arm_disarm(self, cmd: Command, ch: Channel, msg: Any) -> int:
        force = cmd.int_param(2) == FORCE_MAGIC
        if cmd.param1 == 1:
            if self.armed:
                return ACCEPTED
            if not force:
                failure = self.prearm_failure()
                if failure is not None:
                    self.text(failure, CRITICAL)
                    return FAILED
                if self.mode not in ARMABLE:
                    self.text("Arm: Mode not armable", CRITICAL)
                    return FAILED
            self.arm()
            self.text("Arming motors")
            return ACCEPTED
        if cmd.param1 == 0:
            if not self.armed:
                return ACCEPTED
            if self.airborne and not force:
                return FAILED  # ArduCopter refuses a GCS disarm while it thinks it flies
            self.disarm("Disarming motors")
            return ACCEPTED
        return UNSUPPORTED

    def _cmd_takeoff(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if cmd.is_int and cmd.frame != C.MAV_FRAME_GLOBAL_RELATIVE_ALT:
            return DENIED
        alt = cmd.alt
        if not math.isfinite(alt):
            return FAILED
        u = self.home_alt_amsl - self.frame.alt0 + alt
        ok = (
            self.armed
            and not self.airborne
            and self.mode in USER_TAKEOFF
            and (self.mode != "ALT_HOLD" or cmd.param3 != 0)
            and u > self.body.u
            and "init_mode" in self.reached
        )
        if not ok:
            return FAILED
        self.activity = Takeoff(self.body.n, self.body.e, u, self.limits.speed_up)
        return ACCEPTED

    def _cmd_mission_start(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if cmd.param1 != 0 or cmd.param2 != 0:
            return DENIED
        if not self.set_mode("AUTO"):
            return FAILED
        if self.mission_complete:
            self.set_mission_current(self.flyable_items()[0].seq if self.flyable_items() else 0)
        return ACCEPTED

    def _cmd_reposition(self, cmd: Command, ch: Channel, msg: Any) -> int:
        change_mode = cmd.int_param(2) & C.MAV_DO_REPOSITION_FLAGS_CHANGE_MODE
        if self.mode != "GUIDED" and not change_mode:
            return DENIED
        if cmd.lat is None or cmd.lon is None or not (-90 <= cmd.lat <= 90):
            return DENIED
        if self.mode != "GUIDED" and not self.set_mode("GUIDED"):
            return FAILED
        n, e = self.frame.to_ne(cmd.lat, cmd.lon)
        if math.isfinite(cmd.alt):
            u = self.alt_to_amsl(cmd.alt, cmd.frame) - self.frame.alt0
        else:
            u = self.body.u
        speed = cmd.param1 if math.isfinite(cmd.param1) and cmd.param1 > 0 else None
        self._guided_goto(n, e, u, speed)
        return ACCEPTED

    def _guided_goto(self, n: float, e: float, u: float, speed: float | None) -> None:
        if self.airborne:
            self.activity = Goto(n, e, u, speed or self.speed_override)

    def on_setpoint(
        self,
        position: tuple[float, float, float] | None,
        velocity: tuple[float, float, float] | None,
    ) -> None:
        if self.mode != "GUIDED" or not self.airborne:
            return
        if position is not None:
            self._guided_goto(*position, None)
        elif velocity is not None:
            self.activity = Velocity(*velocity, until=self.now + 3.0)  # guided timeout

    def _cmd_fence_enable(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if cmd.int_param(1) not in (0, 1, 2):
            return FAILED
        self.fence_enabled_by_command = cmd.int_param(1) == 1
        return ACCEPTED

    def _cmd_pause_continue(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if cmd.int_param(1) == 0:
            if self.mode in ("AUTO", "GUIDED") and self.airborne:
                self.activity = Hold.here(self)
                return ACCEPTED
            self.text("Failed to pause")
            return FAILED
        if cmd.int_param(1) == 1:
            if self.mode == "AUTO":
                self.activity = self.new_mission_run(self.mission_index())
                self.mission_run = self.activity
                return ACCEPTED
            self.text("Failed to resume")
            return FAILED
        return DENIED

    # ------------------------------------------------------- arming, landing
    def on_disarmed(self) -> None:
        self.mission_seq = 0 if self.mission_complete else self.mission_seq

    def auto_disarm_delay(self) -> float | None:
        if self.flew_since_arm and self.landed_by_landing:
            return 1.0  # the land detector, then LAND/RTL disarm at once
        delay = self.params["DISARM_DELAY"]
        return delay if delay > 0 else None

    def auto_disarm_text(self) -> str | None:
        return "Disarming motors"

    def on_crash(self) -> None:
        self.text("Crash: Disarming", CRITICAL)

    # ------------------------------------------------------------- failsafes
    @property
    def fence_enabled(self) -> bool:
        if self.fence_enabled_by_command is not None:
            return self.fence_enabled_by_command
        return self.params["FENCE_ENABLE"] == 1

    def _fence_breaches(self, ignore_alt: bool = False) -> int:
        kinds = int(self.params["FENCE_TYPE"])
        out = 0
        if kinds & 1 and not ignore_alt and self.alt_rel > self.params["FENCE_ALT_MAX"]:
            out |= 1
        if kinds & 2:
            hn, he = self.frame.to_ne(self.home_lat, self.home_lon)
            if math.hypot(self.body.n - hn, self.body.e - he) > self.params["FENCE_RADIUS"]:
                out |= 2
        if (
            kinds & 4
            and not self.geofence.empty
            and self.geofence.breached(
                self.body.n,
                self.body.e,
                # FENCE_OPTIONS bit 1: several inclusion areas are one union (ArduPilot 4.5+)
                union_of_inclusions=bool(int(self.params["FENCE_OPTIONS"]) & 2),
            )
        ):
            out |= 4
        return out

    def _battery_low(self) -> bool:
        low = self.params["BATT_LOW_MAH"]
        return low > 0 and self.battery.capacity_mah - self.battery.used_mah < low

    def personality_tick(self) -> None:
        self._check_gps()
        self._check_fence()
        self._check_gcs()
        self._check_battery()
        self._report_prearm()

    def _failsafe_rtl(self) -> None:
        if self.mode in ("RTL", "LAND"):
            return
        if not self.set_mode("RTL"):
            self.enter_mode("LAND")

    def _check_fence(self) -> None:
        if not self.fence_enabled or not self.armed or not self.airborne:
            self.fence_breached_now = 0
            return
        breaches = self._fence_breaches()
        new = breaches & ~self.fence_breached_now
        self.fence_breached_now = breaches
        if not new:
            return
        names = [n for bit, n in ((1, "Max Alt"), (2, "Circle"), (4, "Polygon")) if new & bit]
        plural = "s" if len(names) > 1 else ""
        self.text(f"{' and '.join(names)} fence{plural} breached", NOTICE)
        self.fence_breaches += 1
        self.fence_breach_type = C.FENCE_BREACH_MAXALT if new & 1 else C.FENCE_BREACH_BOUNDARY
        self.fence_breach_time = self.time_boot_ms
        action = int(self.params["FENCE_ACTION"])
        if action in (1, 3, 5):
            self._failsafe_rtl()
        elif action == 2 and self.mode != "LAND":
            self.enter_mode("LAND")
        elif action == 4 and self.mode not in ("RTL", "LAND"):
            self.enter_mode("BRAKE")

    def _check_gcs(self) -> None:
        enabled = int(self.params["FS_GCS_ENABLE"])
        if enabled == 0 or self.gcs_seen_at is None:
            return
        silent = self.now - self.gcs_seen_at > self.params["FS_GCS_TIMEOUT"]
        if silent and not self.fs_gcs:
            self.fs_gcs = True
            if not self.armed:
                return
            if not self.airborne:
                self.text("GCS Failsafe - Disarming", WARNING)
                self.disarm("Disarming motors")
            elif self.mode in ("RTL", "LAND"):
                self.text("GCS Failsafe - Continuing Landing", WARNING)
            elif self.mode == "AUTO" and enabled == 2:
                self.text("GCS Failsafe - Continuing Auto Mode", WARNING)
            else:
                self.text("GCS Failsafe", WARNING)
                if enabled == 5:
                    self.enter_mode("LAND")
                else:
                    self._failsafe_rtl()
        elif not silent and self.fs_gcs:
            self.fs_gcs = False
            self.text("GCS Failsafe Cleared", WARNING)

    def _check_battery(self) -> None:
        remaining = self.battery.capacity_mah - self.battery.used_mah
        level = 0
        if self.params["BATT_CRT_MAH"] > 0 and remaining < self.params["BATT_CRT_MAH"]:
            level = 2
        elif self._battery_low():
            level = 1
        if level <= self.fs_batt:
            return
        self.fs_batt = level
        word = "critical" if level == 2 else "low"
        self.text(
            f"Battery 1 is {word} {self.battery.voltage:.2f}V used {self.battery.used_mah:.0f} mAh",
            CRITICAL,
        )
        if not self.armed:
            return
        if not self.airborne:
            self.disarm("Disarming motors")
            return
        action = int(self.params["BATT_FS_CRT_ACT" if level == 2 else "BATT_FS_LOW_ACT"])
        if action == 1 and self.mode != "LAND":
            self.enter_mode("LAND")
        elif action in (2, 3, 4):
            self._failsafe_rtl()

    def _check_gps(self) -> None:
        if self.faults.gps_loss:
            self.gps_back_at = None
            if self.gps_lost_at is None:
                self.gps_lost_at = self.now
            lost_for = self.now - self.gps_lost_at
            if (
                not self.fs_ekf
                and lost_for > GPS_LOSS_TO_EKF_FAILSAFE_S
                and ("using_gps" in self.reached)
            ):
                self.fs_ekf = True
                self.text("EKF variance", CRITICAL)
                if self.armed and self.airborne and int(self.params["FS_EKF_ACTION"]) in (1, 3):
                    self.text("EKF Failsafe: changed to LAND Mode", CRITICAL)
                    if self.mode != "LAND":
                        self.enter_mode("LAND")
            return
        if self.gps_lost_at is not None:
            self.gps_lost_at = None
            self.gps_back_at = self.now
        if self.gps_back_at is not None and self.now - self.gps_back_at > GPS_RECOVERY_S:
            self.gps_back_at = None
            if self.fs_ekf:
                self.fs_ekf = False
                self.text("EKF Failsafe Cleared", CRITICAL)

    def _report_prearm(self) -> None:
        # ArduPilot repeats the failing pre-arm check every 30 s while disarmed.
        if self.armed or "heartbeat" not in self.reached:
            return
        if self.now - self._last_prearm_report < 30.0:
            return
        failure = self.prearm_failure()
        if failure is not None:
            self._last_prearm_report = self.now
            self.text(failure, CRITICAL)

    def on_motor_failure(self) -> None:
        self.text("Potential Thrust Loss (1)", CRITICAL)

    def message_handlers(self) -> dict[str, Callable[[Channel, Any], None]]:
        return {"FILE_TRANSFER_PROTOCOL": self._on_ftp}

    def _on_ftp(self, channel: Channel, msg: Any) -> None:
        """No MAVLink FTP files here: NAK at once so a GCS falls back to PARAM_REQUEST_LIST."""
        payload = bytes(msg.payload)
        seq = int.from_bytes(payload[0:2], "little")
        session, opcode = payload[2], payload[3]
        error = 10 if opcode in (4, 6, 7, 14) else 7  # FileNotFound / UnknownCommand
        reply = bytearray(251)
        reply[0:2] = ((seq + 1) & 0xFFFF).to_bytes(2, "little")
        reply[2], reply[3], reply[4], reply[5] = session, 129, 1, opcode  # 129 = NAK
        reply[12] = error
        self.send_to(
            channel,
            C.MAVLink_file_transfer_protocol_message(
                0, msg.get_srcSystem(), msg.get_srcComponent(), list(reply)
            ),
        )

    def is_gcs_heartbeat(self, msg: Any) -> bool:
        # Only heartbeats from SYSID_MYGCS keep ArduPilot's GCS failsafe at bay.
        return msg.get_srcSystem() == int(self.params["SYSID_MYGCS"])
