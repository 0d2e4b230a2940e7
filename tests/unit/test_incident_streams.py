"""Incident streams: Poisson by borough weight, and replay of real police.uk records."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulators.incidents import (
    DEFAULT_MIX,
    KindShare,
    borough_weights,
    borough_weights_csv,
    mix_for,
    poisson_incidents,
    read_police_csv,
    replay,
    replay_csv,
)
from skyshare.airspace.service_area import ServiceArea, parse_service_area
from skyshare.domain import InputError, Priority
from skyshare.geo import projection

REPO = Path(__file__).resolve().parents[2]
BOROUGHS = REPO / "airspace" / "london_boroughs.geojson"
POLICE_CSV = REPO.parent / "shared" / "data" / "incidents_police_uk.csv"
START = datetime(2025, 3, 3, tzinfo=UTC)

needs_police_csv = pytest.mark.skipif(
    not POLICE_CSV.exists(), reason=f"shared data not found: {POLICE_CSV}"
)


@pytest.fixture(scope="module")
def area() -> ServiceArea:
    doc = json.loads(BOROUGHS.read_text(encoding="utf-8"))
    return parse_service_area(doc, source=str(BOROUGHS), proj=projection("EPSG:27700"))


@pytest.fixture(scope="module")
def even(area: ServiceArea) -> dict[str, float]:
    return dict.fromkeys(area.names, 1.0)


# ------------------------------------------------------------------------- Poisson


def test_count_matches_the_rate(area: ServiceArea, even: dict[str, float]) -> None:
    # 30 independent weeks at 200/week: the mean within 4 standard errors of 200, and
    # the spread of the weekly counts that of a Poisson variable (variance = mean).
    counts = np.array(
        [len(poisson_incidents(200, 7, even, DEFAULT_MIX, area, seed, START)) for seed in range(30)]
    )
    assert abs(counts.mean() - 200) < 4 * np.sqrt(200 / 30)
    assert 0.5 < counts.var(ddof=1) / 200 < 1.7


def test_arrivals_are_poisson_in_time(area: ServiceArea, even: dict[str, float]) -> None:
    incidents = poisson_incidents(500, 14, even, DEFAULT_MIX, area, 11, START)
    times = [i.at for i in incidents]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < START + timedelta(days=14)
    gaps = np.diff([(t - START).total_seconds() for t in times])
    mean_gap = 14 * 86_400 / len(incidents)
    assert stats.kstest(gaps, "expon", args=(0, mean_gap)).pvalue > 0.01


def test_points_lie_in_their_borough(area: ServiceArea, even: dict[str, float]) -> None:
    incidents = poisson_incidents(1000, 7, even, DEFAULT_MIX, area, 3, START)
    misplaced = [i for i in incidents if area.borough_of(i.lat, i.lon) != i.borough]
    assert misplaced == []
    assert {i.borough for i in incidents} == set(area.names)


def test_points_are_uniform_over_the_borough(area: ServiceArea) -> None:
    # Havering's western and eastern halves (by area) should get equal shares.
    incidents = poisson_incidents(4000, 7, {"Havering": 1.0}, DEFAULT_MIX, area, 5, START)
    proj = area.projection
    x = np.array([proj.point(i.lat, i.lon)[0] for i in incidents])
    geom = area.geometry_of("Havering")
    x0, y0, x1, y1 = geom.bounds
    xs = np.linspace(x0, x1, 400)
    from shapely.geometry import box

    west_area = np.array([geom.intersection(box(x0, y0, xm, y1)).area for xm in xs])
    median_x = xs[np.searchsorted(west_area, geom.area / 2)]
    west = int((x < median_x).sum())
    assert stats.binomtest(west, len(x), 0.5).pvalue > 0.01


def test_boroughs_follow_their_weights(area: ServiceArea) -> None:
    weights = {"Camden": 3.0, "Bromley": 1.0, "Sutton": 0.0}
    incidents = poisson_incidents(2000, 7, weights, DEFAULT_MIX, area, 8, START)
    counts = Counter(i.borough for i in incidents)
    assert counts["Sutton"] == 0
    assert set(counts) == {"Camden", "Bromley"}
    chi = stats.chisquare(
        [counts["Camden"], counts["Bromley"]], np.array([0.75, 0.25]) * len(incidents)
    )
    assert chi.pvalue > 0.01


def test_agency_kind_and_priority_follow_the_mix(area: ServiceArea, even: dict[str, float]) -> None:
    incidents = poisson_incidents(3000, 7, even, DEFAULT_MIX, area, 2, START)
    seen = Counter((i.agency, i.kind, i.priority) for i in incidents)
    expected = Counter()
    for share in DEFAULT_MIX:
        expected[(share.agency, share.kind, share.priority)] += share.weight
    keys = sorted(expected, key=str)
    total = sum(expected.values())
    chi = stats.chisquare(
        [seen[k] for k in keys], [expected[k] / total * len(incidents) for k in keys]
    )
    assert chi.pvalue > 0.01
    assert {i.kind for i in incidents if i.agency == "ambulance"} <= {
        "cardiac_arrest",
        "road_traffic_collision",
        "major_incident",
    }


def test_police_only_mix(area: ServiceArea, even: dict[str, float]) -> None:
    incidents = poisson_incidents(300, 7, even, mix_for(["police"]), area, 4, START)
    assert incidents and {i.agency for i in incidents} == {"police"}
    with pytest.raises(InputError, match="agencies"):
        mix_for(["coastguard"])


def test_same_seed_same_stream(area: ServiceArea, even: dict[str, float]) -> None:
    first = poisson_incidents(200, 7, even, DEFAULT_MIX, area, 42, START)
    again = poisson_incidents(200, 7, even, DEFAULT_MIX, area, 42, START)
    other = poisson_incidents(200, 7, even, DEFAULT_MIX, area, 43, START)
    assert first == again
    assert first != other
    assert len({i.external_id for i in first}) == len(first)


def test_zero_rate_gives_no_calls(area: ServiceArea, even: dict[str, float]) -> None:
    assert poisson_incidents(0, 7, even, DEFAULT_MIX, area, 1, START) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"weights_by_borough": {"Gotham": 1.0}}, "weights_by_borough"),
        ({"weights_by_borough": {"Camden": -1.0}}, "weights_by_borough"),
        ({"weights_by_borough": {"Camden": 0.0}}, "weights_by_borough"),
        ({"start": datetime(2025, 3, 3)}, "start"),
        ({"rate_per_week": -5}, "rate_per_week"),
        ({"days": 0}, "days"),
        ({"kinds_mix": []}, "kinds_mix"),
        ({"kinds_mix": [KindShare("police", "burglary", Priority.P2, -1.0)]}, "kinds_mix"),
    ],
)
def test_bad_arguments_name_the_field(area: ServiceArea, kwargs: dict, field: str) -> None:
    args = {
        "rate_per_week": 100,
        "days": 7,
        "weights_by_borough": {"Camden": 1.0},
        "kinds_mix": DEFAULT_MIX,
        "service_area": area,
        "seed": 1,
        "start": START,
    }
    with pytest.raises(InputError) as caught:
        poisson_incidents(**(args | kwargs))
    assert caught.value.field == field


def test_generated_incident_converts_for_the_core_and_the_api(
    area: ServiceArea, even: dict[str, float]
) -> None:
    call = poisson_incidents(100, 7, even, DEFAULT_MIX, area, 9, START)[0]
    incident = call.to_incident("inc-1")
    assert (incident.position.lat, incident.position.lon) == (call.lat, call.lon)
    assert incident.received_at == call.at and incident.priority == call.priority
    body = call.to_request_json()
    assert body["priority"] == call.priority.name and body["external_id"] == call.external_id
    json.dumps(body)


# -------------------------------------------------------------------------- replay


@pytest.fixture(scope="module")
def police_rows() -> list[dict[str, str]]:
    with POLICE_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@needs_police_csv
def test_replay_keeps_every_record_and_spreads_it_over_its_month(
    police_rows: list[dict[str, str]], area: ServiceArea
) -> None:
    incidents = replay_csv(POLICE_CSV, seed=1, service_area=area)
    assert len(incidents) == len(police_rows)
    assert Counter(i.external_id for i in incidents) == Counter(r["crime_id"] for r in police_rows)
    month = datetime(2025, 2, 1, tzinfo=UTC)
    assert all(month <= i.at < datetime(2025, 3, 1, tzinfo=UTC) for i in incidents)
    assert [i.at for i in incidents] == sorted(i.at for i in incidents)
    per_day = Counter(i.at.day for i in incidents)
    assert sorted(per_day) == list(range(1, 29))
    assert stats.chisquare([per_day[d] for d in range(1, 29)]).pvalue > 0.01
    per_hour = Counter(i.at.hour for i in incidents)
    assert stats.chisquare([per_hour[h] for h in range(24)]).pvalue > 0.01
    mixes = {(i.agency, i.kind, i.priority) for i in incidents}
    assert mixes == {("police", "burglary", Priority.P2)}


@needs_police_csv
def test_replay_is_deterministic_for_a_seed() -> None:
    first = replay_csv(POLICE_CSV, seed=5)
    assert first == replay_csv(POLICE_CSV, seed=5)
    other = replay_csv(POLICE_CSV, seed=6)
    assert [i.at for i in first] != [i.at for i in other]
    assert sorted(i.external_id for i in first) == sorted(i.external_id for i in other)


@needs_police_csv
def test_borough_weights_are_the_counts_per_borough(
    police_rows: list[dict[str, str]], area: ServiceArea
) -> None:
    counts = Counter(row["borough"] for row in police_rows)
    weights = borough_weights_csv(POLICE_CSV, area.names)
    assert set(weights) == set(area.names)
    assert all(weights[name] == counts[name] for name in area.names)
    everything = borough_weights_csv(POLICE_CSV)
    assert sum(everything.values()) == len(police_rows)


RAW_HEADER = "Crime ID,Month,Reported by,Longitude,Latitude,Location,Crime type\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crimes.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_replay_of_a_raw_police_uk_download(tmp_path: Path, area: ServiceArea) -> None:
    path = _write(
        tmp_path,
        RAW_HEADER
        + "a1,2024-02,Met,-0.1099,51.5338,On or near X,Burglary\n"
        + "a2,2024-03,Met,-0.1244,51.5099,On or near Y,Robbery\n"
        + ",2024-03,Met,,,No location,Burglary\n"
        + ",2024-03,Met,0.0703,51.5594,On or near Z,Public order\n",
    )
    data = read_police_csv(path)
    assert len(data.records) == 3 and data.skipped_without_location == 1
    incidents = {i.external_id: i for i in replay(data.records, 3, service_area=area)}
    assert set(incidents) == {"a1", "a2", "row-5"}
    assert datetime(2024, 2, 1, tzinfo=UTC) <= incidents["a1"].at < datetime(2024, 3, 1, tzinfo=UTC)
    assert datetime(2024, 3, 1, tzinfo=UTC) <= incidents["a2"].at < datetime(2024, 4, 1, tzinfo=UTC)
    assert (incidents["a1"].borough, incidents["a2"].kind) == ("Islington", "suspect_search")
    assert incidents["row-5"].kind == "public_disorder"
    assert borough_weights(incidents.values()) == {"Islington": 1, "Redbridge": 1, "Westminster": 1}
    with pytest.raises(InputError, match="no borough values"):
        borough_weights_csv(path)


@pytest.mark.parametrize(
    ("text", "field", "item"),
    [
        ("Crime ID,Month,Longitude,Crime type\nx,2024-02,-0.1,Burglary\n", "lat", ""),
        (
            RAW_HEADER
            + "x,2024-02,Met,-0.1,51.5,a,Burglary\ny,2024-02,Met,-0.1,north,b,Burglary\n",
            "lat",
            "row 3",
        ),
        (RAW_HEADER + "x,2024-02,Met,-200,51.5,a,Burglary\n", "lon", "row 2"),
        (RAW_HEADER + "x,Feb 2024,Met,-0.1,51.5,a,Burglary\n", "month", "row 2"),
    ],
)
def test_bad_csv_names_file_row_and_column(
    tmp_path: Path, text: str, field: str, item: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_police_csv(path)
    assert (caught.value.source, caught.value.field, caught.value.item) == (str(path), field, item)


def test_unmapped_crime_type_is_refused_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path, RAW_HEADER + "x,2024-02,Met,-0.1,51.5,a,Shoplifting\n")
    with pytest.raises(InputError) as caught:
        replay_csv(path, 1)
    assert caught.value.field == "type" and "Shoplifting" in caught.value.reason
    mapped = replay_csv(path, 1, kind_by_type={"Shoplifting": "suspect_search"})
    assert [i.kind for i in mapped] == ["suspect_search"]
