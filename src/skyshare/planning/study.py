"""The fixed geography of one what-if study: grid, incidents, airspace, time, flight rules.

Every planning question (coverage, sites, fleet, comparison) is asked of the same cells
and incident positions, under the same airspace at the same time, so a ``Study`` builds
them once and caches the costly parts: one field solver per set of obstructions (agencies
obstructed alike share one) and per horizon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from skyshare.airspace.airspace_map import AirspaceMap
from skyshare.airspace.service_area import ServiceArea
from skyshare.domain.enums import Priority
from skyshare.domain.errors import InputError
from skyshare.domain.models import DroneModel, Incident
from skyshare.domain.network import Network
from skyshare.planning.fields import FieldSolver, Obstructions
from skyshare.planning.grid import Grid, build_grid
from skyshare.planning.response import ResponseModel
from skyshare.planning.travel import Source, TravelTimes


class Study:
    """Targets are the grid's cells (``0 .. len(grid)-1``) followed by the incidents."""

    def __init__(
        self,
        area: ServiceArea,
        airspace: AirspaceMap | None,
        *,
        at: datetime,
        cell_m: float = 100.0,
        incidents: Sequence[Incident] = (),
        response: ResponseModel | None = None,
        grid: Grid | None = None,
    ) -> None:
        if at.tzinfo is None:
            raise InputError("at", "needs a timezone-aware time (UTC)")
        self.area = area
        self.airspace = airspace
        self.at = at
        self.projection = airspace.projection if airspace is not None else area.projection
        self.grid = grid if grid is not None else build_grid(area, cell_m)
        self.incidents = tuple(incidents)
        self.response = response or ResponseModel(
            cruise_alt_m=airspace.min_cruise_alt_m if airspace is not None else 60.0
        )
        ix, iy = self.projection.to_metric(
            [i.position.lon for i in self.incidents], [i.position.lat for i in self.incidents]
        )
        self.x: NDArray[np.float64] = np.concatenate([self.grid.x, np.atleast_1d(ix)])
        self.y: NDArray[np.float64] = np.concatenate([self.grid.y, np.atleast_1d(iy)])
        self.incident_borough = tuple(
            i.borough or self.area.borough_of(i.position.lat, i.position.lon) or ""
            for i in self.incidents
        )
        self._obstructions: dict[tuple[str, frozenset], Obstructions] = {}
        self._solvers: dict[tuple, FieldSolver] = {}

    @property
    def cells(self) -> int:
        return len(self.grid)

    def incident_targets(self) -> NDArray[np.int64]:
        return np.arange(self.cells, self.cells + len(self.incidents))

    def obstructions(
        self, agency: str, permissions: frozenset[tuple[str, str]] = frozenset()
    ) -> Obstructions:
        """What is in ``agency``'s way, given recorded permissions ``(agency, zone id)``
        (a network's ``permissions``; grants for other agencies are ignored)."""
        grants = frozenset(p for p in permissions if p[0] == agency)
        found = self._obstructions.get((agency, grants))
        if found is None:
            if self.airspace is None:
                found = Obstructions.open_sky()
            else:
                found = Obstructions.for_agency(
                    self.airspace,
                    agency,
                    at=self.at,
                    permissions=grants,
                    cruise_alt_m=self.response.cruise_alt_m,
                )
            self._obstructions[(agency, grants)] = found
        return found

    def solver(
        self,
        agency: str,
        horizon_m: float,
        permissions: frozenset[tuple[str, str]] = frozenset(),
    ) -> FieldSolver:
        """A solver for ``agency`` reaching at least ``horizon_m`` (shared where possible)."""
        obstructions = self.obstructions(agency, permissions)
        key = obstructions.signature
        found = self._solvers.get(key)
        if found is None or found.horizon_m < horizon_m:
            found = self._solvers[key] = FieldSolver(obstructions, self.x, self.y, horizon_m)
        return found

    def travel(
        self,
        agency: str,
        sources: Sequence[Source],
        horizon_s: float,
        progress: Callable[[int], None] | None = None,
        permissions: frozenset[tuple[str, str]] = frozenset(),
    ) -> TravelTimes:
        """Response times from ``sources`` for ``agency`` up to ``horizon_s`` seconds."""
        reach = max((self.response.reach_m(s.model, horizon_s) for s in sources), default=0.0)
        return TravelTimes(
            sources, self.solver(agency, reach, permissions), self.response, horizon_s, progress
        )

    def site_sources(self, network: Network, agency: str) -> list[Source]:
        """The network's sites with a drone ``agency`` may fly for its most urgent calls,
        each with its fastest such drone."""
        best: dict[str, Source] = {}
        for drone in network.drones.values():
            if not network.may_fly(drone, agency, Priority.P1):
                continue
            site = network.sites[drone.home_site_id]
            have = best.get(site.id)
            if have is None or self._quicker(drone.model, have.model):
                x, y = self.projection.point(site.position.lat, site.position.lon)
                best[site.id] = Source(site.id, x, y, drone.model)
        return [best[k] for k in sorted(best)]

    def _quicker(self, model: DroneModel, than: DroneModel) -> bool:
        """Does ``model`` arrive sooner over a typical 1.5 km (ties: by name)?"""
        a = float(self.response.seconds(model, 1500.0))
        b = float(self.response.seconds(than, 1500.0))
        return (a, model.name) < (b, than.name)
