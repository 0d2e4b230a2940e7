"""A minimal asyncio MAVLink ground station for tests of the simulator (not the fleet link).

It connects the way a real client does (``tcp:HOST:PORT`` or ``udpin:HOST:PORT``),
packs with pymavlink, and lets a test await the next message that matches a type and
a condition instead of sleeping. Every received message is also kept in ``log``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

Pred = Callable[[Any], bool]
RESEND_S = 1.0  # a command unanswered this long (wall time) is sent again


class Probe(asyncio.Protocol, asyncio.DatagramProtocol):
    def __init__(self, sysid: int = 255, compid: int = 190) -> None:
        self.mav = mavlink.MAVLink(None, sysid, compid)
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        self.log: list[Any] = []
        self._waiters: list[tuple[str, Pred, asyncio.Future[Any]]] = []
        self._transport: Any = None
        self._peer: tuple[str, int] | None = None
        self._peers: set[tuple[str, int]] = set()
        self._udp = False
        self.route_to_all = False  # udpin: send to every peer seen, as a MAVLink router would

    # ------------------------------------------------------------ connect
    @classmethod
    async def connect(cls, conn: str, sysid: int = 255, compid: int = 190) -> Probe:
        kind, host, port = conn.split(":")
        loop = asyncio.get_running_loop()
        probe = cls(sysid, compid)
        if kind == "tcp":
            await loop.create_connection(lambda: probe, host, int(port))
        elif kind == "udpin":
            probe._udp = True
            await loop.create_datagram_endpoint(lambda: probe, local_addr=(host, int(port)))
        else:
            raise ValueError(f"unsupported connection string {conn!r}")
        return probe

    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._feed(data)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._peer = addr
        self._peers.add(addr)
        self._feed(data)

    def error_received(self, exc: Exception) -> None:
        pass

    def _feed(self, data: bytes) -> None:
        for msg in self.parser.parse_buffer(data) or []:
            if msg.get_type() == "BAD_DATA":
                continue
            self.log.append(msg)
            for entry in list(self._waiters):
                kind, pred, fut = entry
                if fut.done():
                    self._waiters.remove(entry)
                elif msg.get_type() == kind and pred(msg):
                    fut.set_result(msg)
                    self._waiters.remove(entry)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # --------------------------------------------------------------- send
    def send(self, msg: Any) -> None:
        data = msg.pack(self.mav)
        self.mav.seq = (self.mav.seq + 1) & 0xFF
        if self._udp:
            if self._peer is None:
                raise RuntimeError("udpin probe: nothing received yet, so no peer to answer")
            for peer in self._peers if self.route_to_all else (self._peer,):
                self._transport.sendto(data, peer)
        else:
            self._transport.write(data)

    def heartbeat(self) -> None:
        self.send(
            mavlink.MAVLink_heartbeat_message(
                mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0, 3
            )
        )

    # ------------------------------------------------------------ receive
    def expect(self, kind: str, pred: Pred | None = None) -> asyncio.Future[Any]:
        """A future for the next ``kind`` message (after this call) matching ``pred``."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((kind, pred or (lambda m: True), fut))
        return fut

    def expect_n(self, kind: str, n: int, pred: Pred | None = None) -> asyncio.Future[list[Any]]:
        """A future for the next ``n`` matching messages, in order of arrival."""
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        got: list[Any] = []
        check = pred or (lambda m: True)

        def take(m: Any) -> bool:
            if not check(m):
                return False
            got.append(m)
            return len(got) >= n

        inner = self.expect(kind, take)
        inner.add_done_callback(lambda f: fut.done() or fut.set_result(got))
        return fut

    async def recv(self, kind: str, pred: Pred | None = None, timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            return await self.expect(kind, pred)

    async def command(
        self,
        target: int,
        command: int,
        *params: float,
        timeout: float = 10.0,
    ) -> Any:
        """COMMAND_LONG; returns the first COMMAND_ACK for it. Sent again, with the
        confirmation counted up, while none comes (``_until_acked``)."""
        p = [*params, *([0.0] * (7 - len(params)))]
        ack = self.expect("COMMAND_ACK", lambda m: m.command == command)

        def message(confirmation: int) -> Any:
            return mavlink.MAVLink_command_long_message(target, 1, command, confirmation, *p)

        return await self._until_acked(ack, message, timeout)

    async def command_int(
        self,
        target: int,
        command: int,
        frame: int,
        params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
        lat: float = 0.0,
        lon: float = 0.0,
        alt: float = 0.0,
        timeout: float = 10.0,
    ) -> Any:
        ack = self.expect("COMMAND_ACK", lambda m: m.command == command)
        x = round(lat * 1e7) if math.isfinite(lat) else 0
        y = round(lon * 1e7) if math.isfinite(lon) else 0

        def message(_: int) -> Any:  # COMMAND_INT has no confirmation field
            return mavlink.MAVLink_command_int_message(
                target, 1, frame, command, 0, 0, *params, x, y, alt
            )

        return await self._until_acked(ack, message, timeout)

    async def set_param(
        self, target: int, name: str, value: float, kind: int, timeout: float = 10.0
    ) -> Any:
        """PARAM_SET; returns the PARAM_VALUE the vehicle echoes (sent again while none
        comes, as ``command`` is)."""
        echo = self.expect("PARAM_VALUE", lambda m: m.param_id == name)

        def message(_: int) -> Any:
            return mavlink.MAVLink_param_set_message(target, 1, name.encode(), value, kind)

        return await self._until_acked(echo, message, timeout)

    async def _until_acked(
        self, ack: asyncio.Future[Any], message: Callable[[int], Any], timeout: float
    ) -> Any:
        """Send ``message(attempt)`` every ``RESEND_S`` until its answer (``ack``) comes,
        as a ground station does: a datagram is lost when a busy machine lets a socket's
        buffer fill (the simulator streams telemetry many times faster than real time)."""
        async with asyncio.timeout(timeout):
            for attempt in itertools.count():
                self.send(message(min(attempt, 255)))
                done, _ = await asyncio.wait({ack}, timeout=RESEND_S)
                if done:
                    return ack.result()

    def texts(self) -> list[str]:
        """STATUSTEXT texts received, chunks reassembled, trailing tabs kept."""
        out: list[str] = []
        pending: dict[tuple[int, int], list[str]] = {}
        for m in self.log:
            if m.get_type() != "STATUSTEXT":
                continue
            text = m.text if isinstance(m.text, str) else m.text.decode(errors="replace")
            if m.id == 0:
                out.append(text)
                continue
            key = (m.get_srcSystem(), m.id)
            pending.setdefault(key, []).append(text)
            if len(text) < 50:
                out.append("".join(pending.pop(key)))
        return out


async def upload(
    probe: Probe,
    target: int,
    items: list[Any],
    mission_type: int,
    timeout: float = 10.0,
) -> int:
    """Run a well-behaved upload of MISSION_ITEM_INT messages; returns the MISSION_ACK type."""
    ack = probe.expect("MISSION_ACK", lambda m: m.mission_type == mission_type)
    probe.send(mavlink.MAVLink_mission_count_message(target, 1, len(items), mission_type))
    while not ack.done():
        req = probe.expect("MISSION_REQUEST_INT", lambda m: m.mission_type == mission_type)
        done, _ = await asyncio.wait({ack, req}, timeout=timeout, return_when="FIRST_COMPLETED")
        if not done:
            req.cancel()
            raise TimeoutError("mission upload stalled")
        if req.done():
            probe.send(items[req.result().seq])
        else:
            req.cancel()
    return int(ack.result().type)


def item_int(
    seq: int,
    command: int,
    lat: float = 0.0,
    lon: float = 0.0,
    alt: float = 0.0,
    *,
    params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    frame: int = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
    mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION,
    target: int = 1,
) -> Any:
    """A MISSION_ITEM_INT for an upload."""
    return mavlink.MAVLink_mission_item_int_message(
        target, 1, seq, frame, command, 0, 1, *params,
        round(lat * 1e7), round(lon * 1e7), alt, mission_type,
    )  # fmt: skip


def free_udp_port() -> int:
    """A UDP port nothing is bound to right now (the client side of a PX4 link)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
