"""The MQTT bus: local fan-out, events out to the broker, incidents in from control rooms.

Two long-lived tasks, and publishers that never wait on either:

- the *connection* task connects (and reconnects, with backoff), sends the outbox with
  QoS 1 and passes incoming control-room messages to the inbox;
- the *intake* task runs each control-room message through ``intake`` and queues the
  ``accepted``/``rejected`` reply in the outbox. A dropped connection does not interrupt
  it, and its replies survive the drop like events do. A message is acknowledged to the
  broker only once it is taken in (stored) or refused: one held while the store is away,
  or still waiting when SkyShare stops or dies, stays the broker's to deliver again
  (with a persistent session: ``client_id``);
- :meth:`MqttBus.publish` delivers locally and appends to the outbox; it never waits
  for the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections import OrderedDict
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from skyshare.bus.base import BusClosed, Intake
from skyshare.bus.broker_url import BrokerAddress, parse_broker_url
from skyshare.bus.cad import take_in
from skyshare.bus.outbox import Outbox, Outgoing
from skyshare.bus.subscription import Fanout, Subscription
from skyshare.bus.topics import (
    DEFAULT_PREFIX,
    agency_of_cad_topic,
    cad_incidents_filter,
    check_prefix,
    event_topic,
)
from skyshare.domain.events import Event, EventType

log = logging.getLogger(__name__)

SEND_WINDOW = 16  # QoS 1 messages in flight at once; paho's own limit is 20
UNACKNOWLEDGED_KEPT = 1000  # calls taken in whose acknowledgement was lost, remembered


class BrokerRefused(ConnectionError):
    """The broker answered but refused us (bad credentials, not authorised...)."""


class MqttBus:
    """An event bus on an MQTT broker (Mosquitto or any MQTT 3.1.1 broker).

    ``url`` is ``mqtt://[user:password@]host[:port]`` or ``mqtts://`` for TLS. With
    ``intake``, incidents sent to ``<prefix>/cad/<agency>/incidents`` are taken in. Give a
    stable ``client_id`` to keep a persistent session, so that the broker holds control-room
    messages for SkyShare while it is away, and delivers again those it had not finished
    taking in; without one each connection starts afresh. A call delivered again is taken
    in once: by the control room's ``external_id`` (intake), and, after a lost connection,
    by its content (``_taken_already``).
    """

    def __init__(
        self,
        url: str,
        *,
        intake: Intake | None = None,
        client_id: str | None = None,
        topic_prefix: str = DEFAULT_PREFIX,
        outbox_size: int = 10_000,
        reconnect_min_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        drain_timeout_s: float = 5.0,
        keepalive_s: int = 30,
    ) -> None:
        self.address: BrokerAddress = parse_broker_url(url)
        self.prefix = check_prefix(topic_prefix)
        self.client_id = client_id
        self._intake = intake
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._connect_timeout_s = connect_timeout_s
        self._drain_timeout_s = drain_timeout_s
        self._keepalive_s = keepalive_s

        self._fanout = Fanout()
        self._outbox = Outbox(outbox_size)
        self._inbox: asyncio.Queue[Received] = asyncio.Queue(maxsize=10_000)
        self._taking_in = 0  # 1 while a control-room message is being taken in
        self._live: aiomqtt.Client | None = None  # the connection of the session now up
        # Calls taken in whose connection was lost before they could be acknowledged: the
        # broker delivers them again, and those copies are acknowledged, not taken in.
        self._taken_unacknowledged: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._connected = asyncio.Event()
        self._attempted = asyncio.Event()  # the first connection attempt has an outcome
        self._refused: MqttConnectError | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False  # stop() has begun: no new control-room messages
        self._stopped = False  # stop() has finished its drain: no more events
        self._was_up = False  # the current connection attempt got through
        self._failures = 0  # failed attempts in a row; only some are logged loudly

        self.published = 0  # messages the broker has acknowledged
        self.in_flight = 0  # messages sent and awaiting the broker's acknowledgement
        self.connections = 0
        self.accepted = 0
        self.rejected = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, waiting up to ``connect_timeout_s`` for the broker.

        An unreachable broker is not fatal (events wait in the outbox and the bus keeps
        trying); a broker that refuses our credentials is, and raises :class:`BrokerRefused`.
        """
        if self._closing:
            raise BusClosed("this bus has been stopped; make a new one")
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._stay_connected(), name="mqtt-bus-connection")]
        if self._intake is not None:
            self._tasks.append(asyncio.create_task(self._take_in(), name="mqtt-bus-intake"))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout_s):
                await self._attempted.wait()
        if self._refused is not None:
            await self._cancel_tasks()
            raise BrokerRefused(
                f"MQTT broker {self.address} refused the connection: {self._refused}"
            )
        if not self._connected.is_set():
            log.warning(
                "MQTT broker %s is not reachable yet; events wait in the outbox "
                "and go out once it is",
                self.address,
            )

    async def stop(self) -> None:
        """Finish the control-room messages already in, send what is waiting, disconnect."""
        if self._closing:
            return
        self._closing = True
        if self._tasks and self._intake is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._drain_timeout_s):
                    await self._inbox.join()
            if self._inbox.qsize() or self._taking_in:
                fate = (
                    f"the broker delivers them again when {self.client_id!r} reconnects"
                    if self.client_id is not None
                    else "without a persistent session (client id) their control rooms "
                    "must send them again"
                )
                log.warning(
                    "MQTT bus stopped with %d control-room calls not taken in (the store "
                    "away?): %s",
                    self._inbox.qsize() + self._taking_in,
                    fate,
                )
        self._stopped = True
        if self._connected.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._drain_timeout_s):
                    await self._outbox.wait_empty()
        if len(self._outbox):
            log.warning("MQTT bus stopped with %d messages never sent", len(self._outbox))
        await self._cancel_tasks()
        self._fanout.close_all()

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._connected.clear()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """True once connected (and subscribed, with intake); False if ``timeout`` passes."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    # -- the Bus interface -----------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Deliver locally now and queue for the broker; never waits for the network."""
        if self._stopped:
            raise BusClosed(f"bus stopped: cannot publish {event.type} for {event.subject}")
        payload = encode_event(event)  # fails here, on the caller, if data is not JSON
        self._fanout.deliver(event)
        self._outbox.put(event_topic(event.type, self.prefix), payload)

    def subscribe(
        self,
        types: set[EventType] | None = None,
        agency: str | None = None,
        maxsize: int = 1000,
    ) -> Subscription:
        if self._stopped:
            raise BusClosed("bus stopped: cannot subscribe")
        return self._fanout.subscribe(types, agency, maxsize)

    # -- health ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def outbox_size(self) -> int:
        return len(self._outbox)

    @property
    def outbox_dropped(self) -> int:
        return self._outbox.dropped

    def stats(self) -> dict[str, Any]:
        return {
            "broker": str(self.address),
            "connected": self.connected,
            "connections": self.connections,
            "published": self.published,
            "in_flight": self.in_flight,
            "outbox_size": self.outbox_size,
            "outbox_dropped": self.outbox_dropped,
            "cad_accepted": self.accepted,
            "cad_rejected": self.rejected,
            "cad_taking_in": self._inbox.qsize() + self._taking_in,  # e.g. the store away
        }

    # -- the connection task ---------------------------------------------------------------

    async def _stay_connected(self) -> None:
        delay = self._reconnect_min_s
        while True:
            try:
                await self._session()
            except* MqttConnectError as group:
                self._refused = _leaves(group)[0]  # type: ignore[assignment]
                log.error("MQTT broker %s refused the connection: %s", self.address, _say(group))
            except* aiomqtt.MqttError as group:
                self._failures += 1
                failures = self._failures
                level = logging.WARNING if failures == 1 or failures % 20 == 0 else logging.DEBUG
                log.log(
                    level,
                    "MQTT broker %s: connection lost or failed (%d in a row): %s",
                    self.address,
                    failures,
                    _say(group),
                )
            except* Exception:
                log.exception("MQTT bus connection task failed; reconnecting")
            finally:
                self._connected.clear()
                self._live = None
            self._attempted.set()
            if self._was_up:  # a connection that worked and then broke: retry promptly
                delay = self._reconnect_min_s
                self._was_up = False
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self._reconnect_max_s)

    async def _session(self) -> None:
        client = self._client()
        # Before connecting: a resumed session's messages come right after CONNACK.
        redelivered = _dup_marks(client)
        async with client:
            self._live = client  # until the session ends (``_stay_connected``)
            client.pending_calls_threshold = SEND_WINDOW + 4
            if self._intake is not None:
                await client.subscribe(cad_incidents_filter(self.prefix), qos=1)
            self.connections += 1
            self._was_up = True
            self._failures = 0
            self._refused = None
            self._connected.set()
            self._attempted.set()
            log.info("MQTT bus connected to %s", self.address)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send(client))
                tasks.create_task(self._receive(client, redelivered))

    def _client(self) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=self.address.username,
            password=self.address.password,
            identifier=self.client_id,
            clean_session=self.client_id is None,
            tls_context=ssl.create_default_context() if self.address.tls else None,
            keepalive=self._keepalive_s,
            timeout=10,
        )
        # A call is acknowledged once taken in, not on arrival (``Received.acknowledge``).
        # Set before connecting: a resumed session's messages come right after CONNACK.
        # aiomqtt has no public switch yet (empicano/aiomqtt#345): paho's own is used.
        client._client.manual_ack_set(True)
        return client

    async def _send(self, client: aiomqtt.Client) -> None:
        """Keep up to SEND_WINDOW messages in flight, topping up as each is acknowledged.

        A sliding window rather than batches: sending the next message as soon as one is
        acknowledged also carries our TCP ack, so the broker's Nagle-delayed PUBACKs never
        wait on a delayed ack (batches ran 10x slower than one-at-a-time against Mosquitto).
        Packets leave in outbox order; any failure ends the session and the unacknowledged
        messages are resent on the next one.
        """
        window = asyncio.Semaphore(SEND_WINDOW)
        last_sent = -1
        async with asyncio.TaskGroup() as publishes:
            while True:
                await window.acquire()
                item = await self._outbox.next_after(last_sent)
                last_sent = item.seq
                publishes.create_task(self._publish(client, item, window))

    async def _publish(
        self, client: aiomqtt.Client, item: Outgoing, window: asyncio.Semaphore
    ) -> None:
        self.in_flight += 1
        try:
            await client.publish(item.topic, item.payload, qos=1)
        finally:
            self.in_flight -= 1
            window.release()
        self._outbox.acknowledge(item)
        self.published += 1

    async def _receive(self, client: aiomqtt.Client, redelivered: set[int]) -> None:
        """Pass control-room messages to the inbox; ``redelivered``: the ids of messages
        the broker marks as delivered before (``_dup_marks``)."""
        # Runs even without intake: the message iterator is what notices a lost connection.
        async for message in client.messages:
            received = Received(client, message, self.prefix, message.mid in redelivered)
            if received.agency is None or self._intake is None:
                received.acknowledge()  # not a call: nothing to keep
                continue
            if self._closing:  # unacknowledged: the broker keeps it for the next session
                log.warning(
                    "CAD message from %s arrived during shutdown; not taken in", received.agency
                )
                continue
            await self._inbox.put(received)

    # -- the intake task -------------------------------------------------------------------

    async def _take_in(self) -> None:
        assert self._intake is not None
        while True:
            received = await self._inbox.get()
            agency = received.agency
            assert agency is not None
            self._taking_in = 1
            try:
                if self._taken_already(received):
                    received.acknowledge()
                    log.info("a call from %s delivered again was taken in already", agency)
                    continue
                reply = await take_in(
                    agency, received.payload, self._intake, self.prefix, received.redelivered
                )
                self._acknowledge(received)  # stored, or refused: either way, ours now
                if reply.accepted:
                    self.accepted += 1
                else:
                    self.rejected += 1
                    log.info("rejected CAD message from %s: %s", agency, reply.body["reason"])
                self._outbox.put(reply.topic, _encode(reply.body))
            finally:
                self._taking_in = 0
                self._inbox.task_done()

    def _taken_already(self, received: Received) -> bool:
        """Is this a copy the broker delivered again of a call taken in whose
        acknowledgement was lost with its connection?"""
        key = (received.agency or "", received.payload)
        if key not in self._taken_unacknowledged:
            return False
        del self._taken_unacknowledged[key]
        return True

    def _acknowledge(self, received: Received) -> None:
        """Acknowledge on the connection it came by, if that is still up; else the broker
        delivers it again on this one: remember it, to know the copy."""
        if received.came_by(self._live):
            received.acknowledge()
            return
        if self.client_id is None:  # no session kept: the broker has forgotten it
            return
        self._taken_unacknowledged[received.agency or "", received.payload] = None
        while len(self._taken_unacknowledged) > UNACKNOWLEDGED_KEPT:
            self._taken_unacknowledged.popitem(last=False)


