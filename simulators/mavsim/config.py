"""What a simulator run looks like: vehicles, personality, homes, ports, rates and speed.

Validation happens here, once, so that a bad flag or a bad test fixture fails with a
message that names the field instead of surfacing later as a socket or physics error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from skyshare.domain.errors import InputError

Autopilot = Literal["ardupilot", "px4"]
AUTOPILOTS: tuple[str, ...] = ("ardupilot", "px4")


@dataclass
class Airframe:
    """A generic emergency-services quadrotor; SI units throughout."""

    mass_kg: float = 4.0
    max_airspeed_mps: float = 15.0  # the frame cannot go faster through the air
    max_tilt_deg: float = 35.0
    hover_power_w: float = 350.0
    # Extra power at speed: P = hover * (1 + k * (v / v_ref)^2); induced-power savings
    # at moderate speed are ignored on purpose (a conservative energy model).
    speed_power_k: float = 0.35
    speed_power_ref_mps: float = 10.0
    climb_efficiency: float = 0.6
    idle_power_w: float = 8.0  # avionics while disarmed
    cells: int = 6
    capacity_mah: float = 10000.0
    internal_resistance_ohm: float = 0.03


@dataclass
class SimConfig:
    """One simulator run. Vehicle ``i`` gets MAVLink system id ``i + 1``."""

    vehicles: int = 1
    autopilot: Autopilot = "ardupilot"
    home: tuple[float, float] = (51.5074, -0.1278)
    homes: list[tuple[float, float]] | None = None  # per vehicle; overrides ``home``
    home_alt_amsl: float = 20.0
    speedup: float = 1.0
    seed: int = 0
    boot_scale: float = 1.0  # multiplies every boot milestone (sim seconds)
    tick_hz: float = 10.0  # physics and stream scheduler rate, in sim time
    # ArduPilot-style TCP servers: port = tcp_base_port + 10 * i; 0 = a free port each.
    tcp_base_port: int = 5760
    tcp_host: str = "127.0.0.1"
    # Real SITL with its default serial0 waits for the first TCP client before booting.
    ardupilot_wait_for_client: bool = False
    # PX4-style UDP: vehicle binds px4_bind_base + i and sends to px4_api_base + i.
    px4_api_base: int = 14540
    px4_api_ports: list[int] | None = None  # explicit per-vehicle target ports
    px4_bind_base: int = 14580  # 0 = ephemeral
    px4_gcs_port: int | None = None  # e.g. 14550: a second link per vehicle, same target
    px4_gcs_bind_base: int = 18570  # 0 = ephemeral
    udp_host: str = "127.0.0.1"
    rates: dict[str, float] | None = None  # message name -> Hz, overrides personality
    params: dict[str, float] | None = None  # parameter overrides for every vehicle
    wind: tuple[float, float] = (0.0, 0.0)  # speed m/s, direction the wind comes FROM (deg)
    # Docks with chargers (lat, lon): a landed, disarmed aircraft on one (within
    # CHARGER_REACH_M) charges at charge_pct_per_s of its capacity each sim second.
    chargers: list[tuple[float, float]] | None = None
    charge_pct_per_s: float = 100.0 / 2400.0  # a full pack in 40 minutes
    airframe: Airframe = field(default_factory=Airframe)

    def __post_init__(self) -> None:
        if not isinstance(self.vehicles, int) or self.vehicles < 1:
            raise InputError("vehicles", f"must be a whole number >= 1, got {self.vehicles!r}")
        if self.vehicles > 1000:
            raise InputError("vehicles", f"at most 1000 per simulator, got {self.vehicles}")
        if self.autopilot not in AUTOPILOTS:
            raise InputError("autopilot", f"must be one of {AUTOPILOTS}, got {self.autopilot!r}")
        _check_latlon("home", self.home)
        if self.homes is not None:
            if len(self.homes) != self.vehicles:
                raise InputError(
                    "homes", f"needs one entry per vehicle ({self.vehicles}), got {len(self.homes)}"
                )
            for i, h in enumerate(self.homes):
                _check_latlon(f"homes[{i}]", h)
        for i, c in enumerate(self.chargers or ()):
            _check_latlon(f"chargers[{i}]", c)
        for name in ("speedup", "tick_hz", "boot_scale", "charge_pct_per_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InputError(name, f"must be a positive number, got {value!r}")
        if self.boot_scale > 10:
            raise InputError("boot_scale", f"at most 10, got {self.boot_scale}")
        if self.px4_api_ports is not None and len(self.px4_api_ports) != self.vehicles:
            raise InputError(
                "px4_api_ports",
                f"needs one port per vehicle ({self.vehicles}), got {len(self.px4_api_ports)}",
            )
        for name in ("tcp_base_port", "px4_api_base", "px4_bind_base", "px4_gcs_bind_base"):
            _check_port(name, getattr(self, name), self.vehicles)
        if self.px4_gcs_port is not None:
            _check_port("px4_gcs_port", self.px4_gcs_port, 1)
        if self.rates:
            for name, hz in self.rates.items():
                if not (isinstance(hz, int | float) and math.isfinite(hz) and hz >= 0):
                    raise InputError(f"rates[{name}]", f"must be a rate in Hz >= 0, got {hz!r}")
        wind_speed, wind_dir = self.wind
        if not (0 <= wind_speed < 40) or not math.isfinite(wind_dir):
            raise InputError("wind", f"speed must be 0..40 m/s, got {self.wind!r}")

    def home_of(self, i: int) -> tuple[float, float]:
        return self.homes[i] if self.homes is not None else self.home


def _check_latlon(name: str, value: tuple[float, float]) -> None:
    try:
        lat, lon = float(value[0]), float(value[1])
    except (TypeError, ValueError, IndexError):
        raise InputError(name, f"must be (lat, lon) in degrees, got {value!r}") from None
    if not (-85 <= lat <= 85 and -180 <= lon <= 180):
        raise InputError(name, f"lat must be -85..85 and lon -180..180, got {value!r}")


def _check_port(name: str, base: int, count: int) -> None:
    if not isinstance(base, int) or base < 0 or (base > 0 and base + 10 * (count - 1) > 65535):
        raise InputError(name, f"must be 0 (free port) or a base port that fits, got {base!r}")


def parse_home(text: str) -> tuple[float, float]:
    """``"51.5,-0.12"`` -> ``(51.5, -0.12)``, for the command line."""
    parts = text.split(",")
    if len(parts) != 2:
        raise InputError("home", f"expected LAT,LON, got {text!r}")
    try:
        home = (float(parts[0]), float(parts[1]))
    except ValueError:
        raise InputError("home", f"expected two numbers LAT,LON, got {text!r}") from None
    _check_latlon("home", home)
    return home
