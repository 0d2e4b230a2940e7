"""Choosing the autopilot dialect from a vehicle's HEARTBEAT."""

from __future__ import annotations

from skyshare.fleet.ardupilot import ArduCopterDialect
from skyshare.fleet.autopilot import AutopilotDialect, GenericDialect
from skyshare.fleet.protocol import mavlink
from skyshare.fleet.px4 import PX4Dialect


def dialect_for(autopilot: int, vehicle_type: int) -> AutopilotDialect:
    """The dialect for a HEARTBEAT's ``autopilot`` (MAV_AUTOPILOT) and ``type`` (MAV_TYPE)."""
    if autopilot == mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA:
        return ArduCopterDialect()
    if autopilot == mavlink.MAV_AUTOPILOT_PX4:
        return PX4Dialect()
    return GenericDialect()
