"""From a call to a drone back on its dock, flown through mavsim over real MAVLink."""

from __future__ import annotations

from skyshare.domain import DroneStatus
from skyshare.domain.events import EventType

from .conftest import Flying

# South of the Isle of Dogs restricted area (EG R159), seen from the Limehouse dock.
GREENWICH = {"lat": 51.4800, "lon": -0.0100}


async def test_a_call_beyond_restricted_airspace_is_flown_around_it(flying: Flying) -> None:
    runtime = flying.runtime
    made = await runtime.submit(
        {"agency": "fire", "priority": "P2", "kind": "building_fire", **GREENWICH}, actor="test"
    )
    assert made.assignment is not None and made.assignment.status.value == "approved"
    drone = made.assignment.drone_id
    assert drone.startswith("fire-")
    launched = await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LAUNCHED and e.subject == drone, 30, "launch"
    )
    assert "EG R159" in launched.data["zones_skirted"]
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_ON_SCENE and e.subject == drone, 90, "on scene"
    )
    assert runtime.fleet[drone].status is DroneStatus.ON_SCENE
    view = await runtime.incident(made.incident.id)
    assert view.incident.status.value == "on_scene"
    await runtime.close_incident(made.incident.id, actor="test", reason="fire out")
    await flying.wait_event(
        lambda e: e.type is EventType.DRONE_LANDED and e.subject == drone, 120, "landing"
    )
    assert runtime.fleet[drone].status in (DroneStatus.CHARGING, DroneStatus.DOCKED)
    assert flying.of(EventType.GEOFENCE_BREACH) == []
    assert flying.of(EventType.CONFORMANCE_ALERT) == []
