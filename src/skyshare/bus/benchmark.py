"""Bus benchmarks: how fast events leave, against the plainest way of doing the same.

Registered as ``bus`` once imported from :mod:`skyshare.benchmarks` (a one-line module
there: ``import skyshare.bus.benchmark``). The MQTT figure needs a broker: the one named by
``SKYSHARE_MQTT_URL``, else 127.0.0.1:1883; without one it is left out, with a note.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import aiomqtt

from skyshare.benchmarks import Figure, Report, benchmark
from skyshare.bus.broker_url import parse_broker_url
from skyshare.bus.inprocess import InProcessBus
from skyshare.bus.mqtt import MqttBus, encode_event
from skyshare.bus.topics import event_topic
from skyshare.config import Settings
from skyshare.domain.events import Event, EventType


def _events(count: int) -> list[Event]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Event(EventType.DRONE_STATUS, at, "fleet", f"drone-{n % 60}", "police", {"n": n})
        for n in range(count)
    ]


async def _in_process_publish_s(events: list[Event], subscribers: int) -> float:
    bus = InProcessBus()
    for _ in range(subscribers):
        bus.subscribe(maxsize=len(events))
    start = time.perf_counter()
    for event in events:
        await bus.publish(event)
    elapsed = time.perf_counter() - start
    await bus.stop()
    return elapsed / len(events)


async def _queue_put_s(events: list[Event], subscribers: int) -> float:
    queues = [asyncio.Queue[Event]() for _ in range(subscribers)]
    start = time.perf_counter()
    for event in events:
        for queue in queues:
            queue.put_nowait(event)
    return (time.perf_counter() - start) / len(events)


async def _mqtt_bus_rate(url: str, events: list[Event]) -> float:
    bus = MqttBus(url, topic_prefix=f"bench-{uuid.uuid4().hex[:8]}/skyshare/v1")
    await bus.start()
    start = time.perf_counter()
    for event in events:
        await bus.publish(event)
    while bus.published < len(events):
        await asyncio.sleep(0.001)
    rate = len(events) / (time.perf_counter() - start)
    await bus.stop()
    return rate


async def _sequential_qos1_rate(url: str, events: list[Event]) -> float:
    """The plain way: one aiomqtt publish at a time, each awaiting its PUBACK."""
    address = parse_broker_url(url)
    prefix = f"bench-{uuid.uuid4().hex[:8]}/skyshare/v1"
    async with aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
    ) as client:
        start = time.perf_counter()
        for event in events:
            await client.publish(event_topic(event.type, prefix), encode_event(event), qos=1)
        return len(events) / (time.perf_counter() - start)


@benchmark("bus", "Event bus: in-process fan-out cost and MQTT QoS 1 throughput")
def run(quick: bool) -> Report:
    count, subscribers = (500, 10) if quick else (5000, 10)
    events = _events(count)
    report = Report("bus", "Event bus: in-process fan-out cost and MQTT QoS 1 throughput")
    report.context = {"events": count, "subscribers": subscribers}

    fanout_s = min(asyncio.run(_in_process_publish_s(events, subscribers)) for _ in range(5))
    queue_s = min(asyncio.run(_queue_put_s(events, subscribers)) for _ in range(5))
    report.figures.append(
        Figure(
            "in-process publish to 10 subscribers",
            fanout_s * 1e6,
            "us/event",
            "asyncio.Queue.put_nowait x10",
            queue_s * 1e6,
        )
    )

    url = Settings().mqtt_url or "mqtt://127.0.0.1:1883"
    try:
        # Interleaved, best of three each: the machine is shared and noisy.
        bus_rates, plain_rates = [], []
        for _ in range(3):
            bus_rates.append(asyncio.run(_mqtt_bus_rate(url, events)))
            plain_rates.append(asyncio.run(_sequential_qos1_rate(url, events)))
        bus_rate, plain_rate = max(bus_rates), max(plain_rates)
    except (aiomqtt.MqttError, OSError) as exc:
        report.context["mqtt"] = f"skipped: no broker at {url} ({exc})"
        return report
    report.figures.append(
        Figure(
            "MqttBus publish until broker ack (QoS 1)",
            bus_rate,
            "events/s",
            "aiomqtt sequential QoS 1 publish",
            plain_rate,
        )
    )
    report.context["broker"] = url.split("@")[-1]
    return report
