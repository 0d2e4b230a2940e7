"""One vehicle on a fleet link: its state, and the commands that fly it.

Every command is an awaitable that resolves when the vehicle has accepted it (its
COMMAND_ACK, a MISSION_ACK, or the HEARTBEAT showing a new mode) and raises
CommandDenied / CommandTimeout otherwise. Durations given to these methods are in
vehicle seconds (see FleetConfig): with a SITL at ``--speedup 10``, ``timeout_s=60``
waits six wall seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from skyshare.domain.errors import InputError
from skyshare.fleet import mission as mission_protocol
from skyshare.fleet.autopilot import AutopilotDialect, FenceAction
from skyshare.fleet.commands import Ack, CommandChannel, CommandOutcome
from skyshare.fleet.config import FleetConfig
from skyshare.fleet.errors import CommandDenied, CommandTimeout, WaitTimeout
from skyshare.fleet.events import (
    Armed,
    BatteryLow,
    Disarmed,
    FenceBreached,
    FleetEvent,
    Landed,
    LinkLost,
    LinkRestored,
    ModeChanged,
    StatusText,
    TookOff,
)
from skyshare.fleet.geometry import distance_m
from skyshare.fleet.mission import Fence, MissionItem
from skyshare.fleet.protocol import ARMED_FLAG, UINT8_UNKNOWN, UINT16_UNKNOWN, mavlink
from skyshare.fleet.state import (
    LANDED_STATES,
    GeoPoint,
    LandedState,
    LinkHealth,
    Telemetry,
    VehicleState,
    board_id,
    flight_phase,
)
from skyshare.fleet.transport import Peer

if TYPE_CHECKING:
    from skyshare.fleet.link import FleetLink

_PREARM = mavlink.MAV_SYS_STATUS_PREARM_CHECK
_WARNING = mavlink.MAV_SEVERITY_WARNING
_STATUSTEXT_LEN = 50
_IN_AIR = (LandedState.IN_AIR, LandedState.TAKING_OFF, LandedState.LANDING)


def _check_position(lat: float, lon: float, alt_m: float | None = None) -> None:
    if not (isinstance(lat, int | float) and -90 <= lat <= 90):
        raise InputError("lat", f"must be a latitude in -90..90, got {lat!r}")
    if not (isinstance(lon, int | float) and -180 <= lon <= 180):
        raise InputError("lon", f"must be a longitude in -180..180, got {lon!r}")
    if alt_m is not None and not (isinstance(alt_m, int | float) and math.isfinite(alt_m)):
        raise InputError("alt_m", f"must be a finite number of metres, got {alt_m!r}")


def _check_positive(value: float, field: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(field, f"must be > 0, got {value!r}")


class Vehicle:
    """A vehicle heard on a link, addressed by its MAVLink system id."""

    def __init__(
        self,
        link: FleetLink,
        system_id: int,
        component_id: int,
        dialect: AutopilotDialect,
        peer: Peer,
        vehicle_type: int,
    ) -> None:
        self.link = link
        self.system_id = system_id
        self.component_id = component_id
        self.dialect = dialect
        self.autopilot = dialect.autopilot
        self.vehicle_type = vehicle_type
        self.peer = peer
        self.config: FleetConfig = link.config
        self.telemetry = Telemetry()
        self.commands = CommandChannel(self)
        self.connected = True
        self._waiters: list[asyncio.Future[bool]] = []
        self._mission_inbox: asyncio.Queue[Any] | None = None
        self._mission_lock = asyncio.Lock()
        self._param_waiters: dict[str, list[asyncio.Future[tuple[float, int]]]] = {}
        self._param_types: dict[str, int] = {}
        # The last value the vehicle reported for each parameter (autopilots report every
        # change, whoever made it, on all their links).
        self._param_values: dict[str, float] = {}
        self._texts: deque[tuple[int, int, str]] = deque(maxlen=32)  # (index, severity, text)
        self._text_count = 0
        self._chunks: dict[int, list[str]] = {}
        self._battery_low = False
        self._version = 0  # counts handled messages, for updates()

    def __repr__(self) -> str:
        return f"<Vehicle {self.system_id} {self.autopilot} on {self.link.connection}>"

    # ---- state -------------------------------------------------------------------

    @property
    def state(self) -> VehicleState:
        """A consistent snapshot of everything known about the vehicle now."""
        t = self.telemetry
        now = time.monotonic()
        ready, _ = self.dialect.readiness(t)
        link = LinkHealth(
            connected=self.connected,
            heartbeat_age_s=None if t.last_heartbeat is None else now - t.last_heartbeat,
            message_age_s=None if t.last_message is None else now - t.last_message,
            packet_loss=t.seq.loss,
            packets_received=t.seq.received,
            packets_lost=t.seq.lost,
            rtt_s=t.rtt.smoothed_s,
        )
        return VehicleState(
            system_id=self.system_id,
            autopilot=self.autopilot,
            lat=t.lat,
            lon=t.lon,
            alt_rel_m=t.alt_rel,
            alt_amsl_m=t.alt_amsl,
            vn_mps=t.vn,
            ve_mps=t.ve,
            vd_mps=t.vd,
            ground_speed_mps=t.ground_speed,
            climb_mps=t.climb,
            heading_deg=t.heading,
            mode=t.mode,
            mode_kind=t.mode_kind,
            phase=flight_phase(t.armed, t.landed, t.mode_kind),
            armed=t.armed,
            landed=t.landed,
            system_status=t.system_status,
            battery_pct=t.battery_pct,
            battery_v=t.battery_v,
            gps_fix=t.gps_fix,
            gps_sats=t.gps_sats,
            home=t.home,
            ekf_ok=None if t.ekf_flags is None else self.dialect.ekf_ok(t.ekf_flags),
            prearm_ok=t.prearm_ok,
            ready=ready,
            mission_seq=t.mission_seq,
            mission_total=t.mission_total,
            fence_breached=t.fence_breached,
            status_text=t.status_text,
            link=link,
            board_id=t.board_id,
        )

    async def updates(self, min_interval_s: float = 0.0) -> AsyncIterator[VehicleState]:
        """Snapshots as the state changes, at most one per ``min_interval_s`` (vehicle s).

        Coalesced: a reader slower than the telemetry gets the latest state, not a backlog.
        """
        seen = -1
        while True:
            if self._version == seen:
                await self._changed(None)
                continue
            seen = self._version
            yield self.state
            if min_interval_s > 0:
                await asyncio.sleep(self.config.wall(min_interval_s))  # rate limit only

    async def wait_for(
        self,
        predicate: Callable[[VehicleState], bool],
        timeout_s: float,
        what: str = "in the awaited state",
    ) -> VehicleState:
        """Wait until ``predicate(state)`` holds; WaitTimeout after ``timeout_s`` (vehicle s)."""
        deadline = time.monotonic() + self.config.wall(timeout_s)
        while True:
            state = self.state
            if predicate(state):
                return state
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(self.system_id, what, timeout_s, _summary(state))
            await self._changed(remaining)

    async def wait_telemetry(
        self, predicate: Callable[[Telemetry], bool], what: str, timeout_s: float
    ) -> None:
        """Like wait_for, on the live telemetry record (cheaper; for the recipes)."""
        deadline = time.monotonic() + self.config.answer_wait(timeout_s)
        while not predicate(self.telemetry):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(self.system_id, what, timeout_s, _summary(self.state))
            await self._changed(remaining)

    async def wait_ready(self, timeout_s: float = 120.0) -> VehicleState:
        """Wait until a ground station would call it ready to arm: heartbeat, 3D GPS fix,
        home set, global position, EKF absolute position (ArduPilot), pre-arm bit healthy.
        """
        cfg = self.config
        deadline = time.monotonic() + cfg.wall(timeout_s)
        next_home_request = 0.0
        while True:
            ok, reason = self.dialect.readiness(self.telemetry)
            if ok:
                return self.state
            now = time.monotonic()
            if self.telemetry.home is None and now >= next_home_request:
                self.request_message(mavlink.MAVLINK_MSG_ID_HOME_POSITION)
                next_home_request = now + cfg.wall(2.0)
            remaining = deadline - now
            if remaining <= 0:
                raise WaitTimeout(self.system_id, "ready", timeout_s, reason)
            await self._changed(min(remaining, max(next_home_request - now, 0.01)))

    async def wait_reached(
        self,
        lat: float,
        lon: float,
        alt_m: float | None = None,
        tolerance_m: float = 2.0,
        timeout_s: float | None = None,
    ) -> VehicleState:
        """Wait until within ``tolerance_m`` of (lat, lon) and, if given, of ``alt_m``."""
        t = self.telemetry
        if timeout_s is None:
            far = (
                distance_m(lat, lon, t.lat, t.lon) if t.lat is not None and t.lon is not None else 0
            )
            timeout_s = 60.0 + far  # generous: 1 m/s plus a minute
        alt_tolerance = max(tolerance_m, 1.0)

        def there(s: VehicleState) -> bool:
            if s.lat is None or s.lon is None:
                return False
            if distance_m(lat, lon, s.lat, s.lon) > tolerance_m:
                return False
            return alt_m is None or (
                s.alt_rel_m is not None and abs(s.alt_rel_m - alt_m) <= alt_tolerance
            )

        return await self.wait_for(there, timeout_s, f"at {lat:.6f},{lon:.6f}")

    async def identify(self, timeout_s: float = 5.0) -> str | None:
        """Which aircraft this is: its hardware id (``VehicleState.board_id``), asked for
        again each second for up to ``timeout_s`` (vehicle seconds, never less than the
        network's floor) until it answers (the request made when it was first heard may
        have been lost); None if it does not."""
        cfg = self.config
        deadline = time.monotonic() + cfg.answer_wait(timeout_s)
        while self.telemetry.board_id is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.request_board_id()
            with contextlib.suppress(WaitTimeout):
                await self.wait_telemetry(
                    lambda t: t.board_id is not None, "its board id", min(1.0, left * cfg.speedup)
                )
        return self.telemetry.board_id

    def request_board_id(self) -> None:
        """Ask for AUTOPILOT_VERSION, which carries the hardware id (fire and forget)."""
        self.request_message(mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION)

    async def wait_landed(self, timeout_s: float = 300.0) -> VehicleState:
        return await self.wait_for(lambda s: s.landed is LandedState.ON_GROUND, timeout_s, "landed")

    async def wait_disarmed(self, timeout_s: float = 300.0) -> VehicleState:
        return await self.wait_for(lambda s: not s.armed, timeout_s, "disarmed")

    # ---- commands ----------------------------------------------------------------

    async def arm(self) -> None:
        """Arm (raises CommandDenied with the pre-arm reason when it may not)."""
        await self.dialect.arm(self)

    async def disarm(self, force: bool = False) -> None:
        await self.dialect.disarm(self, force)

    async def set_mode(self, mode: str) -> None:
        """Change flight mode by the autopilot's name for it (or a common alias such as
        'HOLD', 'MISSION', 'RTL'); resolves when the HEARTBEAT shows it."""
        await self.dialect.set_mode(self, mode)

    async def takeoff(self, alt_m: float) -> None:
        """Arm if needed and take off to ``alt_m`` above home. Resolves on acceptance;
        ``wait_for(lambda s: s.alt_rel_m >= ...)`` to wait for the climb."""
        _check_positive(alt_m, "alt_m")
        await self.dialect.takeoff(self, alt_m)

    async def goto(
        self, lat: float, lon: float, alt_m: float, speed_mps: float | None = None
    ) -> None:
        """Fly to (lat, lon) at ``alt_m`` above home and hold there (ArduPilot: GUIDED;
        PX4: DO_REPOSITION, staying in HOLD)."""
        _check_position(lat, lon, alt_m)
        if speed_mps is not None:
            _check_positive(speed_mps, "speed_mps")
        await self.dialect.goto(self, lat, lon, alt_m, speed_mps)

    async def orbit(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        velocity_mps: float = 5.0,
        alt_m: float | None = None,
        clockwise: bool = True,
    ) -> None:
        """Circle (lat, lon) at ``radius_m`` (PX4: DO_ORBIT; ArduPilot: CIRCLE mode, which
        first flies to the circle, so this returns once the vehicle is circling)."""
        _check_position(lat, lon, alt_m)
        _check_positive(radius_m, "radius_m")
        _check_positive(velocity_mps, "velocity_mps")
        await self.dialect.orbit(self, lat, lon, radius_m, velocity_mps, alt_m, clockwise)

    async def rtl(self) -> None:
        await self.dialect.rtl(self)

    async def land(self) -> None:
        await self.dialect.land(self)

    async def set_speed(self, speed_mps: float) -> None:
        _check_positive(speed_mps, "speed_mps")
        await self.dialect.set_speed(self, speed_mps)

    async def upload_mission(self, items: Sequence[MissionItem]) -> None:
        """Replace the vehicle's mission (ArduPilot's home item 0 is added here)."""
        prepared = self.dialect.prepare_mission(self, list(items))
        await mission_protocol.upload_items(self, prepared, mission_protocol.MISSION)

    async def start_mission(self) -> None:
        """Fly the uploaded mission from the start (arming first if needed)."""
        await self.dialect.start_mission(self)

    async def clear_mission(self) -> None:
        await mission_protocol.clear_items(self, mission_protocol.MISSION)

    async def upload_fence(
        self, fence: Fence, action: FenceAction | None = None, enable: bool = True
    ) -> None:
        """Replace the geofence; optionally set the breach action and enable it."""
        await mission_protocol.upload_items(self, fence.items(), mission_protocol.FENCE)
        if action is not None:
            await self.dialect.set_fence_action(self, action)
        if enable:
            await self.dialect.enable_fence(self, True)

    async def clear_fence(self) -> None:
        await mission_protocol.clear_items(self, mission_protocol.FENCE)

    async def command_long(self, command: int, *params: float | None) -> CommandOutcome:
        """Any MAV_CMD as COMMAND_LONG (None -> NaN); resolves on ACCEPTED."""
        return await self.commands.long(command, tuple(params))

    async def command_int(
        self,
        command: int,
        frame: int,
        *params: float | None,
        x: int = 0,
        y: int = 0,
        z: float = 0.0,
    ) -> CommandOutcome:
        return await self.commands.int(command, frame, tuple(params), x, y, z)

    def request_message(self, message_id: int) -> None:
        """Ask for one message now (MAV_CMD_REQUEST_MESSAGE); fire and forget."""
        self.send(
            mavlink.MAVLink_command_long_message(
                self.system_id,
                self.component_id,
                mavlink.MAV_CMD_REQUEST_MESSAGE,
                0,
                float(message_id),
                *(0.0,) * 6,
            )
        )

    # ---- parameters ----------------------------------------------------------------

    async def get_param(self, name: str) -> float:
        value, _ = await self._read_param(name)
        return value

    async def set_param(self, name: str, value: float) -> float:
        """Set a parameter; resolves on the vehicle's PARAM_VALUE echo (raises if it differs)."""
        if not name or len(name) > 16:
            raise InputError("name", f"parameter names are 1..16 characters, got {name!r}")
        param_type = self._param_types.get(name)
        if param_type is None:
            _, param_type = await self._read_param(name)
        encoded = self.dialect.encode_param(value, param_type)
        message = mavlink.MAVLink_param_set_message(
            self.system_id, self.component_id, name.encode(), encoded, param_type
        )
        actual, _ = await self._param_exchange(name, message, f"PARAM_SET {name}")
        if not math.isclose(actual, float(value), rel_tol=1e-5, abs_tol=1e-6):
            raise CommandDenied(
                self.system_id, f"PARAM_SET {name}", "not applied", f"{name} is {actual}"
            )
        return actual

    def param_value(self, name: str) -> float | None:
        """The last value the vehicle reported for ``name`` (None: never reported)."""
        return self._param_values.get(name)

    async def _read_param(self, name: str) -> tuple[float, int]:
        message = mavlink.MAVLink_param_request_read_message(
            self.system_id, self.component_id, name.encode(), -1
        )
        return await self._param_exchange(name, message, f"PARAM_REQUEST_READ {name}")

    async def _param_exchange(self, name: str, message: Any, what: str) -> tuple[float, int]:
        cfg = self.config
        wait = cfg.answer_wait(cfg.command_timeout_s)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(cfg.command_attempts):
            future: asyncio.Future[tuple[float, int]] = loop.create_future()
            self._param_waiters.setdefault(name, []).append(future)
            self.send(message)
            try:
                async with asyncio.timeout(wait):
                    return await future
            except TimeoutError:
                continue
            finally:
                waiters = self._param_waiters.get(name, [])
                if future in waiters:
                    waiters.remove(future)
        raise CommandTimeout(self.system_id, what, cfg.command_attempts, loop.time() - started)

    # ---- plumbing used by commands, missions and dialects ------------------------------

    def send(self, message: Any) -> bool:
        return self.link.send_to(self, message)

    def emit(self, event: FleetEvent) -> None:
        self.link.emit(event)

    @contextlib.asynccontextmanager
    async def mission_exchange(self) -> AsyncIterator[asyncio.Queue[Any]]:
        """Exclusive use of the vehicle's mission protocol, with an inbox for its replies."""
        async with self._mission_lock:
            inbox: asyncio.Queue[Any] = asyncio.Queue()
            self._mission_inbox = inbox
            try:
                yield inbox
            finally:
                self._mission_inbox = None

    def text_mark(self) -> int:
        return self._text_count

    async def reason_since(self, mark: int) -> str:
        """The vehicle's explanation (STATUSTEXT) since ``mark``; waits briefly for one."""
        text = self._text_since(mark)
        if text is None:
            deadline = time.monotonic() + min(0.25, self.config.answer_wait(0.5))
            while text is None and (remaining := deadline - time.monotonic()) > 0:
                await self._changed(remaining)
                text = self._text_since(mark)
        return text or ""

    def _text_since(self, mark: int) -> str | None:
        recent = [(sev, text) for index, sev, text in self._texts if index > mark]
        if not recent:
            return None
        serious = [text for sev, text in recent if sev <= _WARNING]
        return serious[-1] if serious else recent[-1][1]

    async def wait_mode_confirmed(self, mode: str, after: float, text_mark: int) -> bool:
        """True once the HEARTBEAT shows ``mode``; False if it does not in time; raises
        CommandDenied if a later COMMAND_ACK for the mode change refuses it (PX4)."""
        cfg = self.config
        deadline = time.monotonic() + cfg.answer_wait(cfg.mode_confirm_s)
        while True:
            if self.telemetry.mode == mode:
                return True
            for ack in self.commands.acks_after(mavlink.MAV_CMD_DO_SET_MODE, after):
                if not ack.accepted:
                    reason = await self.reason_since(text_mark)
                    raise CommandDenied(self.system_id, f"set mode {mode}", ack.result_name, reason)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await self._changed(remaining)

    async def _changed(self, timeout: float | None) -> bool:
        """Wait for the next message from this vehicle (or a link change): True, or False
        after ``timeout`` seconds (wall) without one."""
        # One future and one timer, answered by ``_wake`` or ``_expire``: this runs for
        # every message while anything waits on the vehicle, and asyncio.wait (a waiter
        # future, callbacks and a set each time) cost several times more. Not wait_for:
        # on Python 3.11 it can swallow a cancellation that races with the future
        # completing. Here a cancelled caller's task cancels the future and raises.
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(future)
        timer = None if timeout is None else loop.call_later(timeout, _expire, future)
        try:
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            if not future.done():
                future.cancel()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(True)

    # ---- receiving (called by the link for each message from this vehicle) --------------

    def handle(self, msg: Any, msg_id: int, now: float) -> None:
        t = self.telemetry
        if not self.connected:
            self._restored(now)
        t.last_message = now
        self._version += 1
        handler = _HANDLERS.get(msg_id)
        if handler is not None:
            handler(self, msg, now)
        if self._waiters:
            self._wake()

    def handle_text(self, msg: Any, now: float) -> None:
        _on_statustext(self, msg, now)
        if self._waiters:
            self._wake()

    def check_link(self, now: float, timeout: float) -> None:
        """The watchdog: declare the link lost after ``timeout`` wall seconds of silence."""
        last = self.telemetry.last_message
        if self.connected and last is not None and now - last > timeout:
            self.connected = False
            # What is heard next on this system id may be another aircraft: ask again then.
            self.telemetry.board_id = None
            self.telemetry.seq.resync()
            self.emit(LinkLost(self.system_id, now, now - last))
            self._wake()

    def _restored(self, now: float) -> None:
        self.connected = True
        self.request_board_id()
        last = self.telemetry.last_message
        self.emit(LinkRestored(self.system_id, now, now - last if last is not None else 0.0))
        self.link.spawn(self.dialect.on_link_restored(self), f"restore {self.system_id}")

    def _set_landed(self, landed: LandedState, now: float) -> None:
        t = self.telemetry
        old = t.landed
        if landed is old:
            return
        t.landed = landed
        if landed is LandedState.ON_GROUND and old in _IN_AIR:
            position = (
                GeoPoint(t.lat, t.lon, t.alt_amsl)
                if t.lat is not None and t.lon is not None and t.alt_amsl is not None
                else None
            )
            self.emit(Landed(self.system_id, now, position, old))
        elif (
            landed in (LandedState.IN_AIR, LandedState.TAKING_OFF) and old is LandedState.ON_GROUND
        ):
            self.emit(TookOff(self.system_id, now))

    def _battery(self, pct: float, now: float) -> None:
        t = self.telemetry
        t.battery_pct = pct
        threshold = self.config.battery_low_pct
        if pct < threshold and not self._battery_low:
            self._battery_low = True
            self.emit(BatteryLow(self.system_id, now, pct, t.battery_v))
        elif pct > threshold + 5 and self._battery_low:
            self._battery_low = False


