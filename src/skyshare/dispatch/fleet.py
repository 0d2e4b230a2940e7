"""The fleet as the dispatcher sees it at one moment: ``DroneState`` and ``FleetView``.

The runtime builds a ``FleetView`` from the store and telemetry (or the what-if simulator
from its own state) and hands it to the dispatcher with the time. It is immutable:
``with_states`` returns a new view with some drones changed, sharing the rest, so
a decision never sees a half-updated fleet and updates cost O(changed drones).

What each status means to the dispatcher:

- ``DOCKED``, ``CHARGING``: on the dock; available if the battery allows the job.
- ``RETURNING``: airborne on the way home; may be re-tasked in the air.
- ``LAUNCHING``, ``EN_ROUTE``, ``ON_SCENE``: busy with ``task_incident_id`` of
  ``task_priority``; a higher-priority call may preempt it.
- ``OFFLINE``, ``MAINTENANCE``: not available.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from skyshare.domain.enums import DroneStatus, Priority
from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint
from skyshare.domain.network import Network
from skyshare.geo import Projection, projection

ON_DOCK = frozenset({DroneStatus.DOCKED, DroneStatus.CHARGING})
BUSY = frozenset({DroneStatus.LAUNCHING, DroneStatus.EN_ROUTE, DroneStatus.ON_SCENE})
OUT_OF_SERVICE = frozenset({DroneStatus.OFFLINE, DroneStatus.MAINTENANCE})

# Small integer codes for the vectorised masks, and tables from code to "is in group".
STATUS_CODE = {status: i for i, status in enumerate(DroneStatus)}


def status_table(group: frozenset[DroneStatus]) -> np.ndarray:
    """``status_table(BUSY)[view.status]`` is the mask of busy drones."""
    return np.array([status in group for status in DroneStatus], bool)


@dataclass(frozen=True, slots=True)
class DroneState:
    """One drone now.

    ``position`` is the last known position (``alt_m`` above ground). On a dock it must
    be the dock's surveyed position, not a GPS fix: routes from a dock are shared by
    every drone on it. ``home_site_id`` is where it is based; ``docked_at`` names the
    dock it sits on when that is not its home. ``task_incident_id`` and
    ``task_priority`` name the job a busy drone is doing (both ``None`` when it has none).
    """

    drone_id: str
    status: DroneStatus
    battery_pct: float
    position: GeoPoint
    home_site_id: str
    task_incident_id: str | None = None
    task_priority: Priority | None = None
    docked_at: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.battery_pct <= 100.0:
            raise InputError(
                "battery_pct", f"must be in [0, 100], got {self.battery_pct}", item=self.drone_id
            )
        if (self.task_incident_id is None) != (self.task_priority is None):
            raise InputError(
                "task_priority",
                "task_incident_id and task_priority go together",
                item=self.drone_id,
            )

    @property
    def on_dock(self) -> bool:
        return self.status in ON_DOCK

    @property
    def dock_site_id(self) -> str:
        """The site it is on (when docked) or belongs to (when not)."""
        return self.docked_at or self.home_site_id


class FleetView:
    """Drone states by id, with numpy columns for the vectorised parts of a decision.

    Columns (index ``i`` is ``ids[i]``): ``lat``, ``lon`` degrees; ``x``, ``y`` projected
    metres; ``alt``;
    ``battery``; ``status`` (``STATUS_CODE``); ``task_priority`` (0 when none).
    ``memo`` holds figures derived from this view by its readers (a view never changes).
    """

    def __init__(self, states: Iterable[DroneState], proj: Projection | None = None) -> None:
        self.projection = proj or projection()
        self._states: dict[str, DroneState] = {}
        for state in states:
            if state.drone_id in self._states:
                raise InputError("drone_id", "appears twice in the fleet", item=state.drone_id)
            self._states[state.drone_id] = state
        self.ids: tuple[str, ...] = tuple(self._states)
        self.index: Mapping[str, int] = {d: i for i, d in enumerate(self.ids)}
        rows = list(self._states.values())
        self.lon = np.array([s.position.lon for s in rows], float)
        self.lat = np.array([s.position.lat for s in rows], float)
        metric = self.projection.to_metric(self.lon, self.lat)
        self.x, self.y = (np.asarray(a, float) for a in metric)
        self.alt = np.array([s.position.alt_m for s in rows], float)
        self.battery = np.array([s.battery_pct for s in rows], float)
        self.status = np.array([STATUS_CODE[s.status] for s in rows], np.int8)
        self.task_priority = np.array([int(s.task_priority or 0) for s in rows], np.int8)
        self.memo: dict[object, object] = {}

    @classmethod
    def at_home(cls, network: Network, proj: Projection | None = None) -> FleetView:
        """Every drone of the network docked at its home site with the battery it records."""
        return cls(
            (
                DroneState(
                    d.id,
                    d.status,
                    d.battery_pct,
                    network.sites[d.home_site_id].position,
                    d.home_site_id,
                )
                for d in network.drones.values()
            ),
            proj,
        )

    def __getitem__(self, drone_id: str) -> DroneState:
        return self._states[drone_id]

    def __contains__(self, drone_id: object) -> bool:
        return drone_id in self._states

    def __iter__(self) -> Iterator[DroneState]:
        return iter(self._states.values())

    def __len__(self) -> int:
        return len(self._states)

    def ready_by_site(self, min_battery_pct: float) -> Mapping[str, int]:
        """How many drones sit ready (on a dock, at least ``min_battery_pct``) at each site."""
        key = ("ready_by_site", min_battery_pct)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = Counter(
                s.dock_site_id for s in self if _ready(s, min_battery_pct)
            )
        return found  # type: ignore[return-value]

    def with_states(self, *changed: DroneState) -> FleetView:
        """A new view with these drones' states replaced (or added)."""
        added = [s for s in changed if s.drone_id not in self._states]
        if added:
            grown = FleetView([*self, *added], self.projection)
            return grown.with_states(*(s for s in changed if s.drone_id in self._states))
        view = object.__new__(FleetView)
        view.projection = self.projection
        view._states = dict(self._states)
        view.ids, view.index = self.ids, self.index
        view.x, view.y, view.alt = self.x.copy(), self.y.copy(), self.alt.copy()
        view.lat, view.lon = self.lat.copy(), self.lon.copy()
        view.battery, view.status = self.battery.copy(), self.status.copy()
        view.task_priority = self.task_priority.copy()
        view.memo = {}
        # Carry ready counts over, adjusted for the changed drones: O(changed), not O(fleet).
        for key, counts in self.memo.items():
            if isinstance(key, tuple) and key[0] == "ready_by_site":
                ready = Counter(counts)  # type: ignore[arg-type]
                for state in changed:
                    old = self._states[state.drone_id]
                    ready[old.dock_site_id] -= _ready(old, key[1])
                    ready[state.dock_site_id] += _ready(state, key[1])
                view.memo[key] = ready
        for state in changed:
            i = self.index[state.drone_id]
            view._states[state.drone_id] = state
            view.x[i], view.y[i] = self.projection.point(state.position.lat, state.position.lon)
            view.lat[i], view.lon[i] = state.position.lat, state.position.lon
            view.alt[i] = state.position.alt_m
            view.battery[i] = state.battery_pct
            view.status[i] = STATUS_CODE[state.status]
            view.task_priority[i] = int(state.task_priority or 0)
        return view


def _ready(state: DroneState, min_battery_pct: float) -> bool:
    return state.on_dock and state.battery_pct >= min_battery_pct
