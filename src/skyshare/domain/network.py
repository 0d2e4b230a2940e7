"""The shared network: agencies, drone models, launch sites, drones, sharing agreements.

``parse_network`` turns an already-loaded document (a dict, as YAML or JSON give) into a
validated ``Network``; it never reads a file itself. Every error names the source, the
item and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from skyshare.domain.enums import Capability, Priority, TaskKind
from skyshare.domain.errors import InputError
from skyshare.domain.kinds import DEFAULT_KINDS
from skyshare.domain.models import (
    Agency,
    Drone,
    DroneModel,
    GeoPoint,
    IncidentKind,
    LaunchSite,
    SharingAgreement,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Network:
    """Everything the dispatcher knows about the fleet before any flight."""

    agencies: dict[str, Agency]
    models: dict[str, DroneModel]
    sites: dict[str, LaunchSite]
    drones: dict[str, Drone]
    agreements: dict[str, SharingAgreement]
    kinds: dict[str, IncidentKind] = field(default_factory=lambda: dict(DEFAULT_KINDS))
    name: str = ""
    # Recorded standing permissions to enter a zone, e.g. an airport's ATC agreement:
    # (agency, zone id) pairs, as the airspace engine takes them.
    permissions: frozenset[tuple[str, str]] = frozenset()

    def may_fly(self, drone: Drone, agency: str, priority: Priority) -> bool:
        """May ``agency`` use ``drone`` for a call of ``priority``?"""
        if drone.owner == agency:
            return True
        site = self.sites[drone.home_site_id]
        agreement = self.agreements.get(drone.owner)
        return site.shared and agreement is not None and agreement.allows(agency, priority)

    def may_land(self, drone: Drone, site: LaunchSite) -> bool:
        """May ``drone`` land on (and charge at) ``site``: its owner's, or one shared with
        every agency?"""
        return site.owner == drone.owner or site.shared


class _Reader:
    """Pulls typed fields out of one item of the document, naming them when they are wrong."""

    def __init__(self, raw: Any, source: str, item: str, allowed: frozenset[str]) -> None:
        if not isinstance(raw, Mapping):
            raise InputError(
                "(item)", f"expected a mapping, got {type(raw).__name__}", source=source, item=item
            )
        self.raw, self.source, self.item = raw, source, item
        # A misspelt key would otherwise be ignored silently (e.g. "ilustrative").
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            raise self.fail(
                unknown[0], f"unknown key; expected one of {', '.join(sorted(allowed))}"
            )

    def fail(self, name: str, reason: str) -> InputError:
        return InputError(name, reason, source=self.source, item=self.item)

    def get(self, name: str, convert: Callable[[Any], T], default: Any = ...) -> T:
        if name not in self.raw or self.raw[name] is None:
            if default is ...:
                raise self.fail(name, "is required")
            return default
        try:
            return convert(self.raw[name])
        except (TypeError, ValueError) as exc:
            raise self.fail(name, str(exc) or f"invalid value {self.raw[name]!r}") from None

    def number(self, name: str, *, low: float, high: float, default: Any = ...) -> float:
        value = self.get(name, _finite_float, default)
        if not low <= value <= high:
            raise self.fail(name, f"{value} is outside [{low}, {high}]")
        return value


def _finite_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str | int) or not str(value).strip():
        raise ValueError(f"expected non-empty text, got {value!r}")
    return str(value).strip()


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _names(value: Any) -> frozenset[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list such as [police, fire], got {value!r}")
    return frozenset(_text(v) for v in value)


def _capabilities(value: Any) -> frozenset[Capability]:
    if not isinstance(value, list):
        raise ValueError("expected a list of capabilities")
    known = ", ".join(c.value for c in Capability)
    caps = set()
    for entry in value:
        try:
            caps.add(Capability(entry))
        except ValueError:
            raise ValueError(f"unknown capability {entry!r} (known: {known})") from None
    return frozenset(caps)


def _priorities(value: Any) -> frozenset[Priority]:
    if not isinstance(value, list):
        raise ValueError("expected a list of priorities such as [P1, P2]")
    return frozenset(Priority.parse(v) for v in value)


def _items(doc: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise InputError(key, "expected a list", source=source)
    return value


def parse_network(doc: Any, source: str = "<network>") -> Network:
    """Validate a network document and build the ``Network`` it describes."""
    if not isinstance(doc, Mapping):
        raise InputError("(document)", "expected a mapping at the top level", source=source)
    _Reader(doc, source, "(top level)", _KEYS["network"])

    agencies: dict[str, Agency] = {}
    for i, raw in enumerate(_items(doc, "agencies", source)):
        r = _Reader(raw, source, f"agencies[{i}]", _KEYS["agencies"])
        agency = Agency(
            id=r.get("id", _text),
            name=r.get("name", _text),
            auto_launch=r.get("auto_launch", _priorities, frozenset()),
            provisional_launch=r.get("provisional_launch", _flag, False),
        )
        agencies[_unique(agencies, agency.id, r)] = agency
    if not agencies:
        raise InputError("agencies", "at least one agency is required", source=source)

    def agency_ref(r: _Reader, name: str) -> str:
        value = r.get(name, _text)
        if value not in agencies:
            raise r.fail(name, f"unknown agency {value!r} (known: {', '.join(sorted(agencies))})")
        return value

    models: dict[str, DroneModel] = {}
    for i, raw in enumerate(_items(doc, "models", source)):
        r = _Reader(raw, source, f"models[{i}]", _KEYS["models"])
        model = DroneModel(
            name=r.get("name", _text),
            cruise_speed_mps=r.number("cruise_speed_mps", low=1, high=60),
            climb_rate_mps=r.number("climb_rate_mps", low=0.5, high=20),
            descent_rate_mps=r.number("descent_rate_mps", low=0.5, high=20),
            endurance_s=r.number("endurance_s", low=60, high=4 * 3600),
            battery_wh=r.number("battery_wh", low=10, high=5000),
            hover_power_w=r.number("hover_power_w", low=10, high=20000),
            cruise_power_w=r.number("cruise_power_w", low=10, high=20000),
            capabilities=r.get("capabilities", _capabilities),
            max_payload_kg=r.number("max_payload_kg", low=0, high=50, default=0.0),
        )
        models[_unique(models, model.name, r, "name")] = model

    sites: dict[str, LaunchSite] = {}
    for i, raw in enumerate(_items(doc, "sites", source)):
        r = _Reader(raw, source, f"sites[{i}]", _KEYS["sites"])
        site = LaunchSite(
            id=r.get("id", _text),
            name=r.get("name", _text),
            position=GeoPoint(
                r.number("lat", low=-90, high=90), r.number("lon", low=-180, high=180)
            ),
            borough=r.get("borough", _text),
            owner=agency_ref(r, "owner"),
            shared=r.get("shared", _flag),
            dock_capacity=r.get("dock_capacity", _whole),
            illustrative=r.get("illustrative", _flag, False),
            source=r.get("source", str, ""),
        )
        sites[_unique(sites, site.id, r)] = site
    if not sites:
        raise InputError("sites", "at least one launch site is required", source=source)

    drones: dict[str, Drone] = {}
    docked: dict[str, int] = {}
    for i, raw in enumerate(_items(doc, "drones", source)):
        r = _Reader(raw, source, f"drones[{i}]", _KEYS["drones"])
        model_name = r.get("model", _text)
        if model_name not in models:
            raise r.fail("model", f"unknown drone model {model_name!r}")
        site_id = r.get("site", _text)
        if site_id not in sites:
            raise r.fail("site", f"unknown launch site {site_id!r}")
        docked[site_id] = docked.get(site_id, 0) + 1
        if docked[site_id] > sites[site_id].dock_capacity:
            raise r.fail("site", f"site {site_id!r} has only {sites[site_id].dock_capacity} docks")
        drone = Drone(
            id=r.get("id", _text),
            model=models[model_name],
            home_site_id=site_id,
            owner=sites[site_id].owner,
            position=sites[site_id].position,
        )
        drones[_unique(drones, drone.id, r)] = drone

    agreements: dict[str, SharingAgreement] = {}
    for i, raw in enumerate(_items(doc, "agreements", source)):
        r = _Reader(raw, source, f"agreements[{i}]", _KEYS["agreements"])
        owner = agency_ref(r, "owner")
        users = r.get("users", _names)
        for user in users:
            if user not in agencies:
                raise r.fail("users", f"unknown agency {user!r}")
        priorities = r.get("priorities", _priorities, frozenset(Priority))
        agreements[_unique(agreements, owner, r, "owner")] = SharingAgreement(
            owner, users, priorities
        )

    kinds = dict(DEFAULT_KINDS)
    for i, raw in enumerate(_items(doc, "incident_kinds", source)):
        r = _Reader(raw, source, f"incident_kinds[{i}]", _KEYS["incident_kinds"])
        kind = IncidentKind(
            name=r.get("name", _text),
            task=r.get("task", TaskKind),
            capabilities=r.get("capabilities", _capabilities, frozenset()),
            on_scene_s=r.number("on_scene_s", low=0, high=24 * 3600),
        )
        kinds[kind.name] = kind

    permissions = set()
    for i, raw in enumerate(_items(doc, "airspace_permissions", source)):
        r = _Reader(raw, source, f"airspace_permissions[{i}]", _KEYS["airspace_permissions"])
        permissions.add((agency_ref(r, "agency"), r.get("zone", _text)))
        r.get("authority", _text)  # who granted it: required, so that it can be checked
        r.get("reference", str, "")

    return Network(
        agencies,
        models,
        sites,
        drones,
        agreements,
        kinds,
        str(doc.get("name", "")),
        frozenset(permissions),
    )


_KEYS: dict[str, frozenset[str]] = {
    "network": frozenset(
        {
            "name",
            "agencies",
            "models",
            "sites",
            "drones",
            "agreements",
            "incident_kinds",
            "airspace_permissions",
        }
    ),
    "airspace_permissions": frozenset({"agency", "zone", "authority", "reference"}),
    "agencies": frozenset({"id", "name", "auto_launch", "provisional_launch"}),
    "models": frozenset(
        {
            "name",
            "cruise_speed_mps",
            "climb_rate_mps",
            "descent_rate_mps",
            "endurance_s",
            "battery_wh",
            "hover_power_w",
            "cruise_power_w",
            "capabilities",
            "max_payload_kg",
        }
    ),
    "sites": frozenset(
        {
            "id",
            "name",
            "lat",
            "lon",
            "borough",
            "owner",
            "shared",
            "dock_capacity",
            "illustrative",
            "source",
        }
    ),
    "drones": frozenset({"id", "model", "site"}),
    "agreements": frozenset({"owner", "users", "priorities"}),
    "incident_kinds": frozenset({"name", "task", "capabilities", "on_scene_s"}),
}


def _unique(seen: Mapping[str, Any], key: str, r: _Reader, name: str = "id") -> str:
    if key in seen:
        raise r.fail(name, f"duplicate {name} {key!r}")
    return key
