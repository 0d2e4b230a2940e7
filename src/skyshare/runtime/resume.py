"""Taking up the flights that were under way when the service stopped.

The store says which drones were launching, flying a sortie or coming home; the aircraft,
once heard, say whether they are still up. Nothing flies them meanwhile: an aircraft in
the air holds where its last command left it, and a drone left "en route" with its
aircraft on the ground would keep its call and never be offered again.
"""

from __future__ import annotations

import logging

from skyshare.domain import Assignment, AssignmentStatus, DroneStatus, Incident
from skyshare.runtime.flight_hooks import FlightHooks
from skyshare.runtime.state import LIVE

log = logging.getLogger(__name__)
UNDER_WAY = (DroneStatus.LAUNCHING, DroneStatus.EN_ROUTE, DroneStatus.ON_SCENE)
RESTARTED = "the service restarted"


class Resume(FlightHooks):
    async def resume_flights(self) -> None:
        """Call once the flights are up and every aircraft has been heard from. An approved
        launch never flown is flown; a sortie whose aircraft is still up flies on from
        where it is; one whose aircraft is down hands its call on, and the drone is landed
        where it is; any other drone away from its dock is brought home (or, on the
        ground, landed)."""
        if self.flights is None:
            return
        for state in list(self.fleet):
            if state.status in (*UNDER_WAY, DroneStatus.RETURNING):
                task = await self._live_task(state.drone_id, state.task_incident_id)
                done = await self._take_up(state.drone_id, state.status, task)
                if done:
                    log.warning("%s, %s was %s: %s", RESTARTED, state.drone_id, state.status, done)

    async def _take_up(
        self, drone_id: str, status: DroneStatus, task: tuple[Incident, Assignment] | None
    ) -> str:
        """Take up one drone's flight; says what was done ("" for nothing)."""
        flights = self.flights
        assert flights is not None
        if status is DroneStatus.LAUNCHING and task is not None:
            if task[1].status is AssignmentStatus.PROPOSED:
                return ""  # a proposal waits for its operator
            self._launched.add(drone_id)
            await flights.launch(*task)
            return "its approved launch is flown now"
        if task is not None and status in UNDER_WAY:
            if flights.airborne(drone_id):
                self._launched.add(drone_id)
                await flights.launch(*task)
                return "its sortie flies on from where it is"
            await self.flight_failed(drone_id, task[0], f"{RESTARTED} with it on the ground")
            await flights.recall(drone_id, RESTARTED)
            return "its aircraft is on the ground: its call is handed on"
        await flights.recall(drone_id, RESTARTED)
        return "it is brought home"

    async def _live_task(
        self, drone_id: str, incident_id: str | None
    ) -> tuple[Incident, Assignment] | None:
        """The open call this drone is assigned to, and that assignment, if any."""
        if incident_id is None:
            return None
        view = await self.incident(incident_id)
        if not view.incident.status.is_open:
            return None
        for assignment in reversed(view.assignments):
            if assignment.drone_id == drone_id and assignment.status in LIVE:
                return view.incident, assignment
        return None
