"""Sockets: ArduPilot-style TCP servers and PX4-style UDP links, as asyncio protocols.

Each connection (TCP) or link (UDP) is a channel with its own MAVLink parser; parsed
messages go to the vehicle with the channel they came on, so replies go back the same
way. Like PX4, a UDP link answers whoever sent to it last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulators.mavsim.vehicle import SimVehicle

log = logging.getLogger(__name__)
MAX_BUFFERED = 1 << 20  # a client that stops reading loses data, not the simulator


def _parser() -> Any:
    parser = mavlink.MAVLink(None)
    parser.robust_parsing = True
    return parser


class _Receiver:
    """Parse bytes and hand messages to the vehicle; errors are recorded, not raised."""

    def __init__(self, vehicle: SimVehicle, on_error: Callable[[BaseException], None]) -> None:
        self.vehicle = vehicle
        self.parser = _parser()
        self.on_error = on_error

    def feed(self, channel: Any, data: bytes) -> None:
        try:
            msgs = self.parser.parse_buffer(data) or []
            for msg in msgs:
                if msg.get_type() != "BAD_DATA":
                    self.vehicle.receive(channel, msg)
        except Exception as exc:  # a bug in the simulator must not kill the connection
            log.exception("mavsim: error handling input for sysid %s", self.vehicle.sysid)
            self.on_error(exc)


class TcpChannel(asyncio.Protocol):
    """One TCP client of an ArduPilot-style vehicle port."""

    def __init__(self, vehicle: SimVehicle, on_error: Callable[[BaseException], None]) -> None:
        self.vehicle = vehicle
        self.rx = _Receiver(vehicle, on_error)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.vehicle.attach(self)

    def data_received(self, data: bytes) -> None:
        self.rx.feed(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.vehicle.detach(self)
        self.transport = None

    def send(self, data: bytes) -> None:
        t = self.transport
        if t is None or t.is_closing() or t.get_write_buffer_size() > MAX_BUFFERED:
            return
        t.write(data)


class UdpChannel(asyncio.DatagramProtocol):
    """A PX4-style UDP link: bound locally, sending to a target until someone else talks."""

    def __init__(
        self,
        vehicle: SimVehicle,
        target: tuple[str, int],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.vehicle = vehicle
        self.addr = target
        self.rx = _Receiver(vehicle, on_error)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.vehicle.attach(self)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.addr = addr
        self.rx.feed(self, data)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable while no client listens: normal for UDP

    def connection_lost(self, exc: Exception | None) -> None:
        self.vehicle.detach(self)
        self.transport = None

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, self.addr)

    @property
    def local_port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


class CountingSink:
    """A channel that only counts bytes: for benchmarks without sockets."""

    def __init__(self) -> None:
        self.bytes = 0
        self.messages = 0

    def send(self, data: bytes) -> None:
        self.bytes += len(data)
        self.messages += 1
