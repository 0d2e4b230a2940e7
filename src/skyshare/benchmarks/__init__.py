"""Benchmarks: speed measured against a baseline taken in the same run.

This machine (and CI's) is shared and noisy, so a bare number of seconds means little.
Every benchmark therefore reports each figure beside a baseline measured in the same
process, moments apart, and the ratio between them is what gets tracked.

A benchmark is a function decorated with :func:`benchmark` in any module of this
package; ``skyshare bench NAME`` runs one and ``skyshare bench all`` runs them all.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure and the same-run baseline it should be read against."""

    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline_name or None,
            "baseline_value": self.baseline_value,
            "ratio": self.ratio,
            "note": self.note,
        }


@dataclass
class Report:
    name: str
    description: str
    figures: list[Figure] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "description": self.description,
            "figures": [f.to_json() for f in self.figures],
            "context": self.context,
        }


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[bool], Report]  # argument: quick (smaller sizes for CI smoke runs)


_REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, description: str) -> Callable[[Callable[[bool], Report]], Callable]:
    """Register ``fn(quick: bool) -> Report`` under ``name``."""

    def register(fn: Callable[[bool], Report]) -> Callable[[bool], Report]:
        _REGISTRY[name] = Benchmark(name, description, fn)
        return fn

    return register


def registry() -> dict[str, Benchmark]:
    """All benchmarks, importing every module of this package so each can register."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(_REGISTRY.items()))


def best_of(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``repeat`` runs of ``number`` calls, in seconds per call.

    The minimum is the figure least disturbed by other work on a shared machine.
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best
