"""The flight back to a dock: for each model and owner of drone, the cheapest legal one.

Whether a drone can serve a call depends on its flight back from the scene, to the dock
it may land on (its owner's, or a shared one) that costs the least energy by a legal
route. Drones of one model and owner (a ``ReturnGroup``) share it. ``LegSearch`` takes
the docks best-first by a lower bound of that energy and routes only those whose bound
can still win; the routes and flights it finds serve every group.

``ReturnLegs`` holds a scene's flights back. Those of the groups a call may use (capable
of its task, shared with its agency) are found when the job is built; the rest only if
asked for (a relief plan may ask for the drone on scene). Until then the screen reads 0
for it (``energy_wh``): it decides nothing for those drones, which a reason ahead of the
battery (no capability, not shared) already rules out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from skyshare.dispatch.eta import Flight, FlightModel, Wind
from skyshare.dispatch.routing import NoPath, Path, PathSource
from skyshare.domain.models import DroneModel, GeoPoint

Landable = tuple[bool, ...]  # per dock, in the builder's order: may the owner land there?


@dataclass(frozen=True, slots=True)
class ReturnLeg:
    """The cheapest flight from the scene to a dock for one drone model."""

    site_id: str
    flight: Flight
    path: Path


class LegSearch:
    """Cheapest flights from one point to the docks, for any model and docks asked for;
    the routes (by dock) and flights (by model and dock) found are kept for the next."""

    def __init__(
        self,
        start: GeoPoint,
        agency: str,
        paths: PathSource,
        fm: FlightModel,
        docks: tuple[Sequence[str], Sequence[GeoPoint]],
        when: tuple[datetime, Wind, float],
        max_failures: int,
    ) -> None:
        self.start = start
        self.agency = agency
        self.paths = paths
        self.flight_model = fm
        self.dock_ids, self.dock_positions = docks
        self.now, self.wind, self.start_alt_m = when
        self.max_failures = max_failures
        self.found: dict[int, Path | NoPath] = {}
        self.flown: dict[tuple[str, int], Flight | None] = {}

    def cheapest(
        self,
        model: DroneModel,
        ranked: tuple[NDArray[np.intp], NDArray[np.float64]],
        landable: Landable,
    ) -> tuple[ReturnLeg | None, str | None]:
        """The cheapest flight for ``model`` to a ``landable`` dock, docks taken in the
        ``ranked`` order of their energy bounds (order, bounds); or why the start is
        closed: the router blames the start itself, or ``max_failures`` docks have no
        route and none has one."""
        best: tuple[float, str, ReturnLeg] | None = None
        for i, bound in in_order(*ranked):
            if not math.isfinite(bound) or (best is not None and bound > best[0]):
                break
            if not landable[i]:
                continue
            path = self.found.get(i)
            if path is None:
                path = self.found[i] = self.paths(
                    self.start, self.dock_positions[i], self.agency, self.now
                )
                if isinstance(path, NoPath) and self._closed(path):
                    return None, path.reason
            if isinstance(path, NoPath):
                continue
            if (model.name, i) not in self.flown:
                self.flown[model.name, i] = self.flight_model.flight(
                    model, path, from_alt_m=self.start_alt_m, to_alt_m=0.0, wind=self.wind
                )
            flight = self.flown[model.name, i]
            if flight is None:
                continue
            site_id = self.dock_ids[i]
            if best is None or (flight.energy_wh, site_id) < best[:2]:
                best = (flight.energy_wh, site_id, ReturnLeg(site_id, flight, path))
        return (None if best is None else best[2]), None

    def _closed(self, failure: NoPath) -> bool:
        if failure.field == "from":  # the router blames the start: the scene itself
            return True
        if any(isinstance(p, Path) for p in self.found.values()):
            return False
        return len(self.found) >= self.max_failures


class ReturnLegs:
    """The flights back from one scene, by drone model and owner, found when first asked
    for (``settle`` finds some at once).

    ``bounds`` holds lower bounds of the energy (Wh) to each dock and ``orders`` the docks
    by them, one row per model (``rows`` by model name); ``landable`` gives an owner's
    docks, as a tuple and as a mask. Once the scene is found closed (``closed`` says
    why), no drone has a way back.
    """

    def __init__(
        self,
        search: LegSearch,
        rows: Mapping[str, int],
        ranked: tuple[NDArray[np.float64], NDArray[np.intp]],
        landable: Callable[[str], tuple[Landable, NDArray[np.bool_]]],
    ) -> None:
        self.search = search
        self.rows = rows
        self.bounds, self.orders = ranked
        self.landable = landable
        self.closed: str | None = None
        self._legs: dict[tuple[int, Landable], ReturnLeg | None] = {}

    def get(self, model: DroneModel, owner: str) -> ReturnLeg | None:
        """The cheapest flight back for a drone of ``model`` owned by ``owner``, or None if
        it has none. Owners that may land on the same docks share the answer."""
        if self.closed is not None:
            return None
        m, (landable, _) = self.rows[model.name], self.landable(owner)
        if (m, landable) not in self._legs:
            ranked = (self.orders[m], self.bounds[m])
            leg, closed = self.search.cheapest(model, ranked, landable)
            if closed is not None:
                self.closed = closed
                return None
            self._legs[m, landable] = leg
        return self._legs[m, landable]

    def settle(self, groups: Iterable[tuple[DroneModel, str]]) -> None:
        """Find these groups' flights back now, in this order."""
        for model, owner in groups:
            self.get(model, owner)

    def energy_wh(self, model: DroneModel, owner: str) -> float:
        """The energy of that flight back if found (inf if it has none), else 0: a bound
        that costs nothing, for drones that no call asks it of."""
        if self.closed is not None:
            return math.inf
        key = (self.rows[model.name], self.landable(owner)[0])
        if key not in self._legs:
            return 0.0
        leg = self._legs[key]
        return math.inf if leg is None else leg.flight.energy_wh


def in_order(
    order: NDArray[np.intp], bound: NDArray[np.float64], chunk: int = 16
) -> Iterator[tuple[int, float]]:
    """(index, bound) in ``order``, as plain numbers, a chunk at a time: a search over
    docks seldom goes past the first few, so the rest are never converted."""
    for lo in range(0, len(order), chunk):
        part = order[lo : lo + chunk]
        yield from zip(part.tolist(), bound[part].tolist(), strict=True)
