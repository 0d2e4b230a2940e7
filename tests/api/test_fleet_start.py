"""A service told to fly the aircraft of an aircraft file it cannot use does not start, and
says what to fix; it leaves no store process behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skyshare.api.app import create_app
from skyshare.config import Settings
from skyshare.domain.errors import InputError

from .conftest import settings_for


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    ("aircraft", "field"),
    [
        (None, "SKYSHARE_AIRCRAFT_FILE"),
        ("aircraft:\n  pol-9: {link: 'tcp:127.0.0.1:5760', system_id: 1}\n", "drone_id"),
    ],
)
def test_a_bad_aircraft_file_stops_the_start_naming_the_field(
    tmp_path: Path, aircraft: str | None, field: str
) -> None:
    path = None
    if aircraft is not None:
        path = tmp_path / "aircraft.yaml"
        path.write_text(aircraft)
    settings: Settings = settings_for(tmp_path).model_copy(
        update={"fleet": "mavlink", "aircraft_file": path}
    )
    client = TestClient(create_app(settings))
    with pytest.raises(InputError) as refused, client:
        pass
    assert refused.value.field == field
    pid = client.app.state.runtime.writer.pid
    assert pid is None or _gone(pid)


def test_a_bad_api_key_stops_the_start_naming_it_and_leaves_no_store_process(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path).model_copy(update={"api_keys": "short:*:admin"})
    client = TestClient(create_app(settings))
    with pytest.raises(InputError) as refused, client:
        pass
    assert (refused.value.field, refused.value.item) == ("key", "entry 1")
    pid = client.app.state.runtime.writer.pid
    assert pid is not None and _gone(pid)
