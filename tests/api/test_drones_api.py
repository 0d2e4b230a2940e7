"""What an operator sees of a drone down away from any dock, and putting it back in service."""

from __future__ import annotations

from fastapi.testclient import TestClient

from skyshare.domain import GeoPoint
from skyshare.runtime.runtime import Runtime

from .conftest import as_

FIELD = GeoPoint(51.5545, 0.1500)  # open ground 700 m from the Dagenham dock
DAGENHAM = "lfb-dagenham"  # shared by the fire brigade with every agency


def _down_in_a_field(client: TestClient, owner: str) -> str:
    """One of ``owner``'s drones, come down by itself in the field."""
    runtime: Runtime = client.app.state.runtime
    drone_id = next(d.id for d in runtime.network.drones.values() if d.owner == owner)
    client.portal.call(runtime.flight_landed, drone_id, FIELD)
    return drone_id


def _drone(client: TestClient, drone_id: str) -> dict:
    drones = client.get("/api/v1/drones", headers=as_("police")).json()
    return next(d for d in drones if d["id"] == drone_id)


def test_a_recovered_drone_is_returned_to_service_on_a_dock(client: TestClient) -> None:
    drone_id = _down_in_a_field(client, "police")
    down = _drone(client, drone_id)
    assert (down["status"], down["dock_site_id"]) == ("maintenance", None)  # on no dock
    assert (down["lat"], down["lon"]) == (FIELD.lat, FIELD.lon)
    r = client.post(
        f"/api/v1/drones/{drone_id}/return-to-service",
        json={"site_id": DAGENHAM, "battery_pct": 35},
        headers=as_("police"),
    )
    assert r.status_code == 200, r.text
    back = r.json()
    site = next(
        s for s in client.get("/api/v1/sites", headers=as_("police")).json() if s["id"] == DAGENHAM
    )
    assert (back["status"], back["dock_site_id"], back["battery_pct"]) == (
        "charging",
        DAGENHAM,
        35.0,
    )
    assert (back["lat"], back["lon"]) == (site["lat"], site["lon"])
    assert _drone(client, drone_id) == back
    audit = client.get("/api/v1/audit", headers=as_("admin")).json()
    entry = [e for e in audit if e["type"] == "drone_status" and e["subject"] == drone_id][-1]
    assert entry["data"]["site_id"] == DAGENHAM


def test_return_to_service_is_refused_with_the_reason(client: TestClient) -> None:
    drone_id = _down_in_a_field(client, "police")
    url = f"/api/v1/drones/{drone_id}/return-to-service"
    body = {"site_id": DAGENHAM}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=as_("planner")).status_code == 403
    assert client.post(url, json=body, headers=as_("fire")).status_code == 403  # not theirs
    missing = client.post("/api/v1/drones/nope/return-to-service", json=body, headers=as_("admin"))
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    cases = {
        "site_id": [{}, {"site_id": "no-such-dock"}, {"site_id": "met-west-end"}],  # full
        "battery_pct": [{"site_id": DAGENHAM, "battery_pct": 101}],
    }
    for field, bodies in cases.items():
        for bad in bodies:
            r = client.post(url, json=bad, headers=as_("police"))
            assert r.status_code == 422, (bad, r.text)
            assert r.json()["detail"][0]["loc"][-1] == field, (bad, r.text)
    assert _drone(client, drone_id)["status"] == "maintenance"  # nothing changed
    docked = next(
        d["id"]
        for d in client.get("/api/v1/drones", headers=as_("police")).json()
        if d["status"] == "docked" and d["owner"] == "police"
    )
    r = client.post(f"/api/v1/drones/{docked}/return-to-service", json=body, headers=as_("police"))
    assert r.status_code == 422 and "not out of service" in r.json()["detail"][0]["msg"]
