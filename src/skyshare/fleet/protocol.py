"""The MAVLink dialect the fleet speaks, and readable names for its numbers.

ArduPilot's dialect (``ardupilotmega``) is a superset of ``common``: it also decodes what
ArduPilot sends beyond common (EKF_STATUS_REPORT, for one) and PX4 needs nothing more.
"""

from __future__ import annotations

from pymavlink.dialects.v20 import ardupilotmega as mavlink

MAVLink = mavlink.MAVLink
MAVLinkMessage = mavlink.MAVLink_message

# Sentinels MAVLink uses for "unknown".
UINT16_UNKNOWN = 65535
UINT8_UNKNOWN = 255

# HEARTBEAT base_mode bit that says the motors are armed.
ARMED_FLAG = mavlink.MAV_MODE_FLAG_SAFETY_ARMED

# SET_POSITION_TARGET_GLOBAL_INT type mask: use the position only (ignore velocity,
# acceleration, yaw and yaw rate), as ArduPilot documents for guided "goto".
POSITION_ONLY_TYPE_MASK = 0x0DF8

# MAV_DO_REPOSITION_FLAGS_CHANGE_MODE: switch to the autopilot's guided mode if needed.
REPOSITION_CHANGE_MODE = 1


def enum_name(enum: str, value: int) -> str:
    """``enum_name("MAV_RESULT", 4)`` -> ``"MAV_RESULT_FAILED"``; unknown values stay readable."""
    entry = mavlink.enums.get(enum, {}).get(value)
    return entry.name if entry is not None else f"{enum}({value})"


def command_name(command: int) -> str:
    return enum_name("MAV_CMD", command)


def result_name(result: int) -> str:
    return enum_name("MAV_RESULT", result)


def mission_result_name(result: int) -> str:
    return enum_name("MAV_MISSION_RESULT", result)
