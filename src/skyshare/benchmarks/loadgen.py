"""The load generator of figure 3, in a process of its own: the client's CPU is not the
system's, and it must not wait on the server's event loop to stamp its requests.

Reads one JSON object on stdin (``base``, ``key``, ``rate_hz``, ``calls``: each call's
``lat``, ``lon``, ``external_id``), POSTs the calls at a steady rate, each with an
authenticated ``GET /api/v1/sites`` beside it (the HTTP floor), over kept-alive
connections, and writes one JSON object on stdout: every call's send time, incident and
proposed drone, and the floor's round trips. Times are ``time.perf_counter()``,
CLOCK_MONOTONIC on Linux: the same clock in every process, so the server's stamps compare
with these.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from uvicorn.loops.auto import auto_loop_factory

CONNECTIONS = 32  # opened before timing starts; more are opened if ever all are busy


class Client:
    """HTTP/1.1 requests over kept-alive connections, and nothing else. The client shares
    the machine with the server it measures: httpx took half a core for 100 requests a
    second, this takes a few per cent."""

    def __init__(self, base: str, key: str) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.key = key
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self, count: int) -> None:
        for _ in range(count):
            self.idle.append(await asyncio.open_connection(self.host, self.port))

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nX-API-Key: {self.key}\r\n"
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        request = head.encode() + b"\r\n" + data
        conn = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        writer.write(request)
        status_line = await reader.readline()
        if not status_line:  # the server closed an idle connection: send on a new one
            conn = reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(request)
            status_line = await reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        self.idle.append(conn)
        return status, payload


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    posted: list[dict[str, Any]] = []
    floor: list[float] = []
    client = Client(spec["base"], spec["key"])
    await client.open(CONNECTIONS)
    await client.request("GET", "/api/v1/sites")  # the server's first answer is not timed

    async def post(call: dict[str, Any]) -> None:
        sent = time.perf_counter()
        _, payload = await client.request(
            "POST",
            "/api/v1/incidents",
            {
                "agency": "police",
                "priority": "P1",
                "kind": "burglary",
                "lat": call["lat"],
                "lon": call["lon"],
                "external_id": call["external_id"],
            },
        )
        body = json.loads(payload)
        proposal = body.get("proposal") or {}
        posted.append(
            {
                "sent": sent,
                "id": body.get("id"),
                "status": body.get("status"),
                "drone_id": proposal.get("drone_id"),
            }
        )

    async def probe() -> None:
        start = time.perf_counter()
        await client.request("GET", "/api/v1/sites")
        floor.append(time.perf_counter() - start)

    tasks = []
    t0 = time.perf_counter()
    for i, call in enumerate(spec["calls"]):
        await asyncio.sleep(max(0.0, t0 + i / spec["rate_hz"] - time.perf_counter()))
        tasks.append(asyncio.create_task(post(call)))
        tasks.append(asyncio.create_task(probe()))
    await asyncio.gather(*tasks)
    await client.close()
    return {"posted": posted, "floor": floor}


def main() -> None:
    spec = json.loads(sys.stdin.read())
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        json.dump(runner.run(drive(spec)), sys.stdout)


if __name__ == "__main__":
    main()
