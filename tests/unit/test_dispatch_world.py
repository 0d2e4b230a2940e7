"""Small hand-made worlds for the dispatch tests (imported by the other test_dispatch_* files).

Positions are placed in metres on the British National Grid around a point in south
London, so that distances (and so ETAs) are exact numbers a reader can check by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache

from skyshare.airspace import AirspaceMap, load_zones
from skyshare.config import REPO_ROOT
from skyshare.dispatch import DispatchConfig, DroneState, FleetView
from skyshare.domain import (
    Agency,
    Capability,
    Drone,
    DroneModel,
    DroneStatus,
    GeoPoint,
    Incident,
    IncidentKind,
    LaunchSite,
    Network,
    Priority,
    SharingAgreement,
    TaskKind,
)
from skyshare.geo import projection

NOW = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
PROJ = projection()
ORIGIN_XY = PROJ.point(51.45, -0.10)  # Brixton Hill: open sky for a few kilometres

# Round figures so that times and energies can be checked by hand.
QUAD = DroneModel(
    name="quad",
    cruise_speed_mps=10.0,
    climb_rate_mps=2.0,
    descent_rate_mps=1.0,
    endurance_s=1800.0,
    battery_wh=100.0,
    hover_power_w=200.0,
    cruise_power_w=180.0,
    capabilities=frozenset({Capability.THERMAL, Capability.ZOOM}),
)
CARRIER = DroneModel(
    name="carrier",
    cruise_speed_mps=20.0,
    climb_rate_mps=4.0,
    descent_rate_mps=2.0,
    endurance_s=1200.0,
    battery_wh=500.0,
    hover_power_w=1000.0,
    cruise_power_w=900.0,
    capabilities=frozenset({Capability.PAYLOAD}),
)

KINDS = {
    "watch": IncidentKind("watch", TaskKind.OVERWATCH, frozenset({Capability.THERMAL}), 300.0),
    "long_watch": IncidentKind(
        "long_watch", TaskKind.OVERWATCH, frozenset({Capability.THERMAL}), 3600.0
    ),
    "search": IncidentKind("search", TaskKind.SEARCH, frozenset({Capability.THERMAL}), 600.0),
    "drop": IncidentKind("drop", TaskKind.DELIVER, frozenset({Capability.PAYLOAD}), 60.0),
}

CONFIG = DispatchConfig(
    launch_delay_s=10.0,
    scene_alt_m={TaskKind.OVERWATCH: 30.0, TaskKind.SEARCH: 30.0, TaskKind.DELIVER: 10.0},
    reserve_pct=20.0,
    min_launch_battery_pct=30.0,
)


def at(east_m: float, north_m: float, alt_m: float = 0.0) -> GeoPoint:
    """The point ``east_m``, ``north_m`` metres from the origin on the national grid."""
    lat, lon = PROJ.latlon(ORIGIN_XY[0] + east_m, ORIGIN_XY[1] + north_m)
    return GeoPoint(lat, lon, alt_m)


def site(site_id: str, owner: str, position: GeoPoint, shared: bool = True) -> LaunchSite:
    return LaunchSite(site_id, f"{site_id} dock", position, "Lambeth", owner, shared, 10)


def network(
    sites: Iterable[LaunchSite],
    drones: Iterable[tuple[str, str, DroneModel]],
    agreements: Iterable[SharingAgreement] = (),
) -> Network:
    """A network of the three agencies with these sites and (id, site, model) drones."""
    by_id = {s.id: s for s in sites}
    fleet = {
        d: Drone(d, model, s, by_id[s].owner, position=by_id[s].position) for d, s, model in drones
    }
    agencies = {a: Agency(a, a.title()) for a in ("police", "fire", "ambulance")}
    models = {m.name: m for _, _, m in drones}
    return Network(agencies, models, by_id, fleet, {a.owner: a for a in agreements}, dict(KINDS))


def docked(drone_id: str, net: Network, battery: float = 100.0) -> DroneState:
    drone = net.drones[drone_id]
    home = net.sites[drone.home_site_id]
    return DroneState(drone_id, DroneStatus.DOCKED, battery, home.position, home.id)


def fleet_of(net: Network, *states: DroneState) -> FleetView:
    """Every drone docked with a full battery, except the states given."""
    given = {s.drone_id: s for s in states}
    return FleetView(given.get(d) or docked(d, net) for d in net.drones)


def incident(
    incident_id: str,
    position: GeoPoint,
    kind: str = "watch",
    agency: str = "police",
    priority: Priority = Priority.P2,
) -> Incident:
    return Incident(incident_id, agency, priority, kind, position, NOW)


@cache
def london_airspace() -> AirspaceMap:
    """The London zones (read here: the core never reads files)."""
    for path in (
        REPO_ROOT / "airspace" / "london.geojson",
        REPO_ROOT.parent / "shared" / "data" / "london_airspace.geojson",
    ):
        if path.exists():
            return AirspaceMap(load_zones(json.loads(path.read_text()), str(path)))
    raise FileNotFoundError("no London airspace file")


def test_helpers_place_points_at_exact_grid_distances() -> None:
    a, b = at(0, 0), at(300, 400)
    (x0, y0), (x1, y1) = PROJ.point(a.lat, a.lon), PROJ.point(b.lat, b.lon)
    assert abs(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 - 500.0) < 1e-6
