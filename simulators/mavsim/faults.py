"""Faults a test or the command line can inject into one vehicle, and their validation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from skyshare.domain.errors import InputError

FAULT_NAMES = (
    "link_drop",
    "packet_loss",
    "latency_s",
    "gps_loss",
    "battery_fault",
    "motor_failure",
    "gust",
)


@dataclass
class Faults:
    link_drop: bool = False
    packet_loss: float = 0.0  # probability, each message, each direction
    latency_s: float = 0.0  # sim seconds, each direction
    gps_loss: bool = False
    motor_failure: bool = False


def check(name: str, value: Any) -> Any:
    """Validate one fault value; returns it normalised. Raises InputError naming the fault."""
    if name not in FAULT_NAMES:
        raise InputError(name, f"unknown fault; expected one of {', '.join(FAULT_NAMES)}")
    if name in ("link_drop", "gps_loss", "motor_failure"):
        return bool(value)
    if name == "packet_loss":
        v = float(value or 0.0)
        if not 0.0 <= v <= 1.0:
            raise InputError(name, f"must be a probability 0..1, got {value!r}")
        return v
    if name == "latency_s":
        v = float(value or 0.0)
        if not (0.0 <= v <= 60.0):
            raise InputError(name, f"must be 0..60 sim seconds, got {value!r}")
        return v
    if name == "battery_fault":
        if value is None or value is False:
            return None
        v = float(value)
        if not 0.0 <= v <= 1.0:
            raise InputError(name, f"must be the remaining charge 0..1, got {value!r}")
        return v
    # gust
    if value is None or value is False:
        return None
    try:
        speed, direction, duration = (float(x) for x in value)
    except (TypeError, ValueError):
        raise InputError(
            name, f"must be (speed_mps, from_deg, duration_s), got {value!r}"
        ) from None
    if not (0 <= speed <= 40 and duration > 0 and math.isfinite(direction)):
        raise InputError(name, f"speed must be 0..40 m/s and duration > 0, got {value!r}")
    return (speed, direction, duration)


def parse_cli(text: str) -> tuple[int, str, Any, float | None]:
    """``"VEHICLE:NAME=VALUE[@SIM_SECONDS]"`` -> (vehicle index, name, value, at or None).

    Values: numbers, ``1``/``0``/``true``/``false``, or ``speed,dir,duration`` for gust.
    """
    try:
        vehicle_part, rest = text.split(":", 1)
        name, value_part = rest.split("=", 1)
        vehicle = int(vehicle_part)
    except ValueError:
        raise InputError("fault", f"expected VEHICLE:NAME=VALUE[@SECONDS], got {text!r}") from None
    at: float | None = None
    if "@" in value_part:
        value_part, at_text = value_part.rsplit("@", 1)
        try:
            at = float(at_text)
        except ValueError:
            raise InputError(
                "fault", f"time after @ must be sim seconds, got {at_text!r}"
            ) from None
    name = name.strip()
    raw = value_part.strip().lower()
    value: Any
    if name == "gust":
        value = tuple(raw.split(","))
    elif raw in ("true", "on", "yes"):
        value = True
    elif raw in ("false", "off", "no"):
        value = False
    else:
        try:
            value = float(raw)
        except ValueError:
            raise InputError(name, f"value must be a number or true/false, got {raw!r}") from None
    return vehicle, name, check(name, value), at
