"""Scenarios side by side, and one shared network against separate per-agency networks.

``compare_scenarios`` runs the same calls (and the same cells) through each scenario:
cover within the time, and the simulated responses with the live dispatcher.

``pooling_study`` answers "how much does sharing save for the same service level?":

- the shared arm serves every agency's calls from one set of bases whose drones any
  agency may fly; each separate arm serves one agency's calls from its own bases;
- each arm gets the fewest bases (exact MILP over the candidate sites) from which the
  target share of its calls is reached in time with every drone free (approval and
  legal-route flight), for every agency of the arm; then the fewest drones per base
  (``size_fleet``) that meet the target in the simulation (queueing, batteries). If the
  simulation cannot meet it at those bases, the bases' cover share is raised by
  ``share_step`` and both steps run again, the same rule for every arm;
- every arm flies the same airframe (the network's commonest model, given every
  capability the calls need), so that only the pooling differs between arms.

Savings are (separate - shared) / separate, for bases and for drones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.domain.errors import InputError
from skyshare.domain.models import DroneModel, Incident
from skyshare.domain.network import Network
from skyshare.planning.coverage import CoverageReport, assess_coverage
from skyshare.planning.des import SimulationConfig, auto_launched, simulate
from skyshare.planning.fleet import FleetPlan, Target, size_fleet
from skyshare.planning.metrics import SimulationSummary, summarise
from skyshare.planning.placement import CandidateSite, Demand, DemandRows, build_problem
from skyshare.planning.scenario import common_model, pooled, with_sites
from skyshare.planning.sites import fewest_sites, reachable_share
from skyshare.planning.study import Study

MakeDispatcher = Callable[[Network], Dispatcher]


@dataclass(frozen=True)
class ScenarioResult:
    label: str
    network: Network = field(repr=False)
    coverage: CoverageReport = field(repr=False)
    summary: SimulationSummary | None = field(repr=False)

    def figures(self) -> dict[str, float | int | str | None]:
        """The headline figures, by name (for the side-by-side table)."""
        cov = self.coverage
        out: dict[str, float | int | str | None] = {
            "sites": len(self.network.sites),
            "drones": len(self.network.drones),
            "boroughs without cover": len(cov.uncovered),
        }
        for agency in cov.agencies:
            out[f"area covered ({agency})"] = round(cov.share_of_area(agency), 4)
        if self.summary is not None:
            s = self.summary
            out["calls"] = s.overall.calls
            out["median response s"] = s.overall.median_s
            out["p90 response s"] = s.overall.p90_s
            out[f"within {s.target_s:g}s"] = s.overall.within_share
            out["waited"] = s.overall.waited
            out["unserved"] = s.overall.unserved
            out["drone utilisation"] = round(s.utilisation, 4)
        return out


def compare_scenarios(
    study: Study,
    scenarios: Sequence[tuple[str, Network]],
    make_dispatcher: MakeDispatcher,
    *,
    within_s: float,
    incidents: Sequence[Incident] = (),
    start: datetime | None = None,
    duration_s: float = 0.0,
    config: SimulationConfig | None = None,
) -> list[ScenarioResult]:
    """Cover and (with calls) a simulation of each scenario, on the same cells and calls.

    Coverage is for the agencies the scenario has; calls of an agency a scenario lacks
    are left out of its simulation (and counted nowhere).
    """
    results = []
    for label, network in scenarios:
        coverage = assess_coverage(study, network, within_s)
        summary = None
        if incidents:
            if start is None or duration_s <= 0:
                raise InputError("days", "a simulation needs a start and a positive period")
            mine = [i for i in incidents if i.agency in network.agencies]
            result = simulate(
                network,
                make_dispatcher(network),
                mine,
                start=start,
                duration_s=duration_s,
                config=config,
            )
            summary = summarise(result, within_s)
        results.append(ScenarioResult(label, network, coverage, summary))
    return results


# --- pooling -----------------------------------------------------------------------------


def multi_role(network: Network) -> DroneModel:
    """The network's commonest airframe, carrying every capability any model has."""
    base = common_model(network)
    caps = frozenset().union(*(m.capabilities for m in network.models.values()))
    return replace(base, name=f"{base.name} (multi-role)", capabilities=caps)


@dataclass(frozen=True)
class ArmResult:
    """One way of organising the network: which agencies, how many bases and drones."""

    name: str
    agencies: tuple[str, ...]
    calls: int
    bases: int
    drones: int
    bases_share: float  # the flight-time cover the bases were chosen for
    feasible: bool
    fleet: FleetPlan | None = field(repr=False, default=None)
    base_ids: tuple[str, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, object]:
        by_agency = {}
        if self.fleet is not None and self.fleet.summary is not None:
            by_agency = {
                g.name: None if g.within_share is None else round(g.within_share, 4)
                for g in self.fleet.summary.by_agency
            }
        return {
            "name": self.name,
            "agencies": list(self.agencies),
            "calls": self.calls,
            "bases": self.bases,
            "drones": self.drones,
            "bases_share": round(self.bases_share, 4),
            "feasible": self.feasible,
            "within_by_agency": by_agency,
            "bases_chosen": list(self.base_ids),
            "note": self.note,
        }


