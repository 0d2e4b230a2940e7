"""Zones: the London data, GeoJSON and ED-269 round trips, validation, time windows, entry."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime, time, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skyshare.airspace import (
    ANY_AGENCY,
    AirspaceMap,
    CircleShape,
    DailyPeriod,
    EntryRule,
    Geozone,
    Limit,
    PolygonShape,
    TimeWindow,
    VerticalRef,
    ZoneKind,
    load_zones,
    zones_from_ed269,
    zones_from_geojson,
    zones_to_ed269,
    zones_to_geojson,
)
from skyshare.airspace.compiled import CompiledZone
from skyshare.airspace.geojson_io import KNOWN_PROPERTIES
from skyshare.airspace.zones import Ground
from skyshare.config import REPO_ROOT
from skyshare.domain.errors import InputError
from skyshare.geo import projection

LONDON_FILE = REPO_ROOT / "airspace" / "london.geojson"


def london_doc() -> dict:
    return json.loads(LONDON_FILE.read_text())


# --- the London data -----------------------------------------------------------------


def test_london_file_has_the_frzs_and_the_central_restricted_areas():
    zones = load_zones(london_doc(), str(LONDON_FILE))
    assert len(zones) == 32
    by_id = {z.id: z for z in zones}
    assert {"EG R157", "EG R158", "EG R159", "EG RU128A", "EG RU135A", "EG RU143A"} <= set(by_id)
    assert sum(z.kind is ZoneKind.FRZ for z in zones) == 29
    r157 = by_id["EG R157"]
    assert r157.upper == Limit(426.72, VerticalRef.AMSL)
    assert r157.lower == Limit(0.0, VerticalRef.AGL)
    assert all("source" in z.extra and z.extra["effective"] == "2022-12-29" for z in zones)


def test_police_enter_the_central_restricted_areas_others_need_a_permission():
    by_id = {z.id: z for z in load_zones(london_doc())}
    for zone_id in ("EG R157", "EG R158", "EG R159"):
        zone = by_id[zone_id]
        assert zone.may_enter("police")
        assert not zone.may_enter("fire")
        assert not zone.may_enter("ambulance")
        assert zone.may_enter("fire", frozenset({("fire", zone_id)}))
        assert not zone.may_enter("fire", frozenset({("ambulance", zone_id)}))


def test_nobody_enters_an_airport_frz_without_a_recorded_atc_permission():
    heathrow = {z.id: z for z in load_zones(london_doc())}["EG RU128A"]
    for agency in ("police", "fire", "ambulance"):
        assert not heathrow.may_enter(agency)
        assert heathrow.may_enter(agency, frozenset({(agency, "EG RU128A")}))
    assert "air traffic" in heathrow.entry.explain("police")


def test_raw_nats_features_get_entry_rules_from_their_aip_remarks():
    shared = REPO_ROOT.parent / "shared" / "data" / "london_airspace.geojson"
    doc = json.loads(shared.read_text()) if shared.exists() else london_doc()
    for feature in doc["features"]:
        feature["properties"].pop("entry", None)
    by_id = {z.id: z for z in load_zones(doc)}
    assert by_id["EG R158"].may_enter("police") and not by_id["EG R158"].may_enter("fire")
    assert not by_id["EG RU135A"].may_enter("police")


def test_the_london_file_is_its_own_export():
    doc = london_doc()
    zones = zones_from_geojson(doc, "london")
    again = zones_to_geojson(zones, name=doc["name"], description=doc["description"])
    assert again == doc


# --- round trips ---------------------------------------------------------------------

AGENCIES = st.sampled_from(["police", "fire", "ambulance", ANY_AGENCY])
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.text(max_size=8)
    | (st.floats(allow_nan=False, allow_infinity=False))
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
EXTRA_KEYS = st.text(min_size=1, max_size=10).filter(
    lambda k: k not in KNOWN_PROPERTIES | {"ed269"}
)


@st.composite
def star_polygon(draw, lon0: float, lat0: float):
    """A simple polygon: vertices at increasing angles around a centre."""
    n = draw(st.integers(3, 10))
    gaps = draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(0.002, 0.02), min_size=n, max_size=n))
    total = sum(gaps)
    angles = np.cumsum(gaps) / total * 2 * math.pi
    ring = [
        (lon0 + r * math.cos(a), lat0 + r * math.sin(a)) for a, r in zip(angles, radii, strict=True)
    ]
    return (tuple([*ring, ring[0]]),)


@st.composite
def shapes(draw):
    lon0 = draw(st.floats(-0.5, 0.3))
    lat0 = draw(st.floats(51.3, 51.7))
    if draw(st.booleans()):
        return CircleShape(lon0, lat0, draw(st.floats(10.0, 9000.0)))
    count = draw(st.integers(1, 3))
    polygons = tuple(draw(star_polygon(lon0 + 0.1 * i, lat0)) for i in range(count))
    return PolygonShape(polygons, multi=count > 1 or draw(st.booleans()))


instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=1))]),
)
times_of_day = st.times().map(lambda t: t.replace(microsecond=0))


@st.composite
def windows(draw):
    start = draw(st.none() | instants)
    end = draw(st.none() | instants)
    if start and end and end <= start:
        start, end = end - timedelta(hours=1), start + timedelta(hours=1)
    periods = draw(
        st.lists(
            st.builds(
                DailyPeriod,
                st.frozensets(
                    st.sampled_from(["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]), min_size=1
                ),
                times_of_day,
                times_of_day,
            ),
            max_size=2,
        )
    )
    return TimeWindow(start, end, tuple(periods))


@st.composite
def geozones(draw):
    refs = st.sampled_from(list(VerticalRef))
    lower = draw(st.floats(0, 200))
    upper = draw(st.one_of(st.just(math.inf), st.floats(1, 500).map(lambda d: lower + d)))
    return Geozone(
        id=draw(
            st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -", min_size=1, max_size=12).filter(
                str.strip
            )
        ),
        name=draw(st.text(min_size=1, max_size=20).filter(str.strip)),
        kind=draw(st.sampled_from(list(ZoneKind))),
        shape=draw(shapes()),
        lower=Limit(lower, draw(refs)),
        upper=Limit(upper, draw(refs)),
        windows=tuple(draw(st.lists(windows(), max_size=2))),
        entry=EntryRule(
            draw(st.frozensets(AGENCIES)), draw(st.frozensets(AGENCIES)), draw(st.text(max_size=15))
        ),
        extra=draw(st.dictionaries(EXTRA_KEYS, JSON_VALUES, max_size=4)),
    )


def unique_ids(zones: list[Geozone]) -> list[Geozone]:
    seen: dict[str, Geozone] = {}
    for zone in zones:
        seen.setdefault(zone.id, zone)
    return list(seen.values())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(geozones(), min_size=1, max_size=3).map(unique_ids))
def test_geojson_round_trip_loses_nothing(zones):
    text = json.dumps(zones_to_geojson(zones))
    assert list(zones_from_geojson(json.loads(text))) == zones


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(geozones(), min_size=1, max_size=3).map(unique_ids))
def test_ed269_round_trip_loses_nothing(zones):
    text = json.dumps(zones_to_ed269(zones, title="t"))
    assert list(zones_from_ed269(json.loads(text))) == zones
    assert list(load_zones(json.loads(text))) == zones


FOREIGN_ED269 = {
    "title": "Test zones",
    "description": "hand-written in the ED-269 format",
    "features": [
        {
            "identifier": "TST0001",
            "country": "GBR",
            "name": "Stadium event",
            "type": "COMMON",
            "restriction": "PROHIBITED",
            "reason": ["SENSITIVE"],
            "message": "Major event",
            "regulationExemption": "NO",
            "applicability": [
                {
                    "permanent": "NO",
                    "startDateTime": "2025-06-01T00:00:00Z",
                    "endDateTime": "2025-06-30T00:00:00Z",
                    "schedule": [
                        {
                            "day": ["SAT", "SUN"],
                            "startTime": "12:00:00.00Z",
                            "endTime": "22:00:00.00Z",
                        }
                    ],
                }
            ],
            "zoneAuthority": [
                {"name": "Met Police", "purpose": "AUTHORIZATION", "email": "x@example.org"}
            ],
            "geometry": [
                {
                    "uomDimensions": "FT",
                    "lowerLimit": 0,
                    "lowerVerticalReference": "AGL",
                    "upperLimit": 400,
                    "upperVerticalReference": "AGL",
                    "horizontalProjection": {
                        "type": "Circle",
                        "center": [-0.2795, 51.556],
                        "radius": 3000,
                    },
                }
            ],
            "extendedProperties": {"venue": "Wembley"},
        },
        {
            "identifier": "TST0002",
            "country": "GBR",
            "name": "Permission area",
            "type": "COMMON",
            "restriction": "REQ_AUTHORISATION",
            "applicability": [{"permanent": "YES"}],
            "zoneAuthority": [{"name": "Tower ATC", "purpose": "AUTHORIZATION"}],
            "geometry": [
                {
                    "uomDimensions": "M",
                    "lowerLimit": 0,
                    "lowerVerticalReference": "AGL",
                    "upperLimit": 150,
                    "upperVerticalReference": "AMSL",
                    "horizontalProjection": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [-0.08, 51.50],
                                [-0.07, 51.50],
                                [-0.07, 51.51],
                                [-0.08, 51.51],
                                [-0.08, 51.50],
                            ]
                        ],
                    },
                }
            ],
        },
    ],
}


def test_a_foreign_ed269_document_keeps_its_meaning_and_its_fields():
    stadium, area = zones_from_ed269(copy.deepcopy(FOREIGN_ED269), "test.json")
    assert stadium.kind is ZoneKind.PROHIBITED
    assert not stadium.may_enter("police", frozenset({("police", "TST0001")}))
    assert stadium.shape == CircleShape(-0.2795, 51.556, pytest.approx(914.4))
    assert stadium.upper.value_m == pytest.approx(121.92)
    assert stadium.active_at(datetime(2025, 6, 7, 13, tzinfo=UTC))  # a Saturday afternoon
    assert not stadium.active_at(datetime(2025, 6, 9, 13, tzinfo=UTC))  # a Monday
    assert not stadium.active_at(datetime(2025, 7, 5, 13, tzinfo=UTC))  # after the end
    assert area.entry.authority == "Tower ATC"
    assert area.may_enter("fire", frozenset({("fire", "TST0002")}))
    assert area.upper == Limit(150.0, VerticalRef.AMSL)

    exported = zones_to_ed269([stadium, area])
    first = exported["features"][0]
    assert first["message"] == "Major event"
    assert first["zoneAuthority"] == FOREIGN_ED269["features"][0]["zoneAuthority"]
    assert first["extendedProperties"]["venue"] == "Wembley"
    assert list(zones_from_ed269(json.loads(json.dumps(exported)))) == [stadium, area]


def test_ed269_volumes_with_different_limits_become_separate_zones():
    doc = copy.deepcopy(FOREIGN_ED269)
    feature = doc["features"][1]
    second = copy.deepcopy(feature["geometry"][0])
    second["lowerLimit"], second["upperLimit"], second["upperVerticalReference"] = 150, 300, "AMSL"
    feature["geometry"].append(second)
    zones = zones_from_ed269(doc)
    assert [z.id for z in zones] == ["TST0001", "TST0002#1", "TST0002#2"]
    assert zones[2].lower.value_m == 150.0


# --- invalid data --------------------------------------------------------------------


def feature_doc(**props) -> dict:
    ring = [[-0.10, 51.50], [-0.09, 51.50], [-0.09, 51.51], [-0.10, 51.51], [-0.10, 51.50]]
    base = {"name": "Box", "kind": "restricted", "lower_m": 0, "upper_m": 100}
    base.update(props)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "OK1",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"name": "Fine", "kind": "frz", "lower_m": 0, "upper_m": 50},
            },
            {
                "type": "Feature",
                "id": "BOX",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": base,
            },
        ],
    }


def with_geometry(geometry: dict, **props) -> dict:
    doc = feature_doc(**props)
    doc["features"][1]["geometry"] = geometry
    return doc


BOWTIE = [[-0.10, 51.50], [-0.09, 51.51], [-0.09, 51.50], [-0.10, 51.51], [-0.10, 51.50]]
OPEN_RING = [[-0.10, 51.50], [-0.09, 51.50], [-0.09, 51.51], [-0.10, 51.51]]


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        (feature_doc(kind="no-fly"), "properties.kind", "unknown kind"),
        (feature_doc(upper_m=-5), "properties.upper_m", "must be above the lower"),
        (feature_doc(upper_m="high"), "properties.upper_m", "expected a number"),
        (feature_doc(lower_ref="QNH"), "properties.lower_ref", "unknown vertical reference"),
        (
            with_geometry({"type": "Polygon", "coordinates": [BOWTIE]}),
            "geometry.coordinates",
            "Self-intersection",
        ),
        (
            with_geometry({"type": "Polygon", "coordinates": [OPEN_RING]}),
            "geometry.coordinates[0]",
            "closed",
        ),
        (
            with_geometry(
                {"type": "Polygon", "coordinates": [[[-0.1, 95.0], [0, 1], [1, 1], [-0.1, 95.0]]]}
            ),
            "geometry.coordinates[0][0]",
            "latitude 95.0",
        ),
        (
            with_geometry({"type": "Point", "coordinates": [-0.1, 51.5]}),
            "properties.radius_m",
            "needs radius_m",
        ),
        (
            with_geometry({"type": "Point", "coordinates": [-0.1, 51.5]}, radius_m=0),
            "properties.radius_m",
            "must be positive",
        ),
        (
            with_geometry({"type": "LineString", "coordinates": [[-0.1, 51.5], [0, 51.5]]}),
            "geometry.type",
            "expected Polygon",
        ),
        (
            feature_doc(applicability=[{"start": "2025-01-01T10:00:00"}]),
            "properties.applicability[0].start",
            "needs a timezone",
        ),
        (
            feature_doc(
                applicability=[
                    {"schedule": [{"days": ["FUNDAY"], "start": "10:00", "end": "11:00"}]}
                ]
            ),
            "properties.applicability[0].schedule[0].days",
            "expected days",
        ),
        (feature_doc(entry={"free": "police"}), "properties.entry.free", "expected a list"),
    ],
)
def test_bad_features_are_refused_naming_the_feature_and_the_reason(doc, field, words):
    with pytest.raises(InputError) as caught:
        zones_from_geojson(doc, "zones.geojson")
    error = caught.value
    assert error.source == "zones.geojson"
    assert error.item == "features[1] (BOX)"
    assert error.field == field
    assert words in error.reason


def test_duplicate_ids_are_refused():
    doc = feature_doc()
    doc["features"][1]["id"] = "OK1"
    with pytest.raises(InputError, match="duplicate zone id 'OK1'"):
        zones_from_geojson(doc, "zones.geojson")


def test_a_bad_ed269_volume_is_refused_naming_the_zone():
    doc = copy.deepcopy(FOREIGN_ED269)
    doc["features"][1]["geometry"][0]["horizontalProjection"]["coordinates"][0][2] = [-0.07, 91]
    with pytest.raises(InputError) as caught:
        zones_from_ed269(doc, "ed.json")
    assert caught.value.item == "features[1] (TST0002)"
    assert caught.value.field == "geometry[0].horizontalProjection.coordinates[0][2]"
    assert "latitude 91" in caught.value.reason


def test_documents_of_neither_format_are_refused():
    with pytest.raises(InputError, match="GeoJSON FeatureCollection or an ED-269"):
        load_zones({"type": "Feature"}, "x.json")


# --- time windows --------------------------------------------------------------------


def test_a_night_period_wraps_past_midnight():
    window = TimeWindow(schedule=(DailyPeriod(frozenset({"FRI"}), time(22), time(2)),))
    friday_night = datetime(2025, 1, 3, 23, 30, tzinfo=UTC)  # 2025-01-03 is a Friday
    saturday_early = datetime(2025, 1, 4, 1, 30, tzinfo=UTC)
    saturday_late = datetime(2025, 1, 4, 23, 30, tzinfo=UTC)
    assert window.contains(friday_night)
    assert window.contains(saturday_early)
    assert not window.contains(saturday_late)
    assert window.overlaps(
        datetime(2025, 1, 3, 21, tzinfo=UTC), datetime(2025, 1, 3, 22, 5, tzinfo=UTC)
    )
    assert not window.overlaps(
        datetime(2025, 1, 4, 3, tzinfo=UTC), datetime(2025, 1, 4, 21, tzinfo=UTC)
    )


@settings(max_examples=60, deadline=None)
@given(windows(), st.lists(instants, min_size=1, max_size=20))
@example(  # an instant given in UTC+1 whose date there is a day after its UTC date
    TimeWindow(schedule=(DailyPeriod(frozenset({"MON"}), time(23, 0, 1), time(23, 0, 1)),)),
    [datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=1)))],
)
def test_vectorised_activity_agrees_with_the_plain_rule(window, moments):
    zone = Geozone("Z", "Z", ZoneKind.TEMPORARY, CircleShape(0.0, 51.5, 100.0), windows=(window,))
    compiled = CompiledZone(zone, projection(), Ground())
    t = np.array([m.timestamp() for m in moments])
    assert compiled.active_mask(t).tolist() == [zone.active_at(m) for m in moments]


def test_a_temporary_zone_ends_when_it_expires():
    start = datetime(2025, 5, 1, 10, tzinfo=UTC)
    zone = Geozone(
        "T1",
        "Fire scene",
        ZoneKind.TEMPORARY,
        CircleShape(-0.1, 51.5, 500.0),
        windows=(TimeWindow(start, start + timedelta(hours=2)),),
    )
    assert zone.expires_at == start + timedelta(hours=2)
    assert zone.active_at(start + timedelta(hours=1))
    assert not zone.active_at(start + timedelta(hours=2))
    airspace = AirspaceMap([zone])
    assert len(airspace.without_expired(start + timedelta(hours=3))) == 0
    assert airspace.without_expired(start + timedelta(hours=1)) is airspace


def test_heights_in_amsl_are_compared_conservatively():
    ground = Ground(low_amsl_m=0.0, high_amsl_m=30.0)
    assert ground.upper_agl(Limit(426.72, VerticalRef.AMSL)) == pytest.approx(426.72)
    assert ground.lower_agl(Limit(50.0, VerticalRef.AMSL)) == pytest.approx(20.0)
    assert ground.upper_agl(Limit(100.0, VerticalRef.AGL)) == 100.0
    assert ground.upper_agl(Limit(146.0, VerticalRef.WGS84)) == pytest.approx(100.0)
