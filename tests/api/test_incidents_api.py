"""What an operator sees through the API: intake, proposals, decisions, access control."""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skyshare.api.app import create_app
from skyshare.config import Settings
from tests.integration.dying_store import dies_once

from .conftest import as_, settings_for

# Inside Camden, well away from restricted airspace.
CAMDEN = {"lat": 51.5517, "lon": -0.1588}


def call(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"agency": "police", "priority": "P2", "kind": "burglary", **CAMDEN}
    body.update(overrides)
    return body


def distance_m(a: dict, b: dict) -> float:
    dy = (a["lat"] - b["lat"]) * 111_320
    dx = (a["lon"] - b["lon"]) * 111_320 * math.cos(math.radians(a["lat"]))
    return math.hypot(dx, dy)


def test_health_and_the_london_network_are_served(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    sites = client.get("/api/v1/sites", headers=as_("police")).json()
    drones = client.get("/api/v1/drones", headers=as_("police")).json()
    assert len(sites) == health["sites"] >= 30
    assert len(drones) == health["drones"] >= 60
    assert {s["borough"] for s in sites} >= {"Camden", "Havering", "City of London"}


def test_airspace_is_a_feature_collection_with_limits(client: TestClient) -> None:
    doc = client.get("/api/v1/airspace", headers=as_("planner")).json()
    assert doc["type"] == "FeatureCollection"
    names = {f["properties"]["name"] for f in doc["features"]}
    assert any("HEATHROW" in n.upper() for n in names)
    for f in doc["features"]:
        assert {"kind", "lower_m", "upper_m", "source"} <= f["properties"].keys()


def test_a_call_gets_the_nearest_permitted_drone_with_a_reason(client: TestClient) -> None:
    r = client.post("/api/v1/incidents", json=call(description="alarm"), headers=as_("police"))
    assert r.status_code == 201, r.text
    incident = r.json()
    assert incident["borough"] == "Camden"
    assert incident["status"] == "proposed"
    proposal = incident["proposal"]
    assert proposal["eta_s"] > 0 and proposal["drone_id"] in proposal["reason"]
    sites = {s["id"]: s for s in client.get("/api/v1/sites", headers=as_("police")).json()}
    chosen = distance_m(sites[proposal["site_id"]], CAMDEN)
    for candidate in proposal["candidates"][1:]:
        assert distance_m(sites[candidate["site_id"]], CAMDEN) >= chosen - 1


def test_the_same_external_id_returns_the_same_incident(client: TestClient) -> None:
    first = client.post("/api/v1/incidents", json=call(external_id="CAD-77"), headers=as_("police"))
    again = client.post("/api/v1/incidents", json=call(external_id="CAD-77"), headers=as_("police"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    listed = client.get("/api/v1/incidents", headers=as_("police")).json()
    assert [i["external_id"] for i in listed].count("CAD-77") == 1
    # Another agency's control room numbers its calls itself: its CAD-77 is another call.
    fire = call(agency="fire", kind="building_fire", external_id="CAD-77")
    theirs = client.post("/api/v1/incidents", json=fire, headers=as_("fire"))
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def test_bad_input_names_the_field_and_the_reason(client: TestClient) -> None:
    cases = {
        "lat": call(lat=95.0),
        "agency": call(agency="coastguard"),
        "priority": call(priority="P9"),
        "kind": call(kind="alien_landing"),
    }
    for field, body in cases.items():
        r = client.post("/api/v1/incidents", json=body, headers=as_("admin"))
        assert r.status_code == 422, (field, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field
    paris = client.post(
        "/api/v1/incidents", json=call(lat=48.8566, lon=2.3522), headers=as_("police")
    )
    assert paris.status_code == 422
    assert "outside the service area" in paris.json()["detail"][0]["msg"]
    missing = client.post("/api/v1/incidents", json={"agency": "police"}, headers=as_("police"))
    assert missing.status_code == 422
    assert client.get("/api/v1/incidents", headers=as_("admin")).json() == []


def test_a_point_on_the_thames_is_served_by_its_nearest_borough(client: TestClient) -> None:
    r = client.post(
        "/api/v1/incidents",
        json=call(agency="fire", kind="water_rescue", priority="P1", lat=51.5072, lon=-0.0999),
        headers=as_("fire"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["borough"] in {"City of London", "Southwark"}


def test_keys_and_agencies_are_enforced(client: TestClient) -> None:
    assert client.get("/api/v1/incidents").status_code == 401
    assert client.get("/api/v1/incidents", headers={"X-API-Key": "guess-guess"}).status_code == 401
    assert client.post("/api/v1/incidents", json=call(), headers=as_("fire")).status_code == 403
    assert client.post("/api/v1/incidents", json=call(), headers=as_("planner")).status_code == 403
    police = client.post("/api/v1/incidents", json=call(), headers=as_("police")).json()
    assert client.get(f"/api/v1/incidents/{police['id']}", headers=as_("fire")).status_code == 403
    assert (
        client.post(f"/api/v1/incidents/{police['id']}/close", headers=as_("fire")).status_code
        == 403
    )
    assert client.get("/api/v1/incidents", headers=as_("fire")).json() == []
    assert len(client.get("/api/v1/incidents", headers=as_("planner")).json()) == 1


def test_approve_then_close_releases_the_drone(client: TestClient) -> None:
    incident = client.post("/api/v1/incidents", json=call(), headers=as_("police")).json()
    drone = incident["proposal"]["drone_id"]
    approved = client.post(f"/api/v1/incidents/{incident['id']}/approve", headers=as_("police"))
    assert approved.json()["status"] == "dispatched"
    assert approved.json()["proposal"]["status"] == "approved"
    again = client.post(f"/api/v1/incidents/{incident['id']}/approve", headers=as_("police"))
    assert again.status_code == 409
    closed = client.post(
        f"/api/v1/incidents/{incident['id']}/close", json={"reason": "done"}, headers=as_("police")
    ).json()
    assert closed["status"] == "closed"
    drones = {d["id"]: d for d in client.get("/api/v1/drones", headers=as_("police")).json()}
    assert drones[drone]["status"] == "docked"


def test_a_cancelled_call_is_told_apart_from_a_closed_one(client: TestClient) -> None:
    """Cancel (sent in error, a duplicate) ends a call as close does, releasing its drone,
    but its status and its audit entry say it was cancelled."""
    closing = client.post("/api/v1/incidents", json=call(), headers=as_("police")).json()
    doubled = client.post("/api/v1/incidents", json=call(lon=-0.1400), headers=as_("police"))
    duplicate = doubled.json()
    drone = duplicate["proposal"]["drone_id"]
    reason = {"reason": f"duplicate of {closing['id']}"}
    path = f"/api/v1/incidents/{duplicate['id']}/cancel"
    assert client.post(path, json=reason, headers=as_("fire")).status_code == 403
    cancelled = client.post(path, json=reason, headers=as_("police")).json()
    assert (cancelled["status"], cancelled["proposal"]) == ("cancelled", None)
    assert client.post(path, json=reason, headers=as_("police")).status_code == 409
    client.post(f"/api/v1/incidents/{closing['id']}/close", json={}, headers=as_("police"))
    drones = {d["id"]: d for d in client.get("/api/v1/drones", headers=as_("police")).json()}
    assert drones[drone]["status"] == "docked" and drones[drone]["incident_id"] is None
    open_only = client.get("/api/v1/incidents?open=true", headers=as_("police")).json()
    assert open_only == []
    trail = client.get(f"/api/v1/incidents/{duplicate['id']}/events", headers=as_("police"))
    ended = [(e["type"], e["data"].get("reason")) for e in trail.json()]
    assert ended[-1] == ("incident_cancelled", reason["reason"])
    assert "incident_closed" not in [kind for kind, _ in ended]


def test_the_list_carries_each_calls_proposal_open_or_closed(client: TestClient) -> None:
    first = client.post("/api/v1/incidents", json=call(), headers=as_("police")).json()
    second = client.post("/api/v1/incidents", json=call(lon=-0.1400), headers=as_("police")).json()
    client.post(f"/api/v1/incidents/{first['id']}/close", json={}, headers=as_("police"))
    listed = client.get("/api/v1/incidents", headers=as_("police")).json()
    by_id = {i["id"]: i for i in listed}
    assert by_id[second["id"]]["proposal"] == second["proposal"]  # what operators act on
    assert by_id[first["id"]]["status"] == "closed"
    assert by_id[first["id"]]["proposal"] is None  # its drone was released
    open_only = client.get("/api/v1/incidents?open=true", headers=as_("police")).json()
    assert [i["id"] for i in open_only] == [second["id"]]
    assert open_only[0]["proposal"]["drone_id"] == second["proposal"]["drone_id"]


def test_decline_proposes_the_next_candidate(client: TestClient) -> None:
    incident = client.post("/api/v1/incidents", json=call(), headers=as_("police")).json()
    first = incident["proposal"]["drone_id"]
    declined = client.post(
        f"/api/v1/incidents/{incident['id']}/decline",
        json={"reason": "drone needed elsewhere"},
        headers=as_("police"),
    ).json()
    assert declined["proposal"]["drone_id"] != first
    assert [h["status"] for h in declined["history"]] == ["declined", "proposed"]


def test_two_calls_are_never_offered_the_same_drone(client: TestClient) -> None:
    ids = [
        client.post(
            "/api/v1/incidents", json=call(external_id=f"x{n}"), headers=as_("police")
        ).json()["proposal"]["drone_id"]
        for n in range(5)
    ]
    assert len(set(ids)) == 5


def test_auto_launch_policy_dispatches_without_an_operator(client: TestClient) -> None:
    from skyshare.runtime.world import load_network

    network = load_network(Settings().network_file)
    auto = [(a.id, p) for a in network.agencies.values() for p in sorted(a.auto_launch)]
    manual = [
        (a.id, p) for a in network.agencies.values() for p in range(1, 5) if p not in a.auto_launch
    ]
    assert auto and manual, "the London policy should have both auto and manual priorities"
    for (agency, priority), expected in ((auto[0], "dispatched"), (manual[0], "proposed")):
        kind = (
            "building_fire"
            if agency == "fire"
            else ("cardiac_arrest" if agency == "ambulance" else "burglary")
        )
        body = call(agency=agency, priority=int(priority), kind=kind)
        r = client.post("/api/v1/incidents", json=body, headers=as_("admin"))
        assert r.json()["status"] == expected, (agency, priority, r.text)


def test_incidents_survive_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first:
        made = first.post("/api/v1/incidents", json=call(), headers=as_("police")).json()
    with TestClient(create_app(settings)) as second:
        again = second.get(f"/api/v1/incidents/{made['id']}", headers=as_("police")).json()
        drones = {d["id"]: d for d in second.get("/api/v1/drones", headers=as_("police")).json()}
    assert again["proposal"]["drone_id"] == made["proposal"]["drone_id"]
    assert drones[made["proposal"]["drone_id"]]["status"] != "docked"


def test_a_call_posted_as_the_store_process_dies_is_kept_once_without_a_retry(
    client: TestClient,
) -> None:
    """A call posted just as the store's process is killed is recorded by the process
    started in its place, and answered as usual: the caller sees nothing of it."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    dead = runtime.writer.pid
    os.kill(dead, signal.SIGKILL)
    body = call(external_id="cad-store-restart")
    answer = client.post("/api/v1/incidents", json=body, headers=as_("police"))
    assert answer.status_code == 201, answer.text
    assert runtime.writer.pid != dead
    listed = client.get("/api/v1/incidents", headers=as_("police")).json()
    assert [i["external_id"] for i in listed].count("cad-store-restart") == 1
    assert client.get("/api/v1/audit/verify", headers=as_("admin")).json()["ok"] is True


@pytest.mark.parametrize("when", ["after", "before"])
def test_a_call_taken_as_the_store_went_away_is_acted_on_once_the_store_says_it_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The store's process ends as it takes a call, having stored it (after) or not
    (before), and no other can reach the database for a while: the caller is told the
    call may have been stored. Once the store is back, a stored call is proposed a drone
    afresh, with the withdrawn proposal in its trail; one never stored is not there, and
    the retry records it. Memory and store agree: a restart shows the same drones held."""
    dying = dies_once(monkeypatch, when, tmp_path)
    settings = settings_for(tmp_path).model_copy(update={"database_url": dying.url})
    body = call(external_id="cad-in-doubt")

    def held(client: TestClient) -> list[tuple[str, str, str]]:
        drones = client.get("/api/v1/drones", headers=as_("police")).json()
        return [(d["id"], d["status"], d["incident_id"]) for d in drones if d["incident_id"]]

    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        dying.die_at_next_write()
        lost = client.post("/api/v1/incidents", json=body, headers=as_("police"))
        assert lost.status_code == 503 and "may have been stored" in lost.json()["detail"]
        dying.come_back()  # the database is back
        client.portal.call(runtime.writer.read, "write_progress", "-")  # a process serves
        client.portal.call(runtime.settled)
        listed = client.get("/api/v1/incidents", headers=as_("police")).json()
        stored = [i for i in listed if i["external_id"] == "cad-in-doubt"]
        if when == "before":
            assert stored == [] and held(client) == []
            assert (
                client.post("/api/v1/incidents", json=body, headers=as_("police")).status_code
                == 201
            )
        else:
            (listed_one,) = stored
            incident = client.get(
                f"/api/v1/incidents/{listed_one['id']}", headers=as_("police")
            ).json()
            assert incident["status"] == "proposed"
            drone = incident["proposal"]["drone_id"]
            assert [(d, i) for d, _, i in held(client)] == [(drone, incident["id"])]
            trail = client.get(f"/api/v1/incidents/{incident['id']}/events", headers=as_("police"))
            assert [e["type"] for e in trail.json()] == [
                "incident_received",
                "dispatch_proposed",
                "dispatch_withdrawn",
                "dispatch_proposed",
            ]
            again = client.post("/api/v1/incidents", json=body, headers=as_("police"))
            assert again.status_code == 200 and again.json()["proposal"]["drone_id"] == drone
        assert client.get("/api/v1/audit/verify", headers=as_("admin")).json()["ok"] is True
        before_restart = held(client)
    with TestClient(create_app(settings)) as second:
        assert held(second) == before_restart


def test_when_the_store_cannot_take_a_call_the_caller_is_told_to_retry(
    client: TestClient,
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    client.portal.call(runtime.writer.stop)  # type: ignore[union-attr]
    r = client.post("/api/v1/incidents", json=call(), headers=as_("police"))
    assert r.status_code == 503 and "retry" in r.json()["detail"]


def test_unknown_incident_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/incidents/inc-nope", headers=as_("police"))
    assert r.status_code == 404


def test_every_decision_is_in_the_audit_trail(client: TestClient) -> None:
    incident = client.post("/api/v1/incidents", json=call(), headers=as_("police")).json()
    client.post(f"/api/v1/incidents/{incident['id']}/approve", headers=as_("police"))
    trail = client.get(f"/api/v1/incidents/{incident['id']}/events", headers=as_("police")).json()
    assert [e["type"] for e in trail] == [
        "incident_received",
        "dispatch_proposed",
        "dispatch_approved",
    ]
    assert trail[0]["actor"].startswith("police-operator")
    assert trail[1]["actor"] == "dispatcher"
    assert (
        client.get(f"/api/v1/incidents/{incident['id']}/events", headers=as_("fire")).status_code
        == 403
    )
    assert client.get("/api/v1/audit/verify", headers=as_("police")).status_code == 403
    verdict = client.get("/api/v1/audit/verify", headers=as_("admin")).json()
    assert verdict["ok"] and verdict["entries"] == 3
