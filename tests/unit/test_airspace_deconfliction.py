"""Strategic deconfliction: 4D volumes, resolution by layer or delay, and the record of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from skyshare.airspace import AirspaceMap
from skyshare.airspace.deconfliction import Deconflictor, FlightPlan, departure_after
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint
from skyshare.geo import projection

NOON = datetime(2025, 3, 4, 12, tzinfo=UTC)
PROJ = projection()
OPEN_SKY = AirspaceMap([])


def at_xy(x: float, y: float) -> GeoPoint:
    return GeoPoint(*PROJ.latlon(x, y))


def plan(
    flight_id: str,
    a: tuple[float, float],
    b: tuple[float, float],
    *,
    leaves: datetime = NOON,
    alt: float = 60.0,
) -> FlightPlan:
    route = OPEN_SKY.route(at_xy(*a), at_xy(*b), "fire", at=NOON, cruise_alt_m=alt)
    return FlightPlan(flight_id, route, leaves, speed_mps=15.0, climb_rate_mps=3.0, on_scene_s=300)


# Two flights whose paths cross at (530 000, 180 000) at the same moment.
WEST_EAST = ((527_000, 180_000), (533_000, 180_000))
SOUTH_NORTH = ((530_000, 177_000), (530_000, 183_000))


def test_a_plan_that_meets_nobody_is_accepted_as_filed():
    deconflictor, first = Deconflictor().plan(plan("A", *WEST_EAST))
    assert first.action == "none" and first.conflicts_with == ()
    _, far = deconflictor.plan(plan("B", (540_000, 190_000), (545_000, 190_000)))
    assert far.action == "none"
    assert far.cruise_alt_m == 60.0 and far.delay_s == 0


def test_crossing_flights_are_separated_by_a_cruise_layer():
    deconflictor, _ = Deconflictor().plan(plan("A", *WEST_EAST))
    deconflictor, resolution = deconflictor.plan(plan("B", *SOUTH_NORTH))
    assert resolution.action == "altitude"
    assert resolution.conflicts_with == ("A",)
    assert resolution.cruise_alt_m == 75.0 and resolution.delay_s == 0
    assert "conflict with A avoided by cruising at 75 m" in resolution.reason
    assert deconflictor.flights == {"A", "B"}
    assert not deconflictor.release("B").conflicts(resolution.volumes)


def test_the_same_crossing_later_in_the_day_is_no_conflict():
    deconflictor, _ = Deconflictor().plan(plan("A", *WEST_EAST))
    _, resolution = deconflictor.plan(plan("B", *SOUTH_NORTH, leaves=NOON + timedelta(hours=1)))
    assert resolution.action == "none"


def test_two_launches_from_one_site_at_once_are_separated_by_a_delay():
    site = (530_000, 180_000)
    deconflictor, _ = Deconflictor().plan(plan("A", site, (535_000, 180_000)))
    base = plan("B", site, (525_000, 180_000))
    deconflictor, resolution = deconflictor.plan(base)
    assert "delay" in resolution.action  # a layer cannot separate two climbs over one dock
    assert resolution.delay_s > 0
    assert resolution.conflicts_with == ("A",)
    assert departure_after(base, resolution) == NOON + timedelta(seconds=resolution.delay_s)
    assert not deconflictor.release("B").conflicts(resolution.volumes)


def test_an_unresolvable_conflict_is_reported_and_nothing_is_booked():
    strict = Deconflictor(layers_m=(60.0,), max_delay_s=0.0)
    strict, _ = strict.plan(plan("A", *WEST_EAST))
    after, resolution = strict.plan(plan("B", *SOUTH_NORTH))
    assert resolution.action == "unresolved"
    assert resolution.conflicts_with == ("A",)
    assert after is strict and after.flights == {"A"}


def test_volumes_expire_and_flights_cannot_be_booked_twice():
    deconflictor, _ = Deconflictor().plan(plan("A", *WEST_EAST))
    with pytest.raises(InputError, match="already planned"):
        deconflictor.plan(plan("A", *SOUTH_NORTH))
    assert deconflictor.expire(NOON + timedelta(hours=2)).flights == frozenset()
    assert deconflictor.expire(NOON + timedelta(minutes=5)).flights == {"A"}
