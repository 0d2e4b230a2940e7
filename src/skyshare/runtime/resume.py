"""Taking up the flights that were under way when the service stopped.

The store says which drones were launching, flying a sortie or coming home; the aircraft,
once heard, say whether they are still up. Nothing flies them meanwhile: an aircraft in
the air holds where its last command left it, and a drone left "en route" with its
aircraft on the ground would keep its call and never be offered again.

A drone whose aircraft is not heard (or has none) cannot be flown, nor told where it is:
it is out of service until its aircraft is heard, and its call goes to another drone.
One left offline by a lost link whose aircraft is heard now is taken up as a link that
came back: brought home if up, landed where it stands if not.
"""

from __future__ import annotations

import logging

from skyshare.domain import Assignment, AssignmentStatus, DroneStatus, Incident
from skyshare.domain.events import EventType
from skyshare.runtime.flight_hooks import FlightHooks
from skyshare.runtime.state import LIVE

log = logging.getLogger(__name__)
UNDER_WAY = (DroneStatus.LAUNCHING, DroneStatus.EN_ROUTE, DroneStatus.ON_SCENE)
RESTARTED = "the service restarted"


class Resume(FlightHooks):
    async def resume_flights(self) -> None:
        """Call once the flights are up and the aircraft have been waited for. A drone
        whose aircraft is heard on the ground away from the dock it is recorded on is out
        of service until a crew returns it to service (``aircraft_misplaced``); one whose
        aircraft is not heard is out of service until it is. An approved launch never
        flown is flown; a sortie whose aircraft is still up flies on from where it is; one
        whose aircraft is down hands its call on, and the drone is landed where it is; one
        whose aircraft flies itself home or down (a failsafe took over) hands its call on,
        and is brought home; any other drone away from its dock, or offline, is brought home
        (or, on the ground, landed where it is)."""
        flights = self.flights
        if flights is None:
            return
        misplaced = {d.drone_id: why for d in self.fleet if (why := flights.misplaced(d.drone_id))}
        await self.aircraft_misplaced(misplaced)
        missing = {d.drone_id: why for d in self.fleet if (why := flights.no_aircraft(d.drone_id))}
        await self.aircraft_missing(missing)
        for state in list(self.fleet):
            if flights.no_aircraft(state.drone_id) is not None:
                continue
            done = ""
            if state.status is DroneStatus.OFFLINE:
                await self.flight_event(
                    state.drone_id, EventType.LINK_REGAINED, {"reason": f"heard after {RESTARTED}"}
                )
                await flights.recall(state.drone_id, RESTARTED)
                done = "its aircraft is heard again: it is brought home, or landed where it is"
            elif state.status in (*UNDER_WAY, DroneStatus.RETURNING):
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
            if not flights.airborne(drone_id):
                await self.flight_failed(drone_id, task[0], f"{RESTARTED} with it on the ground")
                await flights.recall(drone_id, RESTARTED)
                return "its aircraft is on the ground: its call is handed on"
            mode = flights.flying_itself(drone_id)
            if mode is None:
                self._launched.add(drone_id)
                await flights.launch(*task)
                return "its sortie flies on from where it is"
            # Its failsafe took over while no ground station was heard (or its battery's,
            # or a pilot): as when that happens in flight, the call goes to another drone;
            # and as when a lost link comes back, it is brought home.
            await self.flight_failed(drone_id, task[0], f"{RESTARTED} with it in {mode}")
            await flights.recall(drone_id, RESTARTED)
            return f"its aircraft was flying itself ({mode}): its call is handed on"
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
