"""One simulated vehicle: state, the flight loop, and the MAVLink conversation.

``SimVehicle`` is the part both autopilots share: state, the flight loop (physics,
battery, touchdown, auto-disarm), modes and arming, message routing, link faults,
telemetry streams and sim-time bookkeeping. Its mixins hold the rest of the shared
conversation: ``services.GcsServices`` (commands every autopilot answers alike,
parameters, stream requests) and ``missionhost.MissionHost`` (mission/fence/rally
storage, mission progress, guided setpoints). What differs between ArduCopter and PX4
(modes, boot milestones, pre-arm checks, command rules, texts, failsafe reactions)
lives in the subclasses in ``ardupilot.py`` and ``px4.py``.

It does no I/O itself: a link hands it parsed messages with the channel they came on
(``receive``) and it writes bytes to channels; the simulator calls ``tick`` once per
sim step.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from typing import Any, ClassVar

from simulators.mavsim import fence as fence_mod
from simulators.mavsim import telemetry
from simulators.mavsim.config import SimConfig
from simulators.mavsim.faults import Faults, check
from simulators.mavsim.frame import LocalFrame
from simulators.mavsim.mission import FENCE, MISSION, RALLY, Item, MissionProtocol
from simulators.mavsim.missionhost import MissionHost
from simulators.mavsim.missionrun import MissionRun
from simulators.mavsim.nav import Activity, Goto, Hold, Land, Return, Takeoff
from simulators.mavsim.params import Params
from simulators.mavsim.physics import Battery, Body, Limits, fall, power_w, rest_on_ground, step
from simulators.mavsim.services import GcsServices
from simulators.mavsim.telemetry import Streams
from simulators.mavsim.wire import (
    INFO,
    WARNING,
    C,
    Channel,
    Command,
)
from skyshare.domain.errors import InputError

CHARGER_REACH_M = 30.0  # an aircraft this close to a dock's charger sits on it


class SimVehicle(GcsServices, MissionHost):
    """Shared machinery; subclasses implement the personality hooks marked below."""

    personality: ClassVar[str] = ""
    mav_autopilot: ClassVar[int] = C.MAV_AUTOPILOT_GENERIC
    initial_mode: ClassVar[str] = ""
    modes: ClassVar[dict[str, int]] = {}
    mission_retry_s: ClassVar[float] = 1.0
    mission_timeout_s: ClassVar[float] = 8.0
    command_long_frame: ClassVar[int] = C.MAV_FRAME_GLOBAL_RELATIVE_ALT

    def __init__(self, index: int, cfg: SimConfig) -> None:
        self.index = index
        self.sysid = index + 1
        self.compid = C.MAV_COMP_ID_AUTOPILOT1
        self.board_id = b"MAVSIM" + self.sysid.to_bytes(6, "big")  # "MAVSIM", system id
        self.cfg = cfg
        lat, lon = cfg.home_of(index)
        self.frame = LocalFrame(lat, lon, cfg.home_alt_amsl)
        self.airframe = cfg.airframe
        self.rng = random.Random(f"mavsim:{cfg.seed}:{self.sysid}")
        self.body = Body()
        self.battery = Battery(self.airframe)
        self._chargers = [self.frame.to_ne(lat, lon) for lat, lon in cfg.chargers or ()]
        self._charger_at: tuple[float, float, bool] | None = None  # see _on_charger
        self.params = Params(
            self.default_params(), bytewise=self.param_bytewise, overrides=cfg.params
        )
        self.params.on_change(self._param_changed)
        self.limits = Limits()
        self.apply_params()
        self.mav = C.MAVLink(None, self.sysid, self.compid)
        self.channels: list[Channel] = []
        rates = {**self.default_rates(), **(cfg.rates or {})}
        self.streams = Streams({k: min(v, cfg.tick_hz) for k, v in rates.items()})
        self.mission_proto = MissionProtocol(
            self, lambda: self.now, retry_s=self.mission_retry_s, timeout_s=self.mission_timeout_s
        )
        self.items: dict[int, list[Item]] = {MISSION: [], FENCE: [], RALLY: []}
        self.mission_ever_uploaded = False
        self.geofence = fence_mod.Geofence()
        self.rally_points: list[tuple[float, float, float]] = []
        self.faults = Faults()
        self._gust: tuple[float, float, float] | None = None  # (wn, we, until)
        self._battery_fault: float | None = None

        self.now = 0.0
        self.boot_at: float | None = None
        self._milestones = sorted(
            (t * cfg.boot_scale * (1.0 + self.rng.uniform(-0.02, 0.02)), name)
            for name, t in self.boot_milestones().items()
        )
        self.reached: set[str] = set()

        self.mode = self.initial_mode
        self.armed = False
        self.airborne = False
        self.falling = False
        self.crashed = False
        self.arm_time = 0.0
        self.touchdown_at: float | None = None
        self.flew_since_arm = False
        self.landed_by_landing = False
        self.activity: Activity | None = None
        self.speed_override: float | None = None

        self.home_set = False
        self.home_lat, self.home_lon, self.home_alt_amsl = lat, lon, cfg.home_alt_amsl
        self.mission_seq = 0
        self.mission_started = False
        self.mission_complete = False
        self.mission_run: MissionRun | None = None

        self.gcs_seen_at: float | None = None
        self.texts: list[tuple[float, int, str]] = []
        self._text_id = 0
        self._outq: list[tuple[float, int, Channel, bytes]] = []
        self._inq: list[tuple[float, int, Channel, Any]] = []
        self._qseq = itertools.count()
        self.bound_port: int | None = None
        self._handlers = {**self._message_handlers(), **self.message_handlers()}
        self._commands = {**self._common_commands(), **self.command_handlers()}

    # ================================================================ hooks
    # Every personality implements these.
    param_bytewise: ClassVar[bool] = False

    def default_params(self) -> list[tuple[str, float, int]]:
        raise NotImplementedError

    def default_rates(self) -> dict[str, float]:
        raise NotImplementedError

    def boot_milestones(self) -> dict[str, float]:
        raise NotImplementedError

    def on_milestone(self, name: str) -> None: ...

    def apply_params(self) -> None:
        """Refresh cached limits after a parameter changed."""

    def heartbeat_fields(self) -> tuple[int, int, int]:
        raise NotImplementedError

    def sensors(self) -> tuple[int, int, int]:
        raise NotImplementedError

    def prearm_failure(self) -> str | None:
        """Why arming would be refused now, as the STATUSTEXT says it; None when armable."""
        raise NotImplementedError

    def command_handlers(self) -> dict[int, Callable[[Command, Channel, Any], int | None]]:
        raise NotImplementedError

    def message_handlers(self) -> dict[str, Callable[[Channel, Any], None]]:
        """Extra incoming-message handlers of one personality."""
        return {}

    def mode_entry_refusal(self, name: str) -> str | None:
        """Why a switch to mode ``name`` is refused (text to send), or None."""
        raise NotImplementedError

    def activity_for_mode(self, name: str) -> Activity | None:
        raise NotImplementedError

    def land_speed(self, u: float) -> float:
        raise NotImplementedError

    def auto_disarm_delay(self) -> float | None:
        raise NotImplementedError

    def personality_tick(self) -> None:
        """Once per tick after the flight step: failsafes, automatic mode changes."""

    def mission_return(self) -> Activity:
        raise NotImplementedError

    def format_text(self, text: str) -> list[tuple[str, int, int]]:
        """(text, id, chunk_seq) STATUSTEXT payloads for one message."""
        return [(text[:50], 0, 0)]

    @property
    def position_valid(self) -> bool:
        raise NotImplementedError

    def gps_fix(self) -> tuple[int, int]:
        raise NotImplementedError

    def ekf_flags(self) -> int:
        return 0

    def fence_status_fields(self) -> tuple[int, int, int, int, int] | None:
        return None

    def mission_current_fields(self) -> tuple[int, int, int, int]:
        raise NotImplementedError

    def flyable_items(self) -> list[Item]:
        return self.items[MISSION]

    def mission_items(self, mission_type: int) -> list[Item]:
        return self.items[mission_type]

    # ========================================================== public state
    @property
    def lat(self) -> float:
        return self.frame.to_latlon(self.body.n, self.body.e)[0]

    @property
    def lon(self) -> float:
        return self.frame.to_latlon(self.body.n, self.body.e)[1]

    @property
    def alt_amsl(self) -> float:
        return self.frame.alt0 + self.body.u

    @property
    def alt_rel(self) -> float:
        """Metres above home."""
        return self.alt_amsl - self.home_alt_amsl

    @property
    def heading(self) -> float:
        return self.body.heading

    @property
    def ground_speed(self) -> float:
        return self.body.ground_speed

    @property
    def battery_remaining(self) -> float:
        return self.battery.remaining

    @property
    def booted(self) -> bool:
        return self.boot_at is not None

    @property
    def since_boot(self) -> float:
        return self.now - self.boot_at if self.boot_at is not None else 0.0

    @property
    def time_boot_ms(self) -> int:
        return int(self.since_boot * 1000)

    @property
    def time_usec(self) -> int:
        return int(self.since_boot * 1e6)

    @property
    def prearm_ok(self) -> bool:
        return self.booted and self.prearm_failure() is None

    @property
    def in_air(self) -> bool:
        return self.airborne

    @property
    def landed_state(self) -> int:
        if not self.airborne:
            return C.MAV_LANDED_STATE_ON_GROUND
        act = self.activity
        if (isinstance(act, Takeoff) and not act.done) or (
            isinstance(act, MissionRun) and act.taking_off
        ):
            return C.MAV_LANDED_STATE_TAKEOFF
        if self.is_landing():
            return C.MAV_LANDED_STATE_LANDING
        return C.MAV_LANDED_STATE_IN_AIR

    def is_landing(self) -> bool:
        act = self.activity
        return (
            isinstance(act, Land)
            or (isinstance(act, Return) and act.landing)
            or (isinstance(act, MissionRun) and act.landing)
        )

    def text_log(self) -> list[str]:
        return [t for _, _, t in self.texts]

    # ================================================================ faults
    def inject(self, **faults: Any) -> None:
        """Inject or clear faults; see README. Unknown names raise InputError."""
        for name, raw in faults.items():
            value = check(name, raw)
            if name == "battery_fault":
                self._battery_fault = value
                if value is not None:
                    self.battery.set_remaining(value)
            elif name == "gust":
                if value is None:
                    self._gust = None
                else:
                    speed, from_deg, duration = value
                    wn, we = _wind_vector(speed, from_deg)
                    self._gust = (wn, we, self.now + duration)
            else:
                setattr(self.faults, name, value)
                if name == "motor_failure" and value and self.airborne:
                    self.falling = True
                    self.on_motor_failure()

    def on_motor_failure(self) -> None: ...

    def recover(self, lat: float, lon: float, battery_pct: float | None = None) -> None:
        """A ground crew carries the landed, disarmed aircraft to (``lat``, ``lon``), a dock
        say, and may swap its battery for one at ``battery_pct``."""
        if self.armed or self.airborne:
            raise InputError("recover", "only a landed, disarmed aircraft can be carried")
        if battery_pct is not None and not 0.0 <= battery_pct <= 100.0:
            raise InputError("battery_pct", f"must be 0..100, got {battery_pct!r}")
        body = self.body
        body.n, body.e = self.frame.to_ne(lat, lon)
        body.u = body.vn = body.ve = body.vu = 0.0
        if battery_pct is not None:
            self.battery.set_remaining(battery_pct / 100.0)

    # ============================================================== channels
    def attach(self, channel: Channel) -> None:
        if channel not in self.channels:
            self.channels.append(channel)
        if self.boot_at is None:
            self.boot_at = self.now

    def detach(self, channel: Channel) -> None:
        if channel in self.channels:
            self.channels.remove(channel)

    def _out(self, channel: Channel, data: bytes) -> None:
        f = self.faults
        if f.link_drop:
            return
        if f.packet_loss and self.rng.random() < f.packet_loss:
            return
        if f.latency_s:
            heapq.heappush(self._outq, (self.now + f.latency_s, next(self._qseq), channel, data))
            return
        channel.send(data)

    def pack(self, msg: Any) -> bytes:
        """Encode with this vehicle's ids and the next sequence number."""
        mav = self.mav
        data: bytes = msg.pack(mav)
        mav.seq = (mav.seq + 1) & 0xFF  # pymavlink only advances it in MAVLink.send()
        return data

    def send_to(self, channel: Channel, msg: Any) -> None:
        self._out(channel, self.pack(msg))

    def broadcast(self, msg: Any) -> None:
        if not self.channels:
            return
        data = self.pack(msg)
        for ch in self.channels:
            self._out(ch, data)

    def text(self, text: str, severity: int = INFO) -> None:
        self.texts.append((self.now, severity, text))
        for payload, text_id, chunk in self.format_text(text):
            self.broadcast(C.MAVLink_statustext_message(severity, payload.encode(), text_id, chunk))

    def next_text_id(self) -> int:
        self._text_id = self._text_id % 65535 + 1
        return self._text_id

    # ============================================================== receiving
    def receive(self, channel: Channel, msg: Any) -> None:
        """A parsed message from ``channel``; faults apply on the way in too."""
        if self.boot_at is None:
            return
        f = self.faults
        if f.link_drop:
            return
        if f.packet_loss and self.rng.random() < f.packet_loss:
            return
        if f.latency_s:
            heapq.heappush(self._inq, (self.now + f.latency_s, next(self._qseq), channel, msg))
            return
        self.handle(channel, msg)

    def handle(self, channel: Channel, msg: Any) -> None:
        """Process one message now, as if it arrived on ``channel`` (no link faults)."""
        handler = self._handlers.get(msg.get_type())
        if handler is None:
            return
        target = getattr(msg, "target_system", None)
        if target not in (None, 0, self.sysid):
            return  # for another vehicle on a shared link
        comp = getattr(msg, "target_component", None)
        if comp not in (None, 0, self.compid):
            return
        handler(channel, msg)

    def _message_handlers(self) -> dict[str, Callable[[Channel, Any], None]]:
        mp = self.mission_proto
        return {
            "HEARTBEAT": self._on_heartbeat,
            "COMMAND_LONG": self._on_command,
            "COMMAND_INT": self._on_command,
            "SET_MODE": self._on_set_mode,
            "PARAM_REQUEST_LIST": self._on_param_request_list,
            "PARAM_REQUEST_READ": self._on_param_request_read,
            "PARAM_SET": self._on_param_set,
            "MISSION_COUNT": mp.on_count,
            "MISSION_ITEM_INT": self._on_mission_item,
            "MISSION_ITEM": self._on_mission_item,
            "MISSION_REQUEST_LIST": mp.on_request_list,
            "MISSION_REQUEST_INT": mp.on_request,
            "MISSION_REQUEST": mp.on_request,
            "MISSION_ACK": lambda ch, m: mp.on_ack(m),
            "MISSION_CLEAR_ALL": mp.on_clear_all,
            "MISSION_SET_CURRENT": self._on_mission_set_current,
            "REQUEST_DATA_STREAM": self._on_request_data_stream,
            "SET_POSITION_TARGET_GLOBAL_INT": self._on_position_target_global,
            "SET_POSITION_TARGET_LOCAL_NED": self._on_position_target_local,
            "TIMESYNC": self._on_timesync,
            "PING": self._on_ping,
        }

    # ================================================================ modes
    def set_mode(self, name: str) -> bool:
        """Switch mode if allowed (sends the refusal text if not)."""
        if name not in self.modes:
            return False
        refusal = self.mode_entry_refusal(name)
        if refusal is not None:
            self.text(refusal, WARNING)
            return False
        self.enter_mode(name)
        return True

    def enter_mode(self, name: str) -> None:
        """Unconditional switch (failsafes use it)."""
        self.mode = name
        self.speed_override = None
        self.activity = self.activity_for_mode(name)
        self.mission_run = self.activity if isinstance(self.activity, MissionRun) else None

    def set_speed(self, speed: float) -> None:
        self.speed_override = speed
        act = self.activity
        if isinstance(act, Goto):
            act.speed = speed
        if isinstance(act, Return):
            act.speed = speed

    def hold_here(self) -> Hold:
        return Hold.here(self)

    def set_home(self, lat: float, lon: float, alt_amsl: float) -> None:
        self.home_lat, self.home_lon, self.home_alt_amsl = lat, lon, alt_amsl
        self.home_set = True
        home = telemetry.home_position(self)
        if home is not None:
            self.broadcast(home)

    def return_target(self) -> tuple[float, float]:
        """Home, or the nearest rally point when it is closer (both autopilots do this)."""
        hn, he = self.frame.to_ne(self.home_lat, self.home_lon)
        best = (hn, he)
        best_d = math.hypot(hn - self.body.n, he - self.body.e)
        for rn, re_, _ in self.rally_points:
            d = math.hypot(rn - self.body.n, re_ - self.body.e)
            if d < best_d:
                best, best_d = (rn, re_), d
        return best

    # ============================================================== arming
    def arm(self) -> None:
        self.armed = True
        self.arm_time = self.now
        self.flew_since_arm = False
        self.landed_by_landing = False
        self.touchdown_at = None
        self.on_armed()

    def on_armed(self) -> None: ...

    def disarm(self, text: str | None = None) -> None:
        if not self.armed:
            return
        self.armed = False
        if text:
            self.text(text)
        if self.airborne:
            self.falling = True  # motors stopped in the air
        self.on_disarmed()

    def on_disarmed(self) -> None: ...

    # ================================================================ tick
    def tick(self, now: float, dt: float) -> None:
        self.now = now
        if self.boot_at is None:
            return
        if self._inq:
            self._drain_in()
        self._advance_boot()
        self.mission_proto.tick()
        self._fly(dt)
        self._draw_battery(dt)
        self.personality_tick()
        self._auto_disarm()
        if self.channels:
            for name in self.streams.due(now):
                if self.stream_enabled(name):
                    msg = telemetry.BUILDERS[name](self)
                    if msg is not None:
                        self.broadcast(msg)
        if self._outq:
            self._drain_out()

    def stream_enabled(self, name: str) -> bool:
        return True

    def _drain_in(self) -> None:
        while self._inq and self._inq[0][0] <= self.now:
            _, _, ch, msg = heapq.heappop(self._inq)
            self.handle(ch, msg)

    def _drain_out(self) -> None:
        while self._outq and self._outq[0][0] <= self.now:
            _, _, ch, data = heapq.heappop(self._outq)
            if not self.faults.link_drop:
                ch.send(data)

    def _advance_boot(self) -> None:
        since = self.since_boot
        while self._milestones and self._milestones[0][0] <= since:
            _, name = self._milestones.pop(0)
            self.reached.add(name)
            self.on_milestone(name)

    def wind(self) -> tuple[float, float]:
        wn, we = _wind_vector(*self.cfg.wind)
        if self._gust is not None:
            gn, ge, until = self._gust
            if self.now < until:
                wn, we = wn + gn, we + ge
            else:
                self._gust = None
        return wn, we

    def _fly(self, dt: float) -> None:
        b = self.body
        if self.falling:
            fall(b, dt)
            if b.u <= 0:
                self._crash()
            return
        if not self.airborne:
            if (
                self.armed
                and self.activity is not None
                and getattr(self.activity, "lifts_off", False)
            ):
                self.airborne = True
                self.flew_since_arm = True
                self.touchdown_at = None
            else:
                rest_on_ground(b)
                return
        if self.activity is None:
            self.activity = self.hold_here()
        sp = self.activity.update(self, dt)
        wn, we = self.wind()
        step(b, sp, self.limits, self.airframe, wn, we, dt)
        if b.u <= 0.0 and b.vu <= 0.0:
            landing = self.is_landing()
            rest_on_ground(b)
            self.airborne = False
            self.touchdown_at = self.now
            self.landed_by_landing = landing
            on_touchdown = getattr(self.activity, "on_touchdown", None)
            if on_touchdown is not None:
                on_touchdown(self)
            self.on_touchdown(landing)

    def on_touchdown(self, landing: bool) -> None: ...

    def _crash(self) -> None:
        rest_on_ground(self.body)
        self.falling = False
        self.airborne = False
        self.crashed = True
        self.touchdown_at = self.now
        self.on_crash()
        if self.armed:
            self.armed = False
            self.on_disarmed()

    def on_crash(self) -> None: ...

    def _draw_battery(self, dt: float) -> None:
        if not self.armed and not self.airborne and self._on_charger():
            self.battery.charge(self.cfg.charge_pct_per_s / 100.0 * dt)
            return
        self.battery.draw(power_w(self.body, self.airframe, self.armed, self.airborne), dt)

    def _on_charger(self) -> bool:
        # Asked every tick of every landed aircraft, which does not move: kept by position.
        n, e = self.body.n, self.body.e
        if self._charger_at is None or self._charger_at[:2] != (n, e):
            near = any(math.hypot(n - cn, e - ce) <= CHARGER_REACH_M for cn, ce in self._chargers)
            self._charger_at = (n, e, near)
        return self._charger_at[2]

    def _auto_disarm(self) -> None:
        if not self.armed or self.airborne:
            return
        delay = self.auto_disarm_delay()
        if delay is None:
            return
        since = self.touchdown_at if self.touchdown_at is not None else self.arm_time
        if self.now - since >= delay:
            self.disarm(self.auto_disarm_text())

    def auto_disarm_text(self) -> str | None:
        return None

    def throttle_pct(self) -> int:
        if not self.armed:
            return 0
        if not self.airborne:
            return 10
        return int(max(0, min(100, 45 + self.body.vu * 8)))

    def battery_charge_state(self) -> int:
        r = self.battery.remaining
        if r < 0.05:
            return C.MAV_BATTERY_CHARGE_STATE_EMERGENCY
        if r < 0.10:
            return C.MAV_BATTERY_CHARGE_STATE_CRITICAL
        if r < 0.20:
            return C.MAV_BATTERY_CHARGE_STATE_LOW
        return C.MAV_BATTERY_CHARGE_STATE_OK

    def gps_noise(self) -> tuple[float, float]:
        return self.rng.gauss(0.0, 0.3), self.rng.gauss(0.0, 0.3)


def _wind_vector(speed: float, from_deg: float) -> tuple[float, float]:
    """Wind given as speed and the direction it comes FROM -> velocity it blows at (n, e)."""
    to = math.radians(from_deg + 180.0)
    return speed * math.cos(to), speed * math.sin(to)
