"""``skyshare whatif`` end to end: files in, tables / JSON / CSV / reports out.

A small world written to disk: two boroughs side by side (West 0-2 km, East 4-6 km east
of a point in central London), one police dock in the middle of West, a zone that only
the police may enter, and candidate sites in each borough.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from shapely.geometry import mapping
from typer.testing import CliRunner

from skyshare.airspace import zones_to_geojson
from skyshare.whatif import app
from tests.unit.test_planning_world import ORIGIN, PROJ, box, point, zone

runner = CliRunner()


def _wgs84_feature(name: str, corners: tuple[float, float, float, float]) -> dict:
    x0, y0, x1, y1 = corners
    ring = [point(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    return {
        "type": "Feature",
        "properties": {"name": name, "gss_code": name[:3]},
        "geometry": {"type": "Polygon", "coordinates": [[[p.lon, p.lat] for p in ring]]},
    }


def _network(sites: list[tuple[str, float, float, str, str, int]]) -> dict:
    return {
        "name": "test network",
        "agencies": [
            {"id": "police", "name": "Police", "auto_launch": ["P1", "P2"]},
            {"id": "fire", "name": "Fire", "auto_launch": ["P1", "P2"]},
        ],
        "models": [
            {
                "name": "quad",
                "cruise_speed_mps": 15,
                "climb_rate_mps": 6,
                "descent_rate_mps": 5,
                "endurance_s": 2100,
                "battery_wh": 99,
                "hover_power_w": 126,
                "cruise_power_w": 132,
                "capabilities": ["thermal", "zoom", "spotlight", "loudspeaker", "payload"],
            }
        ],
        "sites": [
            {
                "id": sid,
                "name": sid,
                "borough": borough,
                "owner": owner,
                "shared": True,
                "dock_capacity": max(1, n),
                "lat": point(x, y).lat,
                "lon": point(x, y).lon,
            }
            for sid, x, y, borough, owner, n in sites
        ],
        "drones": [
            {"id": f"{sid}-{k}", "model": "quad", "site": sid}
            for sid, *_, n in sites
            for k in range(n)
        ],
        "agreements": [
            {"owner": "police", "users": ["police", "fire"]},
            {"owner": "fire", "users": ["police", "fire"]},
        ],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("whatif")
    files = {
        "boroughs": root / "boroughs.geojson",
        "airspace": root / "zones.geojson",
        "sites": root / "today.yaml",
        "bigger": root / "bigger.yaml",
        "candidates": root / "candidates.csv",
    }
    files["boroughs"].write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    _wgs84_feature("West", (0, 0, 2000, 2000)),
                    _wgs84_feature("East", (4000, 0, 6000, 2000)),
                ],
            }
        )
    )
    files["airspace"].write_text(
        json.dumps(zones_to_geojson([zone("R1", (1400, 800, 1600, 1200), free=["police"])]))
    )
    files["sites"].write_text(yaml.safe_dump(_network([("w", 1000, 1000, "West", "police", 2)])))
    files["bigger"].write_text(
        yaml.safe_dump(
            _network([("w", 1000, 1000, "West", "police", 2), ("e", 5000, 1000, "East", "fire", 1)])
        )
    )
    with files["candidates"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "lat", "lon", "borough"])
        for cid, x, y, b in (("cw", 500, 500, "West"), ("ce", 5000, 1000, "East")):
            p = point(x, y)
            writer.writerow([cid, cid, p.lat, p.lon, b])
    return files


def whatif(world: dict[str, Path], *args: str) -> tuple[int, str]:
    """Exit code and stdout (with --json/--csv: only the document; messages go to stderr),
    or everything printed when the command failed."""
    base = ["--boroughs", str(world["boroughs"]), "--airspace", str(world["airspace"])]
    result = runner.invoke(app, [*args, *base])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_coverage_as_json_shows_the_uncovered_borough(world) -> None:
    code, out = whatif(
        world,
        "coverage",
        "--sites",
        str(world["sites"]),
        "--within",
        "2min",
        "--cell",
        "100",
        "--json",
    )
    assert code == 0, out
    doc = json.loads(out)
    shares = {b["borough"]: b["share_by_agency"] for b in doc["boroughs"]}
    # 2 min: 95 s of cruise, 1425 m from the dock at the centre of a 2 km square: the
    # whole of West (farthest corner 1414 m) for police; fire must go round R1.
    assert shares["West"]["police"] == 1.0
    assert 0.9 < shares["West"]["fire"] < 1.0
    assert doc["uncovered_boroughs"] == ["East"]


def test_coverage_table_and_report(world, tmp_path: Path) -> None:
    code, out = whatif(world, "coverage", "--sites", str(world["sites"]), "--report", str(tmp_path))
    assert code == 0, out
    assert "without any cover" in out and "East" in out
    html = (tmp_path / "whatif-coverage.html").read_text()
    png = (tmp_path / "whatif-coverage.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "data:image/png;base64," in html and "src='http" not in html
    assert "West" in html


def test_simulate_is_reproducible_for_a_seed_and_writes_csv(world) -> None:
    args = (
        "simulate",
        "--sites",
        str(world["bigger"]),
        "--rate",
        "300/week",
        "--days",
        "2",
        "--seed",
        "4",
    )
    code, first = whatif(world, *args, "--json")
    assert code == 0, first
    _, again = whatif(world, *args, "--json")
    assert first == again
    doc = json.loads(first)
    assert doc["overall"]["calls"] > 50
    assert doc["overall"]["reached"] + doc["overall"]["unserved"] == doc["overall"]["calls"]
    code, text = whatif(world, *args, "--csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["borough"] for r in rows} == {"East", "West"}


def test_optimize_puts_the_new_site_where_there_is_no_cover(world, tmp_path: Path) -> None:
    code, out = whatif(
        world,
        "optimize",
        "--sites",
        str(world["sites"]),
        "--add",
        "1",
        "--candidates",
        str(world["candidates"]),
        "--json",
        "--report",
        str(tmp_path),
    )
    assert code == 0, out
    doc = json.loads(out)
    assert [s["id"] for s in doc["exact"]["sites"]] == ["ce"]
    assert doc["gap"] == 0.0
    assert doc["exact"]["figures"]["covered_share"] > doc["today"]["covered_share"]
    assert (tmp_path / "whatif-optimize.png").exists()


def test_fleet_answers_drones_per_site(world) -> None:
    code, out = whatif(
        world,
        "fleet",
        "--sites",
        str(world["bigger"]),
        "--target",
        "60% within 150s",
        "--rate",
        "300/week",
        "--days",
        "1",
        "--json",
    )
    assert code == 0, out
    doc = json.loads(out)
    assert doc["feasible"] and doc["met"]
    assert set(doc["per_site"]) == {"w", "e"}


def test_compare_two_scenarios_and_pooling(world) -> None:
    code, out = whatif(
        world,
        "compare",
        str(world["sites"]),
        str(world["bigger"]),
        "--rate",
        "200/week",
        "--days",
        "1",
        "--pooling",
        "--target",
        "50% within 150s",
        "--candidates",
        str(world["candidates"]),
        "--json",
    )
    assert code == 0, out
    doc = json.loads(out)
    today, bigger = doc["scenarios"]["today"], doc["scenarios"]["bigger"]
    assert (today["sites"], bigger["sites"]) == (1, 2)
    assert bigger["boroughs without cover"] == 0 < today["boroughs without cover"]
    pooling = doc["pooling"]
    assert pooling["shared"]["bases"] <= pooling["separate_total"]["bases"]


def test_bad_input_names_the_field_and_exits_2(world) -> None:
    code, out = whatif(world, "coverage", "--sites", str(world["sites"]), "--within", "soon")
    assert code == 2
    assert "within" in out


def test_missing_network_file_names_the_file(world, tmp_path: Path) -> None:
    code, out = whatif(world, "coverage", "--sites", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml" in out


def test_grid_origin_is_what_the_hand_figures_assume() -> None:
    assert PROJ.point(point(0, 0).lat, point(0, 0).lon) == pytest.approx(ORIGIN, abs=1e-3)
    assert box(0, 0, 1, 1).area == pytest.approx(1.0)
    assert mapping(box(0, 0, 1, 1))["type"] == "Polygon"


def test_every_borough_writes_a_network_the_other_commands_read(world, tmp_path: Path) -> None:
    written = tmp_path / "every.yaml"
    code, out = whatif(
        world,
        "optimize",
        "--sites",
        str(world["sites"]),
        "--every-borough",
        "50%",
        "--candidates",
        str(world["candidates"]),
        "--write-network",
        str(written),
        "--json",
    )
    assert code == 0, out
    doc = json.loads(out)
    assert [s["id"] for s in doc["exact"]["sites"]] == ["ce"]
    assert doc["boroughs"]["East"]["exact"] >= 0.5
    code, out = whatif(world, "coverage", "--sites", str(written), "--json")
    assert code == 0, out
    assert json.loads(out)["uncovered_boroughs"] == []


def test_add_and_every_borough_are_exclusive(world) -> None:
    code, out = whatif(world, "optimize", "--sites", str(world["sites"]))
    assert code == 2 and "--add" in out