def _summary(s: VehicleState) -> str:
    where = (
        f"{s.lat:.6f},{s.lon:.6f} alt {s.alt_rel_m:.1f} m" if s.lat is not None else "no position"
    )
    armed = "armed" if s.armed else "disarmed"
    return f"{s.mode} {armed} {s.landed} {where}" + (
        f"; '{s.status_text}'" if s.status_text else ""
    )


# ---- message handlers: (vehicle, message, now) -> None ---------------------------------


def _on_heartbeat(v: Vehicle, msg: Any, now: float) -> None:
    t = v.telemetry
    t.last_heartbeat = now
    t.system_status = msg.system_status
    if msg.custom_mode != t.custom_mode or msg.base_mode != t.base_mode:
        t.custom_mode = msg.custom_mode
        t.base_mode = msg.base_mode
        name = v.dialect.mode_name(msg.base_mode, msg.custom_mode)
        if name != t.mode:
            old = t.mode
            t.mode = name
            t.mode_kind = v.dialect.mode_kind(name)
            if old != "UNKNOWN":
                v.emit(ModeChanged(v.system_id, now, old, name, t.mode_kind))
    armed = bool(msg.base_mode & ARMED_FLAG)
    if armed != t.armed:
        t.armed = armed
        v.emit(Armed(v.system_id, now) if armed else Disarmed(v.system_id, now))
        v.dialect.on_armed_changed(v)
        if armed:  # ArduPilot (and PX4) move home to where the vehicle arms
            v.request_message(mavlink.MAVLINK_MSG_ID_HOME_POSITION)
    if not t.landed_reported:
        _judge_landed(v, now)


