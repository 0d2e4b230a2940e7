"""`skyshare bench store`: reads that run all day while the history grows.

The open incidents are listed every second (the escalation pass) and by every dashboard.
Their cost should follow the few incidents open, not the many closed over the years: the
same listing is timed on a database holding only the open ones and on one that also
holds a long history of closed ones, in one run.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine

from skyshare.benchmarks import Figure, Report, benchmark
from skyshare.store import Store
from skyshare.store.tables import IncidentRow

T0 = datetime(2024, 1, 1, tzinfo=UTC)
OPEN = 20
AGENCIES = ("police", "fire", "ambulance")


def _database(folder: Path, closed: int) -> Store:
    """A SQLite store of ``closed`` closed incidents (one every five minutes) and then
    ``OPEN`` open ones, written in bulk."""
    url = f"sqlite:///{folder}/closed-{closed}.db"
    store = Store.open(url)  # the migrated schema
    rows = [
        {
            "id": f"inc-{n:09d}",
            "agency": AGENCIES[(n - closed) % 3],  # the open ones: police first
            "external_id": f"CAD-{n}",
            "priority": 2,
            "kind": "burglary",
            "lat": 51.5,
            "lon": -0.12,
            "alt_m": 0.0,
            "received_at": T0 + timedelta(minutes=5 * n),
            "status": "closed" if n < closed else "proposed",
            "borough": "Westminster",
            "description": "",
        }
        for n in range(closed + OPEN)
    ]
    loader = create_engine(url)  # a bulk load beside the store: no audit, no checks
    with loader.begin() as conn:
        conn.execute(IncidentRow.__table__.insert(), rows)  # type: ignore[attr-defined]
    loader.dispose()
    return store


def _listing_ms(store: Store, agency: str | None, repeats: int) -> float:
    """Median milliseconds of one listing of the open incidents, as escalation asks."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        found = store.list_incidents(agency=agency, open_only=True, limit=10_000)
        times.append(time.perf_counter() - start)
    expected = OPEN if agency is None else len(range(AGENCIES.index(agency), OPEN, 3))
    if len(found) != expected:
        raise AssertionError(f"listed {len(found)} open incidents, expected {expected}")
    return float(np.median(times)) * 1e3


@benchmark("store", "open incidents listed beside a long history of closed ones")
def run(quick: bool) -> Report:
    closed = 10_000 if quick else 100_000
    repeats = 20 if quick else 50
    report = Report("store", "reads that run all day while the history grows")
    with tempfile.TemporaryDirectory() as folder:
        fresh, aged = _database(Path(folder), 0), _database(Path(folder), closed)
        try:
            for agency in (None, "police"):
                who = "all agencies" if agency is None else f"one agency ({agency})"
                report.figures.append(
                    Figure(
                        f"open incidents listed, {who}, {closed:,} closed stored",
                        _listing_ms(aged, agency, repeats),
                        "ms",
                        "the same listing with no closed incident stored",
                        _listing_ms(fresh, agency, repeats),
                        f"{OPEN} open; target: about the same (the ratio near 1)",
                    )
                )
        finally:
            fresh.close()
            aged.close()
    return report
