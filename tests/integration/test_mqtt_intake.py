"""Incidents from control-room (CAD) systems over MQTT, against the real broker.

The control room is an independent aiomqtt client: it sends to
``<prefix>/cad/<agency>/incidents`` and listens for ``accepted`` and ``rejected``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiomqtt
import pytest

from skyshare.bus import MqttBus, cad_incidents_topic
from skyshare.bus.cad import INTERNAL_ERROR_REASON, PAYLOAD_ECHO_CHARS
from skyshare.domain import InputError
from tests.integration.live import until
from tests.integration.test_bus import PrivateBroker, private_broker

__all__ = ["private_broker"]  # a fixture, used by name

SHARED_BROKER = ("127.0.0.1", 1883)


@dataclass(frozen=True)
class FakeIncident:
    id: str
    external_id: str | None


class RecordingIntake:
    """A small stand-in for the runtime's intake with the same contract."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.entered = asyncio.Event()

    async def __call__(
        self, agency: str, payload: dict[str, Any], redelivered: bool = False
    ) -> FakeIncident:
        self.calls.append((agency, payload))
        self.entered.set()
        await self.release.wait()
        lat = payload.get("lat")
        if not isinstance(lat, int | float) or not -90 <= lat <= 90:
            raise InputError("lat", f"{lat!r} is out of range [-90, 90]")
        if payload.get("kind") == "explode":
            raise RuntimeError("database on fire")
        return FakeIncident(f"inc-{len(self.calls)}", payload.get("external_id"))


@dataclass
class ControlRoom:
    client: aiomqtt.Client
    prefix: str

    async def send(self, agency: str, payload: bytes | str | dict[str, Any]) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        await self.client.publish(cad_incidents_topic(agency, self.prefix), payload, qos=1)

    async def reply(self, timeout: float = 5.0) -> tuple[str, dict[str, Any]]:
        """The next reply: (``accepted`` or ``rejected`` topic, its JSON body)."""
        try:
            message = await asyncio.wait_for(anext(self.client.messages), timeout)
        except TimeoutError:
            pytest.fail(f"no reply from the bus within {timeout}s")
        return message.topic.value, json.loads(message.payload)


@pytest.fixture
async def control_room() -> AsyncIterator[ControlRoom]:
    try:
        socket.create_connection(SHARED_BROKER, timeout=1).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {SHARED_BROKER[0]}:{SHARED_BROKER[1]} ({exc})")
    prefix = f"test-{uuid.uuid4().hex[:12]}/skyshare/v1"
    async with aiomqtt.Client(*SHARED_BROKER) as client:
        await client.subscribe(f"{prefix}/cad/+/accepted", qos=1)
        await client.subscribe(f"{prefix}/cad/+/rejected", qos=1)
        yield ControlRoom(client, prefix)


@pytest.fixture
async def intake() -> RecordingIntake:
    return RecordingIntake()


@pytest.fixture
async def bus(control_room: ControlRoom, intake: RecordingIntake) -> AsyncIterator[MqttBus]:
    bus = MqttBus(
        f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}",
        intake=intake,
        topic_prefix=control_room.prefix,
    )
    await bus.start()
    assert bus.connected
    yield bus
    await bus.stop()


GOOD = {"priority": "P1", "kind": "fire", "lat": 51.53, "lon": -0.12, "external_id": "CAD-1"}


async def test_an_incident_from_a_control_room_is_taken_in_and_acknowledged(
    bus: MqttBus, control_room: ControlRoom, intake: RecordingIntake
) -> None:
    await control_room.send("fire", GOOD)
    topic, body = await control_room.reply()
    assert topic == f"{control_room.prefix}/cad/fire/accepted"
    assert body == {"incident_id": "inc-1", "external_id": "CAD-1"}
    assert intake.calls == [("fire", GOOD)]  # the agency comes from the topic
    assert bus.stats()["cad_accepted"] == 1


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b"{not json", "not valid JSON", None),
        (b"\xff\xfe{}", "not UTF-8", None),
        (b"[1, 2]", "must be a JSON object, got an array", None),
        (json.dumps({**GOOD, "lat": 123.0}).encode(), "123.0 is out of range", "lat"),
        (json.dumps({**GOOD, "kind": "explode"}).encode(), INTERNAL_ERROR_REASON, None),
    ],
    ids=["bad-json", "not-utf8", "not-object", "input-error", "intake-crashes"],
)
async def test_a_bad_message_is_rejected_with_the_reason_and_the_loop_carries_on(
    bus: MqttBus,
    control_room: ControlRoom,
    payload: bytes,
    reason: str,
    field: str | None,
) -> None:
    await control_room.send("police", payload)
    topic, body = await control_room.reply()
    assert topic == f"{control_room.prefix}/cad/police/rejected"
    assert reason in body["reason"]
    assert body["field"] == field
    assert body["payload"] == payload.decode("utf-8", errors="replace")

    await control_room.send("police", GOOD)  # the next call is still served
    topic, body = await control_room.reply()
    assert topic == f"{control_room.prefix}/cad/police/accepted"
    assert body["external_id"] == "CAD-1"