def _judge_landed(v: Vehicle, now: float) -> None:
    """No EXTENDED_SYS_STATE from this vehicle (yet): judge from armed state and altitude.
    Armed with no altitude heard, it may be up or down: unknown, not on the ground (an
    aircraft in flight when the ground station starts is heard first by its HEARTBEAT)."""
    t = v.telemetry
    if not t.armed:
        landed = LandedState.ON_GROUND
    elif t.alt_rel is None:
        landed = LandedState.UNKNOWN
    else:
        landed = LandedState.ON_GROUND if t.alt_rel < 0.5 else LandedState.IN_AIR
    v._set_landed(landed, now)


def _on_global_position(v: Vehicle, msg: Any, now: float) -> None:
    if msg.lat == 0 and msg.lon == 0:  # sent before the EKF has an origin
        return
    t = v.telemetry
    t.lat = msg.lat * 1e-7
    t.lon = msg.lon * 1e-7
    t.alt_amsl = msg.alt * 1e-3
    t.alt_rel = msg.relative_alt * 1e-3
    vn = t.vn = msg.vx * 0.01
    ve = t.ve = msg.vy * 0.01
    vd = t.vd = msg.vz * 0.01
    t.ground_speed = math.hypot(vn, ve)
    t.climb = -vd
    if msg.hdg != UINT16_UNKNOWN:
        t.heading = msg.hdg * 0.01
    if not t.landed_reported and t.landed is LandedState.UNKNOWN:
        _judge_landed(v, now)


