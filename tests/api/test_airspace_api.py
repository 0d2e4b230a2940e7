"""The airspace as operators reach it: may we fly here, the legal route, restrictions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import as_

HYDE_PARK = {"lat": 51.5073, "lon": -0.1657}
SHEPHERDS_BUSH = "51.5045,-0.2190"
PECKHAM = "51.4740,-0.0690"
HEATHROW = "51.4700,-0.4543"


def test_fire_may_not_fly_into_heathrow_and_is_told_why(client: TestClient) -> None:
    heathrow = {"lat": 51.4700, "lon": -0.4543, "alt": 60}
    answer = client.get("/api/v1/airspace/check", params=heathrow, headers=as_("fire"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["allowed"] is False and body["agency"] == "fire"
    assert body["zones"] and all(z["kind"] == "frz" for z in body["zones"])
    assert all("permission" in z["reason"] for z in body["zones"])
    assert body["zones"][0]["id"] in body["reasons"][0]


def test_hyde_park_admits_fire_only_by_its_recorded_permission(client: TestClient) -> None:
    # launch_sites/london.yaml records an (illustrative) standing permission for fire in
    # R157; the airspace engine without it refuses fire there.
    body = client.get(
        "/api/v1/airspace/check", params={**HYDE_PARK, "alt": 60}, headers=as_("fire")
    ).json()
    assert body["allowed"] is True


def test_police_may_fly_over_hyde_park(client: TestClient) -> None:
    body = client.get("/api/v1/airspace/check", params=HYDE_PARK, headers=as_("police")).json()
    assert body["allowed"] is True and body["zones"] == []
    # A planner (read-only, every agency) names the agency it asks about.
    fire = client.get(
        "/api/v1/airspace/check",
        params={"lat": 51.4700, "lon": -0.4543, "agency": "fire"},
        headers=as_("planner"),
    ).json()
    assert fire["allowed"] is False and fire["agency"] == "fire"


def test_above_the_ceiling_is_refused_for_everyone(client: TestClient) -> None:
    body = client.get(
        "/api/v1/airspace/check",
        params={"lat": 51.60, "lon": -0.25, "alt": 150},
        headers=as_("police"),
    ).json()
    assert body["allowed"] is False
    assert body["above_ceiling_m"] == 30.0 and body["ceiling_m"] == 120.0


def test_check_needs_a_key_and_a_known_agency(client: TestClient) -> None:
    assert client.get("/api/v1/airspace/check", params=HYDE_PARK).status_code == 401
    unknown = client.get(
        "/api/v1/airspace/check",
        params={**HYDE_PARK, "agency": "coastguard"},
        headers=as_("police"),
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "agency"]
    anyone = client.get("/api/v1/airspace/check", params=HYDE_PARK, headers=as_("admin"))
    assert anyone.status_code == 422
    bad_lat = client.get(
        "/api/v1/airspace/check", params={"lat": 95, "lon": 0}, headers=as_("police")
    )
    assert bad_lat.status_code == 422


def test_the_route_is_a_geojson_line_around_the_restricted_areas(client: TestClient) -> None:
    west, east = "51.4900,-0.0100", "51.4900,0.1250"  # either side of London City airport
    answer = client.get(
        "/api/v1/airspace/route", params={"from": west, "to": east}, headers=as_("fire")
    )
    assert answer.status_code == 200
    feature = answer.json()
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "LineString"
    coords = feature["geometry"]["coordinates"]
    assert coords[0] == [-0.0100, 51.4900] and coords[-1] == [0.1250, 51.4900]  # lon, lat
    props = feature["properties"]
    assert props["length_m"] > props["straight_line_m"] > 5_000
    assert any(z.startswith("EG RU135") for z in props["zones_skirted"])
    assert props["cruise_alt_m"] == 60.0


def test_no_route_out_of_heathrow_is_a_422_with_the_reason(client: TestClient) -> None:
    answer = client.get(
        "/api/v1/airspace/route", params={"from": HEATHROW, "to": PECKHAM}, headers=as_("police")
    )
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["query", "from"]
    assert "EG RU128A" in problem["msg"] and "HEATHROW" in problem["msg"]


def test_a_malformed_endpoint_is_a_422_naming_it(client: TestClient) -> None:
    answer = client.get(
        "/api/v1/airspace/route", params={"from": SHEPHERDS_BUSH, "to": "x"}, headers=as_("police")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "to"]


def test_restrictions_list_and_request_checks(client: TestClient) -> None:
    listed = client.get("/api/v1/airspace/restrictions", headers=as_("police")).json()
    assert listed["type"] == "FeatureCollection" and listed["features"] == []
    no_expiry = client.post(
        "/api/v1/airspace/restrictions",
        json={"name": "Scene", "lat": 51.51, "lon": -0.2, "radius_m": 500},
        headers=as_("fire"),
    )
    assert no_expiry.status_code == 422
    assert no_expiry.json()["detail"][0]["loc"] == ["body", "expires_at"]
    read_only = client.post(
        "/api/v1/airspace/restrictions",
        json={"name": "Scene", "lat": 51.51, "lon": -0.2, "radius_m": 500, "duration_s": 600},
        headers=as_("planner"),
    )
    assert read_only.status_code == 403


def test_published_zones_cannot_be_lifted_as_restrictions(client: TestClient) -> None:
    published = client.delete("/api/v1/airspace/restrictions/EG R157", headers=as_("admin"))
    assert published.status_code == 409
    unknown = client.delete("/api/v1/airspace/restrictions/TR-nothing", headers=as_("admin"))
    assert unknown.status_code == 404


def test_a_live_restriction_reroutes_flights_survives_restart_and_lifts(settings) -> None:
    from skyshare.api.app import create_app

    fire_scene = {
        "name": "Fire scene, Acton",
        "lat": 51.5085,
        "lon": -0.2650,
        "radius_m": 600,
        "duration_s": 3600,
        "free": ["fire"],
    }
    from_, to = "51.5085,-0.2950", "51.5085,-0.2350"  # straight through the scene
    with TestClient(create_app(settings)) as client:
        before = client.get(
            "/api/v1/airspace/route", params={"from": from_, "to": to}, headers=as_("police")
        ).json()
        made = client.post("/api/v1/airspace/restrictions", json=fire_scene, headers=as_("fire"))
        assert made.status_code == 201, made.text
        zone_id = made.json()["id"]
        after = client.get(
            "/api/v1/airspace/route", params={"from": from_, "to": to}, headers=as_("police")
        ).json()
        assert zone_id in after["properties"]["zones_skirted"]
        assert after["properties"]["length_m"] > before["properties"]["length_m"] + 100
        # The fire service itself may still fly inside its own scene.
        inside = {"lat": 51.5085, "lon": -0.2650}
        assert (
            client.get("/api/v1/airspace/check", params=inside, headers=as_("fire")).json()[
                "allowed"
            ]
            is True
        )
        assert (
            client.get("/api/v1/airspace/check", params=inside, headers=as_("police")).json()[
                "allowed"
            ]
            is False
        )
        assert (
            client.delete(
                f"/api/v1/airspace/restrictions/{zone_id}", headers=as_("police")
            ).status_code
            == 403
        )
    with TestClient(create_app(settings)) as client:
        listed = client.get("/api/v1/airspace/restrictions", headers=as_("police")).json()
        assert [f["id"] for f in listed["features"]] == [zone_id]
        lifted = client.delete(f"/api/v1/airspace/restrictions/{zone_id}", headers=as_("fire"))
        assert lifted.status_code == 204
        again = client.get(
            "/api/v1/airspace/route", params={"from": from_, "to": to}, headers=as_("police")
        ).json()
        assert again["properties"]["length_m"] == before["properties"]["length_m"]
        trail = client.get("/api/v1/audit", headers=as_("admin")).json()
        assert [e["type"] for e in trail][-2:] == ["restriction_created", "restriction_removed"]
