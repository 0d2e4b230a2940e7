"""Reading the live state: the network, the fleet and incidents (open ones from memory)."""

from __future__ import annotations

from typing import Any

from skyshare.dispatch import DroneState
from skyshare.domain import Network
from skyshare.runtime.state import IncidentView, NotFound, RuntimeState


class Reads(RuntimeState):
    """Reads; none takes the decision lock."""

    async def _io(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``Store.<name>``, in order after every write queued before it."""
        return await self.writer.read(name, *args, **kwargs)

    @property
    def network(self) -> Network:
        return self.world.network

    def boroughs_geojson(self, tolerance_m: float = 40.0) -> dict[str, Any]:
        """Borough outlines in WGS84, simplified for drawing (computed once)."""
        if self._boroughs_geojson is None:
            self._boroughs_geojson = self.world.area.to_geojson(tolerance_m)
        return self._boroughs_geojson

    def drones(self) -> list[DroneState]:
        return list(self.fleet)

    async def incident(self, incident_id: str) -> IncidentView:
        """An open incident from memory (this runtime is its only writer); any other from
        the store."""
        cached = self._open.get(incident_id)
        if cached is not None:
            return cached
        incident = await self._io("get_incident", incident_id)
        if incident is None:
            raise NotFound(incident_id)
        assignments = await self._io("assignments_for", incident_id)
        return IncidentView(incident, assignments)

    async def incidents(
        self, *, agency: str | None = None, open_only: bool = False, limit: int = 200
    ) -> list[IncidentView]:
        """Newest first, each with its assignments: open ones as memory has them (as
        ``incident`` gives them), the rest from the store (one more query, if any)."""
        listed = await self._io("list_incidents", agency=agency, open_only=open_only, limit=limit)
        known = {i.id: self._open.get(i.id) for i in listed}
        closed = [incident_id for incident_id, view in known.items() if view is None]
        stored = await self._io("assignments_for_incidents", closed) if closed else {}
        return [known[i.id] or IncidentView(i, stored[i.id]) for i in listed]