async def test_rejections_echo_a_truncated_copy_of_a_huge_message(
    bus: MqttBus, control_room: ControlRoom
) -> None:
    huge = "x" * (PAYLOAD_ECHO_CHARS * 5)
    await control_room.send("ambulance", huge)
    topic, body = await control_room.reply()
    assert topic.endswith("/cad/ambulance/rejected")
    assert body["payload"].startswith("x" * PAYLOAD_ECHO_CHARS)
    assert len(body["payload"]) < PAYLOAD_ECHO_CHARS + 100


async def test_a_stream_of_mixed_messages_is_answered_one_for_one_in_order(
    bus: MqttBus, control_room: ControlRoom
) -> None:
    sent: list[bool] = []
    for n in range(20):
        good = n % 3 != 0
        sent.append(good)
        await control_room.send("police", {**GOOD, "external_id": f"CAD-{n}"} if good else b"?")
    verdicts = [(await control_room.reply())[0].endswith("/accepted") for _ in sent]
    assert verdicts == sent
    assert (bus.accepted, bus.rejected) == (sent.count(True), sent.count(False))


async def test_stopping_finishes_the_incident_being_taken_in_and_sends_its_reply(
    control_room: ControlRoom, intake: RecordingIntake
) -> None:
    bus = MqttBus(
        f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}",
        intake=intake,
        topic_prefix=control_room.prefix,
    )
    await bus.start()
    intake.release.clear()  # the intake will be mid-way when stop() is called
    await control_room.send("fire", GOOD)
    await asyncio.wait_for(intake.entered.wait(), 5.0)
    stopping = asyncio.create_task(bus.stop())
    intake.release.set()
    await asyncio.wait_for(stopping, 10.0)
    topic, body = await control_room.reply()
    assert topic.endswith("/cad/fire/accepted")
    assert body["incident_id"] == "inc-1"


async def test_a_call_taken_in_across_a_lost_connection_is_not_taken_in_again(
    private_broker: PrivateBroker, intake: RecordingIntake
) -> None:
    """The broker goes away while a call (with no external_id to dedupe it by) is being
    taken in: its acknowledgement cannot be sent, so the broker, keeping the session,
    delivers it again on the next connection. The copy is acknowledged, not taken in."""
    await private_broker.start()
    prefix = f"test-{uuid.uuid4().hex[:12]}/skyshare/v1"
    bus = MqttBus(
        private_broker.url,
        intake=intake,
        topic_prefix=prefix,
        client_id=f"skyshare-{uuid.uuid4().hex[:8]}",
        reconnect_max_s=0.2,
    )
    await bus.start()
    call = {key: value for key, value in GOOD.items() if key != "external_id"}
    try:
        intake.release.clear()  # the call is being taken in when the broker stops
        async with aiomqtt.Client("127.0.0.1", private_broker.port) as control_room:
            await control_room.publish(cad_incidents_topic("fire", prefix), json.dumps(call), qos=1)
        await asyncio.wait_for(intake.entered.wait(), 5.0)
        private_broker.stop()  # sessions saved; our connection drops
        await private_broker.start()
        assert await bus.wait_connected(10.0)
        intake.release.set()  # taken in now, on a connection since lost
        # The next call comes after the copy, which the broker sent again on reconnecting.
        async with aiomqtt.Client("127.0.0.1", private_broker.port) as control_room:
            next_call = json.dumps({**call, "lat": 51.6})
            await control_room.publish(cad_incidents_topic("fire", prefix), next_call, qos=1)
        await until(lambda: len(intake.calls) == 2, 10, "two calls taken in")
        assert [payload["lat"] for _, payload in intake.calls] == [51.53, 51.6]  # once each
        await until(lambda: bus.accepted == 2, 10, "both answered")
    finally:
        await bus.stop()
