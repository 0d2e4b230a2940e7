"""The event bus: in-process fan-out, and events out over a real MQTT broker (Mosquitto).

MQTT tests use the broker at 127.0.0.1:1883 with a topic prefix unique to the test, or a
private Mosquitto on a free port when the test needs to stop and restart the broker.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from skyshare.bus import (
    BrokerRefused,
    BusClosed,
    InProcessBus,
    MqttBus,
    event_topic,
    events_filter,
    make_bus,
    parse_broker_url,
    session_client_id,
)
from skyshare.bus.outbox import Outbox
from skyshare.domain import InputError
from skyshare.domain.events import Event, EventType

SHARED_BROKER = ("127.0.0.1", 1883)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_event(
    n: int, type: EventType = EventType.INCIDENT_RECEIVED, agency: str | None = "police"
) -> Event:
    return Event(
        type=type,
        at=T0 + timedelta(seconds=n),
        actor="test",
        subject=f"inc-{n}",
        agency=agency,
        data={"n": n, "borough": "Camden"},
    )


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def collect(
    client: aiomqtt.Client, count: int, timeout: float = 5.0
) -> list[aiomqtt.Message]:
    """The next ``count`` messages ``client`` receives."""
    received: list[aiomqtt.Message] = []

    async def read() -> None:
        async for message in client.messages:
            received.append(message)
            if len(received) == count:
                return

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        pytest.fail(f"received {len(received)} of {count} MQTT messages within {timeout}s")
    return received


def events_of(messages: list[aiomqtt.Message]) -> list[Event]:
    return [Event.from_json(json.loads(m.payload)) for m in messages]


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}/skyshare/v1"


@pytest.fixture
def shared_broker_url() -> str:
    try:
        socket.create_connection(SHARED_BROKER, timeout=1).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {SHARED_BROKER[0]}:{SHARED_BROKER[1]} ({exc})")
    return f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}"


# --- in-process -----------------------------------------------------------------------


async def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = InProcessBus()
    await bus.start()
    first, second = bus.subscribe(), bus.subscribe()
    events = [make_event(n) for n in range(5)]
    for event in events:
        await bus.publish(event)
    await bus.stop()
    assert [e async for e in first] == events
    assert [e async for e in second] == events


async def test_subscribers_see_only_the_types_and_agency_they_asked_for() -> None:
    bus = InProcessBus()
    dispatches = bus.subscribe({EventType.DISPATCH_PROPOSED})
    police = bus.subscribe(agency="police")
    police_received = make_event(1, EventType.INCIDENT_RECEIVED, "police")
    fire_proposed = make_event(2, EventType.DISPATCH_PROPOSED, "fire")
    police_proposed = make_event(3, EventType.DISPATCH_PROPOSED, "police")
    restriction = make_event(4, EventType.RESTRICTION_CREATED, agency=None)
    for event in (police_received, fire_proposed, police_proposed, restriction):
        await bus.publish(event)
    await bus.stop()
    assert [e async for e in dispatches] == [fire_proposed, police_proposed]
    # An agency sees its own events and those that are nobody's in particular.
    assert [e async for e in police] == [police_received, police_proposed, restriction]


async def test_a_slow_subscriber_loses_its_oldest_events_but_holds_up_no_one() -> None:
    bus = InProcessBus()
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe()
    fast_seen: list[Event] = []
    all_seen = asyncio.Event()

    async def read_fast() -> None:
        async for event in fast:
            fast_seen.append(event)
            if len(fast_seen) == 10:
                all_seen.set()

    reader = asyncio.create_task(read_fast())
    events = [make_event(n) for n in range(10)]
    for event in events:
        await asyncio.wait_for(bus.publish(event), 1.0)  # never waits for the slow one
    await asyncio.wait_for(all_seen.wait(), 5.0)
    assert fast_seen == events
    assert slow.dropped == 7
    await bus.stop()
    assert [e async for e in slow] == events[-3:]
    await reader


async def test_leaving_a_subscription_unsubscribes_it() -> None:
    bus = InProcessBus()
    async with bus.subscribe() as events:
        assert bus.subscriber_count == 1
        await bus.publish(make_event(1))
        assert await asyncio.wait_for(anext(events), 1.0) == make_event(1)
    assert bus.subscriber_count == 0
    assert events.closed
    await bus.publish(make_event(2))
    assert len(events) == 0


async def test_stopping_the_bus_ends_every_subscription_and_refuses_more_events() -> None:
    bus = InProcessBus()
    subscription = bus.subscribe()
    reader = asyncio.create_task(anext(subscription, None))
    await bus.stop()
    assert await asyncio.wait_for(reader, 1.0) is None  # the waiting reader is woken
    with pytest.raises(BusClosed):
        await bus.publish(make_event(1))
    with pytest.raises(BusClosed):
        bus.subscribe()


async def test_the_outbox_releases_messages_only_in_order_and_never_twice() -> None:
    outbox = Outbox(maxsize=10)
    for n in range(3):
        outbox.put("t", str(n).encode())
    first = await outbox.next_after(-1)
    second = await outbox.next_after(first.seq)
    third = await outbox.next_after(second.seq)
    outbox.acknowledge(second)  # acknowledged out of order: the first is still owed
    assert len(outbox) == 2
    # After a reconnect, sending starts again from the oldest, skipping the acknowledged.
    assert [await outbox.next_after(-1), await outbox.next_after(first.seq)] == [first, third]
    outbox.acknowledge(first)
    outbox.acknowledge(third)
    assert len(outbox) == 0
    await asyncio.wait_for(outbox.wait_empty(), 1.0)


# --- configuration --------------------------------------------------------------------


def test_the_bus_is_in_process_unless_a_broker_is_configured() -> None:
    assert isinstance(make_bus(None), InProcessBus)
    assert isinstance(make_bus(""), InProcessBus)
    bus = make_bus("mqtt://broker.example:1884")
    assert isinstance(bus, MqttBus)
    assert (bus.address.host, bus.address.port, bus.address.tls) == ("broker.example", 1884, False)


def test_broker_urls_carry_tls_and_credentials_but_logs_never_show_the_password() -> None:
    address = parse_broker_url("mqtts://cad%40met:s3cr%3At@mqtt.example")
    assert (address.host, address.port, address.tls) == ("mqtt.example", 8883, True)
    assert (address.username, address.password) == ("cad@met", "s3cr:t")
    assert "s3cr" not in str(address) and "s3cr" not in repr(address)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:1883", "mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        ("mqtt://localhost:99999", "port"),
        ("mqtt://localhost/skyshare", "topic prefix"),
    ],
)
def test_a_malformed_broker_url_is_refused_naming_the_setting(url: str, reason: str) -> None:
    with pytest.raises(InputError) as error:
        MqttBus(url)
    assert error.value.field == "mqtt_url"
    assert reason in error.value.reason


def test_the_broker_session_is_named_by_the_deployment_and_kept_across_restarts() -> None:
    name = session_client_id("skyshare/v1")
    assert name == session_client_id("skyshare/v1")  # a restart resumes the session
    assert name != session_client_id("skyshare-staging/v1")  # another deployment's
    assert name.startswith("skyshare-") and len(name) <= 23  # MQTT 3.1.1's limit
    with pytest.raises(InputError, match="topic_prefix"):
        session_client_id("skyshare/#")


def test_event_topics_follow_the_published_scheme() -> None:
    assert event_topic(EventType.DRONE_LAUNCHED) == "skyshare/v1/events/drone_launched"
    assert event_topic("link_lost", "city/x") == "city/x/events/link_lost"
    with pytest.raises(InputError):
        MqttBus("mqtt://localhost", topic_prefix="skyshare/#")


# --- MQTT on the shared broker --------------------------------------------------------


async def test_events_go_to_the_broker_as_json_on_their_type_topic_with_qos1(
    shared_broker_url: str,
) -> None:
    prefix = unique_prefix()
    async with aiomqtt.Client(*SHARED_BROKER) as watcher:
        await watcher.subscribe(events_filter(prefix), qos=1)
        bus = MqttBus(shared_broker_url, topic_prefix=prefix)
        await bus.start()
        assert bus.connected
        local = bus.subscribe()
        sent = [
            make_event(1, EventType.INCIDENT_RECEIVED),
            make_event(2, EventType.DISPATCH_PROPOSED, "fire"),
            make_event(3, EventType.RESTRICTION_CREATED, None),
        ]
        for event in sent:
            await bus.publish(event)
        messages = await collect(watcher, 3)
        await bus.stop()
    assert [m.topic.value for m in messages] == [
        f"{prefix}/events/incident_received",
        f"{prefix}/events/dispatch_proposed",
        f"{prefix}/events/restriction_created",
    ]
    assert all(m.qos == 1 for m in messages)
    assert events_of(messages) == sent
    assert [json.loads(m.payload) for m in messages] == [e.to_json() for e in sent]
    assert [e async for e in local] == sent  # local subscribers get them too


async def test_a_burst_of_events_arrives_complete_and_in_order(shared_broker_url: str) -> None:
    prefix = unique_prefix()
    async with aiomqtt.Client(*SHARED_BROKER) as watcher:
        await watcher.subscribe(events_filter(prefix), qos=1)
        bus = MqttBus(shared_broker_url, topic_prefix=prefix)
        await bus.start()
        sent = [make_event(n) for n in range(300)]
        for event in sent:
            await bus.publish(event)
        messages = await collect(watcher, 300, timeout=20.0)
        await bus.stop()
    assert events_of(messages) == sent
    assert bus.published == 300 and bus.outbox_size == 0 and bus.outbox_dropped == 0


async def test_stopping_sends_what_is_still_waiting(shared_broker_url: str) -> None:
    prefix = unique_prefix()
    async with aiomqtt.Client(*SHARED_BROKER) as watcher:
        await watcher.subscribe(events_filter(prefix), qos=1)
        bus = MqttBus(shared_broker_url, topic_prefix=prefix)
        await bus.start()
        sent = [make_event(n) for n in range(50)]
        for event in sent:
            await bus.publish(event)
        await bus.stop()  # straight after publishing
        messages = await collect(watcher, 50)
    assert events_of(messages) == sent
    with pytest.raises(BusClosed):
        await bus.publish(make_event(99))


async def test_an_event_whose_data_has_no_json_form_is_refused_before_anyone_sees_it(
    shared_broker_url: str,
) -> None:
    bus = MqttBus(shared_broker_url, topic_prefix=unique_prefix())
    local = bus.subscribe()
    bad = Event(EventType.DRONE_STATUS, T0, "fleet", "d1", data={"link": object()})
    with pytest.raises(TypeError, match="no JSON form"):
        await bus.publish(bad)
    assert len(local) == 0 and bus.outbox_size == 0
    await bus.stop()


# --- MQTT on a private broker that the tests stop and start ---------------------------


class PrivateBroker:
    """A Mosquitto of our own on a free port, persisting sessions across restarts."""

    def __init__(self, workdir: Path, credentials: tuple[str, str] | None = None) -> None:
        self.workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.config = workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {workdir}/",
            f"user {getpass.getuser()}",  # as root, mosquitto would switch user and lose access
        ]
        if credentials is None:
            lines.append("allow_anonymous true")
        else:
            passwords = workdir / "passwords"
            subprocess.run(
                ["mosquitto_passwd", "-b", "-c", str(passwords), *credentials], check=True
            )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        log = (self.workdir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        await wait_until(self._listening, f"mosquitto to listen on port {self.port}")

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.workdir / "mosquitto.log").read_text()
            pytest.fail(f"mosquitto exited with {self.process.returncode}:\n{log}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True

    async def save_sessions(self) -> None:
        """Make mosquitto write its sessions to disk now (it otherwise does so on exit)."""
        assert self.process is not None
        database = self.workdir / "mosquitto.db"
        database.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        await wait_until(database.exists, "mosquitto to save its sessions")

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def crash(self) -> None:
        """Die without a goodbye: clients see the connection drop, nothing is saved."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
