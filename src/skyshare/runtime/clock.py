"""Clocks. The core never reads the time; the runtime asks one of these and passes it in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


class ScaledClock:
    """Time that runs ``speedup`` times faster than the wall clock, from ``start``.

    A runtime flying simulated aircraft at ``--speedup X`` must reckon in the
    aircraft's time (battery, time on scene, timeouts), not the wall's.
    """

    def __init__(self, speedup: float, start: datetime | None = None) -> None:
        import time

        self._perf = time.perf_counter
        self.speedup = speedup
        self._origin = self._perf()
        self._start = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(self._perf() - self._origin) * self.speedup)
