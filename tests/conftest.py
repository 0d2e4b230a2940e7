"""Fixtures for the whole suite."""

from __future__ import annotations

import pytest

import skyshare.runtime.runtime as runtime_module
from skyshare.config import Settings
from skyshare.runtime.world import World, load_world

_WORLDS: dict[tuple, World] = {}


def _world_once(settings: Settings) -> World:
    """``load_world``, parsed once per set of files (as unchanged on disk) and limits: a
    deployment parses its world once, and the suite starts dozens of runtimes on London
    (1.7 s each to parse). What a runtime changes (temporary restrictions, its fleet and
    calls) lives in the runtime, not in the ``World``."""
    files = (settings.network_file, settings.boroughs_file, settings.airspace_file)
    key = (
        *((f, f.stat().st_mtime_ns) for f in files if f.exists()),
        settings.ceiling_m,
        settings.min_cruise_alt_m,
        settings.crs,
    )
    found = _WORLDS.get(key)
    if found is None:
        found = _WORLDS[key] = load_world(settings)  # a failure is raised, not kept
    return found


@pytest.fixture(autouse=True)
def parsed_world_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "load_world", _world_once)
