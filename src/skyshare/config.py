"""Settings from ``SKYSHARE_*`` environment variables, with defaults that run embedded.

Embedded means: a SQLite file under the user's data directory, the in-process event bus,
the bundled London network and airspace, and a simulated fleet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


def _default_database_url() -> str:
    path = Path(user_data_dir("skyshare")) / "skyshare.db"
    return f"sqlite:///{path}"


class Settings(BaseSettings):
    """Every knob of a SkyShare deployment. See README "Deployment"."""

    model_config = SettingsConfigDict(env_prefix="SKYSHARE_", extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    # Durable writes in a process of their own, off the event loop's interpreter lock (an
    # in-memory SQLite database, which another process cannot open, uses a thread).
    store_process: bool = True
    mqtt_url: str | None = None
    mqtt_topic_prefix: str = "skyshare/v1"
    # The broker session's name: kept across restarts, so that control-room calls sent
    # while SkyShare is away, or not yet taken in when it stopped, are delivered (again).
    # Unset: one derived from the topic prefix (``bus.topics.session_client_id``).
    mqtt_client_id: str | None = None
    api_keys: str = ""  # comma-separated key:agency:role
    api_keys_file: Path | None = None
    network_file: Path = REPO_ROOT / "launch_sites" / "london.yaml"
    airspace_file: Path = REPO_ROOT / "airspace" / "london.geojson"
    boroughs_file: Path = REPO_ROOT / "airspace" / "london_boroughs.geojson"
    ceiling_m: float = 120.0  # UK open-category limit above the surface
    min_cruise_alt_m: float = 60.0
    crs: str = "EPSG:27700"
    # The aircraft: "none" (decisions only), "sim" (one mavsim vehicle per drone, flown
    # over MAVLink on loopback: the demo), or "mavlink" (the aircraft the aircraft file
    # names, on the links it names: real aircraft, SITL, or mavsim run on its own).
    fleet: Literal["none", "sim", "mavlink"] = "none"
    sim_autopilot: str = "ardupilot"
    sim_speedup: float = 1.0
    aircraft_file: Path | None = None  # with fleet "mavlink": which aircraft each drone is
    # At start-up, wait this long (wall seconds) for the listed aircraft; go on with those
    # heard (the others' drones are out of service until they are heard).
    aircraft_wait_s: float = Field(default=10.0, ge=0.0)
    proposal_timeout_s: float = 60.0  # an unanswered proposal escalates after this
    return_battery_pct: float = 30.0  # on scene, head home at this charge (or sooner)
    relief_battery_pct: float = 45.0  # on scene, call a relief drone at this charge
