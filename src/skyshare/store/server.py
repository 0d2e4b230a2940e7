"""The store in a process of its own, serving jobs (``jobs.py``) over a socket.

The service's event loop shares one interpreter lock with everything in its process; a
durable write costs milliseconds of Python (building statements, hashing the audit chain)
that would hold that lock while calls wait. Here it runs on another core. The service
sends each job as it comes; this process batches what has arrived into one transaction
and answers each job once it is durable. It ends when the service closes the socket.

Run as ``python -m skyshare.store.server FD``. Frames both ways on the socket at FD: a
4-byte big-endian length, then a pickle. Only the service that started this process holds
the other end of the socket.
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
import sys
from typing import Any

from skyshare.store.jobs import Job, Progress, portable, serve
from skyshare.store.store import Store

HEADER = struct.Struct("!I")


def frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


class Frames:
    """Whole messages out of a byte stream that arrives in pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        out = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            out.append(pickle.loads(self._buffer[HEADER.size : end]))
            del self._buffer[:end]
        return out


class _Channel:
    """This process's end of the socket: jobs in, answers out."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.frames = Frames()

    def receive(self, block: bool) -> list[Job | None]:
        out: list[Job | None] = []
        while True:
            self.sock.setblocking(block and not out)  # wait for a whole job, then drain
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return out
            if not data:  # the service is gone or done: finish what came, then stop
                return [*out, None]
            out += self.frames.feed(data)

    def reply(self, number: int, error: Exception | None, result: Any) -> None:
        message = (number, None if error is None else portable(error), result)
        self.sock.setblocking(True)
        self.sock.sendall(frame(message))


def main(fd: int) -> None:
    """The store process, on the socket at ``fd``: its first message is ``(database URL,
    writer session)`` (the URL migrated already, and not on the command line, where anyone
    may read a password), then jobs until the socket closes."""
    sock = socket.socket(fileno=fd)
    channel = _Channel(sock)
    first = channel.receive(True)
    if not first or first[0] is None:
        return
    url, session = first[0]
    store = Store.open(str(url), migrate=False)
    try:
        serve(store, channel.receive, channel.reply, first[1:], Progress(str(session)))
    finally:
        store.close()
        sock.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
    # Every write is committed and answered and the store closed: nothing is left for the
    # interpreter's teardown to flush, and skipping it ends the process at once.
    os._exit(0)
