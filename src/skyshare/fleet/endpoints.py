"""Connection strings in pymavlink ``mavutil`` syntax.

``udpin:HOST:PORT``  listen on a UDP port; reply to whoever sent (each vehicle at its
                     own address, so several vehicles may share the port).
``udp:HOST:PORT``    the same as ``udpin`` (as in mavutil).
``udpout:HOST:PORT`` send to HOST:PORT from an ephemeral port; the vehicle replies there.
``tcp:HOST:PORT``    connect to a TCP server (ArduPilot SITL's 5760), reconnecting.
``tcpin:HOST:PORT``  accept TCP connections.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from skyshare.domain.errors import InputError


class Scheme(StrEnum):
    UDPIN = "udpin"
    UDPOUT = "udpout"
    TCP = "tcp"
    TCPIN = "tcpin"


_ALIASES = {"udp": Scheme.UDPIN, "udpin": Scheme.UDPIN, "udpout": Scheme.UDPOUT}
_ALIASES.update({"tcp": Scheme.TCP, "tcpin": Scheme.TCPIN})


@dataclass(frozen=True)
class Endpoint:
    scheme: Scheme
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}:{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """Parse ``scheme:host:port``; raise InputError naming what is wrong."""
    field = "connection"
    if not isinstance(text, str) or not text.strip():
        raise InputError(field, "empty connection string; expected e.g. udpin:0.0.0.0:14550")
    raw = text.strip()
    scheme_text, sep, rest = raw.partition(":")
    scheme = _ALIASES.get(scheme_text.lower())
    if not sep or scheme is None:
        known = ", ".join(sorted(_ALIASES))
        raise InputError(field, f"{raw!r}: unknown scheme {scheme_text!r}; expected one of {known}")
    host, sep, port_text = rest.rpartition(":")
    if not sep or not host:
        raise InputError(field, f"{raw!r}: expected {scheme_text}:HOST:PORT")
    host = host.strip("[]")  # allow [::1]
    try:
        port = int(port_text)
    except ValueError:
        raise InputError(field, f"{raw!r}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise InputError(field, f"{raw!r}: port {port} is outside 0..65535")
    if port == 0 and scheme in (Scheme.UDPOUT, Scheme.TCP):
        raise InputError(field, f"{raw!r}: cannot send to port 0")
    return Endpoint(scheme, host, port)
