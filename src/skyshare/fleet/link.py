"""One MAVLink connection carrying one or many vehicles.

Bytes arrive from a non-blocking transport, are parsed by a MAVLink parser kept per
sender (so one sender's broken packet cannot garble another's), and each message goes
to the vehicle with its source system id. A vehicle is discovered by its first
autopilot HEARTBEAT and is answered at the address it sends from: on a shared UDP port
(PX4's 14550, a MAVLink router) a command for vehicle 7 goes to vehicle 7 only, with
target_system 7.

The link also keeps the ground-station side of the protocol going: a GCS HEARTBEAT to
every vehicle each second (vehicles' GCS failsafes watch for it), TIMESYNC probes for
round-trip time, and a watchdog that raises LinkLost after ``link_timeout_s`` of silence
(LinkRestored when the vehicle is heard again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from skyshare.fleet.config import FleetConfig
from skyshare.fleet.dialects import dialect_for
from skyshare.fleet.endpoints import Endpoint, parse_endpoint
from skyshare.fleet.errors import UnknownVehicle
from skyshare.fleet.events import EventHub, FleetEvent, Listener, Subscription, VehicleDiscovered
from skyshare.fleet.protocol import MAVLink, mavlink
from skyshare.fleet.transport import Peer, make_transport
from skyshare.fleet.vehicle import Vehicle

log = logging.getLogger(__name__)

_HEARTBEAT = mavlink.MAVLINK_MSG_ID_HEARTBEAT
_STATUSTEXT = mavlink.MAVLINK_MSG_ID_STATUSTEXT
_NOT_VEHICLES = {
    mavlink.MAV_TYPE_GCS,
    mavlink.MAV_TYPE_ONBOARD_CONTROLLER,
    mavlink.MAV_TYPE_GIMBAL,
    mavlink.MAV_TYPE_CAMERA,
    mavlink.MAV_TYPE_ADSB,
}
_TIMESYNC_REMEMBERED = 64


@dataclass
class LinkStats:
    bytes_received: int = 0
    messages_received: int = 0
    bad_data: int = 0
    messages_sent: int = 0
    senders: int = 0  # addresses with a parse state now (the transport bounds them)


def _new_parser() -> MAVLink:
    parser = MAVLink(None)
    parser.robust_parsing = True  # bad bytes become BAD_DATA messages, not exceptions
    return parser


class FleetLink:
    """A MAVLink connection (mavutil syntax) and the vehicles heard on it.

    Use ``async with FleetLink("udpin:0.0.0.0:14550", FleetConfig(speedup=10)) as link``;
    ``await link.wait_vehicle(1)`` returns a Vehicle to command.
    """

    def __init__(
        self,
        connection: str,
        config: FleetConfig | None = None,
        *,
        hub: EventHub | None = None,
    ) -> None:
        self.connection = connection
        self.endpoint: Endpoint = parse_endpoint(connection)
        self.config = config or FleetConfig()
        self.vehicles: dict[int, Vehicle] = {}
        self.stats = LinkStats()
        self._hub = hub or EventHub()
        self._parsers: dict[Peer, MAVLink] = {}
        self._encoder = MAVLink(
            None, srcSystem=self.config.gcs_system_id, srcComponent=self.config.gcs_component_id
        )
        self._transport = make_transport(self.endpoint, self._on_data)
        self._transport.on_closed = self._forget_peer
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timesync: OrderedDict[int, float] = OrderedDict()
        self._discovery_waiters: list[asyncio.Future[None]] = []
        self._open = False

    def __repr__(self) -> str:
        return f"<FleetLink {self.connection} vehicles={sorted(self.vehicles)}>"

    # ---- lifecycle ----------------------------------------------------------------

    async def open(self) -> FleetLink:
        if self._open:
            return self
        await self._transport.open()
        self._open = True
        self.spawn(self._heartbeats(), f"gcs heartbeat {self.connection}")
        self.spawn(self._watchdog(), f"watchdog {self.connection}")
        return self

    async def close(self) -> None:
        self._open = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._transport.close()

    async def __aenter__(self) -> FleetLink:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def local_port(self) -> int | None:
        """The local port bound (useful with ``udpin:127.0.0.1:0``)."""
        return self._transport.local_port

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """A background task owned by the link (cancelled on close, errors logged)."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %s", task.get_name(), task.exception())

    # ---- vehicles -------------------------------------------------------------------

    def vehicle(self, system_id: int) -> Vehicle:
        try:
            return self.vehicles[system_id]
        except KeyError:
            raise UnknownVehicle(system_id, sorted(self.vehicles)) from None

    async def wait_vehicle(self, system_id: int, timeout_s: float = 30.0) -> Vehicle:
        """The vehicle with ``system_id`` once its first HEARTBEAT arrives (wall timeout)."""
        (vehicle,) = await self.wait_vehicles([system_id], timeout_s)
        return vehicle

    async def wait_vehicles(
        self, system_ids: Iterable[int], timeout_s: float = 30.0
    ) -> list[Vehicle]:
        wanted = list(system_ids)
        deadline = time.monotonic() + timeout_s
        while True:
            missing = [s for s in wanted if s not in self.vehicles]
            if not missing:
                return [self.vehicles[s] for s in wanted]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UnknownVehicle(missing[0], sorted(self.vehicles))
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._discovery_waiters.append(future)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await future

    # ---- events ------------------------------------------------------------------------

    def subscribe(self) -> Subscription:
        return self._hub.subscribe()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        return self._hub.add_listener(listener)

    def emit(self, event: FleetEvent) -> None:
        self._hub.emit(event)

    # ---- receiving ---------------------------------------------------------------------

    def feed(self, data: bytes, peer: Peer = "feed") -> None:
        """Handle bytes as if received from ``peer`` (tests and benchmarks)."""
        self._on_data(data, peer)

    def _forget_peer(self, peer: Peer) -> None:
        self._parsers.pop(peer, None)
        self.stats.senders = len(self._parsers)

    def _on_data(self, data: bytes, peer: Peer) -> None:
        parser = self._parsers.get(peer)
        if parser is None:
            parser = self._parsers[peer] = _new_parser()
            self.stats.senders = len(self._parsers)
        stats = self.stats
        stats.bytes_received += len(data)
        try:
            messages = parser.parse_buffer(data)
        except Exception:  # pymavlink raises on some malformed input even when robust
            stats.bad_data += 1
            self._parsers[peer] = _new_parser()
            return
        if not messages:
            return
        now = time.monotonic()
        vehicles = self.vehicles
        for msg in messages:
            header = msg._header
            msg_id = header.msgId
            vehicle = vehicles.get(header.srcSystem)
            if vehicle is None:
                if msg_id != _HEARTBEAT or not self._discover(msg, header, peer):
                    if msg_id < 0:
                        stats.bad_data += 1
                    continue
                vehicle = vehicles[header.srcSystem]
            if header.srcComponent != vehicle.component_id:
                if msg_id == _STATUSTEXT:  # other components' words reach the operator too
                    vehicle.handle_text(msg, now)
                continue
            if vehicle.peer != peer:
                vehicle.peer = peer  # it reconnected, or moved: answer where it now is
            vehicle.telemetry.seq.update(header.seq)
            vehicle.handle(msg, msg_id, now)
        stats.messages_received += len(messages)

    def _discover(self, msg: Any, header: Any, peer: Peer) -> bool:
        system_id = header.srcSystem
        if (
            system_id in (0, self.config.gcs_system_id)
            or msg.type in _NOT_VEHICLES
            or msg.autopilot == mavlink.MAV_AUTOPILOT_INVALID
        ):
            return False
        dialect = dialect_for(msg.autopilot, msg.type)
        vehicle = Vehicle(self, system_id, header.srcComponent, dialect, peer, msg.type)
        self.vehicles[system_id] = vehicle
        self.emit(
            VehicleDiscovered(system_id, time.monotonic(), dialect.autopilot.value, self.connection)
        )
        waiters, self._discovery_waiters = self._discovery_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        # Which aircraft this is (its hardware id): asked once, as ground stations do.
        vehicle.request_board_id()
        self.spawn(dialect.on_discovered(vehicle), f"discovered {system_id}")
        return True

    # ---- sending -------------------------------------------------------------------------

    def _pack(self, message: Any) -> bytes:
        encoder = self._encoder
        data = message.pack(encoder)
        encoder.seq = (encoder.seq + 1) & 0xFF
        self.stats.messages_sent += 1
        return data

    def send_to(self, vehicle: Vehicle, message: Any) -> bool:
        """Send one message to one vehicle, at the address it was last heard from."""
        return self._transport.send(self._pack(message), vehicle.peer)

    def broadcast(self, message: Any) -> int:
        """Send one message to every peer of the link."""
        return self._transport.broadcast(self._pack(message))

    def timesync_sent_at(self, ts1: int) -> float | None:
        return self._timesync.get(ts1)

    # ---- the ground-station side ------------------------------------------------------------

    async def _heartbeats(self) -> None:
        cfg = self.config
        heartbeat = mavlink.MAVLink_heartbeat_message(
            mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, mavlink.MAV_STATE_ACTIVE, 3
        )
        period = max(cfg.wall(cfg.heartbeat_period_s), 0.01)
        timesync_every = max(1, round(cfg.timesync_period_s / cfg.heartbeat_period_s))
        beat = 0
        while True:
            self.broadcast(heartbeat)
            if beat % timesync_every == 0 and self.vehicles:
                stamp = time.monotonic_ns()
                self._timesync[stamp] = time.monotonic()
                while len(self._timesync) > _TIMESYNC_REMEMBERED:
                    self._timesync.popitem(last=False)
                self.broadcast(mavlink.MAVLink_timesync_message(0, stamp))
            beat += 1
            await asyncio.sleep(period)  # a periodic timer, not synchronisation

    async def _watchdog(self) -> None:
        cfg = self.config
        period = max(cfg.wall(cfg.watchdog_period_s), 0.005)
        timeout = max(cfg.wall(cfg.link_timeout_s), 0.05)
        while True:
            await asyncio.sleep(period)  # a periodic timer, not synchronisation
            now = time.monotonic()
            for vehicle in list(self.vehicles.values()):
                vehicle.check_link(now, timeout)
