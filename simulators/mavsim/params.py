"""The parameter table and the MAVLink parameter protocol's value encodings.

ArduPilot puts an integer parameter's value into PARAM_VALUE's float field by C cast
(7 -> 7.0); PX4 copies the int32's bytes into the float ("bytewise"), which MAVSDK
and QGroundControl undo. Getting that wrong makes a client read garbage, so each
personality says which encoding it uses.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

REAL32 = mavlink.MAV_PARAM_TYPE_REAL32
INT32 = mavlink.MAV_PARAM_TYPE_INT32
INT16 = mavlink.MAV_PARAM_TYPE_INT16
INT8 = mavlink.MAV_PARAM_TYPE_INT8
_INT_TYPES = {
    mavlink.MAV_PARAM_TYPE_UINT8,
    INT8,
    mavlink.MAV_PARAM_TYPE_UINT16,
    INT16,
    mavlink.MAV_PARAM_TYPE_UINT32,
    INT32,
}


class Params:
    """An ordered name -> (value, type) table; indices are the MAVLink param_index."""

    def __init__(
        self,
        defaults: Iterable[tuple[str, float, int]],
        *,
        bytewise: bool,
        overrides: dict[str, float] | None = None,
    ) -> None:
        self._names: list[str] = []
        self._values: dict[str, float] = {}
        self._types: dict[str, int] = {}
        self.bytewise = bytewise
        self._listeners: list[Callable[[str, float], None]] = []
        for name, value, ptype in defaults:
            self._names.append(name)
            self._values[name] = float(value)
            self._types[name] = ptype
        for name, value in (overrides or {}).items():
            if name not in self._values:
                # An override may add a parameter the table does not know (a user's own).
                self._names.append(name)
                self._types[name] = REAL32
            self._values[name] = float(value)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def on_change(self, listener: Callable[[str, float], None]) -> None:
        self._listeners.append(listener)

    def index_of(self, name: str) -> int:
        return self._names.index(name)

    def name_at(self, index: int) -> str | None:
        return self._names[index] if 0 <= index < len(self._names) else None

    def type_of(self, name: str) -> int:
        return self._types[name]

    def set(self, name: str, value: float) -> bool:
        """Set a known parameter; integer types round. False if it does not exist."""
        if name not in self._values or not math.isfinite(value):
            return False
        if self._types[name] in _INT_TYPES:
            value = float(round(value))
        self._values[name] = value
        for listener in self._listeners:
            listener(name, value)
        return True

    def wire_value(self, name: str) -> float:
        """The float that goes into PARAM_VALUE.param_value."""
        value = self._values[name]
        if self.bytewise and self._types[name] in _INT_TYPES:
            return struct.unpack("<f", struct.pack("<i", int(value)))[0]
        return value

    def from_wire(self, name: str, wire: float, wire_type: int) -> float:
        """Decode PARAM_SET.param_value sent by a client."""
        if self.bytewise and wire_type in _INT_TYPES:
            return float(struct.unpack("<i", struct.pack("<f", wire))[0])
        return wire


def param_id(raw: str | bytes) -> str:
    """PARAM_* ids are 16-byte fields without a terminator when full; normalise them."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return raw.split("\x00", 1)[0].strip()
