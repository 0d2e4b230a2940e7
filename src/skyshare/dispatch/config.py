"""The dispatcher's knobs, with the reasons behind their defaults.

Every figure is in SI units. One ``DispatchConfig`` is shared by the live dispatcher and
the what-if simulator so that a forecast runs the same rules as the control room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from skyshare.domain.enums import Priority, TaskKind
from skyshare.domain.errors import InputError


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class DispatchConfig:
    """Rules and figures of the dispatch decision.

    Flight model
        ``launch_delay_s``: dock opening, arming and pre-flight checks before a docked
        drone leaves the ground (an airborne drone has none). ``scene_alt_m``: the height
        each task works at once on scene (the ETA ends when the drone reaches it).
        ``climb_power_factor`` / ``descent_power_factor``: power while climbing or
        descending, as a multiple of the model's hover power (the domain gives only hover
        and cruise power). ``min_cruise_alt_m``: the lowest cruise altitude the router
        ever returns; only used to tighten lower bounds, so 0 is always safe.

    Feasibility
        ``reserve_pct``: battery that must be left on landing at a dock.
        ``min_launch_battery_pct``: a docked drone below this is still charging.
        ``min_station_s``: for tasks in ``relief_tasks``, a drone that cannot stay the
        whole on-scene time is still sent if it can stay this long; a relief drone then
        takes over (see ``relief.py``). ``max_return_docks``: how many docks, nearest
        first, are tried when the scene has no legal route to any of them.

    Choice
        ``top_n``: how many ranked candidates a proposal shows. ``tie_margin_s``: ETAs
        within this of the best count as equal, and the one that leaves the least
        demand uncovered wins. ``relief_penalty_s``: added to the score of a drone that
        would need relief, so a drone that can see the task through is preferred unless
        it is much slower. ``priority_weight``: the weight of each priority's ETA in
        batch assignment. ``unserved_penalty_s``: the cost (before weighting) of leaving
        an incident unserved in a batch; larger than any ETA.

    Preemption
        A call at or above ``preempt_priority`` may take a drone from a task of lower
        priority when that drone arrives at least ``preempt_gain_s`` sooner than the best
        free one.

    Cover
        ``cover_radius_m``: a docked drone "covers" demand within this straight-line
        distance of its site (about the next three minutes of flight).

    Relief
        ``handover_overlap_s``: the relief drone arrives this long before the drone on
        scene must leave, so the picture is never lost.

    Reporting
        ``max_rejections_listed``: how many passed-over drones a proposal names (those a
        straight line puts ahead of the choice, nearest first); all are counted.
    """

    launch_delay_s: float = 15.0
    scene_alt_m: Mapping[TaskKind, float] = field(
        default_factory=lambda: _frozen(
            {TaskKind.OVERWATCH: 60.0, TaskKind.SEARCH: 50.0, TaskKind.DELIVER: 15.0}
        )
    )
    climb_power_factor: float = 1.2
    descent_power_factor: float = 0.8
    min_cruise_alt_m: float = 0.0

    reserve_pct: float = 20.0
    min_launch_battery_pct: float = 30.0
    min_station_s: float = 120.0
    relief_tasks: frozenset[TaskKind] = frozenset({TaskKind.OVERWATCH})
    max_return_docks: int = 8

    top_n: int = 3
    tie_margin_s: float = 10.0
    relief_penalty_s: float = 60.0
    priority_weight: Mapping[Priority, float] = field(
        default_factory=lambda: _frozen(
            {Priority.P1: 8.0, Priority.P2: 4.0, Priority.P3: 2.0, Priority.P4: 1.0}
        )
    )
    unserved_penalty_s: float = 36_000.0

    preempt_priority: Priority = Priority.P1
    preempt_gain_s: float = 60.0

    cover_radius_m: float = 3_000.0
    handover_overlap_s: float = 60.0

    max_rejections_listed: int = 10

    def __post_init__(self) -> None:
        non_negative = (
            "launch_delay_s",
            "min_cruise_alt_m",
            "min_station_s",
            "tie_margin_s",
            "relief_penalty_s",
            "preempt_gain_s",
            "handover_overlap_s",
            "cover_radius_m",
        )
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise InputError(name, f"must be zero or more, got {getattr(self, name)}")
        if not 0 <= self.reserve_pct < 100:
            raise InputError("reserve_pct", f"must be in [0, 100), got {self.reserve_pct}")
        if not 0 <= self.min_launch_battery_pct <= 100:
            raise InputError(
                "min_launch_battery_pct", f"must be in [0, 100], got {self.min_launch_battery_pct}"
            )
        for name in ("climb_power_factor", "descent_power_factor", "unserved_penalty_s"):
            if not getattr(self, name) > 0:
                raise InputError(name, f"must be positive, got {getattr(self, name)}")
        if self.top_n < 1:
            raise InputError("top_n", f"must be at least 1, got {self.top_n}")
        if self.max_return_docks < 1:
            raise InputError("max_return_docks", f"must be at least 1, got {self.max_return_docks}")
        missing = [t.value for t in TaskKind if t not in self.scene_alt_m]
        if missing:
            raise InputError("scene_alt_m", f"no working height for task(s) {', '.join(missing)}")
        unweighted = [p.name for p in Priority if p not in self.priority_weight]
        if unweighted:
            raise InputError("priority_weight", f"no weight for {', '.join(unweighted)}")
        if any(not w > 0 for w in self.priority_weight.values()):
            raise InputError("priority_weight", "every weight must be positive")

    def weight(self, priority: Priority) -> float:
        return float(self.priority_weight[priority])
