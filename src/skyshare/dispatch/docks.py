"""Where a drone lands when it comes back: the nearest dock it may use with a free slot.

A drone may land on its owner's docks and on any dock shared with every agency. A slot
is taken by each drone on the dock (launching, charging or out of service there) and by
each drone already heading there; drones out on a task hold no slot, nor does one in
maintenance down away from its dock (in a field, waiting for a crew). With every usable
dock full, the drone goes home, its own dock, and operators see it over capacity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from skyshare.dispatch.fleet import DroneState
from skyshare.domain import DroneStatus, GeoPoint, Network
from skyshare.geo import haversine_m

AWAY = frozenset({DroneStatus.EN_ROUTE, DroneStatus.ON_SCENE})
ON_THE_DOCK_M = 50.0  # a landed aircraft this close to a dock is on it


def dock_for_return(
    network: Network, fleet: Iterable[DroneState], drone_id: str, here: GeoPoint
) -> str:
    """The id of the site ``drone_id``, now at ``here``, should land on."""
    drone = network.drones[drone_id]
    taken = slots_taken(network, fleet, besides=drone_id)
    usable = [s for s in network.sites.values() if network.may_land(drone, s)]
    usable.sort(
        key=lambda s: (
            float(haversine_m(here.lat, here.lon, s.position.lat, s.position.lon)),
            s.id != drone.home_site_id,  # at equal distance, home
            s.id,
        )
    )
    for site in usable:
        if taken[site.id] < site.dock_capacity:
            return site.id
    return drone.home_site_id


def slots_taken(
    network: Network, fleet: Iterable[DroneState], *, besides: str | None = None
) -> Counter[str]:
    """How many slots each site has taken, by drones other than ``besides``."""
    return Counter(
        s.dock_site_id for s in fleet if s.drone_id != besides and _holds_slot(network, s)
    )


def _holds_slot(network: Network, state: DroneState) -> bool:
    return state.status not in AWAY and not stranded(network, state)


def stranded(network: Network, state: DroneState) -> bool:
    """Out of service away from its dock (down in a field, waiting for a crew)?"""
    if state.status is not DroneStatus.MAINTENANCE:
        return False
    dock = network.sites[state.dock_site_id].position
    p = state.position
    return float(haversine_m(p.lat, p.lon, dock.lat, dock.lon)) > ON_THE_DOCK_M


def dock_under(network: Network, where: GeoPoint) -> str | None:
    """The site an aircraft that landed at ``where`` is on, if it landed on one."""
    sites = list(network.sites.values())
    far = [float(haversine_m(where.lat, where.lon, s.position.lat, s.position.lon)) for s in sites]
    nearest = min(range(len(sites)), key=far.__getitem__, default=None)
    return sites[nearest].id if nearest is not None and far[nearest] <= ON_THE_DOCK_M else None