def _on_gps_raw(v: Vehicle, msg: Any, now: float) -> None:
    t = v.telemetry
    t.gps_fix = msg.fix_type
    t.gps_sats = None if msg.satellites_visible == UINT8_UNKNOWN else msg.satellites_visible


def _on_sys_status(v: Vehicle, msg: Any, now: float) -> None:
    t = v.telemetry
    if msg.voltage_battery != UINT16_UNKNOWN:
        t.battery_v = msg.voltage_battery * 1e-3
    if msg.onboard_control_sensors_present & _PREARM:
        t.prearm_ok = bool(msg.onboard_control_sensors_health & _PREARM)
    if msg.battery_remaining >= 0:
        v._battery(float(msg.battery_remaining), now)


def _on_battery_status(v: Vehicle, msg: Any, now: float) -> None:
    if msg.battery_remaining >= 0:
        v._battery(float(msg.battery_remaining), now)


def _on_vfr_hud(v: Vehicle, msg: Any, now: float) -> None:
    t = v.telemetry
    if t.heading is None:
        t.heading = float(msg.heading)


def _on_extended_sys_state(v: Vehicle, msg: Any, now: float) -> None:
    state = msg.landed_state
    if 0 < state < len(LANDED_STATES):
        v.telemetry.landed_reported = True
        v._set_landed(LANDED_STATES[state], now)


