"""Ground-station services both autopilots offer: commands, parameters, streams, pings.

A mixin of ``SimVehicle``: message handlers for HEARTBEAT, TIMESYNC, PING, COMMAND_LONG/
COMMAND_INT dispatch and the commands every autopilot answers the same way (message
intervals, message requests, home, speed, mission current), the parameter protocol and
the legacy REQUEST_DATA_STREAM groups. It uses the vehicle's state and ``send_to``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from simulators.mavsim import telemetry
from simulators.mavsim.params import param_id
from simulators.mavsim.wire import (
    ACCEPTED,
    DENIED,
    FAILED,
    UNSUPPORTED,
    C,
    Channel,
    Command,
    finite,
)


class GcsServices:
    """Mixin: the parts of the MAVLink conversation that do not depend on the autopilot."""

    flight_sw_version: ClassVar[int] = 0
    reports_uid64: ClassVar[bool] = False  # PX4 fills AUTOPILOT_VERSION's uid; ArduPilot, 0
    # The simulated processor's unique id, sent as AUTOPILOT_VERSION's ``uid2`` (set by
    # ``SimVehicle``: 12 bytes, as an STM32's); a test may put another aircraft in its place.
    board_id: bytes

    def is_gcs_heartbeat(self, msg: Any) -> bool:
        return msg.type == C.MAV_TYPE_GCS

    def _on_heartbeat(self, channel: Channel, msg: Any) -> None:
        if self.is_gcs_heartbeat(msg):
            self.gcs_seen_at = self.now

    def _on_timesync(self, channel: Channel, msg: Any) -> None:
        if msg.tc1 == 0:
            self.send_to(channel, C.MAVLink_timesync_message(self.time_usec * 1000, msg.ts1))

    def _on_ping(self, channel: Channel, msg: Any) -> None:
        if msg.target_system == 0:
            reply = C.MAVLink_ping_message(
                msg.time_usec, msg.seq, msg.get_srcSystem(), msg.get_srcComponent()
            )
            self.send_to(channel, reply)

    # ------------------------------------------------------------- commands
    def _on_command(self, channel: Channel, msg: Any) -> None:
        cmd = Command.from_msg(msg, self.command_long_frame)
        handler = self._commands.get(cmd.command)
        result = UNSUPPORTED if handler is None else handler(cmd, channel, msg)
        if result is not None:
            self.ack(channel, msg, cmd.command, result)

    def ack(self, channel: Channel, msg: Any, command: int, result: int) -> None:
        self.send_to(
            channel,
            C.MAVLink_command_ack_message(
                command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()
            ),
        )

    def _on_set_mode(self, channel: Channel, msg: Any) -> None:
        raise NotImplementedError

    def _common_commands(self) -> dict[int, Callable[[Command, Channel, Any], int | None]]:
        return {
            C.MAV_CMD_SET_MESSAGE_INTERVAL: self._cmd_set_message_interval,
            C.MAV_CMD_GET_MESSAGE_INTERVAL: self._cmd_get_message_interval,
            C.MAV_CMD_REQUEST_MESSAGE: self._cmd_request_message,
            C.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: self._cmd_request_capabilities,
            C.MAV_CMD_GET_HOME_POSITION: self._cmd_get_home,
            C.MAV_CMD_DO_SET_HOME: self._cmd_set_home,
            C.MAV_CMD_DO_CHANGE_SPEED: self._cmd_change_speed,
            C.MAV_CMD_DO_SET_MISSION_CURRENT: self._cmd_set_mission_current,
            C.MAV_CMD_CONDITION_YAW: lambda c, ch, m: ACCEPTED,
        }

    def _cmd_set_message_interval(self, cmd: Command, ch: Channel, msg: Any) -> int:
        name = telemetry.message_name(cmd.int_param(1))
        if name is None or name not in telemetry.BUILDERS:
            return DENIED
        interval = cmd.param2
        if interval == 0:
            hz: float | None = None
        elif interval < 0:
            hz = 0.0
        else:
            hz = min(1e6 / interval, self.cfg.tick_hz)
        self.streams.set_hz(name, hz, self.now)
        return ACCEPTED

    def _cmd_get_message_interval(self, cmd: Command, ch: Channel, msg: Any) -> int | None:
        name = telemetry.message_name(cmd.int_param(1))
        interval = self.streams.interval_us(name) if name in telemetry.BUILDERS else 0
        self.ack(ch, msg, cmd.command, ACCEPTED)
        self.send_to(ch, C.MAVLink_message_interval_message(cmd.int_param(1), interval))
        return None

    def _cmd_request_message(self, cmd: Command, ch: Channel, msg: Any) -> int | None:
        msg_id = cmd.int_param(1)
        if msg_id == C.MAVLINK_MSG_ID_AUTOPILOT_VERSION:
            out = self.autopilot_version()
        else:
            name = telemetry.message_name(msg_id)
            builder = telemetry.BUILDERS.get(name or "")
            out = builder(self) if builder is not None else None
        if out is None:
            return FAILED
        self.ack(ch, msg, cmd.command, ACCEPTED)
        self.send_to(ch, out)
        return None

    def _cmd_request_capabilities(self, cmd: Command, ch: Channel, msg: Any) -> int | None:
        self.ack(ch, msg, cmd.command, ACCEPTED)
        self.send_to(ch, self.autopilot_version())
        return None

    def _cmd_get_home(self, cmd: Command, ch: Channel, msg: Any) -> int | None:
        home = telemetry.home_position(self)
        if home is None:
            return FAILED
        self.ack(ch, msg, cmd.command, ACCEPTED)
        self.send_to(ch, home)
        return None

    def _cmd_set_home(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if not self.position_valid:
            return FAILED
        if cmd.param1 == 1:
            self.set_home(self.lat, self.lon, self.alt_amsl)
            return ACCEPTED
        if cmd.lat is None or cmd.lon is None or not (-90 <= cmd.lat <= 90):
            return DENIED
        self.set_home(cmd.lat, cmd.lon, self.alt_to_amsl(cmd.alt, cmd.frame))
        return ACCEPTED

    def _cmd_change_speed(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if not (finite(cmd.param2) and cmd.param2 > 0):
            return DENIED
        if cmd.int_param(1) in (2, 3):
            return ACCEPTED  # climb/descent speed: accepted, not modelled separately
        self.set_speed(cmd.param2)
        return ACCEPTED

    def _cmd_set_mission_current(self, cmd: Command, ch: Channel, msg: Any) -> int:
        if not self.set_mission_current(cmd.int_param(1)):
            return DENIED
        return ACCEPTED

    def autopilot_version(self) -> Any:
        caps = (
            C.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
            | C.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
            | C.MAV_PROTOCOL_CAPABILITY_MISSION_INT
            | C.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
            | C.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
            | C.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
            | C.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
            | C.MAV_PROTOCOL_CAPABILITY_MAVLINK2
            | (
                C.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE
                if self.param_bytewise
                else C.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST
            )
        )
        return C.MAVLink_autopilot_version_message(
            caps, self.flight_sw_version, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8,
            0x1209, 0x5740, 0x4D415653494D0000 + self.sysid if self.reports_uid64 else 0,
            list(self.board_id.ljust(18, b"\0")),
        )  # fmt: skip

    # ------------------------------------------------------------- params
    def _param_value(self, name: str) -> Any:
        return C.MAVLink_param_value_message(
            name.encode(),
            self.params.wire_value(name),
            self.params.type_of(name),
            len(self.params),
            self.params.index_of(name),
        )

    def _on_param_request_list(self, channel: Channel, msg: Any) -> None:
        for i in range(len(self.params)):
            name = self.params.name_at(i)
            if name is not None:
                self.send_to(channel, self._param_value(name))

    def _on_param_request_read(self, channel: Channel, msg: Any) -> None:
        name = (
            self.params.name_at(msg.param_index)
            if msg.param_index >= 0
            else (param_id(msg.param_id))
        )
        if name is not None and name in self.params:
            self.send_to(channel, self._param_value(name))

    def _on_param_set(self, channel: Channel, msg: Any) -> None:
        name = param_id(msg.param_id)
        if name not in self.params:
            return
        value = self.params.from_wire(name, msg.param_value, msg.param_type)
        if self.params.set(name, value):
            self.broadcast(self._param_value(name))

    def _param_changed(self, name: str, value: float) -> None:
        self.apply_params()

    # ------------------------------------------------------------ streams
    def _on_request_data_stream(self, channel: Channel, msg: Any) -> None:
        """Legacy stream groups; PX4 ignores them (its subclass overrides)."""
        groups = {
            C.MAV_DATA_STREAM_EXTENDED_STATUS: (
                "SYS_STATUS", "GPS_RAW_INT", "MISSION_CURRENT", "FENCE_STATUS",
            ),
            C.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
            C.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE",),
            C.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
            C.MAV_DATA_STREAM_EXTRA3: (
                "BATTERY_STATUS", "EKF_STATUS_REPORT", "SYSTEM_TIME", "EXTENDED_SYS_STATE",
            ),
        }  # fmt: skip
        if msg.req_stream_id == C.MAV_DATA_STREAM_ALL:
            names = [n for g in groups.values() for n in g]
        else:
            names = list(groups.get(msg.req_stream_id, ()))
        hz = float(msg.req_message_rate) if msg.start_stop else 0.0
        for name in names:
            self.streams.set_hz(name, min(hz, self.cfg.tick_hz), self.now)
