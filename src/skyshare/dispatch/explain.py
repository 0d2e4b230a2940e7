"""Sentences an operator can check: why this drone, why not that one, why nobody."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from skyshare.dispatch.proposal import Candidate, Reason
from skyshare.domain.enums import Priority
from skyshare.domain.models import Incident

_COUNTED = {
    Reason.OUT_OF_SERVICE: "out of service",
    Reason.BUSY: "busy",
    Reason.EXCLUDED: "excluded",
    Reason.NO_CAPABILITY: "lack {caps}",
    Reason.NOT_SHARED: "not shared with {agency} for {priority}",
    Reason.LOW_BATTERY: "low on battery",
    Reason.NO_LEGAL_ROUTE: "without a legal route",
    Reason.WIND: "beaten by the wind",
}


def route_phrase(candidate: Candidate) -> str:
    zones = candidate.zones_skirted
    if not zones:
        return "by a direct route"
    names = [z.removeprefix("EG ") for z in zones]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"by a route skirting {listed}"


def where_from(candidate: Candidate) -> str:
    if candidate.airborne:
        return f"(airborne, on its way back to {candidate.site_name})"
    return f"from {candidate.site_name}"


def explain_choice(
    chosen: Candidate,
    ranked: Sequence[Candidate],
    *,
    fastest: Candidate,
    best_free: Candidate | None,
    preempted_priority: Priority | None,
    kind_on_scene_s: float,
) -> str:
    """ "D-12 from Soho fire station: 94 s by a route skirting R157, 78% battery on
    arrival; next best D-4 at 131 s", plus whatever else shaped the choice."""
    parts = [
        f"{chosen.drone_id} {where_from(chosen)}: {chosen.eta_s:.0f} s {route_phrase(chosen)}, "
        f"{chosen.battery_on_arrival_pct:.0f}% battery on arrival"
    ]
    if chosen.preempts is not None:
        label = preempted_priority.name if preempted_priority is not None else "lower-priority"
        line = f"taken from {label} incident {chosen.preempts}"
        if best_free is not None:
            line += (
                f", arriving {best_free.eta_s - chosen.eta_s:.0f} s sooner than the best "
                f"free drone ({best_free.drone_id}, {best_free.eta_s:.0f} s)"
            )
        else:
            line += ", no free drone can serve"
        parts.append(line)
    if chosen.drone_id != fastest.drone_id:
        parts.append(
            f"chosen over {fastest.drone_id} ({fastest.eta_s:.0f} s) to keep cover around "
            f"{fastest.site_name}"
        )
    if chosen.sortie.needs_relief:
        parts.append(
            f"stays {chosen.sortie.on_scene_s / 60:.0f} of {kind_on_scene_s / 60:.0f} min; "
            f"a relief drone follows"
        )
    others = [c for c in ranked if c is not chosen]
    if others:
        parts.append(f"next best {others[0].drone_id} at {others[0].eta_s:.0f} s")
    else:
        parts.append("no other drone can serve")
    return "; ".join(parts)


def explain_unserved(incident: Incident, counts: Mapping[Reason, int], missing: str) -> str:
    """ "no drone can serve: 12 busy, 3 lack thermal, ..." in order of how many."""
    if not counts:
        return "no drone can serve: the fleet is empty"
    words = []
    for reason, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        text = _COUNTED[reason].format(
            caps=missing or "the capabilities",
            agency=incident.agency,
            priority=incident.priority.name,
        )
        words.append(f"{n} {text}")
    return "no drone can serve: " + ", ".join(words)
