"""The runtime's live picture of every drone: what the dispatcher sees, and what is stored.

One ``DroneState`` (the dispatcher's type) per drone. Changes go through this book so
that the dispatcher's ``FleetView`` is updated incrementally and a failed transaction
can put the picture back exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from skyshare.dispatch import DroneState, FleetView
from skyshare.domain import DroneStatus, GeoPoint, Network, Priority
from skyshare.geo import Projection
from skyshare.store import DroneState as StoredDroneState


class FleetBook:
    def __init__(self, network: Network, proj: Projection) -> None:
        self.network = network
        self._states = {
            d.id: DroneState(
                d.id,
                d.status,
                d.battery_pct,
                network.sites[d.home_site_id].position,
                d.home_site_id,
            )
            for d in network.drones.values()
        }
        self._view = FleetView(self._states.values(), proj)

    # --- reading ---------------------------------------------------------------------

    def __getitem__(self, drone_id: str) -> DroneState:
        return self._states[drone_id]

    def __iter__(self):
        return iter(self._states[k] for k in sorted(self._states))

    @property
    def view(self) -> FleetView:
        return self._view

    def task_of(self, drone_id: str) -> str | None:
        return self._states[drone_id].task_incident_id

    # --- changing --------------------------------------------------------------------

    def set(self, state: DroneState) -> None:
        self._states[state.drone_id] = state
        self._view = self._view.with_states(state)

    def update(self, drone_id: str, **changes: object) -> DroneState:
        state = replace(self._states[drone_id], **changes)  # type: ignore[arg-type]
        self.set(state)
        return state

    def hold(self, drone_id: str, incident_id: str, priority: Priority) -> None:
        """The drone is proposed for, or flying, this incident: nobody else may have it
        unless a higher priority preempts it. A drone in the air is re-tasked en route."""
        on_dock = self._states[drone_id].status in (DroneStatus.DOCKED, DroneStatus.CHARGING)
        status = DroneStatus.LAUNCHING if on_dock else DroneStatus.EN_ROUTE
        self.update(drone_id, status=status, task_incident_id=incident_id, task_priority=priority)

    def release(self, drone_id: str, status: DroneStatus = DroneStatus.DOCKED) -> None:
        """Back on its dock with no task."""
        state = self._states[drone_id]
        dock = self.network.sites[state.docked_at or state.home_site_id]
        self.update(
            drone_id,
            status=status,
            task_incident_id=None,
            task_priority=None,
            position=dock.position,
        )

    def land_on(
        self, drone_id: str, site_id: str, status: DroneStatus = DroneStatus.CHARGING
    ) -> None:
        """On the dock at ``site_id`` with no task (``docked_at`` names it unless home)."""
        home = self._states[drone_id].home_site_id
        self.update(drone_id, docked_at=None if site_id == home else site_id)
        self.release(drone_id, status)

    def stranded(self, drone_id: str, where: GeoPoint) -> None:
        """Down away from every dock: out of service where it lies, with no task and no
        dock kept for it, until a crew recovers it."""
        self.update(
            drone_id,
            status=DroneStatus.MAINTENANCE,
            task_incident_id=None,
            task_priority=None,
            position=where,
            docked_at=None,
        )

    def snapshot(self) -> tuple[dict[str, DroneState], FleetView]:
        return dict(self._states), self._view

    def restore(self, snapshot: tuple[dict[str, DroneState], FleetView]) -> None:
        states, view = snapshot
        self._states, self._view = dict(states), view

    # --- the store's view ------------------------------------------------------------

    def load(
        self, stored: Mapping[str, StoredDroneState], priorities: Mapping[str, Priority]
    ) -> None:
        """Take up the last stored state of each drone (after a restart)."""
        for drone_id, saved in stored.items():
            if drone_id not in self._states:
                continue
            state = self._states[drone_id]
            docked_at = saved.docked_at if saved.docked_at in self.network.sites else None
            position = self.network.sites[docked_at].position if docked_at else state.position
            if (
                saved.lat is not None
                and saved.lon is not None
                and saved.status not in (DroneStatus.DOCKED, DroneStatus.CHARGING)
            ):
                position = GeoPoint(saved.lat, saved.lon, saved.alt_m or 0.0)
            task = saved.incident_id if saved.incident_id in priorities else None
            self.set(
                replace(
                    state,
                    status=saved.status,
                    battery_pct=saved.battery_pct,
                    position=position,
                    task_incident_id=task,
                    task_priority=priorities.get(task) if task else None,
                    docked_at=docked_at,
                )
            )

    def record(self, drone_id: str, at: datetime) -> StoredDroneState:
        s = self._states[drone_id]
        return StoredDroneState(
            s.drone_id,
            s.status,
            s.battery_pct,
            s.position.lat,
            s.position.lon,
            s.position.alt_m,
            s.task_incident_id,
            at,
            s.docked_at,
        )
