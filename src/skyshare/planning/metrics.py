"""What a simulation means for planners: response times by borough and agency, use of drones.

Response time is from the call to a drone on scene (approval, launch delay, climb, legal
route, descent, and any wait for a free drone). Percentiles are over the calls a drone
reached; the share "within" the target is over all calls, so a call never reached counts
as not within.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from skyshare.planning.des import CallOutcome, SimulationResult


@dataclass(frozen=True)
class GroupStats:
    """Calls of one borough, agency or site."""

    name: str
    calls: int
    reached: int
    waited: int
    unserved: int
    median_s: float | None
    p90_s: float | None
    within_share: float | None  # of all calls, reached within the target

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "calls": self.calls,
            "reached": self.reached,
            "waited": self.waited,
            "unserved": self.unserved,
            "median_s": _round(self.median_s),
            "p90_s": _round(self.p90_s),
            "within_share": None if self.within_share is None else round(self.within_share, 4),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def group_stats(name: str, calls: Iterable[CallOutcome], target_s: float) -> GroupStats:
    calls = list(calls)
    times = np.array([c.response_s for c in calls if c.response_s is not None], float)
    return GroupStats(
        name=name,
        calls=len(calls),
        reached=len(times),
        waited=sum(c.waited for c in calls),
        unserved=sum(c.response_s is None for c in calls),
        median_s=float(np.median(times)) if len(times) else None,
        p90_s=float(np.quantile(times, 0.9, method="inverted_cdf")) if len(times) else None,
        within_share=float((times <= target_s).sum() / len(calls)) if calls else None,
    )


def grouped(
    calls: Iterable[CallOutcome], key: Callable[[CallOutcome], str], target_s: float
) -> tuple[GroupStats, ...]:
    groups: dict[str, list[CallOutcome]] = {}
    for call in calls:
        groups.setdefault(key(call) or "(unknown)", []).append(call)
    return tuple(group_stats(name, groups[name], target_s) for name in sorted(groups))


@dataclass(frozen=True)
class SiteUse:
    site_id: str
    drones: int
    sorties: int
    utilisation: float  # share of the period its drones were committed to calls

    def to_json(self) -> dict[str, object]:
        return {
            "site_id": self.site_id,
            "drones": self.drones,
            "sorties": self.sorties,
            "utilisation": round(self.utilisation, 4),
        }


@dataclass(frozen=True)
class SimulationSummary:
    target_s: float
    days: float
    overall: GroupStats
    by_borough: tuple[GroupStats, ...]
    by_agency: tuple[GroupStats, ...]
    sites: tuple[SiteUse, ...]
    utilisation: float  # fleet-wide share of time committed to calls
    unserved_reasons: dict[str, int]
    minutes_by_agency: dict[str, float]
    minutes_by_owner: dict[str, float]
    reliefs: int
    preemptions: int

    def to_json(self) -> dict[str, object]:
        return {
            "target_s": self.target_s,
            "days": self.days,
            "overall": self.overall.to_json(),
            "by_borough": [g.to_json() for g in self.by_borough],
            "by_agency": [g.to_json() for g in self.by_agency],
            "sites": [s.to_json() for s in self.sites],
            "utilisation": round(self.utilisation, 4),
            "unserved_reasons": self.unserved_reasons,
            "flight_minutes_by_agency": {k: round(v, 1) for k, v in self.minutes_by_agency.items()},
            "flight_minutes_by_owner": {k: round(v, 1) for k, v in self.minutes_by_owner.items()},
            "reliefs": self.reliefs,
            "preemptions": self.preemptions,
        }


def summarise(result: SimulationResult, target_s: float = 120.0) -> SimulationSummary:
    calls = result.calls
    per_site: dict[str, list] = {}
    for use in result.drones:
        per_site.setdefault(use.site_id, []).append(use)
    period = max(result.duration_s, 1e-9)
    sites = tuple(
        SiteUse(
            site,
            len(uses),
            sum(u.sorties for u in uses),
            sum(u.committed_s for u in uses) / (period * len(uses)),
        )
        for site, uses in sorted(per_site.items())
    )
    fleet = len(result.drones)
    committed = sum(u.committed_s for u in result.drones)
    reasons = Counter(c.unserved_reason or "" for c in calls if c.response_s is None)
    return SimulationSummary(
        target_s=target_s,
        days=result.duration_s / 86_400.0,
        overall=group_stats("all", calls, target_s),
        by_borough=grouped(calls, lambda c: c.borough, target_s),
        by_agency=grouped(calls, lambda c: c.agency, target_s),
        sites=sites,
        utilisation=committed / (period * fleet) if fleet else 0.0,
        unserved_reasons=dict(sorted(reasons.items())),
        minutes_by_agency=result.ledger.minutes_by_agency(),
        minutes_by_owner=result.ledger.minutes_by_owner(),
        reliefs=result.reliefs,
        preemptions=sum(c.preempted for c in calls),
    )