def _on_autopilot_version(v: Vehicle, msg: Any, now: float) -> None:
    v.telemetry.board_id = board_id(msg.uid, msg.uid2)


def _on_home_position(v: Vehicle, msg: Any, now: float) -> None:
    v.telemetry.home = GeoPoint(msg.latitude * 1e-7, msg.longitude * 1e-7, msg.altitude * 1e-3)


def _on_ekf_status(v: Vehicle, msg: Any, now: float) -> None:
    v.telemetry.ekf_flags = msg.flags


def _on_mission_current(v: Vehicle, msg: Any, now: float) -> None:
    t = v.telemetry
    t.mission_seq = msg.seq
    total = getattr(msg, "total", 0)
    t.mission_total = None if total in (0, UINT16_UNKNOWN) else total


def _on_statustext(v: Vehicle, msg: Any, now: float) -> None:
    chunk = msg.text if isinstance(msg.text, str) else msg.text.decode(errors="replace")
    text_id = getattr(msg, "id", 0)
    if text_id:
        parts = v._chunks.setdefault(text_id, [])
        parts.append(chunk)
        if len(chunk) >= _STATUSTEXT_LEN and len(parts) < 8:
            return  # more chunks follow
        chunk = "".join(v._chunks.pop(text_id))
    text = chunk.rstrip()  # PX4 ends its texts with a tab
    v._text_count += 1
    v._texts.append((v._text_count, msg.severity, text))
    v.telemetry.status_text = text
    v.emit(StatusText(v.system_id, now, msg.severity, text))


