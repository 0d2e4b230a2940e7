"""A control room's CAD system talks to SkyShare over a real Mosquitto broker."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from skyshare.config import Settings
from skyshare.runtime.runtime import Runtime

BROKER = ("127.0.0.1", 1883)


def _broker_up() -> str | None:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return None
    except OSError as exc:
        return f"no MQTT broker at {BROKER[0]}:{BROKER[1]} ({exc})"


pytestmark = pytest.mark.skipif(_broker_up() is not None, reason=str(_broker_up()))


@asynccontextmanager
async def runtime_on_broker(tmp_path: Path) -> AsyncIterator[tuple[Runtime, str]]:
    """A runtime taking calls from the broker under a topic prefix of its own; shut down
    on the way out."""
    prefix = f"skyshare-test/{uuid.uuid4().hex[:8]}/v1"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        mqtt_url=f"mqtt://{BROKER[0]}:{BROKER[1]}",
        mqtt_topic_prefix=prefix,
    )
    runtime = await Runtime.create(settings)
    try:
        yield runtime, prefix
    finally:
        await runtime.shutdown()


async def test_cad_incidents_are_taken_in_and_events_published(tmp_path: Path) -> None:
    async with runtime_on_broker(tmp_path) as (runtime, prefix):
        async with aiomqtt.Client(BROKER[0], BROKER[1]) as cad:
            await cad.subscribe(f"{prefix}/cad/police/#", qos=1)
            await cad.subscribe(f"{prefix}/events/#", qos=1)
            good = {
                "priority": "P2",
                "kind": "burglary",
                "lat": 51.5517,
                "lon": -0.1588,
                "external_id": "CAD-1001",
            }
            bad = {**good, "lat": 123.0, "external_id": "CAD-1002"}
            await cad.publish(f"{prefix}/cad/police/incidents", json.dumps(good), qos=1)
            await cad.publish(f"{prefix}/cad/police/incidents", json.dumps(bad), qos=1)
            await cad.publish(f"{prefix}/cad/police/incidents", b"{not json", qos=1)

            replies: dict[str, list[dict]] = {"accepted": [], "rejected": [], "events": []}

            async def collect() -> None:
                async for message in cad.messages:
                    topic = str(message.topic)
                    if topic.endswith("/incidents"):
                        continue  # our own outgoing calls
                    body = json.loads(message.payload)
                    if topic.endswith("/accepted"):
                        replies["accepted"].append(body)
                    elif topic.endswith("/rejected"):
                        replies["rejected"].append(body)
                    elif "/events/" in topic:
                        replies["events"].append(body)
                    if (
                        len(replies["accepted"]) == 1
                        and len(replies["rejected"]) == 2
                        and any(e["type"] == "dispatch_proposed" for e in replies["events"])
                    ):
                        return

            await asyncio.wait_for(collect(), timeout=20)

        accepted = replies["accepted"][0]
        assert accepted["external_id"] == "CAD-1001"
        stored = await runtime.incident(accepted["incident_id"])
        assert stored.incident.agency == "police" and stored.current is not None
        fields = sorted(str(r["field"]) for r in replies["rejected"])
        assert fields == ["None", "lat"]
        assert any("JSON" in r["reason"] for r in replies["rejected"])
        types = {e["type"] for e in replies["events"]}
        assert {"incident_received", "dispatch_proposed"} <= types
        assert all(e["subject"] == accepted["incident_id"] for e in replies["events"])


@pytest.mark.parametrize(
    ("status", "reason"), [("closed", "suspect detained"), ("cancelled", "duplicate of CAD-6")]
)
async def test_a_control_room_closes_or_cancels_its_call_by_its_own_number(
    tmp_path: Path, status: str, reason: str
) -> None:
    """A control room closes (or cancels) a call it sent with ``status: closed`` (or
    ``cancelled``) and the call's own number: the incident ends so, the proposal is
    withdrawn, and the same message again (a broker may deliver twice) is answered the
    same; a number never sent, or any other status, is refused naming the field."""
    async with runtime_on_broker(tmp_path) as (runtime, prefix):
        topic = f"{prefix}/cad/police/incidents"
        async with aiomqtt.Client(BROKER[0], BROKER[1]) as cad:
            await cad.subscribe(f"{prefix}/cad/police/+", qos=1)

            async def reply() -> tuple[str, dict]:
                async for message in cad.messages:
                    kind = str(message.topic).rsplit("/", 1)[-1]
                    if kind != "incidents":  # not our own message coming back
                        return kind, json.loads(message.payload)
                raise AssertionError("the broker connection ended")

            async def send(body: dict) -> tuple[str, dict]:
                await cad.publish(topic, json.dumps(body), qos=1)
                return await asyncio.wait_for(reply(), timeout=10)

            call = {"priority": "P3", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}
            kind, taken = await send({**call, "external_id": "CAD-7"})
            assert kind == "accepted" and taken["status"] == "proposed"
            close = {"external_id": "CAD-7", "status": status, "reason": reason}
            assert await send(close) == (
                "accepted",
                {"incident_id": taken["incident_id"], "external_id": "CAD-7", "status": status},
            )
            assert (await send(close))[1]["status"] == status
            kind, unknown = await send({**close, "external_id": "CAD-8"})
            assert (kind, unknown["field"]) == ("rejected", "external_id")
            kind, other = await send({**close, "status": "on_scene"})
            assert (kind, other["field"]) == ("rejected", "status")

        view = await runtime.incident(taken["incident_id"])
        assert view.incident.status.value == status
        assert [a.status.value for a in view.assignments] == ["cancelled"]
        ended = [
            (s.event.type.value, s.event.actor, s.event.data["reason"])
            for s in runtime.store.events(subject=taken["incident_id"])
            if s.event.type.value in ("incident_closed", "incident_cancelled")
        ]
        assert ended == [(f"incident_{status}", "cad:police", reason)]
