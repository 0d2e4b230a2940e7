"""Temporary restrictions: reading a request, and finding the flights one cuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from skyshare.airspace import AirspaceMap, CircleShape, PolygonShape, ZoneKind
from skyshare.airspace.restrictions import ActiveFlight, flights_cut, parse_restriction
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint
from skyshare.geo import projection

NOW = datetime(2025, 3, 4, 12, tzinfo=UTC)
PROJ = projection()


def request(**fields):
    body = {
        "name": "Fire scene",
        "lat": 51.5138,
        "lon": -0.2157,
        "radius_m": 800,
        "duration_s": 3600,
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def test_a_circle_request_becomes_a_temporary_zone_the_creator_may_enter():
    zone = parse_restriction(
        request(reason="smoke"),
        zone_id="TR-1",
        now=NOW,
        created_by="fire-operator-1",
        agency="fire",
    )
    assert zone.kind is ZoneKind.TEMPORARY
    assert zone.shape == CircleShape(-0.2157, 51.5138, 800.0)
    assert zone.expires_at == NOW + timedelta(hours=1)
    assert zone.active_at(NOW) and not zone.active_at(NOW + timedelta(hours=1))
    assert zone.may_enter("fire") and not zone.may_enter("police")
    assert zone.may_enter("police", frozenset({("police", "TR-1")}))
    assert zone.extra["reason"] == "smoke" and zone.extra["agency"] == "fire"


def test_a_polygon_request_with_heights_and_an_expiry_time():
    ring = [[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.51], [-0.1, 51.5]]
    zone = parse_restriction(
        request(
            lat=None,
            lon=None,
            radius_m=None,
            duration_s=None,
            geometry={"type": "Polygon", "coordinates": [ring]},
            upper_m=90,
            expires_at="2025-03-04T15:00:00+00:00",
            free=[],
            with_permission=["police"],
        ),
        zone_id="TR-2",
        now=NOW,
        agency="police",
    )
    assert isinstance(zone.shape, PolygonShape)
    assert zone.upper.value_m == 90.0
    assert zone.expires_at == datetime(2025, 3, 4, 15, tzinfo=UTC)
    assert not zone.may_enter("police")  # free=[] overrides the creator default
    assert not zone.may_enter("fire", frozenset({("fire", "TR-2")}))  # only police may ask


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"duration_s": None}, "expires_at", "must expire"),
        (
            {
                "duration_s": None,
                "starts_at": "2025-03-04T10:00:00Z",
                "expires_at": "2025-03-04T11:00:00Z",
            },
            "expires_at",
            "already past",
        ),
        (
            {"duration_s": None, "expires_at": "2025-03-04T11:00:00Z"},
            "expires_at",
            "after starts_at",
        ),
        ({"duration_s": None, "expires_at": "2025-03-04T13:00:00"}, "expires_at", "timezone"),
        ({"duration_s": 3600 * 24 * 40}, "expires_at", "at most 30 days"),
        ({"radius_m": -5}, "radius_m", "outside (0, 50000]"),
        ({"lat": 95}, "lat", "outside [-90, 90]"),
        ({"lat": None}, "lat", "is required"),
        ({"upper_m": 0}, "upper_m", "must be above lower_m"),
        ({"name": " "}, "name", "is required"),
        ({"geometry": {"type": "Point", "coordinates": [0, 51]}}, "geometry", "not both"),
        ({"free": "fire"}, "free", "expected a list"),
    ],
)
def test_bad_requests_name_the_field(fields, field, words):
    with pytest.raises(InputError) as caught:
        parse_restriction(request(**fields), zone_id="TR-3", now=NOW)
    assert caught.value.field == field
    assert words in caught.value.reason


def test_a_restriction_across_a_route_cuts_that_flight_only():
    start, goal = GeoPoint(*PROJ.latlon(520_000, 170_000)), GeoPoint(*PROJ.latlon(524_000, 170_000))
    base = AirspaceMap([])
    crossing = base.route(start, goal, "police", at=NOW)
    elsewhere = base.route(
        GeoPoint(*PROJ.latlon(520_000, 175_000)),
        GeoPoint(*PROJ.latlon(524_000, 175_000)),
        "police",
        at=NOW,
    )
    lat, lon = PROJ.latlon(522_000, 170_000)
    zone = parse_restriction(
        request(lat=lat, lon=lon, radius_m=300), zone_id="TR-4", now=NOW, agency="fire"
    )
    airspace = base.add_temporary(zone)
    flights = [
        ActiveFlight("police-1", "police", crossing),
        ActiveFlight("police-2", "police", elsewhere),
        ActiveFlight("fire-1", "fire", crossing),  # the creator's agency may enter
        ActiveFlight("police-3", "police", crossing, frozenset({("police", "TR-4")})),
    ]
    assert flights_cut(airspace, "TR-4", flights, at=NOW) == ["police-1"]
    # The new route for the cut flight goes around it.
    detour = airspace.route(start, goal, "police", at=NOW)
    assert detour.zones_skirted == ("TR-4",)
    assert flights_cut(airspace, "TR-4", [ActiveFlight("p", "police", detour)], at=NOW) == []