async def private_broker(tmp_path: Path) -> AsyncIterator[PrivateBroker]:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed: cannot run a private broker")
    broker = PrivateBroker(tmp_path)
    yield broker
    broker.stop()


async def open_watch_session(broker: PrivateBroker, client_id: str, prefix: str) -> None:
    """Leave a persistent session on the broker that queues every event for us."""
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=client_id, clean_session=False
    ) as c:
        await c.subscribe(events_filter(prefix), qos=1)


async def read_watch_session(broker: PrivateBroker, client_id: str, count: int) -> list[Event]:
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=client_id, clean_session=False
    ) as c:
        return events_of(await collect(c, count))


async def test_events_published_while_the_broker_restarts_arrive_once_it_is_back(
    private_broker: PrivateBroker,
) -> None:
    prefix, watcher_id = unique_prefix(), f"watcher-{uuid.uuid4().hex[:8]}"
    await private_broker.start()
    await open_watch_session(private_broker, watcher_id, prefix)
    bus = MqttBus(private_broker.url, topic_prefix=prefix, reconnect_max_s=0.3)
    await bus.start()
    await bus.publish(make_event(1))
    await wait_until(lambda: bus.published == 1, "the first event to reach the broker")

    private_broker.stop()
    await wait_until(lambda: not bus.connected, "the bus to notice the broker has gone")
    await bus.publish(make_event(2))
    await bus.publish(make_event(3))
    assert bus.outbox_size == 2

    await private_broker.start()
    assert await bus.wait_connected(timeout=5.0), "the bus did not reconnect"
    await wait_until(lambda: bus.outbox_size == 0, "the outbox to drain after reconnecting")
    assert await read_watch_session(private_broker, watcher_id, 3) == [
        make_event(1),
        make_event(2),
        make_event(3),
    ]
    assert bus.connections == 2
    await bus.stop()


