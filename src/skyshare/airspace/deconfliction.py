"""Strategic deconfliction: planned flights as 4D volumes, and what to do when two meet.

Each planned flight becomes a set of volumes: a column over the launch point for the
climb, a corridor around each leg at the cruise height (cut into pieces of ``piece_s`` of
flight, so that each piece holds its space only while the aircraft is in it), and a column
over the goal for the time on scene and the descent. Each volume holds its space for a
time window (plus a buffer).
Two volumes conflict when their footprints touch, their height bands overlap and their
time windows overlap.

A new plan that conflicts with an accepted one is resolved by the cheapest of: another
cruise layer (costs the extra climb and descent), a short departure delay, or both. The
choice, and the flights it avoided, come back as data (``Resolution``) for the audit log.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from skyshare.airspace.routing import Route
from skyshare.domain.errors import InputError
from skyshare.geo import Projection, projection


@dataclass(frozen=True)
class FlightPlan:
    """A flight to deconflict: its route, when it leaves, and how it flies."""

    flight_id: str
    route: Route
    departure: datetime
    speed_mps: float
    climb_rate_mps: float = 3.0
    on_scene_s: float = 0.0
    loiter_radius_m: float = 100.0


@dataclass(frozen=True)
class Volume4D:
    """Space a flight holds: a footprint (projected metres), a height band above ground
    and a time window (POSIX seconds)."""

    flight_id: str
    footprint: BaseGeometry
    low_m: float
    high_m: float
    t0: float
    t1: float
    what: str  # "climb", "leg 2", "on scene" ...

    def conflicts_with(self, other: Volume4D) -> bool:
        return (
            self.low_m < other.high_m
            and other.low_m < self.high_m
            and self.t0 < other.t1
            and other.t0 < self.t1
            and self.footprint.intersects(other.footprint)
        )


@dataclass(frozen=True)
class Resolution:
    """What deconfliction decided for one plan, and why.

    ``action`` is ``none`` (no conflict), ``altitude``, ``delay``, ``altitude+delay`` or
    ``unresolved`` (nothing within the limits works: escalate to an operator). When the
    cruise height changes, re-check the route at the new height.
    """

    flight_id: str
    action: str
    cruise_alt_m: float
    delay_s: float
    conflicts_with: tuple[str, ...]  # flights the plan as filed would have met
    reason: str
    volumes: tuple[Volume4D, ...] = field(repr=False, default=())


@dataclass(frozen=True)
class Separation:
    horizontal_m: float = 100.0
    vertical_m: float = 15.0
    time_buffer_s: float = 30.0


class Deconflictor:
    """Accepted plans and their volumes. Immutable: ``plan`` returns a new deconflictor."""

    def __init__(
        self,
        *,
        layers_m: Sequence[float] = (60.0, 75.0, 90.0, 105.0, 120.0),
        separation: Separation = Separation(),
        delay_step_s: float = 15.0,
        max_delay_s: float = 120.0,
        piece_s: float = 20.0,
        proj: Projection | None = None,
        _volumes: tuple[Volume4D, ...] = (),
    ) -> None:
        if not layers_m:
            raise InputError("layers_m", "needs at least one cruise layer")
        self.layers_m = tuple(sorted(float(x) for x in layers_m))
        self.separation = separation
        self.delay_step_s = delay_step_s
        self.max_delay_s = max_delay_s
        self.piece_s = piece_s
        self.projection = proj or projection()
        self.volumes = _volumes
        self._tree = shapely.STRtree([v.footprint for v in _volumes])

    @property
    def flights(self) -> frozenset[str]:
        return frozenset(v.flight_id for v in self.volumes)

    def plan(self, plan: FlightPlan) -> tuple[Deconflictor, Resolution]:
        """Fit ``plan`` in; returns the deconflictor with it accepted and the decision."""
        if plan.flight_id in self.flights:
            raise InputError("flight_id", f"flight {plan.flight_id!r} is already planned")
        filed = plan.route.cruise_alt_m
        first = self.conflicts(self.volumes_of(plan, filed, 0.0))
        if not first:
            volumes = self.volumes_of(plan, filed, 0.0)
            return self._with(volumes), Resolution(
                plan.flight_id, "none", filed, 0.0, (), "no conflict", volumes
            )
        for cost, altitude, delay in self._options(plan, filed):
            volumes = self.volumes_of(plan, altitude, delay)
            if self.conflicts(volumes):
                continue
            action = "+".join(
                name
                for name, used in (("altitude", altitude != filed), ("delay", delay > 0))
                if used
            )
            reason = (
                f"conflict with {', '.join(sorted(first))} avoided by "
                f"cruising at {altitude:g} m"
                + (f" and leaving {delay:g} s later" if delay else "")
                + f" (cost {cost:.0f} s)"
            )
            return self._with(volumes), Resolution(
                plan.flight_id, action, altitude, delay, tuple(sorted(first)), reason, volumes
            )
        return self, Resolution(
            plan.flight_id,
            "unresolved",
            filed,
            0.0,
            tuple(sorted(first)),
            f"conflict with {', '.join(sorted(first))}: no layer in {list(self.layers_m)} m "
            f"and no delay up to {self.max_delay_s:g} s avoids it",
        )

    def release(self, flight_id: str) -> Deconflictor:
        """Without ``flight_id`` (landed or cancelled)."""
        return self._replace(tuple(v for v in self.volumes if v.flight_id != flight_id))

    def expire(self, at: datetime) -> Deconflictor:
        """Without the volumes whose time is over by ``at``."""
        now = at.timestamp()
        return self._replace(tuple(v for v in self.volumes if v.t1 > now))

    def conflicts(self, volumes: Sequence[Volume4D]) -> set[str]:
        """The accepted flights that any of ``volumes`` would meet."""
        if not self.volumes:
            return set()
        hits: set[str] = set()
        footprints = np.array([v.footprint for v in volumes], dtype=object)
        new_idx, old_idx = self._tree.query(footprints, predicate="intersects")
        for i, j in zip(new_idx, old_idx, strict=True):
            a, b = volumes[int(i)], self.volumes[int(j)]
            if a.conflicts_with(b):
                hits.add(b.flight_id)
        return hits

    def volumes_of(
        self, plan: FlightPlan, cruise_alt_m: float, delay_s: float
    ) -> tuple[Volume4D, ...]:
        """The volumes ``plan`` holds cruising at ``cruise_alt_m`` and leaving ``delay_s`` late."""
        if plan.speed_mps <= 0 or plan.climb_rate_mps <= 0:
            raise InputError("speed_mps", "speed and climb rate must be positive")
        sep = self.separation
        half_w, half_v, pad = sep.horizontal_m / 2, sep.vertical_m / 2, sep.time_buffer_s
        lons = [w.lon for w in plan.route.waypoints]
        lats = [w.lat for w in plan.route.waypoints]
        xs, ys = self.projection.to_metric(lons, lats)
        points = list(zip(xs.tolist(), ys.tolist(), strict=True))
        t = plan.departure.timestamp() + delay_s
        climb = cruise_alt_m / plan.climb_rate_mps
        top = cruise_alt_m + half_v
        out = [
            Volume4D(
                plan.flight_id,
                Point(points[0]).buffer(half_w),
                0.0,
                top,
                t - pad,
                t + climb + pad,
                "climb",
            )
        ]
        t += climb
        for k, (a, b) in enumerate(itertools.pairwise(points)):
            duration = float(np.hypot(b[0] - a[0], b[1] - a[1])) / plan.speed_mps
            # Long legs are cut into pieces so that each holds its space only while in it.
            pieces = max(1, int(np.ceil(duration / self.piece_s)))
            for j in range(pieces):
                u, v = j / pieces, (j + 1) / pieces
                p0 = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)
                p1 = (a[0] + (b[0] - a[0]) * v, a[1] + (b[1] - a[1]) * v)
                corridor = (
                    LineString([p0, p1]).buffer(half_w) if p0 != p1 else Point(p0).buffer(half_w)
                )
                t0, t1 = t + duration * u, t + duration * v
                out.append(
                    Volume4D(
                        plan.flight_id,
                        corridor,
                        cruise_alt_m - half_v,
                        top,
                        t0 - pad,
                        t1 + pad,
                        f"leg {k + 1}",
                    )
                )
            t += duration
        scene = plan.on_scene_s + cruise_alt_m / plan.climb_rate_mps  # stay, then descend
        out.append(
            Volume4D(
                plan.flight_id,
                Point(points[-1]).buffer(plan.loiter_radius_m + half_w),
                0.0,
                top,
                t - pad,
                t + scene + pad,
                "on scene",
            )
        )
        return tuple(out)

    def _options(self, plan: FlightPlan, filed: float) -> list[tuple[float, float, float]]:
        """(cost in seconds, cruise height, delay) of every alternative, cheapest first."""
        delays = np.arange(0.0, self.max_delay_s + 1e-9, self.delay_step_s)
        options = []
        for altitude in self.layers_m:
            extra_climb = 2 * abs(altitude - filed) / plan.climb_rate_mps  # up and back down
            for delay in delays:
                if altitude == filed and delay == 0:
                    continue
                options.append((extra_climb + float(delay), altitude, float(delay)))
        options.sort(key=lambda o: (o[0], o[2], o[1]))
        return options

    def _with(self, volumes: Sequence[Volume4D]) -> Deconflictor:
        return self._replace(self.volumes + tuple(volumes))

    def _replace(self, volumes: tuple[Volume4D, ...]) -> Deconflictor:
        return Deconflictor(
            layers_m=self.layers_m,
            separation=self.separation,
            delay_step_s=self.delay_step_s,
            max_delay_s=self.max_delay_s,
            piece_s=self.piece_s,
            proj=self.projection,
            _volumes=volumes,
        )


def departure_after(plan: FlightPlan, resolution: Resolution) -> datetime:
    """When the plan should leave, given the resolution."""
    return plan.departure + timedelta(seconds=resolution.delay_s)
