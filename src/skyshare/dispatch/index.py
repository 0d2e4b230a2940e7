"""The network's facts about each drone of a fleet view, as numpy columns, with masks.

A decision over a thousand drones cannot afford a Python loop per drone, so what never
changes during operation (model figures, capabilities, who may fly it) is laid out once
per fleet view's id order and reused by every decision on views of that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from skyshare.domain.enums import Capability, Priority
from skyshare.domain.errors import InputError
from skyshare.domain.models import Drone, DroneModel
from skyshare.domain.network import Network


class ReturnGroup(NamedTuple):
    """Drones of one model and one owner: the same flight back to the same docks."""

    model: DroneModel
    owner: str


class FleetIndex:
    """Per-drone columns for the drones ``ids`` (a fleet view's order)."""

    def __init__(self, network: Network, ids: Sequence[str]) -> None:
        unknown = [d for d in ids if d not in network.drones]
        if unknown:
            raise InputError("fleet", f"drone(s) not in the network: {', '.join(unknown[:5])}")
        self.network = network
        self.ids = tuple(ids)
        self.drones: tuple[Drone, ...] = tuple(network.drones[d] for d in ids)
        models: dict[str, DroneModel] = {}
        for drone in self.drones:
            models.setdefault(drone.model.name, drone.model)
        self.models: tuple[DroneModel, ...] = tuple(models.values())
        position = {m.name: i for i, m in enumerate(self.models)}
        self.model_of = np.array([position[d.model.name] for d in self.drones], np.intp)
        # Drones that come back alike: one model, one owner (so the same docks to land on).
        groups: dict[ReturnGroup, int] = {}
        for drone in self.drones:
            groups.setdefault(ReturnGroup(drone.model, drone.owner), len(groups))
        self.groups: tuple[ReturnGroup, ...] = tuple(groups)
        self.group_of = np.array(
            [groups[ReturnGroup(d.model, d.owner)] for d in self.drones], np.intp
        )

        def column(attr: str) -> NDArray[np.float64]:
            return np.array([getattr(m, attr) for m in self.models], float)[self.model_of]

        self.speed = column("cruise_speed_mps")
        self.climb_rate = column("climb_rate_mps")
        self.descent_rate = column("descent_rate_mps")
        self.hover_w = column("hover_power_w")
        self.cruise_w = column("cruise_power_w")
        self.battery_wh = column("battery_wh")
        # As the screen's compiled pass takes them (``kernels.screen_fleet``).
        self.model_columns = (
            self.speed,
            self.climb_rate,
            self.descent_rate,
            self.hover_w,
            self.cruise_w,
            self.battery_wh,
        )
        self._capable: dict[frozenset[Capability], NDArray[np.bool_]] = {}
        self._may_fly: dict[tuple[str, Priority], NDArray[np.bool_]] = {}
        self._usable: dict[tuple, tuple[ReturnGroup, ...]] = {}
        # Built now, once per fleet, so that no decision pays for a first use.
        for kind in network.kinds.values():
            self.capable(kind.capabilities)
        for agency in network.agencies:
            for priority in Priority:
                self.may_fly(agency, priority)

    def capable(self, needed: frozenset[Capability]) -> NDArray[np.bool_]:
        mask = self._capable.get(needed)
        if mask is None:
            per_model = np.array([m.has(needed) for m in self.models], bool)
            mask = self._capable[needed] = per_model[self.model_of]
        return mask

    def may_fly(self, agency: str, priority: Priority) -> NDArray[np.bool_]:
        key = (agency, priority)
        mask = self._may_fly.get(key)
        if mask is None:
            mask = np.array([self.network.may_fly(d, agency, priority) for d in self.drones], bool)
            self._may_fly[key] = mask
        return mask

    def usable_groups(
        self, needed: frozenset[Capability], agency: str, priority: Priority
    ) -> tuple[ReturnGroup, ...]:
        """The return groups with a drone capable of ``needed`` that may fly for ``agency``
        at ``priority``: the only ones whose way back a call can need."""
        key = (needed, agency, priority)
        found = self._usable.get(key)
        if found is None:
            may = self.capable(needed) & self.may_fly(agency, priority)
            present = np.bincount(self.group_of[may], minlength=len(self.groups)) > 0
            found = self._usable[key] = tuple(
                g for g, used in zip(self.groups, present.tolist(), strict=True) if used
            )
        return found


class IndexCache:
    """A few ``FleetIndex`` objects, by the identity of the fleet view's id tuple.

    ``FleetView.with_states`` keeps the id tuple, so every view of one live fleet
    shares one index.
    """

    def __init__(self, network: Network, size: int = 4) -> None:
        self.network = network
        self.size = size
        self._entries: list[tuple[tuple[str, ...], FleetIndex]] = []

    def get(self, ids: tuple[str, ...]) -> FleetIndex:
        for key, index in self._entries:
            if key is ids:
                return index
        found = next((index for key, index in self._entries if key == ids), None)
        index = found or FleetIndex(self.network, ids)
        # Keep only the newest few tuples: a what-if simulation makes a new (equal) one
        # for every decision, and a list that kept them all was scanned on every miss.
        self._entries.append((ids, index))
        del self._entries[: -self.size]
        return index

    def __len__(self) -> int:
        return len(self._entries)
