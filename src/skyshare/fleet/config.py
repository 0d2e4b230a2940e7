"""Timing and identity settings of the fleet link.

Every duration here is in *vehicle* (simulated) seconds. A SITL run with ``--speedup X``
runs its clocks, timers and message rates X times faster, so the wall-clock wait for
anything is the duration divided by ``speedup``. Waits for an acknowledgement also have
a wall-clock floor, since network and scheduling delays do not speed up.
"""

from __future__ import annotations

from dataclasses import dataclass

from skyshare.domain.errors import InputError


@dataclass(frozen=True)
class FleetConfig:
    speedup: float = 1.0
    # Silence after which a vehicle's link is declared lost (LinkLost comes within
    # link_timeout_s + watchdog_period_s, under 3 s with the defaults).
    link_timeout_s: float = 2.5
    watchdog_period_s: float = 0.2
    # GCS heartbeat period (a vehicle's GCS failsafe watches for these).
    heartbeat_period_s: float = 1.0
    # TIMESYNC probes for round-trip time.
    timesync_period_s: float = 2.0
    # One attempt of a COMMAND_LONG/COMMAND_INT waits this long for its COMMAND_ACK.
    command_timeout_s: float = 1.5
    command_attempts: int = 4
    # Mission protocol: wait for each MISSION_REQUEST/ACK this long, this many times.
    mission_timeout_s: float = 1.5
    mission_attempts: int = 5
    # A mode change is confirmed by the vehicle's HEARTBEAT within this long.
    mode_confirm_s: float = 3.0
    # Floor under every wall-clock wait for an answer (seconds of wall time).
    min_wall_wait_s: float = 0.3
    # Below this remaining charge a BatteryLow event is raised (once per crossing).
    battery_low_pct: float = 25.0
    # Who we are on the MAVLink network: a ground station (255 is what ArduPilot's
    # SYSID_MYGCS expects by default; 190 is MAV_COMP_ID_MISSIONPLANNER).
    gcs_system_id: int = 255
    gcs_component_id: int = 190
    # Ask ArduPilot vehicles for telemetry streams at these rates (Hz of vehicle time):
    # the flight rates while armed, the idle rates while disarmed. Position at 5 Hz is a
    # point every 3 m at cruise, against conformance checked each second and legs reached
    # within 8 m (ground stations commonly ask 2-4 Hz). A docked aircraft needs little, and
    # a hundred at flight rates would cost the ground station thousands of messages a second.
    request_streams: bool = True
    position_rate_hz: float = 5.0
    status_rate_hz: float = 2.0
    idle_position_rate_hz: float = 1.0
    idle_status_rate_hz: float = 1.0

    def __post_init__(self) -> None:
        if not self.speedup > 0:
            raise InputError("speedup", f"must be > 0, got {self.speedup}")
        for name in (
            "link_timeout_s",
            "watchdog_period_s",
            "heartbeat_period_s",
            "timesync_period_s",
            "command_timeout_s",
            "mission_timeout_s",
            "mode_confirm_s",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise InputError(name, f"must be > 0 seconds, got {value}")
        for name in ("command_attempts", "mission_attempts"):
            if getattr(self, name) < 1:
                raise InputError(name, f"must be at least 1, got {getattr(self, name)}")
        for name in ("gcs_system_id", "gcs_component_id"):
            if not 1 <= getattr(self, name) <= 255:
                raise InputError(name, f"must be 1..255, got {getattr(self, name)}")

    def wall(self, vehicle_seconds: float) -> float:
        """A duration of vehicle time as wall-clock seconds."""
        return vehicle_seconds / self.speedup

    def answer_wait(self, vehicle_seconds: float) -> float:
        """Wall-clock wait for an answer: scaled, but never below the network floor."""
        return max(vehicle_seconds / self.speedup, self.min_wall_wait_s)
