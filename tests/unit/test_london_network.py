"""The bundled London network files: complete, real where they claim to be, and validated."""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from skyshare.airspace.service_area import ServiceArea, parse_service_area
from skyshare.domain import DEFAULT_KINDS, InputError, Network, Priority, parse_network
from skyshare.geo import projection

REPO = Path(__file__).resolve().parents[2]
LONDON = REPO / "launch_sites" / "london.yaml"
TODAY = REPO / "launch_sites" / "today.yaml"
BOROUGHS = REPO / "airspace" / "london_boroughs.geojson"
SHARED_DATA = REPO.parent / "shared" / "data"
STATIONS = SHARED_DATA / "stations_lfb.csv"

needs_shared_data = pytest.mark.skipif(
    not STATIONS.exists(), reason=f"shared data not found at {SHARED_DATA}"
)


def load_doc(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def london() -> Network:
    return parse_network(load_doc(LONDON), source=str(LONDON))


@pytest.fixture(scope="module")
def today() -> Network:
    return parse_network(load_doc(TODAY), source=str(TODAY))


@pytest.fixture(scope="module")
def area() -> ServiceArea:
    doc = json.loads(BOROUGHS.read_text(encoding="utf-8"))
    return parse_service_area(doc, source=str(BOROUGHS), proj=projection("EPSG:27700"))


def test_every_borough_has_a_launch_site(london: Network, area: ServiceArea) -> None:
    assert len(area.names) == 33
    covered = {site.borough for site in london.sites.values()}
    assert sorted(set(area.names) - covered) == []


def test_every_borough_has_a_real_fire_station_dock(london: Network, area: ServiceArea) -> None:
    real = {s.borough for s in london.sites.values() if s.owner == "fire" and not s.illustrative}
    assert real == set(area.names)


def test_network_is_big_enough(london: Network) -> None:
    assert len(london.sites) >= 30
    assert len(london.drones) >= 60
    assert 2 <= len(london.models) <= 3
    used = {drone.model.name for drone in london.drones.values()}
    assert used == set(london.models)


def test_each_site_lies_in_the_borough_it_names(london: Network, area: ServiceArea) -> None:
    wrong = {
        site.id: (site.borough, area.borough_of(site.position.lat, site.position.lon))
        for site in london.sites.values()
        if area.borough_of(site.position.lat, site.position.lon) != site.borough
    }
    assert wrong == {}
    assert all(area.contains(s.position.lat, s.position.lon) for s in london.sites.values())


@needs_shared_data
def test_fire_sites_are_real_lfb_stations(london: Network) -> None:
    with STATIONS.open(newline="", encoding="utf-8") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    fire_sites = [s for s in london.sites.values() if not s.illustrative]
    assert fire_sites and all(s.owner == "fire" for s in fire_sites)
    for site in fire_sites:
        station = rows[site.name.removesuffix(" fire station")]
        assert (site.position.lat, site.position.lon) == pytest.approx(
            (float(station["lat"]), float(station["lon"])), abs=1e-6
        ), site.id
        assert "stations_lfb.csv" in site.source and "MIT" in site.source
        assert station["callsign"] in site.source


def test_sites_without_a_real_location_say_so(london: Network) -> None:
    for site in london.sites.values():
        if site.owner in ("police", "ambulance"):
            assert site.illustrative, site.id
            assert site.source.startswith("illustrative:"), site.id


def test_every_default_incident_kind_has_a_capable_drone(london: Network) -> None:
    models = list(london.models.values())
    missing = [
        k.name for k in DEFAULT_KINDS.values() if not any(m.has(k.capabilities) for m in models)
    ]
    assert missing == []


def test_sharing_follows_the_documented_agreements(london: Network) -> None:
    def drone_at(site_id: str):
        return next(d for d in london.drones.values() if d.home_site_id == site_id)

    fire_drone = next(d for d in london.drones.values() if d.owner == "fire")
    police_drone = drone_at("met-islington")
    aed = next(d for d in london.drones.values() if d.owner == "ambulance")
    hyde_park = drone_at("met-hyde-park")

    assert london.may_fly(fire_drone, "police", Priority.P4)
    assert london.may_fly(fire_drone, "ambulance", Priority.P3)
    assert london.may_fly(police_drone, "fire", Priority.P2)
    assert not london.may_fly(police_drone, "ambulance", Priority.P3)
    assert london.may_fly(aed, "fire", Priority.P1)
    assert not london.may_fly(aed, "police", Priority.P2)
    assert not london.may_fly(hyde_park, "fire", Priority.P1)  # police-only site
    assert london.agencies["police"].auto_launch == frozenset({Priority.P1})
    assert london.agencies["ambulance"].provisional_launch


def test_today_is_the_mets_pilot(today: Network, area: ServiceArea) -> None:
    assert set(today.agencies) == {"police"}
    assert len(today.drones) == 9
    assert len(today.sites) == 3
    assert {s.borough for s in today.sites.values()} == {"Islington", "Westminster"}
    assert all(s.illustrative for s in today.sites.values())
    for site in today.sites.values():
        assert area.borough_of(site.position.lat, site.position.lon) == site.borough


@needs_shared_data
def test_files_are_what_the_generator_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_london_network", REPO / "tools" / "build_london_network.py"
    )
    assert spec and spec.loader
    builder = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, builder)  # dataclasses look themselves up
    spec.loader.exec_module(builder)
    assert builder.main(["--check", "--data-dir", str(SHARED_DATA)]) == 0
    # and --check really compares: a changed file is reported
    (tmp_path / "london.yaml").write_text(LONDON.read_text() + "# edited\n")
    (tmp_path / "today.yaml").write_text(TODAY.read_text())
    args = ["--check", "--data-dir", str(SHARED_DATA), "--out-dir", str(tmp_path)]
    assert builder.main(args) == 1


