"""Fixtures for the whole suite."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings as hypothesis_settings

import skyshare.runtime.runtime as runtime_module
from skyshare.config import Settings
from skyshare.runtime.world import World, load_world

_WORLDS: dict[tuple, World] = {}

# Property tests draw the same examples on every run, so that a run's outcome is the
# code's, not the draw's; HYPOTHESIS_PROFILE=explore draws new ones, to look for more.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


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