async def test_events_in_flight_when_the_broker_dies_are_sent_again(
    private_broker: PrivateBroker,
) -> None:
    prefix, watcher_id = unique_prefix(), f"watcher-{uuid.uuid4().hex[:8]}"
    await private_broker.start()
    await open_watch_session(private_broker, watcher_id, prefix)
    await private_broker.save_sessions()
    bus = MqttBus(private_broker.url, topic_prefix=prefix, reconnect_max_s=0.3)
    await bus.start()

    private_broker.freeze()  # the bus sends, but no acknowledgement ever comes back
    await bus.publish(make_event(1))
    await bus.publish(make_event(2))
    await wait_until(lambda: bus.in_flight == 2, "both events to be sent")
    private_broker.crash()
    await wait_until(lambda: not bus.connected, "the bus to notice the broker has gone")
    assert bus.outbox_size == 2  # unacknowledged, so still held

    await private_broker.start()
    await wait_until(lambda: bus.outbox_size == 0, "the outbox to drain after reconnecting")
    assert await read_watch_session(private_broker, watcher_id, 2) == [
        make_event(1),
        make_event(2),
    ]
    await bus.stop()


async def test_a_bus_started_before_its_broker_sends_everything_once_the_broker_appears(
    private_broker: PrivateBroker,
) -> None:
    prefix, watcher_id = unique_prefix(), f"watcher-{uuid.uuid4().hex[:8]}"
    await private_broker.start()
    await open_watch_session(private_broker, watcher_id, prefix)
    private_broker.stop()

    bus = MqttBus(
        private_broker.url, topic_prefix=prefix, connect_timeout_s=0.3, reconnect_max_s=0.3
    )
    await bus.start()  # does not fail: the broker may come later
    assert not bus.connected
    for n in range(5):
        await bus.publish(make_event(n))

    await private_broker.start()
    await wait_until(lambda: bus.outbox_size == 0, "the outbox to drain once the broker is up")
    assert await read_watch_session(private_broker, watcher_id, 5) == [
        make_event(n) for n in range(5)
    ]
    await bus.stop()


