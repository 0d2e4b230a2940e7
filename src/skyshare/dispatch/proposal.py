"""What a decision returns: ranked candidates, rejections with reason codes, a proposal.

These are plain frozen records so that the runtime can persist them, the API can show
them and the what-if simulator can count them. ``to_json`` gives the JSON-ready form
(``Assignment.candidates`` stores ranked candidates this way).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from skyshare.dispatch.eta import Sortie
from skyshare.dispatch.routing import Path
from skyshare.domain.models import Assignment


class Reason(StrEnum):
    """Why a drone was not a candidate for an incident."""

    OUT_OF_SERVICE = "OUT_OF_SERVICE"  # offline or in maintenance
    BUSY = "BUSY"  # on another task that this call may not take it from
    EXCLUDED = "EXCLUDED"  # declined by an operator or held for another incident
    NO_CAPABILITY = "NO_CAPABILITY"  # lacks a sensor or payload the kind needs
    NOT_SHARED = "NOT_SHARED"  # the owner does not share it with this agency/priority
    LOW_BATTERY = "LOW_BATTERY"  # cannot fly out, stay and reach a dock with the reserve
    NO_LEGAL_ROUTE = "NO_LEGAL_ROUTE"  # no legal route out, or none from the scene to a dock
    WIND = "WIND"  # the wind is stronger than the drone along some leg


class Why(StrEnum):
    """Reason codes attached to a candidate: what the operator should know about it."""

    FASTEST = "FASTEST"  # best score of all candidates
    COVER = "COVER"  # chosen among near-equal ETAs to keep the most demand covered
    AIRBORNE = "AIRBORNE"  # re-tasked in the air on its way home
    SKIRTS_ZONES = "SKIRTS_ZONES"  # the route goes around restricted airspace
    NEEDS_RELIEF = "NEEDS_RELIEF"  # cannot stay the whole time; a relief drone follows
    PREEMPTS = "PREEMPTS"  # taken from a lower-priority task
    BATCH = "BATCH"  # assigned together with other pending incidents


@dataclass(frozen=True, slots=True)
class Candidate:
    """One drone that can serve the incident, and what sending it would mean.

    ``score_s`` is what candidates are ranked by: the ETA, plus ``relief_penalty_s``
    when it would need relief, plus ``preempt_gain_s`` when it must be taken from
    another task. ``cover_loss`` is the demand weight left without cover if it goes
    (computed only for near-ties).
    """

    drone_id: str
    site_id: str
    site_name: str
    eta_s: float
    score_s: float
    sortie: Sortie
    path: Path
    return_site_id: str
    airborne: bool
    preempts: str | None = None
    cover_loss: float | None = None
    why: tuple[Why, ...] = ()

    @property
    def battery_on_arrival_pct(self) -> float:
        return self.sortie.battery_on_arrival_pct

    @property
    def battery_on_landing_pct(self) -> float:
        return self.sortie.battery_on_landing_pct

    @property
    def zones_skirted(self) -> tuple[str, ...]:
        return self.path.zones_skirted

    @property
    def route_length_m(self) -> float:
        return self.path.length_m

    def to_json(self) -> dict[str, Any]:
        return {
            "drone_id": self.drone_id,
            "site_id": self.site_id,
            "eta_s": round(self.eta_s, 1),
            "score_s": round(self.score_s, 1),
            "battery_on_arrival_pct": round(self.battery_on_arrival_pct, 1),
            "battery_on_landing_pct": round(self.battery_on_landing_pct, 1),
            "route_length_m": round(self.route_length_m),
            "zones_skirted": list(self.zones_skirted),
            "on_scene_s": round(self.sortie.on_scene_s),
            "return_site_id": self.return_site_id,
            "airborne": self.airborne,
            "preempts": self.preempts,
            "cover_loss": self.cover_loss,
            "why": [str(w) for w in self.why],
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """A drone passed over, with the reason code and a line an operator can check."""

    drone_id: str
    reason: Reason
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"drone_id": self.drone_id, "reason": str(self.reason), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Displacement:
    """A lower-priority incident that loses its drone to a preemption; re-queue it."""

    incident_id: str
    drone_id: str
    reason: str


@dataclass(frozen=True)
class Proposal:
    """The dispatcher's answer for one incident.

    ``chosen`` is ``None`` when no drone can serve it; ``unserved_reason`` then says why.
    ``ranked`` starts with ``chosen`` and lists the next best. ``rejected`` lists the
    drones nearer (by straight line) than the chosen one that were passed over, with
    their reasons; ``rejected_counts`` counts every rejection by reason.
    ``displaced`` is set when the choice preempts another incident's drone.
    """

    incident_id: str
    chosen: Candidate | None
    ranked: tuple[Candidate, ...]
    rejected: tuple[Rejection, ...]
    rejected_counts: Mapping[Reason, int]
    explanation: str
    unserved_reason: str | None = None
    displaced: Displacement | None = None

    def assignment(self, assignment_id: str, proposed_at: datetime) -> Assignment | None:
        """The domain ``Assignment`` this proposal makes at ``proposed_at`` (``None`` when
        unserved), with the explanation as its reason and the ranked candidates in JSON
        form."""
        if self.chosen is None:
            return None
        return Assignment(
            assignment_id,
            self.incident_id,
            self.chosen.drone_id,
            self.chosen.site_id,
            self.chosen.eta_s,
            self.explanation,
            candidates=tuple(c.to_json() for c in self.ranked),
            proposed_at=proposed_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "chosen": self.chosen.to_json() if self.chosen else None,
            "ranked": [c.to_json() for c in self.ranked],
            "rejected": [r.to_json() for r in self.rejected],
            "rejected_counts": {str(k): v for k, v in sorted(self.rejected_counts.items())},
            "explanation": self.explanation,
            "unserved_reason": self.unserved_reason,
            "displaced": None
            if self.displaced is None
            else {
                "incident_id": self.displaced.incident_id,
                "drone_id": self.displaced.drone_id,
                "reason": self.displaced.reason,
            },
        }
