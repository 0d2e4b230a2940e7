"""Fleet events: what the link noticed about a vehicle, as plain immutable records.

``at`` is the event loop's monotonic clock (``loop.time()``) when it was noticed.
Subscribe with ``FleetLink.subscribe()`` / ``FleetManager.subscribe()`` (async iterators
that start receiving at once) or ``add_listener(callback)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from skyshare.fleet.state import GeoPoint, LandedState, ModeKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FleetEvent:
    system_id: int
    at: float


@dataclass(frozen=True, slots=True)
class VehicleDiscovered(FleetEvent):
    autopilot: str
    link: str


@dataclass(frozen=True, slots=True)
class LinkLost(FleetEvent):
    silent_s: float  # wall seconds since the last message


@dataclass(frozen=True, slots=True)
class LinkRestored(FleetEvent):
    outage_s: float  # wall seconds without messages


@dataclass(frozen=True, slots=True)
class StatusText(FleetEvent):
    severity: int  # MAV_SEVERITY: 0 emergency .. 7 debug
    text: str


@dataclass(frozen=True, slots=True)
class ModeChanged(FleetEvent):
    old: str
    new: str
    kind: ModeKind


@dataclass(frozen=True, slots=True)
class Armed(FleetEvent):
    pass


@dataclass(frozen=True, slots=True)
class Disarmed(FleetEvent):
    pass


@dataclass(frozen=True, slots=True)
class TookOff(FleetEvent):
    pass


@dataclass(frozen=True, slots=True)
class Landed(FleetEvent):
    position: GeoPoint | None
    previous: LandedState


@dataclass(frozen=True, slots=True)
class BatteryLow(FleetEvent):
    remaining_pct: float
    voltage_v: float | None


@dataclass(frozen=True, slots=True)
class FenceBreached(FleetEvent):
    position: GeoPoint | None


Listener = Callable[[FleetEvent], None]
E = TypeVar("E", bound=FleetEvent)


class Subscription:
    """A queue of every event from the moment it was created (so none can slip past).

    Use as ``async for event in sub`` or ``await sub.next(timeout)``/``await
    sub.wait_for(EventType, predicate, timeout)``; close it (or use ``with``) when done.
    """

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[FleetEvent] = asyncio.Queue()
        hub._queues.append(self._queue)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> FleetEvent:
        return await self._queue.get()

    async def next(self, timeout_s: float | None = None) -> FleetEvent:
        async with asyncio.timeout(timeout_s):
            return await self._queue.get()

    async def wait_for(
        self,
        kind: type[E],
        predicate: Callable[[E], bool] | None = None,
        timeout_s: float | None = None,
    ) -> E:
        """The next event of type ``kind`` (matching ``predicate``); TimeoutError if none."""

        async with asyncio.timeout(timeout_s):
            while True:
                event = await self._queue.get()
                if isinstance(event, kind) and (predicate is None or predicate(event)):
                    return event

    def pending(self) -> list[FleetEvent]:
        """Events received and not yet consumed, without waiting."""
        out = []
        while not self._queue.empty():
            out.append(self._queue.get_nowait())
        return out

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self._hub._queues.remove(self._queue)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    """Fan-out of events to callbacks and to subscriptions."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queues: list[asyncio.Queue[FleetEvent]] = []

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def emit(self, event: FleetEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a faulty listener must not break telemetry handling
                log.exception("fleet event listener failed on %r", event)
        for queue in self._queues:
            queue.put_nowait(event)

    def subscribe(self) -> Subscription:
        """A subscription receiving every event from now on."""
        return Subscription(self)
