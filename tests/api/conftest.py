"""An API on the real London network, a throw-away SQLite file and the in-process bus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skyshare.api.app import create_app
from skyshare.config import Settings

KEYS = {
    "police": "police-operator-key",
    "fire": "fire-operator-key",
    "ambulance": "ambulance-operator-key",
    "planner": "planner-read-only-key",
    "admin": "admin-everything-key",
}


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'skyshare.db'}",
        api_keys=",".join(
            [
                f"{KEYS['police']}:police:operator",
                f"{KEYS['fire']}:fire:operator",
                f"{KEYS['ambulance']}:ambulance:operator",
                f"{KEYS['planner']}:*:planner",
                f"{KEYS['admin']}:*:admin",
            ]
        ),
        mqtt_url=None,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def as_(who: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[who]}
