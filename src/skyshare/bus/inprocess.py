"""The default bus: events fan out to subscribers inside this process, nothing leaves it."""

from __future__ import annotations

from skyshare.bus.base import BusClosed
from skyshare.bus.subscription import Fanout, Subscription
from skyshare.domain.events import Event, EventType


class InProcessBus:
    """Delivers each published event to every matching subscription of this process.

    Publishing works before :meth:`start` (there is nothing to connect). :meth:`stop` ends
    every subscription; afterwards publishing or subscribing raises :class:`BusClosed`.
    """

    def __init__(self) -> None:
        self._fanout = Fanout()
        self._stopped = False

    @property
    def subscriber_count(self) -> int:
        return len(self._fanout)

    async def start(self) -> None:
        if self._stopped:
            raise BusClosed("this bus has been stopped; make a new one")

    async def stop(self) -> None:
        self._stopped = True
        self._fanout.close_all()

    async def publish(self, event: Event) -> None:
        if self._stopped:
            raise BusClosed(f"bus stopped: cannot publish {event.type} for {event.subject}")
        self._fanout.deliver(event)

    def subscribe(
        self,
        types: set[EventType] | None = None,
        agency: str | None = None,
        maxsize: int = 1000,
    ) -> Subscription:
        if self._stopped:
            raise BusClosed("bus stopped: cannot subscribe")
        return self._fanout.subscribe(types, agency, maxsize)
