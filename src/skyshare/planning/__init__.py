"""SkyShare planning: the what-if questions of borough planners, answered by the live code.

Pure and synchronous like the rest of the core: callers read the files and pass parsed
documents, time is a parameter, and every random draw has a seed.

- ``Study`` (study.py): the grid, incident positions, airspace and flight rules of one
  study; ``fields.py`` computes legal-route distance fields for all targets at once.
- ``assess_coverage`` (coverage.py): per borough, the share of area and of incidents a
  drone reaches in time.
- ``simulate`` (des.py): days of calls through the network with the live ``Dispatcher``;
  ``summarise`` (metrics.py) turns the outcome into response times and drone use.
- ``build_problem`` / ``optimize_sites`` / ``cover_every_borough`` (placement.py, with the
  solvers in sites.py): where to put more sites, greedy against the exact MILP.
- ``size_fleet`` (fleet.py): drones per site for a target such as 90% within 120 s.
- ``compare_scenarios`` / ``pooling_study`` (compare.py): scenarios side by side, and
  one shared network against separate per-agency ones.
- report.py: the PNG map, charts and the self-contained HTML page.
"""

from skyshare.planning.compare import compare_scenarios, pooling_study
from skyshare.planning.coverage import CoverageReport, assess_coverage
from skyshare.planning.des import SimulationConfig, SimulationResult, simulate
from skyshare.planning.fleet import FleetPlan, Target, size_fleet
from skyshare.planning.metrics import SimulationSummary, summarise
from skyshare.planning.placement import (
    CandidateSite,
    Demand,
    build_problem,
    cover_every_borough,
    optimize_sites,
)
from skyshare.planning.sites import Objective
from skyshare.planning.study import Study

__all__ = [
    "CandidateSite",
    "CoverageReport",
    "Demand",
    "FleetPlan",
    "Objective",
    "SimulationConfig",
    "SimulationResult",
    "SimulationSummary",
    "Study",
    "Target",
    "assess_coverage",
    "build_problem",
    "compare_scenarios",
    "cover_every_borough",
    "optimize_sites",
    "pooling_study",
    "simulate",
    "size_fleet",
    "summarise",
]
