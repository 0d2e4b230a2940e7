"""The operators' dashboard in a real browser (Chromium, driven by Playwright) against a
real SkyShare served by uvicorn: it shows the open calls with their proposals, its
buttons approve and decline, a click on the map places a call, the live stream brings
calls made elsewhere without a click, and it warns when the service is degraded. Any
script error on the page fails the test.

``make test`` installs Debian's Chromium where it can (as root, with apt-get); without a
browser these tests skip, saying so.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Locator, Page, async_playwright, expect

from skyshare.api.app import create_app
from tests.api.conftest import KEYS, as_, settings_for
from tests.integration.live import CALL, until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium to run the page in (Debian package chromium)"
)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free port; its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
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
    async with serving(create_app(settings_for(tmp_path))) as base:
        yield base


@asynccontextmanager
async def dashboard(base: str, who: str) -> AsyncIterator[Page]:
    """The page as ``who`` sees it once their key is pasted and Connect clicked, with the
    live stream open."""
    errors: list[str] = []
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(base)
            await page.fill("#key", KEYS[who])
            await page.click("#connect")
            await expect(page.locator("#status")).to_have_text("live", timeout=30_000)
            yield page
        finally:
            await browser.close()
    assert errors == []


def cards(page: Page) -> Locator:
    """The open incidents' cards on the page."""
    return page.locator("#incidents .incident")


async def test_an_operator_sees_the_proposal_and_approves_it_from_the_page(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, headers=as_("police")) as api:
        made = (await api.post("/api/v1/incidents", json=CALL)).json()
        drone = made["proposal"]["drone_id"]
        async with dashboard(server, "police") as page:
            card = cards(page).first
            await expect(cards(page)).to_have_count(1)
            await expect(card).to_contain_text("P3 burglary")
            await expect(card).to_contain_text(re.compile(rf"{drone} from \S+, ETA \d+ s"))
            await expect(card.locator("button")).to_have_text(["approve", "decline", "close"])
            await card.get_by_role("button", name="approve").click()
            await expect(card.locator("button")).to_have_text(["close"])  # nothing to approve
            await expect(card).to_contain_text("dispatched")
        view = (await api.get(f"/api/v1/incidents/{made['id']}")).json()
    assert view["proposal"]["status"] == "approved"
    assert view["proposal"]["drone_id"] == drone


async def test_a_decline_from_the_page_shows_the_next_drone_proposed(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, headers=as_("police")) as api:
        made = (await api.post("/api/v1/incidents", json=CALL)).json()
        async with dashboard(server, "police") as page:
            card = cards(page).first
            await card.get_by_role("button", name="decline").click()
            first = made["proposal"]["drone_id"]
            await expect(card).not_to_contain_text(f"{first} from")
            now = (await api.get(f"/api/v1/incidents/{made['id']}")).json()["proposal"]
            assert now["drone_id"] != first  # the next candidate
            await expect(card).to_contain_text(f"{now['drone_id']} from")
            await expect(card.locator("button")).to_have_text(["approve", "decline", "close"])


async def test_a_click_on_the_map_places_a_call_that_is_received_and_proposed(
    server: str,
) -> None:
    async with httpx.AsyncClient(base_url=server, headers=as_("police")) as api:
        sites = (await api.get("/api/v1/sites")).json()
        site = next(s for s in sites if s["owner"] == "police")
        async with dashboard(server, "police") as page:
            await expect(cards(page)).to_have_count(0)
            await expect(page.locator("#incidents")).to_have_text("none")
            # The dock's square on the map, found by its tooltip; a click on its centre.
            square = page.locator("#map rect").filter(
                has=page.locator("title", has_text=site["name"])
            )
            box = await square.first.bounding_box()
            assert box is not None
            await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            form = page.locator("#new")
            lat = float(await form.locator("[name=lat]").input_value())
            lon = float(await form.locator("[name=lon]").input_value())
            assert abs(lat - site["lat"]) < 0.002 and abs(lon - site["lon"]) < 0.002
            await form.locator("[name=priority]").select_option("P3")
            await form.get_by_role("button").click()
            await expect(page.locator("#log")).to_contain_text("received inc-")
            await expect(cards(page)).to_have_count(1)
            await expect(cards(page).first).to_contain_text("P3 burglary")
            await expect(cards(page).first).to_contain_text(re.compile(r"\S+ from \S+, ETA"))
            await expect(page.locator("#map circle")).to_have_count(1)  # the call, drawn
        (stored,) = (await api.get("/api/v1/incidents?open=true")).json()
    assert (stored["lat"], stored["lon"]) == (lat, lon)
    assert stored["proposal"] is not None


async def test_a_call_made_elsewhere_arrives_by_the_live_stream(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path))
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=as_("police")) as api:
        async with dashboard(base, "police") as page:
            await expect(cards(page)).to_have_count(0)
            made = (await api.post("/api/v1/incidents", json=CALL)).json()
            # No click: the stream's event redraws the page, and the log says what came.
            await expect(cards(page)).to_have_count(1)
            await expect(cards(page).first).to_contain_text(made["proposal"]["drone_id"])
            await expect(page.locator("#log")).to_contain_text(f"incident_received {made['id']}")
            bus = app.state.runtime.bus
            assert bus.subscriber_count == 1
        # The page is closed: its subscription ends at once, with no event to notice it by.
        await until(lambda: bus.subscriber_count == 0, 10, "the page's subscription to end")


async def test_the_page_warns_when_the_service_is_degraded(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a broker address nothing listens on
        probe.bind(("127.0.0.1", 0))
        broker = f"mqtt://127.0.0.1:{probe.getsockname()[1]}"
    settings = settings_for(tmp_path).model_copy(update={"mqtt_url": broker})
    async with serving(create_app(settings)) as base, dashboard(base, "police") as page:
        await expect(page.locator("#health")).to_have_text(
            "degraded: the MQTT broker is not connected: events wait in the outbox"
        )


async def test_with_all_well_the_page_warns_of_nothing(server: str) -> None:
    async with dashboard(server, "fire") as page:
        await expect(page.locator("#incidents")).to_have_text("none")
        await expect(page.locator("#health")).to_have_text("")
