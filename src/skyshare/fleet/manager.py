"""The fleet: several links, the vehicles on all of them, one stream of events.

A system id names one vehicle across the whole fleet. A vehicle heard on two links
(a redundant radio, a router fan-out) is commanded through the link it was first heard on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

from skyshare.domain.errors import InputError
from skyshare.fleet.config import FleetConfig
from skyshare.fleet.errors import UnknownVehicle
from skyshare.fleet.events import EventHub, Listener, Subscription, VehicleDiscovered
from skyshare.fleet.link import FleetLink
from skyshare.fleet.state import VehicleState
from skyshare.fleet.vehicle import Vehicle


class FleetManager:
    """``async with FleetManager(FleetConfig(speedup=10)) as fleet``, then
    ``await fleet.connect("tcp:127.0.0.1:5760")`` per link and
    ``await fleet.wait_vehicles([1, 2])``."""

    def __init__(self, config: FleetConfig | None = None) -> None:
        self.config = config or FleetConfig()
        self._hub = EventHub()
        self._links: dict[str, FleetLink] = {}

    async def connect(self, connection: str) -> FleetLink:
        """Open a link (mavutil syntax); its vehicles join the fleet as they are heard."""
        if connection in self._links:
            raise InputError("connection", f"{connection!r} is already connected")
        link = FleetLink(connection, self.config, hub=self._hub)
        await link.open()
        self._links[connection] = link
        return link

    async def disconnect(self, connection: str) -> None:
        link = self._links.pop(connection, None)
        if link is not None:
            await link.close()

    async def close(self) -> None:
        for connection in list(self._links):
            await self.disconnect(connection)

    async def __aenter__(self) -> FleetManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def links(self) -> list[FleetLink]:
        return list(self._links.values())

    @property
    def vehicles(self) -> dict[int, Vehicle]:
        out: dict[int, Vehicle] = {}
        for link in self._links.values():
            for system_id, vehicle in link.vehicles.items():
                out.setdefault(system_id, vehicle)
        return out

    def vehicle(self, system_id: int) -> Vehicle:
        found = self.find(system_id)
        if found is None:
            raise UnknownVehicle(system_id, sorted(self.vehicles))
        return found

    def find(self, system_id: int) -> Vehicle | None:
        """The vehicle with ``system_id`` if heard, else None; without building
        ``vehicles`` (a dict of the whole fleet) for one lookup."""
        for link in self._links.values():  # as ``vehicles``: the first link that has it
            found = link.vehicles.get(system_id)
            if found is not None:
                return found
        return None

    def states(self) -> dict[int, VehicleState]:
        return {system_id: v.state for system_id, v in sorted(self.vehicles.items())}

    async def wait_vehicles(
        self, system_ids: Iterable[int], timeout_s: float = 30.0
    ) -> list[Vehicle]:
        """The vehicles with these system ids, once each has been heard (wall timeout)."""
        wanted = list(system_ids)
        deadline = time.monotonic() + timeout_s
        with self.subscribe() as events:
            while True:
                vehicles = self.vehicles
                missing = [s for s in wanted if s not in vehicles]
                if not missing:
                    return [vehicles[s] for s in wanted]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise UnknownVehicle(missing[0], sorted(vehicles))
                with contextlib.suppress(TimeoutError):
                    await events.wait_for(VehicleDiscovered, timeout_s=remaining)

    async def wait_vehicle(self, system_id: int, timeout_s: float = 30.0) -> Vehicle:
        (vehicle,) = await self.wait_vehicles([system_id], timeout_s)
        return vehicle

    def subscribe(self) -> Subscription:
        """Every fleet event from now on (LinkLost, ModeChanged, StatusText ...)."""
        return self._hub.subscribe()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        return self._hub.add_listener(listener)
