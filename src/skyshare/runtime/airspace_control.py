"""Airspace: temporary restrictions put in force and lifted, and who may fly where."""

from __future__ import annotations

from datetime import datetime

from skyshare.airspace import AirspaceMap, Geozone, zone_to_feature
from skyshare.airspace.restrictions import flights_cut
from skyshare.domain.events import Event, EventType
from skyshare.runtime.changes import Changes
from skyshare.runtime.reads import Reads
from skyshare.runtime.state import DISPATCHER
from skyshare.store import StoredRestriction


class AirspaceControl(Changes, Reads):
    """Restrictions change the airspace the router and the dispatcher plan against."""

    def airspace_permissions(self) -> frozenset[tuple[str, str]]:
        """Recorded standing permissions (agency, zone id), from the network file."""
        return self.network.permissions

    async def create_restriction(self, zone: Geozone, *, actor: str) -> list[str]:
        """Put a temporary restriction in force; returns the drones whose route it cuts.
        Once asked, it is seen through (written, in force, published) even if the caller
        stops waiting: the airspace in memory must be the one stored."""
        return await self._to_the_end(self._create_restriction(zone, actor))

    async def lift_restriction(self, zone_id: str, *, actor: str) -> None:
        """Lift a restriction; seen through as ``create_restriction`` is."""
        await self._to_the_end(self._lift_restriction(zone_id, actor))

    async def _create_restriction(self, zone: Geozone, actor: str) -> list[str]:
        async with self._exclusive() as change:
            now = self.clock.now()
            airspace = self.airspace.without_expired(now).add_temporary(zone)
            feature = zone_to_feature(zone)
            cut = flights_cut(airspace, zone.id, self._routes.values(), at=now)
            change.events.append(
                Event(
                    EventType.RESTRICTION_CREATED,
                    now,
                    actor,
                    zone.id,
                    None,
                    {"name": zone.name, "feature": feature, "flights_cut": cut},
                )
            )
            for drone_id in cut:
                change.events.append(
                    Event(
                        EventType.CONFORMANCE_ALERT,
                        now,
                        DISPATCHER,
                        drone_id,
                        self._routes[drone_id].agency,
                        {
                            "reason": f"route crosses new restriction {zone.id} ({zone.name})",
                            "zone_id": zone.id,
                        },
                    )
                )
            stored = StoredRestriction(
                zone.id, feature, actor, now, starts_at=_first_start(zone), ends_at=zone.expires_at
            )
            await self._commit(change, restriction=stored, wait=True)
            self._set_airspace(airspace)
        return cut

    async def _lift_restriction(self, zone_id: str, actor: str) -> None:
        async with self._exclusive() as change:
            now = self.clock.now()
            airspace = self.airspace.remove(zone_id)
            change.events.append(
                Event(EventType.RESTRICTION_REMOVED, now, actor, zone_id, None, {})
            )
            await self._commit(change, lifted=(zone_id, now), wait=True)
            self._set_airspace(airspace)

    def _set_airspace(self, airspace: AirspaceMap) -> None:
        self.airspace = airspace
        self.router.update(airspace)
        self.dispatcher.invalidate_routes()


def _first_start(zone: Geozone) -> datetime | None:
    starts = [w.start for w in zone.windows if w.start is not None]
    return min(starts) if starts else None
