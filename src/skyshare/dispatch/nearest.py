"""The simplest honest rule: the nearest available drone by straight-line flight time.

It ignores airspace and energy beyond a battery floor. It remains as the reference the
real dispatcher is compared against, and as a fallback when no router is configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from skyshare.domain import Drone, DroneStatus, Incident, Network
from skyshare.geo import haversine_m

MIN_BATTERY_PCT = 60.0


@dataclass(frozen=True, slots=True)
class NearestChoice:
    drone_id: str
    site_id: str
    eta_s: float
    reason: str
    candidates: tuple[dict[str, object], ...]


def straight_line_eta_s(drone: Drone, distance_m: float, cruise_alt_m: float) -> float:
    """Climb, cruise and descend, each at the model's rate; no wind, no acceleration."""
    model = drone.model
    return (
        cruise_alt_m / model.climb_rate_mps
        + distance_m / model.cruise_speed_mps
        + cruise_alt_m / model.descent_rate_mps
    )


def propose_nearest(
    incident: Incident,
    drones: Iterable[Drone],
    network: Network,
    cruise_alt_m: float = 60.0,
    top: int = 3,
) -> NearestChoice | None:
    """The available, capable, permitted drone with the shortest straight-line ETA."""
    kind = network.kinds[incident.kind]
    scored: list[tuple[float, Drone, float]] = []
    for drone in drones:
        if drone.status is not DroneStatus.DOCKED or drone.battery_pct < MIN_BATTERY_PCT:
            continue
        if not drone.model.has(kind.capabilities):
            continue
        if not network.may_fly(drone, incident.agency, incident.priority):
            continue
        site = network.sites[drone.home_site_id]
        distance = float(
            haversine_m(
                site.position.lat, site.position.lon, incident.position.lat, incident.position.lon
            )
        )
        scored.append((straight_line_eta_s(drone, distance, cruise_alt_m), drone, distance))
    if not scored:
        return None
    scored.sort(key=lambda item: (item[0], item[1].id))
    eta, best, distance = scored[0]
    site = network.sites[best.home_site_id]
    candidates = tuple(
        {"drone_id": d.id, "site_id": d.home_site_id, "eta_s": round(e, 1), "distance_m": round(m)}
        for e, d, m in scored[:top]
    )
    reason = (
        f"{best.id} from {site.name}: nearest available drone with "
        f"{', '.join(sorted(kind.capabilities)) or 'no special capability'}; "
        f"{distance / 1000:.1f} km straight line, ETA {eta:.0f} s"
    )
    if len(scored) > 1:
        reason += f"; next best {scored[1][1].id} at {scored[1][0]:.0f} s"
    return NearestChoice(best.id, best.home_site_id, eta, reason, candidates)