# ------------------------------------------------------------------ malformed documents


def _missing_lat(doc: dict) -> None:
    del doc["sites"][3]["lat"]


def _bad_lat(doc: dict) -> None:
    doc["sites"][3]["lat"] = 95.0


def _unknown_site(doc: dict) -> None:
    doc["drones"][5]["site"] = "lfb-atlantis"


def _unknown_model(doc: dict) -> None:
    doc["drones"][5]["model"] = "Flying Carpet"


def _unknown_owner(doc: dict) -> None:
    doc["sites"][3]["owner"] = "coastguard"


def _over_capacity(doc: dict) -> None:
    site = doc["sites"][0]
    for n in range(site["dock_capacity"] + 1):
        extra = {"id": f"extra-{n}", "model": doc["models"][0]["name"], "site": site["id"]}
        doc["drones"].append(extra)


def _not_a_flag(doc: dict) -> None:
    doc["sites"][3]["shared"] = "yes"


@pytest.mark.parametrize(
    ("break_it", "item", "field", "reason"),
    [
        (_missing_lat, "sites[3]", "lat", "is required"),
        (_bad_lat, "sites[3]", "lat", "outside"),
        (_unknown_site, "drones[5]", "site", "unknown launch site 'lfb-atlantis'"),
        (_unknown_model, "drones[5]", "model", "unknown drone model"),
        (_unknown_owner, "sites[3]", "owner", "unknown agency 'coastguard'"),
        (_over_capacity, "drones[", "site", "docks"),
        (_not_a_flag, "sites[3]", "shared", "true or false"),
    ],
)
def test_malformed_network_names_file_item_and_field(
    break_it, item: str, field: str, reason: str
) -> None:
    doc = copy.deepcopy(load_doc(LONDON))
    break_it(doc)
    with pytest.raises(InputError) as caught:
        parse_network(doc, source=str(LONDON))
    error = caught.value
    assert error.source == str(LONDON)
    assert error.item.startswith(item)
    assert error.field == field
    assert reason in error.reason
    assert str(LONDON) in str(error) and field in str(error)