def _addressed_to_us(v: Vehicle, msg: Any) -> bool:
    target = getattr(msg, "target_system", 0)
    return target in (0, v.config.gcs_system_id)


def _on_command_ack(v: Vehicle, msg: Any, now: float) -> None:
    if _addressed_to_us(v, msg):
        v.commands.on_ack(
            Ack(msg.command, msg.result, now, msg.progress, getattr(msg, "result_param2", 0))
        )


def _on_mission_message(v: Vehicle, msg: Any, now: float) -> None:
    if v._mission_inbox is not None and _addressed_to_us(v, msg):
        v._mission_inbox.put_nowait(msg)


def _on_param_value(v: Vehicle, msg: Any, now: float) -> None:
    name = msg.param_id if isinstance(msg.param_id, str) else msg.param_id.decode()
    v._param_types[name] = msg.param_type
    value = v._param_values[name] = v.dialect.decode_param(msg.param_value, msg.param_type)
    waiters = v._param_waiters.pop(name, None)
    if waiters:
        for future in waiters:
            if not future.done():
                future.set_result((value, msg.param_type))


def _on_timesync(v: Vehicle, msg: Any, now: float) -> None:
    if msg.tc1 == 0:  # the vehicle asks for our clock (PX4 does, often)
        v.send(mavlink.MAVLink_timesync_message(time.monotonic_ns(), msg.ts1))
        return
    sent = v.link.timesync_sent_at(msg.ts1)
    if sent is not None:
        v.telemetry.rtt.sample(now - sent)


