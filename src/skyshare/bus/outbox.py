"""The messages waiting to reach the broker, kept while it is out of reach.

Bounded, because a broker that stays away must not eat the process's memory: when full,
the oldest message is dropped and counted. A message leaves only once the broker has
acknowledged it and every older one, so a connection lost mid-send costs nothing but a
resend of what was not yet acknowledged.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outgoing:
    seq: int
    topic: str
    payload: bytes


class Outbox:
    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise ValueError(f"outbox_size: must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[Outgoing] = deque()  # in seq order
        self._done: set[int] = set()  # acknowledged, but waiting behind an older message
        self._seq = itertools.count()
        self._added = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    def __len__(self) -> int:
        """Messages not yet acknowledged."""
        return len(self._items) - len(self._done)

    def put(self, topic: str, payload: bytes) -> None:
        if len(self._items) >= self.maxsize:
            self._done.discard(self._items.popleft().seq)
            self.dropped += 1
        self._items.append(Outgoing(next(self._seq), topic, payload))
        self._added.set()
        self._empty.clear()

    async def next_after(self, seq: int) -> Outgoing:
        """The oldest unacknowledged message newer than ``seq``, waiting for one if need be.

        Cheap: what lies before it is only what is in flight or acknowledged out of order.
        """
        while True:
            for item in self._items:
                if item.seq > seq and item.seq not in self._done:
                    return item
            self._added.clear()
            await self._added.wait()

    def acknowledge(self, item: Outgoing) -> None:
        """The broker has ``item``; drop it, with any acknowledged ones it held back."""
        if not self._items or item.seq < self._items[0].seq:
            return  # dropped meanwhile for want of room
        self._done.add(item.seq)
        while self._items and self._items[0].seq in self._done:
            self._done.discard(self._items.popleft().seq)
        if not self._items:
            self._empty.set()

    async def wait_empty(self) -> None:
        await self._empty.wait()