async def test_the_outbox_is_bounded_and_counts_what_it_drops(
    private_broker: PrivateBroker,
) -> None:
    bus = MqttBus(private_broker.url, outbox_size=3, connect_timeout_s=0.1)
    await bus.start()  # broker never started
    for n in range(5):
        await bus.publish(make_event(n))
    assert (bus.outbox_size, bus.outbox_dropped) == (3, 2)
    assert bus.stats()["outbox_dropped"] == 2
    await bus.stop()


async def test_credentials_in_the_url_log_in_and_wrong_ones_fail_at_start(tmp_path: Path) -> None:
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto and mosquitto_passwd are needed for a broker with passwords")
    broker = PrivateBroker(tmp_path, credentials=("cad", "right-pw"))
    await broker.start()
    try:
        good = MqttBus(f"mqtt://cad:right-pw@127.0.0.1:{broker.port}")
        await good.start()
        assert good.connected
        await good.publish(make_event(1))
        await wait_until(lambda: good.published == 1, "an event to be accepted by the broker")
        await good.stop()

        bad = MqttBus(f"mqtt://cad:wrong-pw@127.0.0.1:{broker.port}")
        with pytest.raises(BrokerRefused) as refused:
            await bad.start()
        assert f"127.0.0.1:{broker.port}" in str(refused.value)
        assert "wrong-pw" not in str(refused.value)
        await bad.stop()
    finally:
        broker.stop()
