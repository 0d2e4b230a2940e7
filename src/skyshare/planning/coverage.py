"""Coverage: per borough, the share of its area (and of its incidents) a drone reaches in time.

A cell is covered for an agency when some site holding a drone that agency may fly (for
its most urgent calls) reaches the cell's centre within the time, by a legal route for
that agency, launch delay and climb included. An incident is covered when its own
agency's drones reach it in time. A borough with no covered area stands out as uncovered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from skyshare.domain.errors import InputError
from skyshare.domain.network import Network
from skyshare.planning.study import Study


@dataclass(frozen=True)
class BoroughCover:
    """One borough's cover. ``share_by_agency`` is the covered fraction of its area.
    ``incident_share`` is the covered fraction of its incidents (None without incidents)."""

    borough: str
    area_km2: float
    share_by_agency: dict[str, float]
    incidents: int = 0
    incidents_covered: int = 0

    @property
    def best_share(self) -> float:
        return max(self.share_by_agency.values(), default=0.0)

    @property
    def incident_share(self) -> float | None:
        return self.incidents_covered / self.incidents if self.incidents else None

    @property
    def uncovered(self) -> bool:
        return self.best_share == 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "borough": self.borough,
            "area_km2": round(self.area_km2, 2),
            "share_by_agency": {a: round(s, 4) for a, s in self.share_by_agency.items()},
            "incidents": self.incidents,
            "incidents_covered": self.incidents_covered,
            "incident_share": None
            if self.incident_share is None
            else round(self.incident_share, 4),
            "uncovered": self.uncovered,
        }


@dataclass(frozen=True)
class CoverageReport:
    within_s: float
    agencies: tuple[str, ...]
    boroughs: tuple[BoroughCover, ...]
    cell_seconds: dict[str, NDArray[np.float64]] = field(repr=False)  # per agency, per cell
    site_notes: dict[str, str] = field(default_factory=dict)

    @property
    def uncovered(self) -> list[str]:
        return [b.borough for b in self.boroughs if b.uncovered]

    def share_of_area(self, agency: str) -> float:
        total = sum(b.area_km2 for b in self.boroughs)
        covered = sum(b.area_km2 * b.share_by_agency[agency] for b in self.boroughs)
        return covered / total if total else 0.0

    @property
    def incident_share(self) -> float | None:
        n = sum(b.incidents for b in self.boroughs)
        return sum(b.incidents_covered for b in self.boroughs) / n if n else None

    def to_json(self) -> dict[str, object]:
        return {
            "within_s": self.within_s,
            "agencies": list(self.agencies),
            "share_of_area": {a: round(self.share_of_area(a), 4) for a in self.agencies},
            "incident_share": None
            if self.incident_share is None
            else round(self.incident_share, 4),
            "uncovered_boroughs": self.uncovered,
            "boroughs": [b.to_json() for b in self.boroughs],
            "site_notes": self.site_notes,
        }


def assess_coverage(
    study: Study,
    network: Network,
    within_s: float,
    agencies: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> CoverageReport:
    """Cover of every borough of ``study`` within ``within_s`` seconds."""
    if not within_s > 0:
        raise InputError("within", f"must be a positive number of seconds, got {within_s}")
    chosen = tuple(agencies) if agencies else tuple(network.agencies)
    unknown = [a for a in chosen if a not in network.agencies]
    if unknown:
        raise InputError(
            "agency", f"unknown agency {unknown[0]!r} (known: {', '.join(network.agencies)})"
        )
    grid = study.grid
    cells = study.cells
    counts = grid.counts()
    seconds: dict[str, NDArray[np.float64]] = {}
    notes: dict[str, str] = {}
    for agency in chosen:
        sources = study.site_sources(network, agency)
        times = study.travel(agency, sources, within_s, progress, network.permissions)
        seconds[agency] = times.best()
        notes.update({f"{site} ({agency})": note for site, note in times.notes.items()})

    share = {
        agency: np.bincount(
            grid.borough, weights=(seconds[agency][:cells] <= within_s), minlength=len(grid.names)
        )
        / np.maximum(counts, 1)
        for agency in chosen
    }
    incidents = np.zeros(len(grid.names), dtype=np.int64)
    covered = np.zeros(len(grid.names), dtype=np.int64)
    position = {name: i for i, name in enumerate(grid.names)}
    for k, (incident, borough) in enumerate(
        zip(study.incidents, study.incident_borough, strict=True)
    ):
        b = position.get(borough)
        if b is None or incident.agency not in seconds:
            continue
        incidents[b] += 1
        if seconds[incident.agency][cells + k] <= within_s:
            covered[b] += 1

    boroughs = tuple(
        BoroughCover(
            borough=name,
            area_km2=float(counts[b]) * grid.cell_area_km2,
            share_by_agency={a: float(share[a][b]) for a in chosen},
            incidents=int(incidents[b]),
            incidents_covered=int(covered[b]),
        )
        for b, name in enumerate(grid.names)
    )
    return CoverageReport(
        within_s, chosen, boroughs, {a: s[:cells] for a, s in seconds.items()}, notes
    )
