"""A vehicle's state as SkyShare sees it, the same whichever autopilot flies it.

``Telemetry`` is the mutable record the link updates from each MAVLink message (cheap:
a few attribute writes per message). ``VehicleState`` is the immutable snapshot handed
to callers; it is built only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from skyshare.fleet.health import RoundTrip, SequenceTracker


class Autopilot(StrEnum):
    ARDUPILOT = "ardupilot"
    PX4 = "px4"
    GENERIC = "generic"


class ModeKind(StrEnum):
    """What a flight mode does, whatever the autopilot calls it."""

    MANUAL = "manual"  # a pilot flies (STABILIZE, ALT_HOLD, POSCTL ...)
    HOLD = "hold"  # holds position (LOITER, BRAKE, PX4 HOLD)
    GUIDED = "guided"  # follows a ground station's targets (GUIDED, OFFBOARD)
    MISSION = "mission"  # flies the uploaded mission (AUTO, MISSION)
    TAKEOFF = "takeoff"
    RETURN = "return"  # RTL, SMART_RTL
    LAND = "land"
    ORBIT = "orbit"  # CIRCLE, PX4 ORBIT
    OTHER = "other"
    UNKNOWN = "unknown"


class LandedState(StrEnum):
    UNKNOWN = "unknown"
    ON_GROUND = "on_ground"
    IN_AIR = "in_air"
    TAKING_OFF = "taking_off"
    LANDING = "landing"


# MAV_LANDED_STATE number -> LandedState
LANDED_STATES = (
    LandedState.UNKNOWN,
    LandedState.ON_GROUND,
    LandedState.IN_AIR,
    LandedState.TAKING_OFF,
    LandedState.LANDING,
)


class FlightPhase(StrEnum):
    """A coarse flight phase for dispatch, from armed, landed state and mode."""

    ON_GROUND = "on_ground"  # disarmed (or landed)
    ARMED = "armed"  # armed on the ground, about to take off (or just landed)
    TAKING_OFF = "taking_off"
    AIRBORNE = "airborne"
    RETURNING = "returning"
    LANDING = "landing"


class GeoPoint(NamedTuple):
    lat: float
    lon: float
    alt_amsl_m: float


@dataclass(frozen=True, slots=True)
class LinkHealth:
    connected: bool
    heartbeat_age_s: float | None  # wall seconds since the last HEARTBEAT
    message_age_s: float | None  # wall seconds since any message
    packet_loss: float  # 0..1, recent, from sequence gaps
    packets_received: int
    packets_lost: int
    rtt_s: float | None  # smoothed round trip (TIMESYNC or command acknowledgement)


@dataclass(frozen=True, slots=True)
class VehicleState:
    """One vehicle's normalised state. Angles in degrees, SI units, altitudes in metres.

    Position fields are None until the vehicle has reported a position.
    ``alt_rel_m`` is above home; ``alt_amsl_m`` above mean sea level.
    ``mode`` is the autopilot's own name (ArduPilot: 'GUIDED', 'AUTO', 'RTL' ...; PX4:
    'HOLD', 'MISSION', 'RTL', 'OFFBOARD' ...); ``mode_kind`` and ``phase`` are the same
    for every autopilot.
    """

    system_id: int
    autopilot: Autopilot
    lat: float | None
    lon: float | None
    alt_rel_m: float | None
    alt_amsl_m: float | None
    vn_mps: float
    ve_mps: float
    vd_mps: float
    ground_speed_mps: float
    climb_mps: float
    heading_deg: float | None
    mode: str
    mode_kind: ModeKind
    phase: FlightPhase
    armed: bool
    landed: LandedState
    system_status: int  # MAV_STATE
    battery_pct: float | None
    battery_v: float | None
    gps_fix: int  # GPS_FIX_TYPE: 0-1 none, 2 2D, 3 3D, 4+ DGPS/RTK
    gps_sats: int | None
    home: GeoPoint | None
    ekf_ok: bool | None  # None: the autopilot does not report EKF status
    prearm_ok: bool | None  # None: the autopilot does not report the pre-arm bit
    ready: bool  # what wait_ready() waits for
    mission_seq: int | None
    mission_total: int | None
    fence_breached: bool
    status_text: str  # the last STATUSTEXT
    link: LinkHealth
    # The autopilot's own hardware id (AUTOPILOT_VERSION, ``board_id``); None until it
    # has answered the request made when it is first heard, or if it reports none.
    board_id: str | None = None

    @property
    def position(self) -> GeoPoint | None:
        if self.lat is None or self.lon is None or self.alt_amsl_m is None:
            return None
        return GeoPoint(self.lat, self.lon, self.alt_amsl_m)

    @property
    def airborne(self) -> bool:
        return self.landed in (LandedState.IN_AIR, LandedState.TAKING_OFF, LandedState.LANDING)


class Telemetry:
    """The mutable per-vehicle record updated from each message."""

    __slots__ = (
        "alt_amsl",
        "alt_rel",
        "armed",
        "base_mode",
        "battery_pct",
        "battery_v",
        "board_id",
        "climb",
        "custom_mode",
        "ekf_flags",
        "fence_breached",
        "gps_fix",
        "gps_sats",
        "ground_speed",
        "heading",
        "home",
        "landed",
        "landed_reported",
        "last_heartbeat",
        "last_message",
        "lat",
        "lon",
        "mission_seq",
        "mission_total",
        "mode",
        "mode_kind",
        "prearm_ok",
        "rtt",
        "seq",
        "status_text",
        "system_status",
        "vd",
        "ve",
        "vn",
    )

    def __init__(self) -> None:
        self.lat: float | None = None
        self.lon: float | None = None
        self.alt_rel: float | None = None
        self.alt_amsl: float | None = None
        self.vn = self.ve = self.vd = 0.0
        self.ground_speed = 0.0
        self.climb = 0.0
        self.heading: float | None = None
        self.base_mode = 0
        self.custom_mode = -1
        self.mode = "UNKNOWN"
        self.mode_kind = ModeKind.UNKNOWN
        self.armed = False
        self.system_status = 0
        self.landed = LandedState.UNKNOWN
        self.landed_reported = False  # True once EXTENDED_SYS_STATE gave a landed state
        self.battery_pct: float | None = None
        self.battery_v: float | None = None
        self.gps_fix = 0
        self.gps_sats: int | None = None
        self.home: GeoPoint | None = None
        self.ekf_flags: int | None = None
        self.prearm_ok: bool | None = None
        self.mission_seq: int | None = None
        self.mission_total: int | None = None
        self.fence_breached = False
        self.status_text = ""
        self.board_id: str | None = None
        self.last_heartbeat: float | None = None
        self.last_message: float | None = None
        self.seq = SequenceTracker()
        self.rtt = RoundTrip()


def flight_phase(armed: bool, landed: LandedState, kind: ModeKind) -> FlightPhase:
    if landed is LandedState.TAKING_OFF:
        return FlightPhase.TAKING_OFF
    if landed is LandedState.LANDING:
        return FlightPhase.LANDING
    if landed is LandedState.ON_GROUND or (landed is LandedState.UNKNOWN and not armed):
        return FlightPhase.ARMED if armed else FlightPhase.ON_GROUND
    if kind is ModeKind.TAKEOFF:
        return FlightPhase.TAKING_OFF
    if kind is ModeKind.RETURN:
        return FlightPhase.RETURNING
    if kind is ModeKind.LAND:
        return FlightPhase.LANDING
    return FlightPhase.AIRBORNE


def board_id(uid: int, uid2: Sequence[int]) -> str | None:
    """An autopilot's hardware id from its AUTOPILOT_VERSION, as lowercase hex: ``uid2``
    (up to 18 bytes; ArduPilot puts the processor's unique id there, and SITL the host's
    machine id) without its trailing zero bytes, or else ``uid`` (64 bits, as PX4 sends
    it); None when both are zero (no id)."""
    raw = bytes(uid2).rstrip(b"\0")
    if raw:
        return raw.hex()
    return f"{uid:016x}" if uid else None
