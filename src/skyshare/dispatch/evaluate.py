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

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.detour import Disks, route_length_bounds
from skyshare.dispatch.eta import Flight, FlightModel, Wind
from skyshare.dispatch.fleet import DroneState
from skyshare.dispatch.index import FleetIndex, ReturnGroup
from skyshare.dispatch.kernels import dock_energy_bounds, floats
from skyshare.dispatch.proposal import Candidate, Reason, Rejection, Why
from skyshare.dispatch.routing import End, Ends, NoPath, Path, PathSource, Prefetch
from skyshare.domain.enums import TaskKind
from skyshare.domain.errors import InputError
from skyshare.domain.models import DroneModel, GeoPoint, Incident, IncidentKind
from skyshare.domain.network import Network
from skyshare.geo import Projection

PREFETCH_DOCKS = 16  # docks nearest the scene whose straight routes are checked at once
LB_SLACK = 1e-9  # relative; keeps float rounding from making a bound exceed the exact value


@dataclass(frozen=True, slots=True)
class ReturnLeg:
    """The cheapest flight from the scene to a dock for one drone model."""

    site_id: str
    flight: Flight
    path: Path


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
    back: dict[tuple[str, str], ReturnLeg | None]  # by (model name, owner): ``back_for``
    now: datetime
    wind: Wind
    closed: str | None = None  # why no drone can get from the scene to a dock, if so
    # Lower bounds of the route length to the scene from points already bounded (the
    # docks nearest the scene), by projected (x, y): drones on those docks reuse them.
    bounded: dict[tuple[float, float], float] = field(default_factory=dict)

    @property
    def task(self) -> TaskKind:
        return self.kind.task

    def back_for(self, model: DroneModel, owner: str) -> ReturnLeg | None:
        """The cheapest flight back for a drone of ``model`` owned by ``owner`` (to a dock
        it may land on), or None if it has none."""
        return self.back[model.name, owner]

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
    """Builds ``Job``s: finds, per drone model and owner, the cheapest legal flight back to
    a dock that owner's drones may land on (``Network.may_land``)."""

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
        self._landable: dict[str, tuple[bool, ...]] = {}

    def landable(self, owner: str) -> tuple[bool, ...]:
        """Per site (in ``site_ids`` order): may ``owner``'s drones land there?"""
        found = self._landable.get(owner)
        if found is None:
            sites = self.network.sites.values()
            found = self._landable[owner] = tuple(s.owner == owner or s.shared for s in sites)
        return found

    def build(
        self,
        incident: Incident,
        groups: tuple[ReturnGroup, ...],
        paths: PathSource,
        now: datetime,
        wind: Wind,
        prefetch: Prefetch | None = None,
        disks: Disks | None = None,
    ) -> Job:
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
        bounded: dict[tuple[float, float], float] = {}
        back, closed = self._returns(
            goal,
            (x, y, dx, dy),
            incident.agency,
            groups,
            paths,
            now,
            wind,
            scene_alt,
            disks,
            near,
            bounded,
        )
        return Job(
            incident, kind, goal, x, y, scene_alt, min_scene, back, now, wind, closed, bounded
        )

    def _returns(
        self,
        goal: GeoPoint,
        at: tuple[float, float, NDArray[np.float64], NDArray[np.float64]],
        agency: str,
        groups: tuple[ReturnGroup, ...],
        paths: PathSource,
        now: datetime,
        wind: Wind,
        scene_alt: float,
        disks: Disks | None,
        near: NDArray[np.intp],
        bounded: dict[tuple[float, float], float],
    ) -> tuple[dict[tuple[str, str], ReturnLeg | None], str | None]:
        """Per model and owner, the dock it may land on cheapest to reach from the scene:
        best-first over docks by a lower bound of the energy, routing only docks whose
        bound can still win. Owners that may land on the same docks share the answer.

        Also returns why the scene is closed, when the router says its own end (the
        scene) is at fault, or when ``max_return_docks`` docks in a row have no route.
        ``at`` is the scene (x, y) and the docks' offsets from it.
        """
        x, y, dx, dy = at
        # Around the zones for the docks nearest the scene; the rest keep the straight line
        # (still a bound, and they are seldom reached).
        length = np.hypot(dx, dy)
        if disks is not None and len(disks):
            length[near] = route_length_bounds(self.site_x[near], self.site_y[near], x, y, disks)
        sx, sy, near_length = self.site_x[near], self.site_y[near], length[near]
        bounded.update(
            zip(zip(sx.tolist(), sy.tolist(), strict=True), near_length.tolist(), strict=True)
        )
        models = list({g.model.name: g.model for g in groups}.values())
        lb_wh, orders = self.energy_bounds(models, dx, dy, length, wind, scene_alt)
        found: dict[int, Path | NoPath] = {}
        flown: dict[tuple[str, int], Flight | None] = {}  # owners of one model share them
        row = {model.name: m for m, model in enumerate(models)}
        legs: dict[tuple[int, tuple[bool, ...]], ReturnLeg | None] = {}
        out: dict[tuple[str, str], ReturnLeg | None] = {}
        for group in groups:
            m, landable = row[group.model.name], self.landable(group.owner)
            if (m, landable) not in legs:
                leg, closed = self._cheapest_leg(
                    goal,
                    agency,
                    group.model,
                    (orders[m], lb_wh[m]),
                    landable,
                    found,
                    paths,
                    (now, wind, scene_alt),
                    flown,
                )
                if closed is not None:
                    return {(g.model.name, g.owner): None for g in groups}, closed
                legs[m, landable] = leg
            out[group.model.name, group.owner] = legs[m, landable]
        return out, None

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
            for may, site in zip(self.landable(group.owner), self.site_ids, strict=True)
        )
        leg, _ = self._cheapest_leg(
            ground,
            agency,
            group.model,
            (order[0], bounds[0]),
            allowed,
            {},
            paths,
            (now, wind, here.alt_m),
            {},
        )
        return leg  # None too when ``here`` is closed in: the caller's fallback decides

    def _cheapest_leg(
        self,
        goal: GeoPoint,
        agency: str,
        model: DroneModel,
        ranked: tuple[NDArray[np.intp], NDArray[np.float64]],
        landable: tuple[bool, ...],
        found: dict[int, Path | NoPath],
        paths: PathSource,
        when: tuple[datetime, Wind, float],
        flown: dict[tuple[str, int], Flight | None],
    ) -> tuple[ReturnLeg | None, str | None]:
        """The cheapest flight back for ``model`` to a ``landable`` dock, docks taken in
        the ``ranked`` order of their energy bounds; or why the scene is closed.
        ``found`` holds the routes already asked for and ``flown`` the flights already
        made (by model name and dock); ``when`` is (now, wind, scene altitude)."""
        fm = self.flight_model
        now, wind, scene_alt = when
        best: tuple[float, str, ReturnLeg] | None = None
        for i, bound in in_order(*ranked):
            if not math.isfinite(bound) or (best is not None and bound > best[0]):
                break
            if not landable[i]:
                continue
            path = found.get(i)
            if path is None:
                path = found[i] = paths(goal, self.site_position[i], agency, now)
                if isinstance(path, NoPath) and self._scene_closed(path, found):
                    return None, path.reason
            if isinstance(path, NoPath):
                continue
            if (model.name, i) not in flown:
                flown[model.name, i] = fm.flight(
                    model, path, from_alt_m=scene_alt, to_alt_m=0.0, wind=wind
                )
            flight = flown[model.name, i]
            if flight is None:
                continue
            site_id = self.site_ids[i]
            if best is None or (flight.energy_wh, site_id) < best[:2]:
                best = (flight.energy_wh, site_id, ReturnLeg(site_id, flight, path))
        return (None if best is None else best[2]), None

    def _scene_closed(self, failure: NoPath, found: dict[int, Path | NoPath]) -> bool:
        if failure.field == "from":  # the router blames the start: the scene itself
            return True
        if any(isinstance(p, Path) for p in found.values()):
            return False
        return len(found) >= self.config.max_return_docks


def in_order(
    order: NDArray[np.intp], bound: NDArray[np.float64], chunk: int = 16
) -> Iterator[tuple[int, float]]:
    """(index, bound) in ``order``, as plain numbers, a chunk at a time: a search over
    docks seldom goes past the first few, so the rest are never converted."""
    for lo in range(0, len(order), chunk):
        part = order[lo : lo + chunk]
        yield from zip(part.tolist(), bound[part].tolist(), strict=True)


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
    for a group with no legal way back."""
    reserve = fm.config.reserve_pct
    rows: list[list[float]] = [[] for _ in scene_s]  # a dozen groups: plain floats are faster
    for model, owner in index.groups:
        leg = job.back_for(model, owner)
        back_wh = math.inf if leg is None else leg.flight.energy_wh
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
