"""The FastAPI application: factory, error mapping, event stream and the dashboard page."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse

from skyshare import __version__
from skyshare.api import routes_airspace, routes_audit, routes_incidents, routes_network
from skyshare.api.auth import KeyRing, load_keys
from skyshare.config import Settings
from skyshare.domain import InputError
from skyshare.runtime.health import health
from skyshare.runtime.runtime import Conflict, NotFound, Runtime
from skyshare.runtime.store_worker import StoreInDoubt, StoreUnavailable

if TYPE_CHECKING:  # the fleet link is loaded only for a deployment that flies
    from skyshare.runtime.linked_fleet import LinkedFleet

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, keys: KeyRing | None = None
) -> FastAPI:
    """Build the app. With no runtime given, one is created (and shut down) by the lifespan."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        live = runtime or await Runtime.create(settings)
        app.state.runtime = live
        try:  # the keys name the network's agencies: read once it is loaded
            app.state.keys = keys or load_keys(
                settings.api_keys, settings.api_keys_file, live.network.agencies
            )
            fleet = await _start_fleet(live, settings) if owned else None
        except BaseException:
            if owned:
                await live.shutdown()  # its store's process too
            raise
        if not len(app.state.keys):
            log.warning("no API keys configured: every request will get 401")
        escalation = asyncio.create_task(_escalate_overdue(live), name="escalation")
        # What start-up built (the world, the routing graphs, the fleet link) lives as long
        # as the service: out of the collector's sight. Otherwise each full collection walks
        # 200,000 objects and stalls a dispatch for 70-200 ms.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            escalation.cancel()
            if fleet is not None:
                await fleet.stop()
            if owned:
                await live.shutdown()

    app = FastAPI(
        title="SkyShare",
        version=__version__,
        summary="Dispatch and airspace coordination for a shared emergency-services drone network",
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    app.include_router(routes_network.router)
    app.include_router(routes_incidents.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_airspace.router)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> dict[str, object]:
        """Alive (always 200), the network loaded, and "ok" or "degraded" with the
        problems an operator should see: the store or the broker away, calls waiting."""
        live: Runtime = request.app.state.runtime
        return {
            "version": __version__,
            "network": live.network.name,
            "drones": len(live.network.drones),
            "sites": len(live.network.sites),
            **health(live),
        }

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.websocket("/api/v1/stream")
    async def stream(ws: WebSocket) -> None:
        """Live events for the caller's agency. Authenticate with ?key=... (browsers
        cannot set headers on a WebSocket)."""
        principal = ws.app.state.keys.lookup(ws.query_params.get("key", ""))
        if principal is None:
            await ws.close(code=4401, reason="missing or unknown API key")
            return
        await ws.accept()
        live: Runtime = ws.app.state.runtime
        agency = None if principal.may_act_for("*") else principal.agency
        async with live.bus.subscribe(agency=agency) as events:

            async def send() -> None:
                with contextlib.suppress(WebSocketDisconnect):
                    async for event in events:
                        await ws.send_json(event.to_json())

            # Until the client goes (or the server closes the socket): noticed at once, not
            # at the next event, which in a quiet hour keeps a dead subscription and holds
            # up the server's shutdown for as long.
            tasks = {asyncio.create_task(send()), asyncio.create_task(_drain(ws))}
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    return app


async def _start_fleet(runtime: Runtime, settings: Settings) -> LinkedFleet | None:
    """The aircraft ``settings.fleet`` names, flown by ``runtime`` (None: decisions only)."""
    if settings.fleet == "sim":
        from skyshare.runtime.simfleet import start_simulated_fleet

        return await start_simulated_fleet(
            runtime,
            autopilot=settings.sim_autopilot,
            speedup=settings.sim_speedup,
            separate_process=True,  # the aircraft are not on the control system's CPU
        )
    if settings.fleet == "mavlink":
        from skyshare.runtime.mavlink_fleet import start_mavlink_fleet

        return await start_mavlink_fleet(
            runtime, settings.aircraft_file, wait_s=settings.aircraft_wait_s
        )
    return None


async def _escalate_overdue(runtime: Runtime, period_s: float = 1.0) -> None:
    """Unanswered proposals are escalated to supervisors (see Runtime.escalate_overdue)."""
    watch = EscalationWatch(runtime)
    while True:
        await asyncio.sleep(period_s)
        await watch.once()


class EscalationWatch:
    """One pass of the escalation watch at a time. It outlives a bad moment; while the
    store is away it says so once, not every pass (the store worker logs each attempt to
    bring it back), and says when escalation works again."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.paused = False  # the store was away at the last pass

    async def once(self) -> None:
        try:
            await self.runtime.escalate_overdue()
        except StoreUnavailable as exc:
            if not self.paused:
                log.warning("escalating overdue proposals paused: %s", exc)
            self.paused = True
            return
        except Exception:
            log.exception("escalating overdue proposals")
            return
        if self.paused:
            log.warning("escalating overdue proposals again: the store is back")
        self.paused = False


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed."""
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        return


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def input_error(_: Request, exc: InputError) -> JSONResponse:
        # Same shape as FastAPI's own validation errors, so clients parse one format.
        return JSONResponse(
            status_code=422,
            content={
                "detail": [{"loc": ["body", exc.field], "msg": exc.reason, "type": "value_error"}]
            },
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": f"no incident {exc.args[0]}"})

    @app.exception_handler(StoreInDoubt)
    async def store_in_doubt(_: Request, exc: StoreInDoubt) -> JSONResponse:
        # The store went away as it took the change; the service learns later whether it
        # did, and acts on it if so (runtime.late_commits).
        detail = f"the store is unavailable: {exc}; if it was, it is acted on once it is back"
        return JSONResponse(status_code=503, content={"detail": detail})

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        # Nothing was recorded: the caller may retry, and a repeated external_id is
        # answered with the call already stored.
        return JSONResponse(
            status_code=503, content={"detail": f"the store is unavailable: {exc}; retry"}
        )

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})
