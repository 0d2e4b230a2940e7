"""The live state every part of the runtime works on, and the words they share for it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Protocol

from skyshare.airspace import AirspaceMap
from skyshare.airspace.conformance import ExcursionTracker
from skyshare.airspace.restrictions import ActiveFlight
from skyshare.bus import Bus
from skyshare.config import Settings
from skyshare.dispatch import AirspaceRouter, Dispatcher
from skyshare.domain import Assignment, AssignmentStatus, Incident, IncidentStatus
from skyshare.intake import IncidentRequest
from skyshare.runtime.clock import Clock
from skyshare.runtime.fleet_book import FleetBook
from skyshare.runtime.store_worker import StoreWorker
from skyshare.runtime.world import World
from skyshare.store import Store

DISPATCHER = "dispatcher"
LIVE = (AssignmentStatus.PROPOSED, AssignmentStatus.APPROVED, AssignmentStatus.ACTIVE)


class NotFound(LookupError):
    """No such incident."""


class Conflict(RuntimeError):
    """The request does not fit the incident's current state (e.g. approving a closed call)."""


class FlightControl(Protocol):
    """What flies the aircraft (``runtime.flights``); absent, approvals stop at the dock."""

    async def launch(self, incident: Incident, assignment: Assignment) -> None: ...

    async def recall(self, drone_id: str, reason: str) -> None: ...

    def airborne(self, drone_id: str) -> bool: ...

    def flying_itself(self, drone_id: str) -> str | None:
        """The mode in which ``drone_id``'s aircraft flies itself home or down (a failsafe,
        or a pilot, took over); None when it flies as commanded."""
        ...

    def no_aircraft(self, drone_id: str) -> str | None:
        """Why ``drone_id``'s aircraft cannot be flown now (none is listed for it, or it
        has not been heard); None when it is heard."""
        ...

    def misplaced(self, drone_id: str) -> str | None:
        """Why the aircraft heard for ``drone_id`` cannot be the drone the records put on
        a dock: it is not the aircraft the aircraft file names (``not_its_aircraft``), or
        it is on the ground away from that dock; None when neither can be told (not on a
        dock, not heard, in the air, no position yet)."""
        ...

    def not_its_aircraft(self, drone_id: str) -> str | None:
        """Why the aircraft heard for ``drone_id`` is not the one the aircraft file names:
        it reports another board id, or none; None when it reports that one, or the file
        names none, or it is not heard."""
        ...

    def away_from(self, drone_id: str, site_id: str) -> str | None:
        """``misplaced`` for the dock at ``site_id``, in a few words ("its aircraft ... is
        on the ground 3,500 m from it"); None when it is there or nobody can tell."""
        ...

    def links(self) -> dict[str, bool]:
        """Per drone with an aircraft: is that aircraft heard now (for health checks)?"""
        ...

    def flying_themselves(self) -> set[str]:
        """Drones coming home whose aircraft flies itself (``flying_itself``): not to be
        re-tasked in the air."""
        ...


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    assignments: list[Assignment]

    @property
    def current(self) -> Assignment | None:
        live = [a for a in self.assignments if a.status in LIVE]
        return live[-1] if live else None


class OpenIncidents:
    """The open incidents with their assignments, as last written, by id; and by
    ``(agency, external_id)``, so that a repeated call is found without a scan."""

    def __init__(self) -> None:
        self._by_id: dict[str, IncidentView] = {}
        self._by_external: dict[tuple[str, str], str] = {}

    def get(self, incident_id: str) -> IncidentView | None:
        return self._by_id.get(incident_id)

    def __setitem__(self, incident_id: str, view: IncidentView) -> None:
        self.pop(incident_id)
        self._by_id[incident_id] = view
        if view.incident.external_id is not None:
            self._by_external[view.incident.agency, view.incident.external_id] = incident_id

    def pop(self, incident_id: str) -> None:
        view = self._by_id.pop(incident_id, None)
        if view is not None and view.incident.external_id is not None:
            self._by_external.pop((view.incident.agency, view.incident.external_id), None)

    def with_external_id(self, agency: str, external_id: str) -> IncidentView | None:
        found = self._by_external.get((agency, external_id))
        return None if found is None else self._by_id[found]

    def same_call(self, request: IncidentRequest) -> IncidentView | None:
        """The latest open call with no external_id that says what ``request`` says: a
        scan, for the rare message a broker delivers again."""
        same = [
            view
            for view in self._by_id.values()
            if replace(view.incident, status=IncidentStatus.RECEIVED)
            == request.incident(view.incident.id, view.incident.received_at)
        ]
        return max(same, key=lambda view: view.incident.received_at, default=None)

    def __len__(self) -> int:
        return len(self._by_id)


class RuntimeState:
    """What ``Runtime.__init__`` sets up; each part of the runtime reads and changes it."""

    world: World
    store: Store
    bus: Bus
    clock: Clock
    settings: Settings
    airspace: AirspaceMap
    fleet: FleetBook
    router: AirspaceRouter
    dispatcher: Dispatcher
    flights: FlightControl | None
    _routes: dict[str, ActiveFlight]  # drone id -> the route it is flying
    _lock: asyncio.Lock
    writer: StoreWorker  # every store call, in order, in a store process of its own
    _escalated: set[str]  # proposals (assignment ids) escalated and still unanswered
    _launched: set[str]  # drones given a sortie and not yet back or recalled
    # Open incidents with their assignments, as last written: decisions read these
    # instead of waiting for the store behind queued writes.
    _open: OpenIncidents
    _trackers: dict[str, ExcursionTracker]
    _boroughs_geojson: dict[str, Any] | None
    # Acting on changes written whether or not their callers still wait, and on changes
    # the store took while in doubt.
    _background: set[asyncio.Task[None]]
