"""One incident against the fleet: lower bounds for every drone, exact answers for a few.

The exact answer for a drone needs its route to the scene, so it is expensive; the lower
bounds need only straight lines (and disks inside zones), so they are computed for the
whole fleet at once with numpy. They are true lower bounds of the exact figures:

- no route is shorter than the straight line, nor than the taut string around a disk
  inside a zone it may not enter (``detour.py``); with a steady wind no path is faster
  than the straight one (the ground velocities a drone can hold form a disc, a convex
  set) and no ground speed exceeds airspeed plus wind speed;
- the climb and descent take at least what ``min_cruise_alt_m`` implies;
- the flight back to a dock is computed exactly once per incident and drone model.

So a drone whose lower bound already fails (battery) or already loses (ETA) is settled
without asking the router, and the choice is identical to routing everyone.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.detour import Disks, route_length_bounds
from skyshare.dispatch.eta import FlightModel, Wind
from skyshare.dispatch.fleet import DroneState
from skyshare.dispatch.index import FleetIndex, ReturnGroup
from skyshare.dispatch.kernels import dock_energy_bounds, floats
from skyshare.dispatch.proposal import Candidate, Reason, Rejection, Why
from skyshare.dispatch.returns import Landable, LegSearch, ReturnLeg, ReturnLegs
from skyshare.dispatch.routing import End, Ends, NoPath, PathSource, Prefetch
from skyshare.domain.enums import TaskKind
from skyshare.domain.errors import InputError
from skyshare.domain.models import DroneModel, GeoPoint, Incident, IncidentKind
from skyshare.domain.network import Network
from skyshare.geo import Projection

PREFETCH_DOCKS = 16  # docks nearest the scene whose straight routes are checked at once
LB_SLACK = 1e-9  # relative; keeps float rounding from making a bound exceed the exact value


@dataclass(frozen=True)
class Job:
    """One incident as the flight model sees it, with its flights back to a dock."""

    incident: Incident
    kind: IncidentKind
    goal: GeoPoint
    x: float
    y: float
    scene_alt_m: float
    min_scene_s: float  # the least time on scene that makes a drone useful
    back: ReturnLegs  # the flights back to a dock, by model and owner: ``back_for``
    now: datetime
    wind: Wind
    # Lower bounds of the route length to the scene from points already bounded (the
    # docks nearest the scene), by projected (x, y): drones on those docks reuse them.
    bounded: dict[tuple[float, float], float] = field(default_factory=dict)

    @property
    def task(self) -> TaskKind:
        return self.kind.task

    @property
    def closed(self) -> str | None:
        """Why no drone can get from the scene to a dock, if found so."""
        return self.back.closed

    def back_for(self, model: DroneModel, owner: str) -> ReturnLeg | None:
        """The cheapest flight back for a drone of ``model`` owned by ``owner`` (to a dock
        it may land on), or None if it has none."""
        return self.back.get(model, owner)

    def with_on_scene(self, seconds: float, config: DispatchConfig) -> Job:
        """The same job with a different time on scene (what a relief drone must cover)."""
        kind = replace(self.kind, on_scene_s=seconds)
        least = min(seconds, config.min_station_s) if kind.task in config.relief_tasks else seconds
        return replace(self, kind=kind, min_scene_s=least)

    def no_way_back(self) -> str:
        text = (
            f"no legal route for {self.incident.agency} from the scene to any dock "
            f"the drone may land on"
        )
        return f"{text} ({self.closed})" if self.closed else text


def incident_kind(network: Network, incident: Incident) -> IncidentKind:
    kind = network.kinds.get(incident.kind)
    if kind is None:
        known = ", ".join(sorted(network.kinds))
        raise InputError(
            "kind", f"unknown incident kind {incident.kind!r} (known: {known})", item=incident.id
        )
    if incident.agency not in network.agencies:
        raise InputError("agency", f"unknown agency {incident.agency!r}", item=incident.id)
    return kind


class JobBuilder:
    """Builds ``Job``s, with the scene's flights back to a dock (``returns.py``): per drone
    model and owner, the cheapest legal flight to a dock that owner's drones may land on
    (``Network.may_land``)."""

    def __init__(
        self, network: Network, config: DispatchConfig, flight_model: FlightModel, proj: Projection
    ) -> None:
        self.network = network
        self.config = config
        self.flight_model = flight_model
        self.projection = proj
        self.site_ids = tuple(network.sites)
        sites = list(network.sites.values())
        sx, sy = proj.to_metric([s.position.lon for s in sites], [s.position.lat for s in sites])
        self.site_x, self.site_y = np.asarray(sx, float), np.asarray(sy, float)
        self.site_position = [s.position for s in sites]
        self.site_lat = np.array([s.position.lat for s in sites], float)
        self.site_lon = np.array([s.position.lon for s in sites], float)
        self._landable: dict[str, tuple[Landable, NDArray[np.bool_]]] = {}

    def landable(self, owner: str) -> tuple[Landable, NDArray[np.bool_]]:
        """Per site (in ``site_ids`` order): may ``owner``'s drones land there? As a tuple
        (a key) and as a mask."""
        found = self._landable.get(owner)
        if found is None:
            may = tuple(s.owner == owner or s.shared for s in self.network.sites.values())
            found = self._landable[owner] = (may, np.array(may, bool))
        return found

    def build(
        self,
        incident: Incident,
        index: FleetIndex,
        paths: PathSource,
        now: datetime,
        wind: Wind,
        prefetch: Prefetch | None = None,
        disks: Disks | None = None,
    ) -> Job:
        """The job of ``incident`` for the drones of ``index``, with the flights back of
        the groups that may serve it found now (``returns.py``)."""
        kind = incident_kind(self.network, incident)
        goal = GeoPoint(incident.position.lat, incident.position.lon)
        x, y = self.projection.point(goal.lat, goal.lon)
        scene_alt = self.flight_model.scene_alt_m(kind.task)
        min_scene = kind.on_scene_s
        if kind.task in self.config.relief_tasks:
            min_scene = min(kind.on_scene_s, self.config.min_station_s)
        dx, dy = self.site_x - x, self.site_y - y
        near = np.argsort(np.hypot(dx, dy))[:PREFETCH_DOCKS]
        if prefetch is not None:
            docks = Ends(
                self.site_lat[near], self.site_lon[near], self.site_x[near], self.site_y[near]
            )
            if prefetch(docks, End(goal.lat, goal.lon, x, y), incident.agency, now):
                disks = None  # every route is straight: no bound is tighter
        # Around the zones for the docks nearest the scene; the rest keep the straight line
        # (still a bound, and they are seldom reached). Drones on the near docks reuse these.
        length = np.hypot(dx, dy)
        if disks is not None and len(disks):
            length[near] = route_length_bounds(self.site_x[near], self.site_y[near], x, y, disks)
        near_xy = zip(self.site_x[near].tolist(), self.site_y[near].tolist(), strict=True)
        bounded = dict(zip(near_xy, length[near].tolist(), strict=True))
        models = {g.model.name: g.model for g in index.groups}
        ranked = self.energy_bounds(list(models.values()), dx, dy, length, wind, scene_alt)
        search = self._leg_search(goal, incident.agency, paths, (now, wind, scene_alt))
        rows = {name: m for m, name in enumerate(models)}
        back = ReturnLegs(search, rows, ranked, self.landable)
        usable = index.usable_groups(kind.capabilities, incident.agency, incident.priority)
        back.settle(usable or index.groups)  # none usable: all, to tell a closed scene
        return Job(incident, kind, goal, x, y, scene_alt, min_scene, back, now, wind, bounded)

    def _leg_search(
        self, start: GeoPoint, agency: str, paths: PathSource, when: tuple[datetime, Wind, float]
    ) -> LegSearch:
        """A search for the cheapest flights from ``start`` (at ``when``: time, wind and
        altitude) to the docks."""
        docks = (self.site_ids, self.site_position)
        return LegSearch(
            start, agency, paths, self.flight_model, docks, when, self.config.max_return_docks
        )

    def energy_bounds(
        self,
        models: list[DroneModel],
        dx: NDArray[np.float64],
        dy: NDArray[np.float64],
        length: NDArray[np.float64],
        wind: Wind,
        from_alt_m: float,
    ) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
        """Lower bounds of the energy (Wh) to each dock, models x docks, from the point
        (at ``from_alt_m``) the docks are offset ``dx``, ``dy`` from, by a route at least
        ``length`` long; and each model's docks in order of them: no ground speed beats
        the straight track's (nor airspeed plus wind speed), no climb or descent is less
        than ``min_cruise_alt_m`` implies."""
        fm, cfg = self.flight_model, self.config
        vertical_wh = [
            max(0.0, cfg.min_cruise_alt_m - from_alt_m) / m.climb_rate_mps * fm.climb_power_w(m)
            + cfg.min_cruise_alt_m / m.descent_rate_mps * fm.descent_power_w(m)
            for m in models
        ]
        columns = (
            np.array([m.cruise_speed_mps for m in models]),
            np.array(vertical_wh),
            np.array([m.cruise_power_w for m in models]),
        )
        return dock_energy_bounds(
            dx, dy, length, columns, floats(wind.east_mps, wind.north_mps), 1 - LB_SLACK
        )

    def cheapest_dock(
        self,
        here: GeoPoint,
        agency: str,
        group: ReturnGroup,
        paths: PathSource,
        now: datetime,
        wind: Wind,
        free: Collection[str],
    ) -> ReturnLeg | None:
        """For a drone of ``group`` flying at ``here``: the cheapest legal flight to a dock
        it may land on among ``free`` (the sites with a slot for it), by the energy the
        dispatcher plans the way back with; None if none can be reached."""
        ground = GeoPoint(here.lat, here.lon)
        x, y = self.projection.point(here.lat, here.lon)
        dx, dy = self.site_x - x, self.site_y - y
        bounds, order = self.energy_bounds(
            [group.model], dx, dy, np.hypot(dx, dy), wind, here.alt_m
        )
        free = set(free)
        allowed = tuple(
            may and site in free
            for may, site in zip(self.landable(group.owner)[0], self.site_ids, strict=True)
        )
        search = self._leg_search(ground, agency, paths, (now, wind, here.alt_m))
        leg, _ = search.cheapest(group.model, (order[0], bounds[0]), allowed)
        return leg  # None too when ``here`` is closed in: the caller's fallback decides


@dataclass(frozen=True)
class Bounds:
    """Lower bounds, per drone of the view, of the ETA and the energy to the scene."""

    eta_s: NDArray[np.float64]
    out_wh: NDArray[np.float64]
    on_dock: NDArray[np.bool_]
    wind_blocked: NDArray[np.bool_]
    cruise_s: NDArray[np.float64]  # the straight-line cruise part of ``eta_s``


def detour_cruise_s(
    straight_s: NDArray[np.float64],
    length_m: NDArray[np.float64],
    airspeed: NDArray[np.float64],
    wind: Wind,
) -> NDArray[np.float64]:
    """A lower bound of the cruise time over a route at least ``length_m`` long: no
    ground speed exceeds airspeed plus wind speed, and no path beats the straight one."""
    return np.maximum(straight_s, length_m / (airspeed + wind.speed_mps))


def group_floors_pct(
    index: FleetIndex, job: Job, fm: FlightModel, scene_s: tuple[float, ...]
) -> list[NDArray[np.float64]]:
    """Per return group (``index.groups``), for each time on scene in ``scene_s``: battery
    needed beyond the flight out (that time on scene, the way back, the reserve); inf
    for a group with no legal way back. For a group whose way back is not found (none of
    its drones may serve), a lower bound."""
    reserve = fm.config.reserve_pct
    rows: list[list[float]] = [[] for _ in scene_s]  # a dozen groups: plain floats are faster
    for model, owner in index.groups:
        back_wh = job.back.energy_wh(model, owner)
        scene_w = fm.scene_power_w(model, job.task)
        for row, stay_s in zip(rows, scene_s, strict=True):
            row.append((stay_s * scene_w / 3600.0 + back_wh) * 100.0 / model.battery_wh + reserve)
    return [np.array(row) for row in rows]


class Evaluator:
    """The exact answer for one drone: route, flight, sortie, feasibility, score."""

    def __init__(self, network: Network, fm: FlightModel, paths: PathSource) -> None:
        self.network = network
        self.flight_model = fm
        self.config = fm.config
        self.paths = paths

    def evaluate(
        self, state: DroneState, model: DroneModel, job: Job, preempts: str | None = None
    ) -> Candidate | Rejection:
        fm, cfg = self.flight_model, self.config
        agency = job.incident.agency
        back = job.back_for(model, self.network.drones[state.drone_id].owner)
        if back is None:
            return Rejection(state.drone_id, Reason.NO_LEGAL_ROUTE, job.no_way_back())
        path = self.paths(state.position, job.goal, agency, job.now)
        if isinstance(path, NoPath):
            return Rejection(
                state.drone_id,
                Reason.NO_LEGAL_ROUTE,
                f"no legal route for {agency} to the scene: {path.reason}",
            )
        on_dock = state.on_dock
        out = fm.flight(
            model,
            path,
            from_alt_m=0.0 if on_dock else state.position.alt_m,
            to_alt_m=job.scene_alt_m,
            wind=job.wind,
        )
        if out is None:
            return Rejection(
                state.drone_id,
                Reason.WIND,
                f"wind {job.wind.speed_mps:.0f} m/s beats its "
                f"{model.cruise_speed_mps:.0f} m/s on the way out",
            )
        sortie = fm.sortie(
            model,
            state.battery_pct,
            out,
            back.flight,
            task=job.task,
            on_scene_s=job.kind.on_scene_s,
            launch_delay_s=cfg.launch_delay_s if on_dock else 0.0,
        )
        if not fm.feasible(sortie, job.task, job.kind.on_scene_s):
            pct = 100.0 / model.battery_wh
            scene_pct = job.min_scene_s * fm.scene_power_w(model, job.task) / 3600.0 * pct
            needed = (out.energy_wh + back.flight.energy_wh) * pct + scene_pct + cfg.reserve_pct
            return Rejection(
                state.drone_id,
                Reason.LOW_BATTERY,
                f"battery {state.battery_pct:.0f}% < {needed:.0f}% needed to fly "
                f"out, stay {job.min_scene_s / 60:.0f} min and land with "
                f"{cfg.reserve_pct:.0f}% left",
            )
        score = sortie.eta_s
        why: list[Why] = []
        if not on_dock:
            why.append(Why.AIRBORNE)
        if path.zones_skirted:
            why.append(Why.SKIRTS_ZONES)
        if sortie.needs_relief:
            score += cfg.relief_penalty_s
            why.append(Why.NEEDS_RELIEF)
        if preempts is not None:
            score += cfg.preempt_gain_s
            why.append(Why.PREEMPTS)
        site_id = state.dock_site_id
        return Candidate(
            state.drone_id,
            site_id,
            self.network.sites[site_id].name,
            sortie.eta_s,
            score,
            sortie,
            path,
            back.site_id,
            not on_dock,
            preempts,
            None,
            tuple(why),
        )
