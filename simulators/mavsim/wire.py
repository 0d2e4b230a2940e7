"""What every part of a simulated vehicle shares about the wire: channels, commands, results."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulators.mavsim.mission import as_int

C = mavlink
ACCEPTED = C.MAV_RESULT_ACCEPTED
TEMPORARILY_REJECTED = C.MAV_RESULT_TEMPORARILY_REJECTED
DENIED = C.MAV_RESULT_DENIED
UNSUPPORTED = C.MAV_RESULT_UNSUPPORTED
FAILED = C.MAV_RESULT_FAILED
INFO = C.MAV_SEVERITY_INFO
WARNING = C.MAV_SEVERITY_WARNING
CRITICAL = C.MAV_SEVERITY_CRITICAL
NOTICE = C.MAV_SEVERITY_NOTICE


class Channel(Protocol):
    """One conversation with one client (a TCP connection, a UDP peer)."""

    def send(self, data: bytes) -> None: ...


@dataclass
class Command:
    """COMMAND_LONG and COMMAND_INT, normalised. ``lat``/``lon`` None when not given."""

    command: int
    param1: float
    param2: float
    param3: float
    param4: float
    lat: float | None
    lon: float | None
    alt: float
    frame: int
    is_int: bool

    def int_param(self, n: int) -> int:
        """param1..4 as an integer; NaN (unset) reads as 0."""
        return as_int((self.param1, self.param2, self.param3, self.param4)[n - 1])

    @classmethod
    def from_msg(cls, msg: Any, default_frame: int) -> Command:
        if msg.get_type() == "COMMAND_INT":
            lat = msg.x / 1e7 if msg.x not in (0, 2**31 - 1) else None
            lon = msg.y / 1e7 if msg.y not in (0, 2**31 - 1) else None
            return cls(
                msg.command, msg.param1, msg.param2, msg.param3, msg.param4,
                lat, lon, msg.z, msg.frame, True,
            )  # fmt: skip
        lat = msg.param5 if math.isfinite(msg.param5) and msg.param5 != 0 else None
        lon = msg.param6 if math.isfinite(msg.param6) and msg.param6 != 0 else None
        return cls(
            msg.command, msg.param1, msg.param2, msg.param3, msg.param4,
            lat, lon, msg.param7, default_frame, False,
        )  # fmt: skip


def finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)