@dataclass(frozen=True)
class PoolingReport:
    target: Target
    model: str
    shared: ArmResult
    separate: tuple[ArmResult, ...]

    @property
    def separate_bases(self) -> int:
        return sum(a.bases for a in self.separate)

    @property
    def separate_drones(self) -> int:
        return sum(a.drones for a in self.separate)

    @property
    def feasible(self) -> bool:
        return self.shared.feasible and all(a.feasible for a in self.separate)

    def saving(self, shared: int, separate: int) -> float | None:
        return None if not self.feasible or separate == 0 else (separate - shared) / separate

    @property
    def bases_saving(self) -> float | None:
        return self.saving(self.shared.bases, self.separate_bases)

    @property
    def drones_saving(self) -> float | None:
        return self.saving(self.shared.drones, self.separate_drones)

    def to_json(self) -> dict[str, object]:
        def pct(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "target": str(self.target),
            "airframe": self.model,
            "shared": self.shared.to_json(),
            "separate": [a.to_json() for a in self.separate],
            "separate_total": {"bases": self.separate_bases, "drones": self.separate_drones},
            "bases_saving": pct(self.bases_saving),
            "drones_saving": pct(self.drones_saving),
            "feasible": self.feasible,
        }


def pooling_study(
    study: Study,
    network: Network,
    candidates: Sequence[CandidateSite],
    make_dispatcher: MakeDispatcher,
    *,
    target: Target,
    start: datetime,
    duration_s: float,
    config: SimulationConfig | None = None,
    bases_share: float | None = None,
    share_step: float = 0.025,
    time_limit_s: float = 60.0,
    max_runs: int = 40,
    progress: Callable[[str], None] | None = None,
) -> PoolingReport:
    """Shared against separate networks for ``target``; the calls are ``study.incidents``."""
    if not study.incidents:
        raise InputError("incidents", "the pooling study needs calls (an incident file or rate)")
    model = multi_role(network)
    agencies = tuple(a for a in network.agencies if any(i.agency == a for i in study.incidents))
    if not agencies:
        raise InputError("incidents", "no call belongs to an agency of the network")
    arms = [("shared", agencies)] + [(f"{a} alone", (a,)) for a in agencies]
    results = []
    for name, members in arms:
        if progress is not None:
            progress(f"{name}: choosing bases")
        results.append(
            _arm(
                study,
                network,
                candidates,
                make_dispatcher,
                name,
                members,
                model,
                target=target,
                start=start,
                duration_s=duration_s,
                config=config,
                bases_share=bases_share,
                share_step=share_step,
                time_limit_s=time_limit_s,
                max_runs=max_runs,
                progress=progress,
            )
        )
    return PoolingReport(target, model.name, results[0], tuple(results[1:]))


def _arm(
    study: Study,
    network: Network,
    candidates: Sequence[CandidateSite],
    make_dispatcher: MakeDispatcher,
    name: str,
    members: tuple[str, ...],
    model: DroneModel,
    *,
    target: Target,
    start: datetime,
    duration_s: float,
    config: SimulationConfig | None,
    bases_share: float | None,
    share_step: float,
    time_limit_s: float,
    max_runs: int,
    progress: Callable[[str], None] | None,
) -> ArmResult:
    calls = [i for i in study.incidents if i.agency in members]
    empty = _bare(network, members, model)
    approval = (config or SimulationConfig()).approval_delay_s
    problem, rows = build_problem(
        study,
        empty,
        candidates,
        agencies=members,
        horizon_s=target.within_s,
        demand=Demand.INCIDENTS,
        model=model,
        delay_s=lambda i: 0.0 if auto_launched(network, i) else approval,
    )
    groups = _agency_groups(rows, members)
    share = min(1.0, bases_share if bases_share is not None else target.share)
    last_note = ""
    while True:
        plan = fewest_sites(problem, target.within_s, share, groups, time_limit_s)
        if plan is None:
            most = reachable_share(problem, target.within_s, groups)
            note = (
                f"the candidate sites reach at most {most:.1%} of the calls within "
                f"{target.within_s:g}s (approval and flight), short of {share:.0%}"
            )
            return ArmResult(name, members, len(calls), 0, 0, share, False, note=last_note or note)
        chosen = [candidates[j] for j in plan.chosen]
        arm_net = with_sites(
            empty,
            [(c.id, c.name, c.lat, c.lon, c.borough) for c in chosen],
            owner=members[0],
            drones_each=1,
            model=model,
        )
        if progress is not None:
            progress(f"{name}: {len(chosen)} bases for {share:.1%} cover; sizing the fleet")
        fleet = size_fleet(
            arm_net,
            make_dispatcher,
            calls,
            target=target,
            start=start,
            duration_s=duration_s,
            config=config,
            max_runs=max_runs,
            per_agency=True,
            progress=progress,
        )
        if fleet.met:
            return ArmResult(
                name,
                members,
                len(calls),
                len(chosen),
                fleet.drones,
                share,
                True,
                fleet,
                tuple(c.id for c in chosen),
            )
        last_note = (
            f"at {len(chosen)} bases the fleet reached at best "
            f"{fleet.ceiling:.1%} within {target.within_s:g}s"
        )
        if share >= 1.0:
            return ArmResult(
                name,
                members,
                len(calls),
                len(chosen),
                fleet.drones,
                share,
                False,
                fleet,
                tuple(c.id for c in chosen),
                last_note,
            )
        share = min(1.0, share + share_step)


def _bare(network: Network, members: tuple[str, ...], model: DroneModel) -> Network:
    """The agencies of an arm with no site yet; they share whatever sites are added."""
    return pooled(
        replace(
            network,
            agencies={a: network.agencies[a] for a in members},
            models={model.name: model},
            sites={},
            drones={},
            agreements={},
        )
    )


def _agency_groups(rows: DemandRows, members: tuple[str, ...]) -> np.ndarray:
    index = {a: k for k, a in enumerate(members)}
    return np.array([index[a] for a in rows.agency], dtype=np.int64)
