"""The health check tells an operator what is wrong while the service carries on: the
store away (and back), the broker unreachable."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from skyshare.runtime.health import health
from skyshare.runtime.store_worker import StoreUnavailable
from tests.integration.dying_store import dies_once
from tests.integration.live import CALL, runtime_on, until


async def test_the_store_away_is_reported_until_it_takes_a_write_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying = dies_once(monkeypatch, "before", tmp_path)
    async with runtime_on(dying.url) as runtime:
        assert health(runtime)["status"] == "ok"
        assert health(runtime)["store"]["serving"] is True
        dying.die_at_next_write()
        with pytest.raises(StoreUnavailable):
            await runtime.submit(CALL, actor="test")
        report = health(runtime)
        assert report["status"] == "degraded"
        assert report["store"]["serving"] is False
        assert any("store" in p for p in report["problems"])
        dying.come_back()
        await until(lambda: health(runtime)["store"]["serving"], 30, "a store process again")
        assert (await runtime.submit(CALL, actor="test")).assignment is not None
        assert health(runtime) == {**health(runtime), "status": "ok", "problems": []}


async def test_an_unreachable_broker_is_reported(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    async with runtime_on(url, mqtt_url=f"mqtt://127.0.0.1:{port}") as runtime:
        report = health(runtime)
        assert report["status"] == "degraded"
        assert report["bus"]["kind"] == "mqtt" and report["bus"]["connected"] is False
        assert report["problems"] == ["the MQTT broker is not connected: events wait in the outbox"]
