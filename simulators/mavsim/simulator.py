"""The multi-vehicle simulator: builds vehicles and their sockets and runs sim time.

Sim time advances in fixed steps of ``1 / tick_hz`` sim seconds, so a run is
deterministic given the same inputs at the same ticks. When paced, step k is due at
``k * dt / speedup`` wall seconds after start; if the host cannot keep up for more than
half a second, sim time slips instead of bursting to catch up (as SITL does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType

from simulators.mavsim.ardupilot import ArduCopter
from simulators.mavsim.config import SimConfig
from simulators.mavsim.links import TcpChannel, UdpChannel
from simulators.mavsim.px4 import PX4
from simulators.mavsim.vehicle import SimVehicle

log = logging.getLogger(__name__)


class Simulator:
    """N vehicles of one personality. Use ``async with Simulator(cfg) as sim``."""

    def __init__(self, cfg: SimConfig, *, paced: bool = True, sockets: bool = True) -> None:
        self.cfg = cfg
        self.paced = paced
        self.sockets = sockets
        cls: type[SimVehicle] = ArduCopter if cfg.autopilot == "ardupilot" else PX4
        self.vehicles: list[SimVehicle] = [cls(i, cfg) for i in range(cfg.vehicles)]
        self.dt = 1.0 / cfg.tick_hz
        self.ticks = 0
        self.slips = 0  # times the host fell behind and sim time slipped
        self.errors: list[BaseException] = []
        self._servers: list[asyncio.Server] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._targets: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[tuple[Callable[[], bool], float, asyncio.Future[None]]] = []
        self._started = False

    @property
    def now(self) -> float:
        """Sim seconds since start."""
        return self.ticks * self.dt

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.sockets:
            if self.cfg.autopilot == "ardupilot":
                await self._open_tcp()
            else:
                await self._open_udp()
        for v in self.vehicles:
            if not (self.cfg.autopilot == "ardupilot" and self.cfg.ardupilot_wait_for_client):
                v.boot_at = 0.0
        if self.paced:
            self._task = asyncio.create_task(self._run(), name="mavsim")

    def start_pacing(self) -> None:
        """Switch an unpaced simulator (stepped with ``advance``) to wall-clock pacing."""
        self.paced = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="mavsim")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for t in self._transports:
            t.close()
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await server.wait_closed()
        self._servers.clear()
        self._transports.clear()
        for _, _, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()
        self._started = False

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _record_error(self, exc: BaseException) -> None:
        self.errors.append(exc)

    async def _open_tcp(self) -> None:
        loop = asyncio.get_running_loop()
        base = self.cfg.tcp_base_port
        for i, v in enumerate(self.vehicles):
            port = base + 10 * i if base else 0
            server = await loop.create_server(
                lambda v=v: TcpChannel(v, self._record_error), self.cfg.tcp_host, port
            )
            self._servers.append(server)
            v.bound_port = int(server.sockets[0].getsockname()[1])

    async def _open_udp(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.cfg
        host = cfg.udp_host
        for i, v in enumerate(self.vehicles):
            target = cfg.px4_api_ports[i] if cfg.px4_api_ports else cfg.px4_api_base + i
            bind = cfg.px4_bind_base + i if cfg.px4_bind_base else 0
            transport, proto = await loop.create_datagram_endpoint(
                lambda v=v, t=target: UdpChannel(v, (host, t), self._record_error),
                local_addr=(host, bind),
            )
            self._transports.append(transport)
            self._targets.append(target)
            v.bound_port = proto.local_port
            if cfg.px4_gcs_port is not None:
                gbind = cfg.px4_gcs_bind_base + i if cfg.px4_gcs_bind_base else 0
                gtransport, _ = await loop.create_datagram_endpoint(
                    lambda v=v: UdpChannel(v, (host, cfg.px4_gcs_port or 0), self._record_error),
                    local_addr=(host, gbind),
                )
                self._transports.append(gtransport)

    def connection_string(self, i: int) -> str:
        """What a client passes to mavutil to talk to vehicle ``i``."""
        v = self.vehicles[i]
        if self.cfg.autopilot == "ardupilot":
            return f"tcp:{self.cfg.tcp_host}:{v.bound_port}"
        return f"udpin:0.0.0.0:{self._targets[i]}"

    # ------------------------------------------------------------- sim time
    def step(self) -> None:
        """Advance every vehicle by one tick."""
        self.ticks += 1
        now = self.now
        dt = self.dt
        for v in self.vehicles:
            v.tick(now, dt)
        if self._waiters:
            self._check_waiters()

    def _check_waiters(self) -> None:
        keep = []
        for pred, deadline, fut in self._waiters:
            if fut.done():
                continue
            try:
                ok = pred()
            except Exception as exc:
                fut.set_exception(exc)
                continue
            if ok:
                fut.set_result(None)
            elif self.now >= deadline:
                fut.set_exception(TimeoutError(f"condition not met within sim {deadline:.1f} s"))
            else:
                keep.append((pred, deadline, fut))
        self._waiters = keep

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        wall_per_tick = self.dt / self.cfg.speedup
        anchor_wall, anchor_tick = loop.time(), self.ticks
        try:
            while True:
                self.step()
                delay = anchor_wall + (self.ticks - anchor_tick) * wall_per_tick - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                if delay < -0.5:
                    self.slips += 1
                    anchor_wall, anchor_tick = loop.time(), self.ticks
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("mavsim: simulation loop failed")
            self.errors.append(exc)
            for _, _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(exc)
            raise

    async def advance(self, seconds: float) -> None:
        """Step ``seconds`` of sim time as fast as possible (for an unpaced simulator)."""
        if self.paced:
            await self.wait_for(lambda: False, seconds, _expect_timeout=True)
            return
        end = self.ticks + round(seconds / self.dt)
        while self.ticks < end:
            self.step()
            await asyncio.sleep(0)

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout_sim_s: float,
        *,
        _expect_timeout: bool = False,
    ) -> None:
        """Return once ``predicate()`` holds after a tick; TimeoutError after that much sim time."""
        if predicate():
            return
        deadline = self.now + timeout_sim_s
        if not self.paced:
            while self.now < deadline:
                self.step()
                await asyncio.sleep(0)
                if predicate():
                    return
            if _expect_timeout:
                return
            raise TimeoutError(f"condition not met within {timeout_sim_s} sim s")
        if self._task is None or self._task.done():
            raise RuntimeError("simulator is not running; call start() first")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, deadline, fut))
        try:
            await fut
        except TimeoutError:
            if not _expect_timeout:
                raise
