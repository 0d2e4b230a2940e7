"""Response time from a dock as a function of legal route length, by the dispatcher's rules.

Coverage and site optimisation need millions of "how long from this dock to that cell"
answers, so they cannot call the dispatcher's flight model per pair. In calm air its
flight time along a route is affine in the route's length (launch delay, climb to the
cruise altitude, cruise, descent to the task's working height), so it is read off the
live ``FlightModel`` at two lengths and applied to whole arrays. A third length checks
that it really is affine; if the flight model ever changes shape, this refuses rather
than silently disagreeing with the dispatcher.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.eta import CALM, FlightModel
from skyshare.dispatch.routing import Leg, Path
from skyshare.domain.enums import TaskKind
from skyshare.domain.errors import InputError
from skyshare.domain.models import DroneModel

_PROBE_M = (0.0, 1_000.0, 7_000.0)


def _straight(length_m: float, cruise_alt_m: float) -> Path:
    legs = (Leg(length_m, 1.0, 0.0),) if length_m > 0 else ()
    return Path(legs, length_m, cruise_alt_m, (), ())


@dataclass(frozen=True)
class Affine:
    """``seconds = fixed_s + length_m / speed_mps``."""

    fixed_s: float
    speed_mps: float

    def seconds(self, length_m: ArrayLike) -> NDArray[np.float64]:
        return self.fixed_s + np.asarray(length_m, float) / self.speed_mps

    def reach_m(self, within_s: float) -> float:
        """The longest route flown within ``within_s`` (0 if even a zero route is slower)."""
        return max(0.0, (within_s - self.fixed_s) * self.speed_mps)


class ResponseModel:
    """Call-to-scene seconds for a docked drone of a given model, in calm air."""

    def __init__(
        self,
        config: DispatchConfig | None = None,
        *,
        cruise_alt_m: float = 60.0,
        task: TaskKind = TaskKind.OVERWATCH,
        dispatch_delay_s: float = 0.0,
    ) -> None:
        if not dispatch_delay_s >= 0:
            raise InputError("dispatch_delay_s", f"must be zero or more, got {dispatch_delay_s}")
        self.config = config or DispatchConfig()
        self.flight_model = FlightModel(self.config)
        self.cruise_alt_m = float(cruise_alt_m)
        self.task = task
        self.dispatch_delay_s = float(dispatch_delay_s)
        self._cache: dict[str, Affine] = {}

    def of(self, model: DroneModel) -> Affine:
        found = self._cache.get(model.name)
        if found is None:
            found = self._cache[model.name] = self._calibrate(model)
        return found

    def seconds(self, model: DroneModel, length_m: ArrayLike) -> NDArray[np.float64]:
        return self.of(model).seconds(length_m)

    def reach_m(self, model: DroneModel, within_s: float) -> float:
        return self.of(model).reach_m(within_s)

    def _calibrate(self, model: DroneModel) -> Affine:
        scene_alt = self.flight_model.scene_alt_m(self.task)
        fixed = self.config.launch_delay_s + self.dispatch_delay_s
        times = []
        for length in _PROBE_M:
            flight = self.flight_model.flight(
                model,
                _straight(length, self.cruise_alt_m),
                from_alt_m=0.0,
                to_alt_m=scene_alt,
                wind=CALM,
            )
            if flight is None:
                raise InputError("model", f"{model.name} cannot fly in calm air")
            times.append(fixed + flight.time_s)
        slope = (times[1] - times[0]) / _PROBE_M[1]
        predicted = times[0] + slope * _PROBE_M[2]
        if not slope > 0 or not math.isclose(predicted, times[2], rel_tol=1e-9, abs_tol=1e-6):
            raise InputError("model", f"flight time of {model.name} is not affine in route length")
        return Affine(times[0], 1.0 / slope)