def _on_ping(v: Vehicle, msg: Any, now: float) -> None:
    if msg.target_system == 0:  # a request (PX4 pings its links): answer it as a GCS does
        v.send(
            mavlink.MAVLink_ping_message(
                msg.time_usec, msg.seq, v.system_id, msg.get_srcComponent()
            )
        )


def _on_fence_status(v: Vehicle, msg: Any, now: float) -> None:
    t = v.telemetry
    breached = bool(msg.breach_status)
    if breached and not t.fence_breached:
        position = (
            GeoPoint(t.lat, t.lon, t.alt_amsl)
            if t.lat is not None and t.lon is not None and t.alt_amsl is not None
            else None
        )
        v.emit(FenceBreached(v.system_id, now, position))
    t.fence_breached = breached


def _expire(future: asyncio.Future[bool]) -> None:
    """A wait for the next message ran out (``Vehicle._changed``)."""
    if not future.done():
        future.set_result(False)


_HANDLERS: dict[int, Callable[[Vehicle, Any, float], None]] = {
    mavlink.MAVLINK_MSG_ID_HEARTBEAT: _on_heartbeat,
    mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: _on_global_position,
    mavlink.MAVLINK_MSG_ID_GPS_RAW_INT: _on_gps_raw,
    mavlink.MAVLINK_MSG_ID_SYS_STATUS: _on_sys_status,
    mavlink.MAVLINK_MSG_ID_BATTERY_STATUS: _on_battery_status,
    mavlink.MAVLINK_MSG_ID_VFR_HUD: _on_vfr_hud,
    mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: _on_extended_sys_state,
    mavlink.MAVLINK_MSG_ID_HOME_POSITION: _on_home_position,
    mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION: _on_autopilot_version,
    mavlink.MAVLINK_MSG_ID_EKF_STATUS_REPORT: _on_ekf_status,
    mavlink.MAVLINK_MSG_ID_MISSION_CURRENT: _on_mission_current,
    mavlink.MAVLINK_MSG_ID_STATUSTEXT: _on_statustext,
    mavlink.MAVLINK_MSG_ID_COMMAND_ACK: _on_command_ack,
    mavlink.MAVLINK_MSG_ID_MISSION_REQUEST_INT: _on_mission_message,
    mavlink.MAVLINK_MSG_ID_MISSION_REQUEST: _on_mission_message,
    mavlink.MAVLINK_MSG_ID_MISSION_ACK: _on_mission_message,
    mavlink.MAVLINK_MSG_ID_PARAM_VALUE: _on_param_value,
    mavlink.MAVLINK_MSG_ID_TIMESYNC: _on_timesync,
    mavlink.MAVLINK_MSG_ID_FENCE_STATUS: _on_fence_status,
    mavlink.MAVLINK_MSG_ID_PING: _on_ping,
}
