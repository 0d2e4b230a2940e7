"""What an incident stream yields, and the assumed mix of calls by agency, kind and priority."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from skyshare.domain import AMBULANCE, FIRE, POLICE, GeoPoint, Incident, InputError, Priority


@dataclass(frozen=True, slots=True)
class GeneratedIncident:
    """One call as a control room would send it. ``at`` is timezone-aware."""

    at: datetime
    agency: str
    priority: Priority
    kind: str
    lat: float
    lon: float
    borough: str
    external_id: str

    def to_incident(self, id: str) -> Incident:
        """The domain record the dispatcher and the simulator work on."""
        return Incident(
            id=id,
            agency=self.agency,
            priority=self.priority,
            kind=self.kind,
            position=GeoPoint(self.lat, self.lon),
            received_at=self.at,
            borough=self.borough,
            external_id=self.external_id,
        )

    def to_request_json(self) -> dict[str, Any]:
        """The body of ``POST /api/v1/incidents`` (and of a CAD message on MQTT)."""
        return {
            "agency": self.agency,
            "priority": self.priority.name,
            "kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "external_id": self.external_id,
        }


@dataclass(frozen=True, slots=True)
class KindShare:
    """A slice of the call mix: this agency, kind and priority make up ``weight`` of it."""

    agency: str
    kind: str
    priority: Priority
    weight: float


def _agency_mix(agency: str, share: float, kinds: Iterable[tuple[str, int, float]]) -> list:
    return [KindShare(agency, kind, Priority(p), share * w) for kind, p, w in kinds]


# An assumed mix for drone-as-first-responder work, not measured data: police calls
# dominate (the Met's pilot flies only for police), fire sends drones to working fires,
# water and hazmat, ambulance mostly wants a defibrillator at a cardiac arrest. Within
# each agency the weights sum to 1; the agency shares are 0.70 / 0.18 / 0.12.
DEFAULT_MIX: tuple[KindShare, ...] = tuple(
    _agency_mix(
        POLICE,
        0.70,
        [
            ("burglary", 2, 0.22),
            ("suspect_search", 1, 0.20),
            ("missing_person", 1, 0.10),
            ("missing_person", 2, 0.06),
            ("public_disorder", 1, 0.06),
            ("public_disorder", 2, 0.06),
            ("road_traffic_collision", 2, 0.10),
            ("firearms", 1, 0.04),
            ("welfare_check", 3, 0.12),
            ("welfare_check", 4, 0.04),
        ],
    )
    + _agency_mix(
        FIRE,
        0.18,
        [
            ("building_fire", 1, 0.45),
            ("grass_fire", 2, 0.15),
            ("water_rescue", 1, 0.12),
            ("hazmat", 1, 0.06),
            ("road_traffic_collision", 1, 0.10),
            ("road_traffic_collision", 2, 0.07),
            ("major_incident", 1, 0.05),
        ],
    )
    + _agency_mix(
        AMBULANCE,
        0.12,
        [
            ("cardiac_arrest", 1, 0.80),
            ("road_traffic_collision", 1, 0.15),
            ("major_incident", 1, 0.05),
        ],
    )
)


def mix_for(
    agencies: Iterable[str], mix: Sequence[KindShare] = DEFAULT_MIX
) -> tuple[KindShare, ...]:
    """The part of ``mix`` that belongs to ``agencies`` (e.g. police only for today's network)."""
    wanted = set(agencies)
    chosen = tuple(share for share in mix if share.agency in wanted)
    if not chosen:
        raise InputError("agencies", f"no share of the mix belongs to {sorted(wanted)}")
    return chosen
