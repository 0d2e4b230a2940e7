"""A control-room call is the broker's until SkyShare has it stored: one held while the
store is away when SkyShare stops is delivered again to the next SkyShare, and taken in
once (at least once, made once by the control room's ``external_id``, or, for a call
without one, by the broker's mark on a message it delivers again)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import aiomqtt
import pytest

from skyshare.runtime.runtime import Runtime
from tests.integration.dying_store import dies_once
from tests.integration.live import runtime_on, until
from tests.integration.test_cad_runtime import BROKER, _broker_up

pytestmark = pytest.mark.skipif(_broker_up() is not None, reason=str(_broker_up()))

CALL = {
    "priority": "P3",
    "kind": "burglary",
    "lat": 51.5517,
    "lon": -0.1588,
    "external_id": "CAD-7731",
}


ANONYMOUS = {key: value for key, value in CALL.items() if key != "external_id"}


def calls_stored(runtime: Runtime) -> list[str | None]:
    return [i.external_id or i.kind for i in runtime.store.list_incidents()]


@pytest.mark.parametrize("dies", ["after", "before"])  # committing the call, or not
@pytest.mark.parametrize("call", [CALL, ANONYMOUS], ids=["external_id", "no_external_id"])
async def test_a_call_held_when_skyshare_stops_is_delivered_again_and_taken_in_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies: str, call: dict
) -> None:
    dying = dies_once(monkeypatch, dies, tmp_path)
    broker = {
        "mqtt_url": f"mqtt://{BROKER[0]}:{BROKER[1]}",
        "mqtt_topic_prefix": f"skyshare-test/{uuid.uuid4().hex[:8]}/v1",
    }
    async with runtime_on(dying.url, **broker) as first:
        dying.die_at_next_write()  # the call's write is the store process's last
        async with aiomqtt.Client(*BROKER) as control_room:
            topic = f"{broker['mqtt_topic_prefix']}/cad/police/incidents"
            await control_room.publish(topic, json.dumps(call), qos=1)
        # The store dies taking the call's write: the call is held, not answered.
        await until(lambda: first.bus.stats()["cad_taking_in"] == 1 and not dying.trigger.exists())
        assert first.bus.stats()["cad_accepted"] == 0
        # SkyShare stops (or dies) with the call held: not acknowledged to the broker.
    dying.come_back()
    stored = [call.get("external_id", "burglary")]
    async with runtime_on(dying.url, **broker) as second:
        await until(lambda: calls_stored(second) == stored, 30, "the call taken in")
        await until(lambda: second.bus.stats()["cad_accepted"] == 1, 30, "its reply")
        assert calls_stored(second) == stored  # once, not twice
        # The same call sent afresh is a call of its own unless its external_id says not:
        # only the broker's mark on a message delivered again makes it the stored one.
        async with aiomqtt.Client(*BROKER) as control_room:
            await control_room.publish(topic, json.dumps(call), qos=1)
        await until(lambda: second.bus.stats()["cad_accepted"] == 2, 30, "the second reply")
        assert calls_stored(second) == stored * (1 if "external_id" in call else 2)
