"""Non-blocking byte transports for MAVLink: UDP (listen or send) and TCP (connect or accept).

Each transport hands every chunk it receives to ``on_data(data, peer)``. ``peer`` names
where the bytes came from (a UDP address, or one TCP connection) so that the link can
answer each vehicle where it lives: several vehicles sharing one UDP port each send
from their own address, and a command for one must go to that one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, cast

from skyshare.fleet.endpoints import Endpoint, Scheme

log = logging.getLogger(__name__)

Peer = Hashable
DataHandler = Callable[[bytes, Peer], None]

_MAX_UDP_PEERS = 1024


class Transport(ABC):
    """Bytes in, bytes out; never blocks the event loop."""

    def __init__(self, endpoint: Endpoint, on_data: DataHandler) -> None:
        self.endpoint = endpoint
        self.on_data = on_data
        # Called with a peer whose connection ended (its parser state can go).
        self.on_closed: Callable[[Peer], None] | None = None

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def send(self, data: bytes, peer: Peer | None = None) -> bool:
        """Send to ``peer`` (or the only/default peer); False when there is nowhere to send."""

    @abstractmethod
    def broadcast(self, data: bytes) -> int:
        """Send to every known peer; returns how many."""

    @property
    @abstractmethod
    def local_port(self) -> int | None: ...


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner._received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" while the vehicle is not up yet: not an error for us.
        log.debug("udp %s: %s", self.owner.endpoint, exc)


class UdpTransport(Transport):
    """``udpin`` (listen, answer each sender) or ``udpout`` (send to one address)."""

    def __init__(self, endpoint: Endpoint, on_data: DataHandler) -> None:
        super().__init__(endpoint, on_data)
        self._transport: asyncio.DatagramTransport | None = None
        self._peers: OrderedDict[Any, None] = OrderedDict()  # sender addresses, oldest first
        self._remote: tuple[str, int] | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        ep = self.endpoint
        if ep.scheme is Scheme.UDPIN:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(ep.host, ep.port)
            )
        else:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), remote_addr=(ep.host, ep.port)
            )
            peer = transport.get_extra_info("peername")
            self._remote = (peer[0], peer[1])
            self._peers[self._remote] = None
        self._transport = transport

    def _received(self, data: bytes, addr: Any) -> None:
        if addr not in self._peers:
            if len(self._peers) >= _MAX_UDP_PEERS:
                # The oldest sender is forgotten, its parse state too: anyone who can reach
                # the port could otherwise grow both with every new source address.
                oldest, _ = self._peers.popitem(last=False)
                if self.on_closed is not None:
                    self.on_closed(oldest)
            self._peers[addr] = None
        self.on_data(data, addr)

    def send(self, data: bytes, peer: Peer | None = None) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if self._remote is not None:  # connected socket: one destination
            transport.sendto(data)
            return True
        if peer is None:
            return self.broadcast(data) > 0
        transport.sendto(data, peer)
        return True

    def broadcast(self, data: bytes) -> int:
        transport = self._transport
        if transport is None or transport.is_closing():
            return 0
        if self._remote is not None:
            transport.sendto(data)
            return 1
        for addr in self._peers:
            transport.sendto(data, addr)
        return len(self._peers)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def local_port(self) -> int | None:
        if self._transport is None:
            return None
        return self._transport.get_extra_info("sockname")[1]


class _Stream(asyncio.Protocol):
    """One TCP connection; it is its own peer identity."""

    def __init__(self, on_data: DataHandler, on_lost: Callable[[_Stream], None]) -> None:
        self.on_data = on_data
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, yet behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.on_data(data, self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.on_lost(self)

    def write(self, data: bytes) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True


class TcpClientTransport(Transport):
    """``tcp``: connect to a server and keep reconnecting while open."""

    def __init__(
        self,
        endpoint: Endpoint,
        on_data: DataHandler,
        retry_s: float = 0.25,
        max_retry_s: float = 2.0,
    ) -> None:
        super().__init__(endpoint, on_data)
        self._stream: _Stream | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s

    async def open(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"tcp {self.endpoint}")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._retry_s
        while True:
            self._lost.clear()
            try:
                _, stream = await loop.create_connection(
                    lambda: _Stream(self.on_data, self._on_lost),
                    self.endpoint.host,
                    self.endpoint.port,
                )
            except OSError as exc:
                log.debug("tcp %s: connect failed: %s", self.endpoint, exc)
                await asyncio.sleep(delay)  # back off between reconnection attempts
                delay = min(delay * 2, self._max_retry_s)
                continue
            delay = self._retry_s
            if stream.transport is not None:
                self._adopt(stream)
            await self._lost.wait()
            await asyncio.sleep(self._retry_s)

    def _on_lost(self, stream: _Stream) -> None:
        if self.on_closed is not None:
            self.on_closed(stream)
        if self._stream is stream:
            self._stream = None
        self._lost.set()

    def _adopt(self, stream: _Stream) -> None:
        self._stream = stream

    def send(self, data: bytes, peer: Peer | None = None) -> bool:
        stream = self._stream
        return stream.write(data) if stream is not None else False

    def broadcast(self, data: bytes) -> int:
        return 1 if self.send(data) else 0

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._stream is not None and self._stream.transport is not None:
            self._stream.transport.close()
        self._stream = None

    @property
    def local_port(self) -> int | None:
        stream = self._stream
        if stream is None or stream.transport is None:
            return None
        return stream.transport.get_extra_info("sockname")[1]


class TcpServerTransport(Transport):
    """``tcpin``: accept connections (a vehicle or router that dials out to us)."""

    def __init__(self, endpoint: Endpoint, on_data: DataHandler) -> None:
        super().__init__(endpoint, on_data)
        self._server: asyncio.Server | None = None
        self._streams: dict[_Stream, None] = {}

    async def open(self) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> _Stream:
            stream = _Stream(self.on_data, self._on_lost)
            self._streams[stream] = None
            return stream

        self._server = await loop.create_server(factory, self.endpoint.host, self.endpoint.port)

    def _on_lost(self, stream: _Stream) -> None:
        self._streams.pop(stream, None)
        if self.on_closed is not None:
            self.on_closed(stream)

    def send(self, data: bytes, peer: Peer | None = None) -> bool:
        if isinstance(peer, _Stream):
            return peer.write(data)
        return self.broadcast(data) > 0

    def broadcast(self, data: bytes) -> int:
        return sum(1 for stream in list(self._streams) if stream.write(data))

    async def close(self) -> None:
        for stream in list(self._streams):
            if stream.transport is not None:
                stream.transport.close()
        self._streams.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def local_port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return self._server.sockets[0].getsockname()[1]


def make_transport(endpoint: Endpoint, on_data: DataHandler) -> Transport:
    if endpoint.scheme in (Scheme.UDPIN, Scheme.UDPOUT):
        return UdpTransport(endpoint, on_data)
    if endpoint.scheme is Scheme.TCP:
        return TcpClientTransport(endpoint, on_data)
    return TcpServerTransport(endpoint, on_data)