def _dup_marks(client: aiomqtt.Client) -> set[int]:
    """The ids of the messages the broker marks as delivered before (MQTT's DUP flag),
    kept up to date as they arrive: aiomqtt's messages do not carry the flag, paho's do.
    A broker resuming a session sets it on a message it had sent to the session's last
    connection without an acknowledgement: a SkyShare that stopped, or died, while taking
    the call in."""
    paho = client._client
    deliver = paho.on_message
    marked: set[int] = set()

    def on_message(paho_client: Any, userdata: Any, message: Any) -> None:
        if message.dup:
            marked.add(message.mid)
        else:
            marked.discard(message.mid)
        deliver(paho_client, userdata, message)

    paho.on_message = on_message
    return marked


class Received:
    """A message from the broker, with the way to acknowledge it on the connection it came
    by. Acknowledged on a connection since lost, it is not: the broker, keeping a
    persistent session, delivers it again on the next one. ``redelivered``: the broker
    says it delivered this message before."""

    __slots__ = ("_client", "_mid", "_qos", "agency", "payload", "redelivered")

    def __init__(
        self, client: aiomqtt.Client, message: aiomqtt.Message, prefix: str, redelivered: bool
    ) -> None:
        self._client, self._mid, self._qos = client, message.mid, message.qos
        self.redelivered = redelivered
        self.agency = agency_of_cad_topic(message.topic.value, prefix)
        payload = message.payload
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, bytes | bytearray):
            payload = b"" if payload is None else str(payload).encode()
        self.payload = bytes(payload)

    def came_by(self, client: aiomqtt.Client | None) -> bool:
        return client is self._client

    def acknowledge(self) -> None:
        self._client._client.ack(self._mid, self._qos)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves


def _say(group: BaseExceptionGroup) -> str:
    """The errors inside a task group's exception, in words (the group's own says little)."""
    words = []
    for exc in _leaves(group):
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        words.append(f"{str(exc) or type(exc).__name__}{cause}")
    return "; ".join(words)


def encode_event(event: Event) -> bytes:
    """The JSON an event travels as (``Event.to_json()``)."""
    return _encode(event.to_json())


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, default=_json_default, separators=(",", ":")).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"event data holds a {type(value).__name__}, which has no JSON form")
