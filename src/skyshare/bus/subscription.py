"""Subscriptions: bounded per-consumer queues, so a slow consumer never holds up a publisher."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Self

from skyshare.domain.events import Event, EventType


class Subscription:
    """An async stream of the events that match a filter.

    Iterate it with ``async for``; use it as ``async with`` to unsubscribe on exit. It holds
    at most ``maxsize`` undelivered events: when a consumer falls that far behind, the
    oldest waiting event is dropped (and counted in :attr:`dropped`) rather than making the
    publisher wait. Once closed, iteration ends after the events already waiting.

    ``agency`` matches that agency's events and also events that belong to no agency
    (airspace restrictions, system-wide notices), which concern everyone.
    """

    def __init__(
        self,
        types: set[EventType] | None = None,
        agency: str | None = None,
        maxsize: int = 1000,
        *,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize: must be at least 1, got {maxsize}")
        self.types = frozenset(EventType(t) for t in types) if types is not None else None
        self.agency = agency
        self.maxsize = maxsize
        self.dropped = 0
        self._waiting: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        """Number of events waiting to be read."""
        return len(self._waiting)

    def matches(self, event: Event) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        return self.agency is None or event.agency is None or event.agency == self.agency

    def offer(self, event: Event) -> None:
        """Queue ``event`` if it matches; never blocks. Called by the bus."""
        if self._closed or not self.matches(event):
            return
        if len(self._waiting) >= self.maxsize:
            self._waiting.popleft()
            self.dropped += 1
        self._waiting.append(event)
        self._ready.set()

    def close(self) -> None:
        """Unsubscribe. Events already waiting can still be read."""
        if self._closed:
            return
        self._closed = True
        self._ready.set()  # wake a reader so it sees the end
        if self._on_close is not None:
            self._on_close(self)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        while not self._waiting:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._waiting.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Fanout:
    """The set of live subscriptions of one bus, and delivery to them."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def __len__(self) -> int:
        return len(self._subscriptions)

    def subscribe(
        self, types: set[EventType] | None, agency: str | None, maxsize: int
    ) -> Subscription:
        subscription = Subscription(types, agency, maxsize, on_close=self._subscriptions.discard)
        self._subscriptions.add(subscription)
        return subscription

    def deliver(self, event: Event) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.offer(event)

    def close_all(self) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.close()
