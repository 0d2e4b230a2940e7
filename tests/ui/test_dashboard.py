"""The operators' dashboard: its own script, run against a real SkyShare, shows the open
calls with their proposals, its approve button approves, and it warns when the service
is degraded.

No browser is installed on the test machines, so the page's script runs in Node with a
stand-in for the few DOM parts it uses (``dashboard_driver.js``); everything it asks of
the server goes over HTTP to a real uvicorn serving the app.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from skyshare.api.app import STATIC, create_app
from skyshare.config import Settings
from tests.api.conftest import KEYS, as_, settings_for
from tests.integration.live import CALL, until

NODE = shutil.which("node")
DRIVER = Path(__file__).with_name("dashboard_driver.js")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is needed to run the page")


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """SkyShare served by uvicorn on a free port; its base URL."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started or task.done(), 60, "the server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    async with serving(settings_for(tmp_path)) as base:
        yield base


async def dashboard(base: str, who: str, click: str | None = None) -> dict[str, Any]:
    """What the page shows ``who`` (and, with ``click``, after clicking that button)."""
    assert NODE is not None
    args = [DRIVER, STATIC / "index.html", base, KEYS[who], *([click] if click else [])]
    node = await asyncio.create_subprocess_exec(
        NODE, *map(str, args), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(node.communicate(), 60)
    shown = json.loads(out)
    assert shown["errors"] == []
    return shown


async def test_an_operator_sees_the_proposal_and_approves_it_from_the_page(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, headers=as_("police")) as api:
        made = (await api.post("/api/v1/incidents", json=CALL)).json()
        shown = await dashboard(server, "police", click="approve")
        (before,) = shown["before"]
        drone = made["proposal"]["drone_id"]
        assert "P3 burglary" in before["text"] and "proposed" in before["text"]
        assert drone in before["text"] and "ETA" in before["text"]
        assert before["buttons"] == ["approve", "decline", "close"]
        (after,) = shown["after"]
        assert after["buttons"] == ["close"]  # nothing left to approve
        view = (await api.get(f"/api/v1/incidents/{made['id']}")).json()
        assert view["proposal"]["status"] == "approved"
        assert view["proposal"]["drone_id"] == drone


async def test_a_decline_from_the_page_shows_the_next_drone_proposed(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, headers=as_("police")) as api:
        made = (await api.post("/api/v1/incidents", json=CALL)).json()
        shown = await dashboard(server, "police", click="decline")
        now = (await api.get(f"/api/v1/incidents/{made['id']}")).json()["proposal"]
    assert now["drone_id"] != made["proposal"]["drone_id"]  # the next candidate
    (after,) = shown["after"]
    assert f"proposed {now['drone_id']} from" in after["text"]
    assert after["buttons"] == ["approve", "decline", "close"]


async def test_with_no_open_calls_the_page_says_so(server: str) -> None:
    shown = await dashboard(server, "fire")
    assert shown["before"] == []  # the "none" note, and no incident
    assert shown["health"] == ""  # and no warning


async def test_the_page_warns_when_the_service_is_degraded(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a broker address nothing listens on
        probe.bind(("127.0.0.1", 0))
        broker = f"mqtt://127.0.0.1:{probe.getsockname()[1]}"
    settings = settings_for(tmp_path).model_copy(update={"mqtt_url": broker})
    async with serving(settings) as base:
        shown = await dashboard(base, "police")
    assert shown["health"] == (
        "degraded: the MQTT broker is not connected: events wait in the outbox"
    )
