"""Where a drone may land when it comes back: a dock it may use with a free slot.

A drone may land on its owner's docks and on any dock shared with every agency. A slot
is taken by each drone on the dock (launching, charging or out of service there) and by
each drone already heading there; drones out on a task hold no slot, nor does one in
maintenance down away from its dock (in a field, waiting for a crew). With every usable
dock full, the drone goes home, its own dock, and operators see it over capacity.

Which of the docks with room it flies to is the dispatcher's choice (``Dispatcher.
dock_home``: the least energy by a legal route, as its way back was planned);
``dock_for_return`` is the rule by straight line, for when no legal route reaches any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from skyshare.dispatch.fleet import DroneState
from skyshare.domain import DroneStatus, GeoPoint, Network
from skyshare.geo import haversine_m

AWAY = frozenset({DroneStatus.EN_ROUTE, DroneStatus.ON_SCENE})
ON_THE_DOCK_M = 50.0  # a landed aircraft this close to a dock is on it


def docks_with_room(network: Network, fleet: Iterable[DroneState], drone_id: str) -> list[str]:
    """The ids of the sites ``drone_id`` may land on that have a slot free for it."""
    drone = network.drones[drone_id]
    taken = slots_taken(network, fleet, besides=drone_id)
    return [
        s.id
        for s in network.sites.values()
        if network.may_land(drone, s) and taken[s.id] < s.dock_capacity
    ]


def dock_for_return(
    network: Network, fleet: Iterable[DroneState], drone_id: str, here: GeoPoint
) -> str:
    """The nearest site by straight line that ``drone_id``, now at ``here``, may land on
    with a slot free; its home if there is none."""
    drone = network.drones[drone_id]
    room = [network.sites[site_id] for site_id in docks_with_room(network, fleet, drone_id)]
    if not room:
        return drone.home_site_id
    nearest = min(
        room,
        key=lambda s: (
            float(haversine_m(here.lat, here.lon, s.position.lat, s.position.lon)),
            s.id != drone.home_site_id,  # at equal distance, home
            s.id,
        ),
    )
    return nearest.id


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


def recorded_dock(network: Network, state: DroneState) -> str | None:
    """The dock the records put the drone on, if they put it on one: docked, charging or
    launching there, or out of reach (offline) at the dock's surveyed position."""
    if state.status in (DroneStatus.DOCKED, DroneStatus.CHARGING, DroneStatus.LAUNCHING):
        return state.dock_site_id
    dock = network.sites[state.dock_site_id].position
    p = state.position
    if state.status is DroneStatus.OFFLINE and (p.lat, p.lon) == (dock.lat, dock.lon):
        return state.dock_site_id
    return None


def dock_under(network: Network, where: GeoPoint) -> str | None:
    """The site an aircraft that landed at ``where`` is on, if it landed on one."""
    sites = list(network.sites.values())
    far = [float(haversine_m(where.lat, where.lon, s.position.lat, s.position.lon)) for s in sites]
    nearest = min(range(len(sites)), key=far.__getitem__, default=None)
    return sites[nearest].id if nearest is not None and far[nearest] <= ON_THE_DOCK_M else None
