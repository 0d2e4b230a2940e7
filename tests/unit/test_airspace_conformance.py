"""Conformance: vectorised checks, depth and since when, look-ahead, excursion counting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import pytest

from skyshare.airspace import (
    AirspaceMap,
    Conformance,
    EntryRule,
    ExcursionTracker,
    Geozone,
    Limit,
    PolygonShape,
    TimeWindow,
    VerticalRef,
    ZoneKind,
    load_zones,
)
from skyshare.airspace.conformance import naive_check
from skyshare.config import REPO_ROOT
from skyshare.geo import projection

NOON = datetime(2025, 3, 4, 12, tzinfo=UTC)
PROJ = projection()


@cache
def london() -> AirspaceMap:
    doc = json.loads((REPO_ROOT / "airspace" / "london.geojson").read_text())
    return AirspaceMap(load_zones(doc, "london.geojson"))


def square(zone_id: str, cx: float, cy: float, half: float, **fields) -> Geozone:
    """A square zone given in British National Grid metres."""
    xs = np.array([cx - half, cx + half, cx + half, cx - half, cx - half])
    ys = np.array([cy - half, cy - half, cy + half, cy + half, cy - half])
    lons, lats = PROJ.to_wgs84(xs, ys)
    ring = tuple(zip(lons.tolist(), lats.tolist(), strict=True))
    ring = (*ring[:-1], ring[0])
    fields.setdefault("kind", ZoneKind.RESTRICTED)
    return Geozone(zone_id, zone_id, shape=PolygonShape(((ring,),)), **fields)


def latlon(x: float, y: float) -> tuple[float, float]:
    return PROJ.latlon(x, y)


def test_vectorised_checks_agree_with_the_plain_loop_on_london():
    airspace = london()
    rng = np.random.default_rng(7)
    n = 3000
    lat = rng.uniform(51.28, 51.70, n)
    lon = rng.uniform(-0.52, 0.34, n)
    alt = rng.uniform(0, 140, n)
    t = np.full(n, NOON.timestamp())
    x, y = PROJ.to_metric(lon, lat)
    for agency in ("police", "fire"):
        fast = airspace.check_positions(lat, lon, alt, t, agency=agency)
        slow = naive_check(airspace, x, y, alt, t, agency=agency)
        assert fast.zone_index.tolist() == slow.tolist()
        assert (fast.zone_index >= 0).sum() > 50  # the sample does hit zones
        assert ((alt > 120) == (fast.above_ceiling_m > 0)).all()


def test_police_may_fly_over_hyde_park_fire_may_not():
    airspace = london()
    hyde_park = (51.5073, -0.1657)
    police = airspace.check(*hyde_park, 60.0, "police", at=NOON)
    fire = airspace.check(*hyde_park, 60.0, "fire", at=NOON)
    assert police.allowed and not police.breaches
    assert not fire.allowed
    (breach,) = fire.breaches
    assert breach.zone_id == "EG R157"
    assert "Special Flight Notification" in breach.reason
    assert breach.depth_m > 100
    with_permission = airspace.check(
        *hyde_park, 60.0, "fire", at=NOON, permissions=[("fire", "EG R157")]
    )
    assert with_permission.allowed


def test_the_ceiling_is_checked_for_everyone():
    check = london().check(51.60, -0.25, 150.0, "police", at=NOON)
    assert not check.allowed
    assert check.above_ceiling_m == pytest.approx(30.0)
    assert "120 m ceiling" in check.reasons[0]


def test_depth_is_the_distance_in_from_the_edge_and_since_marks_the_entry():
    airspace = AirspaceMap([square("SQ", 530_000, 180_000, 500)])
    xs = np.arange(528_000, 531_001, 250.0)  # west to east through the square
    lat, lon = PROJ.to_wgs84(xs, np.full(len(xs), 180_000.0))[::-1]
    t = NOON.timestamp() + np.arange(len(xs)) * 10.0
    report = airspace.check_positions(lat, lon, 60.0, t, agency="fire")
    inside = (xs > 529_500) & (xs < 530_500)
    assert report.violating.tolist() == inside.tolist()
    entered = t[np.argmax(inside)]
    assert np.all(report.since[inside] == entered)
    assert np.isnan(report.since[~inside]).all()
    centre = int(np.argmin(np.abs(xs - 530_000)))
    assert report.depth_m[centre] == pytest.approx(500, abs=1)
    assert report.zone_at(centre) == "SQ"


def test_heights_outside_a_zones_band_do_not_breach_it():
    low = square("LOW", 530_000, 180_000, 500, upper=Limit(40.0, VerticalRef.AGL))
    amsl = square("AMSL", 535_000, 180_000, 500, lower=Limit(100.0, VerticalRef.AMSL))
    airspace = AirspaceMap([low, amsl])
    lat, lon = latlon(530_000, 180_000)
    assert not airspace.check(lat, lon, 30.0, "fire", at=NOON).allowed
    assert airspace.check(lat, lon, 60.0, "fire", at=NOON).allowed
    lat, lon = latlon(535_000, 180_000)
    # 100 m AMSL is 70-100 m above ground somewhere between 0 and 30 m AMSL: 75 m is inside.
    assert not airspace.check(lat, lon, 75.0, "fire", at=NOON).allowed
    assert airspace.check(lat, lon, 65.0, "fire", at=NOON).allowed


def test_a_temporary_zone_counts_only_while_it_is_active():
    window = TimeWindow(NOON, NOON + timedelta(hours=1))
    zone = square(
        "TMP",
        530_000,
        180_000,
        300,
        kind=ZoneKind.TEMPORARY,
        windows=(window,),
        entry=EntryRule(authority="incident commander"),
    )
    airspace = AirspaceMap([zone])
    lat, lon = latlon(530_000, 180_000)
    times = [
        NOON - timedelta(minutes=1),
        NOON,
        NOON + timedelta(minutes=59),
        NOON + timedelta(hours=1),
    ]
    t = np.array([m.timestamp() for m in times])
    report = airspace.check_positions(lat, lon, 50.0, t, agency="police")
    assert report.violating.tolist() == [False, True, True, False]


def test_lookahead_warns_before_the_breach_and_not_when_flying_away():
    airspace = AirspaceMap([square("SQ", 530_000, 180_000, 500)])
    lat, lon = latlon(529_350, 180_000)  # 150 m west of the square
    ahead = airspace.lookahead(
        [lat, lat, lat],
        [lon, lon, lon],
        [60, 60, 100],
        NOON.timestamp(),
        v_north=[0, 0, 0],
        v_east=[10, -10, -10],
        v_up=[0, 0, 5],
        agency="fire",
        horizon_s=30,
    )
    assert ahead.seconds_to_breach[0] == pytest.approx(16, abs=1)
    assert "SQ" in ahead.warning(0)
    assert np.isinf(ahead.seconds_to_breach[1])
    assert ahead.warning(1) is None
    assert ahead.seconds_to_breach[2] == pytest.approx(5, abs=1)  # climbing through 120 m
    assert "ceiling" in ahead.warning(2)


def test_an_excursion_over_ten_seconds_makes_the_flight_nonconforming():
    tracker = ExcursionTracker("F1")
    states = tracker.update_many(np.arange(0, 12), [False] + [True] * 11, [None] + ["SQ"] * 11)
    assert states[0].status is Conformance.CONFORMING
    assert states[1].status is Conformance.EXCURSION and states[1].changed
    assert states[10].status is Conformance.EXCURSION  # 9 s in
    assert states[11].status is Conformance.EXCURSION  # exactly 10 s: not more than 10
    late = tracker.update(11.5, True, "SQ")
    assert late.status is Conformance.NONCONFORMING and late.changed
    assert late.zone_id == "SQ" and late.since == 1.0
    back = tracker.update(12.0, False)
    assert back.status is Conformance.CONFORMING and back.excursions == 1


def test_more_than_eighteen_excursions_in_an_hour_make_the_flight_nonconforming():
    tracker = ExcursionTracker("F2")
    t = 0.0
    for _ in range(18):
        tracker.update(t, True)
        state = tracker.update(t + 2, False)
        t += 60
    assert state.status is Conformance.CONFORMING and state.excursions_last_hour == 18
    tracker.update(t, True)
    state = tracker.update(t + 2, False)
    assert state.status is Conformance.NONCONFORMING
    assert "19 excursions" in state.reason
    # An hour after the first ones, the count falls back under the limit.
    state = tracker.update(3600 + 61, False)
    assert state.status is Conformance.CONFORMING


def test_samples_must_come_in_time_order():
    tracker = ExcursionTracker("F3")
    tracker.update(10.0, False)
    with pytest.raises(ValueError, match="older"):
        tracker.update(5.0, False)
