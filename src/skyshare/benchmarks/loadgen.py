"""The load generator of figure 3, in a process of its own: the client's CPU is not the
system's, and it must not wait on the server's event loop to stamp its requests.

Reads one JSON object on stdin (``base``, ``key``, ``rate_hz``, ``calls``: each call's
``lat``, ``lon``, ``external_id``), POSTs the calls at a steady rate, each with an
authenticated ``GET /api/v1/sites`` beside it (the HTTP floor), and writes one JSON object
on stdout: every call's send time, incident and proposed drone, and the floor's round
trips. Times are ``time.perf_counter()``, CLOCK_MONOTONIC on Linux: the same clock in
every process, so the server's stamps compare with these.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    posted: list[dict[str, Any]] = []
    floor: list[float] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=spec["base"], headers={"X-API-Key": spec["key"]}, limits=limits, timeout=60
    ) as client:
        await client.get("/api/v1/sites")  # connect and import everything before timing

        async def post(call: dict[str, Any]) -> None:
            sent = time.perf_counter()
            r = await client.post(
                "/api/v1/incidents",
                json={
                    "agency": "police",
                    "priority": "P1",
                    "kind": "burglary",
                    "lat": call["lat"],
                    "lon": call["lon"],
                    "external_id": call["external_id"],
                },
            )
            body = r.json()
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
            await client.get("/api/v1/sites")
            floor.append(time.perf_counter() - start)

        tasks = []
        t0 = time.perf_counter()
        for i, call in enumerate(spec["calls"]):
            await asyncio.sleep(max(0.0, t0 + i / spec["rate_hz"] - time.perf_counter()))
            tasks.append(asyncio.create_task(post(call)))
            tasks.append(asyncio.create_task(probe()))
        await asyncio.gather(*tasks)
    return {"posted": posted, "floor": floor}


def main() -> None:
    spec = json.loads(sys.stdin.read())
    json.dump(asyncio.run(drive(spec)), sys.stdout)


if __name__ == "__main__":
    main()
