"""How many drones each site needs to meet a target such as "90% within 120s".

1. Ceiling. Every call is put to the dispatcher with the whole fleet docked and charged:
   that is the best any number of drones could do at these sites (approval, launch and
   flight only), and it names each call's best site. If the ceiling misses the target,
   no fleet at these sites meets it: more sites are needed (``whatif optimize``).
2. First guess. Each site gets the drones an M/M/c queue says keep the chance of
   waiting below the target's miss rate, for the calls whose best site it is.
3. Simulate and repair. Run the simulation (the live dispatcher, queueing, batteries);
   while the target is missed, add a drone where most calls that could have made it
   did not (each missed call counts for its best site). Then take drones away, one site
   at a time (fewest missed calls first), keeping each removal that still meets the
   target, pass after pass until none can go. Every run uses the same calls (common
   random numbers), so the comparisons between runs are not blurred by chance.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.dispatch.fleet import FleetView
from skyshare.domain.errors import InputError
from skyshare.domain.models import Incident
from skyshare.domain.network import Network
from skyshare.planning.des import SimulationConfig, SimulationResult, auto_launched, simulate
from skyshare.planning.erlang import servers_for
from skyshare.planning.metrics import GroupStats, SimulationSummary, group_stats, summarise
from skyshare.planning.scenario import drone_counts, with_drone_counts

_TARGET = re.compile(
    r"^\s*(?P<share>\d+(?:\.\d+)?)\s*%\s*within\s*(?P<time>\d+(?:\.\d+)?)\s*"
    r"(?P<unit>s|sec|secs|seconds?|m|min|mins|minutes?)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Target:
    """A share of calls reached within a time."""

    share: float
    within_s: float

    @classmethod
    def parse(cls, text: str) -> Target:
        """ "90% within 120s", "80 % within 3 min"."""
        match = _TARGET.match(text or "")
        if match is None:
            raise InputError("target", f"expected e.g. '90% within 120s', got {text!r}")
        share = float(match["share"]) / 100.0
        unit = (match["unit"] or "s").lower()
        within = float(match["time"]) * (60.0 if unit.startswith("m") else 1.0)
        if not 0 < share <= 1:
            raise InputError("target", f"the share must be in (0%, 100%], got {match['share']}%")
        if not within > 0:
            raise InputError("target", "the time must be positive")
        return cls(share, within)

    def met_by(self, stats: GroupStats) -> bool:
        return stats.within_share is not None and stats.within_share >= self.share - 1e-12

    def __str__(self) -> str:
        return f"{self.share * 100:g}% within {self.within_s:g}s"


@dataclass(frozen=True)
class IdealCall:
    """A call answered with the whole fleet free: its best site and response, if any."""

    incident_id: str
    site_id: str | None
    response_s: float | None
    busy_s: float  # how long the drone is taken: approval, flight out, scene, flight back


def ideal_answers(
    network: Network,
    dispatcher: Dispatcher,
    incidents: Sequence[Incident],
    config: SimulationConfig,
) -> list[IdealCall]:
    """Each call against the whole fleet docked at home (with the batteries the network
    records, full unless it says otherwise)."""
    idle = FleetView.at_home(network, dispatcher.projection)
    out = []
    for incident in incidents:
        proposal = dispatcher.propose(incident, idle, incident.received_at)
        chosen = proposal.chosen
        if chosen is None:
            out.append(IdealCall(incident.id, None, None, 0.0))
            continue
        delay = _approval_s(network, incident, config)
        out.append(
            IdealCall(
                incident.id, chosen.site_id, delay + chosen.eta_s, delay + chosen.sortie.total_s
            )
        )
    return out


def _approval_s(network: Network, incident: Incident, config: SimulationConfig) -> float:
    return 0.0 if auto_launched(network, incident) else config.approval_delay_s


@dataclass(frozen=True)
class FleetPlan:
    target: Target
    before: dict[str, int]
    counts: dict[str, int]
    ceiling: float  # share of calls within the time with every drone free
    feasible: bool
    met: bool
    runs: int
    summary: SimulationSummary | None = field(repr=False, default=None)
    missed_by_site: dict[str, int] = field(default_factory=dict)

    @property
    def drones(self) -> int:
        return sum(self.counts.values())

    @property
    def sites_used(self) -> int:
        return sum(1 for n in self.counts.values() if n > 0)

    def to_json(self) -> dict[str, object]:
        return {
            "target": str(self.target),
            "feasible": self.feasible,
            "met": self.met,
            "ceiling_share": round(self.ceiling, 4),
            "achieved_share": None
            if self.summary is None or self.summary.overall.within_share is None
            else round(self.summary.overall.within_share, 4),
            "drones_before": sum(self.before.values()),
            "drones": self.drones,
            "per_site": {
                s: {"before": self.before.get(s, 0), "after": n} for s, n in self.counts.items()
            },
            "runs": self.runs,
        }


def size_fleet(
    network: Network,
    make_dispatcher: Callable[[Network], Dispatcher],
    incidents: Sequence[Incident],
    *,
    target: Target,
    start: datetime,
    duration_s: float,
    config: SimulationConfig | None = None,
    max_runs: int = 40,
    trim: bool = True,
    per_agency: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FleetPlan:
    """Drones per site meeting ``target`` for ``incidents`` (for the calls as a whole,
    or with ``per_agency`` for each agency's calls); see the module docstring."""
    config = config or SimulationConfig()
    if not incidents:
        raise InputError("incidents", "fleet sizing needs calls to simulate")
    before = drone_counts(network)
    ideal = ideal_answers(network, make_dispatcher(network), incidents, config)
    within = [c for c in ideal if c.response_s is not None and c.response_s <= target.within_s]
    best_site = {c.incident_id: c.site_id for c in within}
    agency_of = {i.id: i.agency for i in incidents}
    groups = sorted(set(agency_of.values())) if per_agency else [None]
    ceilings = []
    for group in groups:
        mine = [c for c in ideal if group is None or agency_of[c.incident_id] == group]
        ceilings.append(sum(c.incident_id in best_site for c in mine) / len(mine))
    ceiling = min(ceilings)
    if ceiling < target.share - 1e-12:
        return FleetPlan(target, before, before, ceiling, False, False, 0)

    def failing(result: SimulationResult) -> set[str] | None:
        """The agencies below the target (None: judge all calls together)."""
        if not per_agency:
            return None
        return {
            a
            for a in groups
            if a is not None
            and not target.met_by(
                group_stats(a, [c for c in result.calls if c.agency == a], target.within_s)
            )
        }

    def meets(result: SimulationResult) -> bool:
        overall = target.met_by(group_stats("all", result.calls, target.within_s))
        return overall and not failing(result)

    counts = _first_guess(network, ideal, target, duration_s)
    runs = 0

    def run(trial: dict[str, int]) -> tuple[SimulationResult, bool]:
        nonlocal runs
        runs += 1
        variant = with_drone_counts(network, trial)
        result = simulate(
            variant,
            make_dispatcher(variant),
            incidents,
            start=start,
            duration_s=duration_s,
            config=config,
        )
        stats = group_stats("all", result.calls, target.within_s)
        if progress is not None:
            progress(
                f"run {runs}: {sum(trial.values())} drones, "
                f"{(stats.within_share or 0) * 100:.1f}% within {target.within_s:g}s"
            )
        return result, meets(result)

    result, met = run(counts)
    while not met and runs < max_runs:
        missed = _missed(result, best_site, target, failing(result))
        if not missed:
            break
        # A drone more at each site that misses at least half as many calls as the worst
        # (converges in few runs); the trimming pass below takes back what is not needed.
        worst = max(missed.values())
        counts = {
            site: n + (1 if missed.get(site, 0) * 2 >= worst else 0) for site, n in counts.items()
        }
        result, met = run(counts)
    while met and trim and runs < max_runs:
        # Take a drone from a site while the target still holds, fewest misses first;
        # stop after a full pass that could take none.
        missed = _missed(result, best_site, target)
        removed = False
        for site in sorted(counts, key=lambda s: (missed.get(s, 0), s)):
            if runs >= max_runs or counts[site] <= 1:
                continue
            trial = {**counts, site: counts[site] - 1}
            trial_result, trial_met = run(trial)
            if trial_met:
                counts, result, removed = trial, trial_result, True
        if not removed:
            break
    return FleetPlan(
        target,
        before,
        counts,
        ceiling,
        True,
        met,
        runs,
        summarise(result, target.within_s),
        _missed(result, best_site, target),
    )


def _first_guess(
    network: Network, ideal: Sequence[IdealCall], target: Target, duration_s: float
) -> dict[str, int]:
    """Erlang C per site for the calls whose best site it is (at least one drone each)."""
    busy: dict[str, list[float]] = {}
    for call in ideal:
        if call.site_id is not None:
            busy.setdefault(call.site_id, []).append(call.busy_s)
    counts = {}
    for site in network.sites:
        times = busy.get(site, [])
        load = sum(times) / duration_s if times else 0.0
        counts[site] = servers_for(load, max(1e-6, 1.0 - target.share)) if times else 1
    return counts


def _missed(
    result: SimulationResult,
    best_site: dict[str, str | None],
    target: Target,
    agencies: set[str] | None = None,
) -> Counter[str]:
    """Per best site, the calls (of ``agencies``, if given) that could have been in time
    but were not."""
    missed: Counter[str] = Counter()
    for call in result.calls:
        if agencies and call.agency not in agencies:
            continue
        site = best_site.get(call.incident_id)
        if site is None:
            continue
        response = call.response_s
        if response is None or response > target.within_s:
            missed[site] += 1
    return missed
