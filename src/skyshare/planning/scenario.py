"""Variations of a network for what-if questions: drones per site, new sites, one agency.

A ``Network`` is immutable; these build new ones. Added drones are named
``<site>-w<n>`` and take the model already used at their site (or ``model``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from skyshare.domain.errors import InputError
from skyshare.domain.kinds import DEFAULT_KINDS
from skyshare.domain.models import Drone, DroneModel, GeoPoint, LaunchSite, SharingAgreement
from skyshare.domain.network import Network


def with_drone_counts(
    network: Network, counts: Mapping[str, int], model: DroneModel | None = None
) -> Network:
    """``network`` with ``counts[site]`` drones at each listed site (others unchanged).

    Docks grow to hold the drones: how many docks a site needs is part of the answer.
    """
    drones = {d.id: d for d in network.drones.values() if d.home_site_id not in counts}
    sites = dict(network.sites)
    for site_id, wanted in counts.items():
        if site_id not in network.sites:
            raise InputError("site", f"unknown launch site {site_id!r}")
        if wanted < 0:
            raise InputError("drones", f"{site_id}: cannot have {wanted} drones")
        here = sorted(
            (d for d in network.drones.values() if d.home_site_id == site_id), key=lambda d: d.id
        )
        kind = here[0].model if here else (model or common_model(network))
        kept = here[:wanted]
        extra = [
            Drone(
                f"{site_id}-w{n}",
                kind,
                site_id,
                network.sites[site_id].owner,
                position=network.sites[site_id].position,
            )
            for n in range(1, wanted - len(kept) + 1)
        ]
        for drone in (*kept, *extra):
            drones[drone.id] = drone
        if wanted > sites[site_id].dock_capacity:
            sites[site_id] = replace(sites[site_id], dock_capacity=wanted)
    models = dict(network.models)
    for drone in drones.values():
        models.setdefault(drone.model.name, drone.model)
    return replace(network, sites=sites, drones=drones, models=models)


def drone_counts(network: Network) -> dict[str, int]:
    counts = dict.fromkeys(network.sites, 0)
    for drone in network.drones.values():
        counts[drone.home_site_id] += 1
    return counts


def with_sites(
    network: Network,
    sites: Sequence[tuple[str, str, float, float, str]],
    *,
    owner: str,
    drones_each: int = 1,
    model: DroneModel | None = None,
) -> Network:
    """``network`` plus shared sites ``(id, name, lat, lon, borough)`` owned by ``owner``,
    each with ``drones_each`` drones."""
    if owner not in network.agencies:
        raise InputError("owner", f"unknown agency {owner!r}")
    new_sites = dict(network.sites)
    for site_id, name, lat, lon, borough in sites:
        if site_id in new_sites:
            raise InputError("site", f"site {site_id!r} already exists")
        new_sites[site_id] = LaunchSite(
            site_id,
            name,
            GeoPoint(lat, lon),
            borough or "",
            owner,
            True,
            max(1, drones_each),
            illustrative=True,
            source="proposed by skyshare whatif",
        )
    grown = replace(network, sites=new_sites)
    return with_drone_counts(
        grown, {s[0]: drones_each for s in sites}, model or common_model(network)
    )


def separate_for(network: Network, agency: str) -> Network:
    """What ``agency`` would have alone: its own sites and drones, no sharing."""
    if agency not in network.agencies:
        raise InputError("agency", f"unknown agency {agency!r}")
    sites = {k: s for k, s in network.sites.items() if s.owner == agency}
    drones = {k: d for k, d in network.drones.items() if d.owner == agency}
    return replace(
        network,
        agencies={agency: network.agencies[agency]},
        sites=sites,
        drones=drones,
        agreements={},
        name=f"{network.name} ({agency} alone)",
    )


def pooled(network: Network) -> Network:
    """Every site shared with every agency for every priority."""
    users = frozenset(network.agencies)
    sites = {k: replace(s, shared=True) for k, s in network.sites.items()}
    agreements = {a: SharingAgreement(a, users) for a in network.agencies}
    return replace(network, sites=sites, agreements=agreements)


def common_model(network: Network) -> DroneModel:
    counts: dict[str, int] = {}
    for drone in network.drones.values():
        counts[drone.model.name] = counts.get(drone.model.name, 0) + 1
    if counts:
        return network.models[max(sorted(counts), key=lambda n: counts[n])]
    if not network.models:
        raise InputError("models", "the network has no drone model to give new drones")
    return next(iter(network.models.values()))


def network_document(network: Network) -> dict[str, Any]:
    """The network as a document ``parse_network`` reads back (for YAML or JSON)."""
    doc: dict[str, Any] = {"name": network.name} if network.name else {}
    doc["agencies"] = [
        {
            "id": a.id,
            "name": a.name,
            "auto_launch": [p.name for p in sorted(a.auto_launch)],
            "provisional_launch": a.provisional_launch,
        }
        for a in network.agencies.values()
    ]
    doc["models"] = [
        {
            "name": m.name,
            "cruise_speed_mps": m.cruise_speed_mps,
            "climb_rate_mps": m.climb_rate_mps,
            "descent_rate_mps": m.descent_rate_mps,
            "endurance_s": m.endurance_s,
            "battery_wh": m.battery_wh,
            "hover_power_w": m.hover_power_w,
            "cruise_power_w": m.cruise_power_w,
            "capabilities": sorted(c.value for c in m.capabilities),
            "max_payload_kg": m.max_payload_kg,
        }
        for m in network.models.values()
    ]
    doc["sites"] = [
        {
            "id": s.id,
            "name": s.name,
            "borough": s.borough,
            "owner": s.owner,
            "shared": s.shared,
            "dock_capacity": s.dock_capacity,
            "lat": round(s.position.lat, 7),
            "lon": round(s.position.lon, 7),
            "illustrative": s.illustrative,
            "source": s.source,
        }
        for s in network.sites.values()
    ]
    doc["drones"] = [
        {"id": d.id, "model": d.model.name, "site": d.home_site_id} for d in network.drones.values()
    ]
    doc["agreements"] = [
        {
            "owner": g.owner,
            "users": sorted(g.users),
            "priorities": [p.name for p in sorted(g.priorities)],
        }
        for g in network.agreements.values()
    ]
    if network.permissions:
        doc["airspace_permissions"] = [
            {"agency": a, "zone": z, "authority": "as recorded in the network this came from"}
            for a, z in sorted(network.permissions)
        ]
    custom = [k for name, k in network.kinds.items() if DEFAULT_KINDS.get(name) != k]
    if custom:
        doc["incident_kinds"] = [
            {
                "name": k.name,
                "task": k.task.value,
                "capabilities": sorted(c.value for c in k.capabilities),
                "on_scene_s": k.on_scene_s,
            }
            for k in custom
        ]
    return doc
