"""Flight time and energy: climb, cruise along the route's legs in the wind, descend.

The model is deliberately simple and checkable by hand:

- vertical and horizontal motion do not overlap: climb (or descend) to the cruise
  altitude, fly the legs, then descend (or climb) to the altitude the flight ends at;
- acceleration is ignored; each leg is flown at the model's cruise airspeed, crabbing
  into the wind so the track stays on the leg; ground speed follows from the wind
  triangle;
- power is the model's cruise power in cruise, its hover power times
  ``climb_power_factor`` / ``descent_power_factor`` while climbing / descending, and on
  scene the hover power (overwatch, delivery) or the cruise power (a search pattern);
- battery percent is energy over the model's battery capacity.

A ``Sortie`` is the whole job of one drone for one incident: launch (docked drones
only), fly out, stay on scene, fly back to the nearest dock, land with a reserve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.routing import Path
from skyshare.domain.enums import TaskKind
from skyshare.domain.errors import InputError
from skyshare.domain.models import DroneModel


@dataclass(frozen=True, slots=True)
class Wind:
    """Wind as a vector: the velocity of the air, metres per second east and north."""

    east_mps: float = 0.0
    north_mps: float = 0.0

    @classmethod
    def from_report(cls, speed_mps: float, from_deg: float) -> Wind:
        """From a weather report: speed and the direction the wind blows FROM (degrees
        clockwise from north), so a westerly (270) pushes a drone east."""
        if not speed_mps >= 0:
            raise InputError("speed_mps", f"must be zero or more, got {speed_mps}")
        to = math.radians(from_deg + 180.0)
        return cls(speed_mps * math.sin(to), speed_mps * math.cos(to))

    @property
    def speed_mps(self) -> float:
        return math.hypot(self.east_mps, self.north_mps)

    def ground_speed(self, airspeed: float, east: float, north: float) -> float:
        """Speed over the ground along the unit track (east, north), holding ``airspeed``.

        0.0 when the crosswind is stronger than the airspeed or the headwind wins.
        """
        along = self.east_mps * east + self.north_mps * north
        across_sq = self.east_mps**2 + self.north_mps**2 - along * along
        slack = airspeed * airspeed - across_sq
        if slack < 0:
            return 0.0
        return max(0.0, along + math.sqrt(slack))


CALM = Wind()


@dataclass(frozen=True, slots=True)
class Flight:
    """One flight along a path: time and energy, with the vertical and cruise parts."""

    time_s: float
    energy_wh: float
    vertical_s: float
    cruise_s: float


@dataclass(frozen=True, slots=True)
class Sortie:
    """One drone's whole job for one incident, with the battery at each step.

    ``on_scene_s`` is the time planned on scene: the kind's full time, or less when the
    drone will be relieved (``needs_relief``). ``station_s`` is the most it could stay
    and still land with the reserve.
    """

    launch_delay_s: float
    out: Flight
    on_scene_s: float
    on_scene_wh: float
    back: Flight
    battery_start_pct: float
    battery_on_arrival_pct: float
    battery_on_landing_pct: float
    station_s: float
    needs_relief: bool

    @property
    def eta_s(self) -> float:
        return self.launch_delay_s + self.out.time_s

    @property
    def total_s(self) -> float:
        return self.eta_s + self.on_scene_s + self.back.time_s


class FlightModel:
    """Times and energies of flights, by the rules and figures of a ``DispatchConfig``."""

    def __init__(self, config: DispatchConfig) -> None:
        self.config = config

    def climb_power_w(self, model: DroneModel) -> float:
        return model.hover_power_w * self.config.climb_power_factor

    def descent_power_w(self, model: DroneModel) -> float:
        return model.hover_power_w * self.config.descent_power_factor

    def scene_power_w(self, model: DroneModel, task: TaskKind) -> float:
        """Overwatch orbits slowly and a delivery hovers: hover power. A search flies a
        pattern: cruise power."""
        return model.cruise_power_w if task is TaskKind.SEARCH else model.hover_power_w

    def scene_alt_m(self, task: TaskKind) -> float:
        return float(self.config.scene_alt_m[task])

    def vertical(
        self, model: DroneModel, from_alt_m: float, to_alt_m: float
    ) -> tuple[float, float]:
        """(seconds, watt-hours) to climb or descend between two altitudes."""
        rise = to_alt_m - from_alt_m
        if rise >= 0:
            seconds = rise / model.climb_rate_mps
            return seconds, seconds * self.climb_power_w(model) / 3600.0
        seconds = -rise / model.descent_rate_mps
        return seconds, seconds * self.descent_power_w(model) / 3600.0

    def flight(
        self, model: DroneModel, path: Path, *, from_alt_m: float, to_alt_m: float, wind: Wind
    ) -> Flight | None:
        """Fly ``path``: to its cruise altitude, along its legs, then to ``to_alt_m``.

        ``None`` when the wind makes some leg impossible.
        """
        cruise_s = 0.0
        for leg in path.legs:
            speed = wind.ground_speed(model.cruise_speed_mps, leg.east, leg.north)
            if speed <= 0:
                return None
            cruise_s += leg.length_m / speed
        up_s, up_wh = self.vertical(model, from_alt_m, path.cruise_alt_m)
        down_s, down_wh = self.vertical(model, path.cruise_alt_m, to_alt_m)
        energy = up_wh + down_wh + cruise_s * model.cruise_power_w / 3600.0
        return Flight(up_s + cruise_s + down_s, energy, up_s + down_s, cruise_s)

    def sortie(
        self,
        model: DroneModel,
        battery_pct: float,
        out: Flight,
        back: Flight,
        *,
        task: TaskKind,
        on_scene_s: float,
        launch_delay_s: float,
    ) -> Sortie:
        """Put the legs together and track the battery; feasibility is ``feasible()``."""
        pct_per_wh = 100.0 / model.battery_wh
        scene_w = self.scene_power_w(model, task)
        on_arrival = battery_pct - out.energy_wh * pct_per_wh
        spare_pct = on_arrival - back.energy_wh * pct_per_wh - self.config.reserve_pct
        station_s = max(0.0, spare_pct / (scene_w * pct_per_wh / 3600.0))
        needs_relief = station_s < on_scene_s
        planned_s = min(on_scene_s, station_s) if task in self.config.relief_tasks else on_scene_s
        scene_wh = planned_s * scene_w / 3600.0
        on_landing = on_arrival - (scene_wh + back.energy_wh) * pct_per_wh
        return Sortie(
            launch_delay_s,
            out,
            planned_s,
            scene_wh,
            back,
            battery_pct,
            on_arrival,
            on_landing,
            station_s,
            needs_relief,
        )

    def feasible(self, sortie: Sortie, task: TaskKind, on_scene_s: float) -> bool:
        """Lands with the reserve after the full time on scene, or (for tasks a relief
        can take over) after at least ``min_station_s`` on scene."""
        if not sortie.needs_relief:
            return sortie.battery_on_landing_pct >= self.config.reserve_pct - 1e-9
        if task not in self.config.relief_tasks:
            return False
        return sortie.station_s >= min(on_scene_s, self.config.min_station_s)
