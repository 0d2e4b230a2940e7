"""What every event bus offers, whichever transport carries it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from skyshare.bus.subscription import Subscription
from skyshare.domain.events import Event, EventType

Intake = Callable[[str, dict[str, Any], bool], Awaitable[Any]]
"""Takes in one message from a control-room system, a new call or the close of one:
``(agency, payload, redelivered) -> incident``. ``redelivered``: the broker delivered this
message before, to a SkyShare that never acknowledged it (it stopped or died while taking
it in): the call may be stored already.

Raises :class:`skyshare.domain.InputError` when the payload is bad. The returned incident
should carry ``id`` and ``external_id`` (attributes or dict keys), and may carry
``status``; they go back to the control room in the ``accepted`` reply.
"""


class BusClosed(RuntimeError):
    """The bus has been stopped: it takes no more events or subscribers."""


@runtime_checkable
class Bus(Protocol):
    """Publishes events to local subscribers (and, for MQTT, to the broker)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, event: Event) -> None:
        """Hand ``event`` to every matching subscriber. Never waits for slow consumers."""
        ...

    def subscribe(
        self,
        types: set[EventType] | None = None,
        agency: str | None = None,
        maxsize: int = 1000,
    ) -> Subscription:
        """A stream of the events that match ``types`` and ``agency`` (None: all)."""
        ...
