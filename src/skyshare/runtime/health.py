"""What a health check reports: the store, the broker, the aircraft, and whether all is well.

"degraded" is for an operator to look at, not for a liveness probe to restart on: while
the store or the broker is away the service holds what it cannot hand on, and a restart
would lose nothing it keeps but would stop the flights it is flying.
"""

from __future__ import annotations

from typing import Any

from skyshare.domain import DroneStatus
from skyshare.runtime.runtime import Runtime


def health(runtime: Runtime) -> dict[str, Any]:
    store = runtime.writer.health()
    stats = getattr(runtime.bus, "stats", None)
    bus: dict[str, Any] = {"kind": "in-process"} if stats is None else {"kind": "mqtt", **stats()}
    problems = []
    if not store["serving"]:
        problems.append("the store is not serving: writes wait or fail")
    elif store["trouble"]:
        problems.append(f"the store's last write failed: {store['trouble']}")
    if store["writes_in_doubt"]:
        problems.append(f"{store['writes_in_doubt']} writes in doubt until the store is back")
    if bus["kind"] == "mqtt" and not bus["connected"]:
        problems.append("the MQTT broker is not connected: events wait in the outbox")
    if bus.get("cad_taking_in"):
        problems.append(f"{bus['cad_taking_in']} control-room calls wait to be taken in")
    fleet = _fleet(runtime)
    if fleet.get("not_heard"):
        silent = fleet["not_heard"]
        problems.append(f"{len(silent)} aircraft not heard: {', '.join(silent[:10])}")
    if fleet.get("not_its_aircraft"):
        wrong = fleet["not_its_aircraft"]
        problems.append(
            f"{len(wrong)} drones out of service until the aircraft file is put right (their "
            f"aircraft report another board id than the file's): {', '.join(wrong[:10])}"
        )
    if fleet.get("away_from_dock"):
        away = fleet["away_from_dock"]
        problems.append(
            f"{len(away)} drones out of service until a crew sees to them (their aircraft on "
            f"the ground away from their docks): {', '.join(away[:10])}"
        )
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "store": store,
        "bus": bus,
        "fleet": fleet,
    }


def _fleet(runtime: Runtime) -> dict[str, Any]:
    """How many drones have an aircraft, how many of those are heard, which are not, and
    which are out of service because their aircraft is not the one the aircraft file names
    (by its board id) or is on the ground away from their dock (down in a field, or
    another drone's: ``FlightControl.misplaced``)."""
    flights = runtime.flights
    if flights is None:
        return {"flying": False}
    links = flights.links()
    return {
        "flying": True,
        "aircraft": len(links),
        "heard": sum(links.values()),
        "not_heard": sorted(d for d, heard in links.items() if not heard),
        "not_its_aircraft": sorted(
            s.drone_id
            for s in runtime.fleet
            if s.status is DroneStatus.MAINTENANCE and flights.not_its_aircraft(s.drone_id)
        ),
        "away_from_dock": sorted(
            s.drone_id
            for s in runtime.fleet
            if s.status is DroneStatus.MAINTENANCE and flights.away_from(s.drone_id, s.dock_site_id)
        ),
    }
