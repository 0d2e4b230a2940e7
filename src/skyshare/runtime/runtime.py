"""The live orchestrator: intake -> decision -> store -> bus (-> aircraft).

Every state change is written to the store together with its audit events in one
transaction, and only then published: an acknowledged change is a durable change.
Decisions are serialised by one lock so that two calls arriving together can never be
offered the same drone, and the in-memory fleet picture is put back if a transaction
fails, so memory and database never disagree.

The parts, one concern each, are mixins over ``RuntimeState`` (runtime.state): reads,
intake, operators, flight_hooks, late_commits, airspace_control, decisions and changes
(persistence and publication).
"""

from __future__ import annotations

import asyncio
import logging

from skyshare.airspace import zones_from_geojson
from skyshare.bus import Bus, InProcessBus, MqttBus, session_client_id
from skyshare.config import Settings
from skyshare.dispatch import AirspaceRouter, Dispatcher
from skyshare.domain import Network
from skyshare.runtime.airspace_control import AirspaceControl
from skyshare.runtime.changes import Change
from skyshare.runtime.clock import Clock, SystemClock
from skyshare.runtime.fleet_book import FleetBook
from skyshare.runtime.flight_hooks import CHARGE_PCT_PER_S, FlightHooks
from skyshare.runtime.intake import Intake, Submission
from skyshare.runtime.late_commits import LateCommits
from skyshare.runtime.operators import Operators
from skyshare.runtime.reads import Reads
from skyshare.runtime.resume import Resume
from skyshare.runtime.state import (
    DISPATCHER,
    LIVE,
    Conflict,
    FlightControl,
    IncidentView,
    NotFound,
    OpenIncidents,
)
from skyshare.runtime.store_worker import StoreWorker
from skyshare.runtime.world import World, load_world
from skyshare.store import Store

__all__ = [
    "CHARGE_PCT_PER_S",
    "DISPATCHER",
    "LIVE",
    "Change",
    "Conflict",
    "FlightControl",
    "IncidentView",
    "NotFound",
    "Runtime",
    "Submission",
]

log = logging.getLogger(__name__)


class Runtime(Intake, Operators, Resume, FlightHooks, LateCommits, AirspaceControl, Reads):
    """Owns the live state of the network and every change to it."""

    def __init__(
        self, world: World, writer: StoreWorker, bus: Bus, clock: Clock, settings: Settings
    ) -> None:
        # What each attribute holds is written beside its declaration in RuntimeState.
        self.world = world
        self.store = writer.store
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.airspace = world.airspace
        self.fleet = FleetBook(world.network, world.area.projection)
        self.router = AirspaceRouter(world.airspace, _grants_by_agency(world.network))
        self.dispatcher = Dispatcher(world.network, self.router)
        self.flights = None
        self._routes = {}
        self._lock = asyncio.Lock()
        self.writer = writer
        self._escalated = set()
        self._launched = set()
        self._open = OpenIncidents()
        self._trackers = {}
        self._boroughs_geojson = None
        self._background = set()

    @classmethod
    async def create(
        cls, settings: Settings | None = None, *, clock: Clock | None = None, bus: Bus | None = None
    ) -> Runtime:
        """Load the world, open (and migrate) the store, connect the bus."""
        settings = settings or Settings()
        store = await asyncio.to_thread(Store.open, settings.database_url)
        writer = StoreWorker(store, settings.database_url, process=settings.store_process)
        await writer.start()  # the store's process gets ready while the world loads
        try:
            world = await asyncio.to_thread(load_world, settings)
        except BaseException:
            await writer.stop()
            raise
        world.area.projection.prepare()  # this, the event loop's thread, does the routing
        runtime = cls(world, writer, bus or InProcessBus(), clock or SystemClock(), settings)
        if bus is None and settings.mqtt_url:
            runtime.bus = MqttBus(
                settings.mqtt_url,
                intake=runtime.intake_from_cad,
                topic_prefix=settings.mqtt_topic_prefix,
                client_id=settings.mqtt_client_id or session_client_id(settings.mqtt_topic_prefix),
            )
        await asyncio.to_thread(runtime._load_state)  # before anything else may write
        await runtime.bus.start()
        return runtime

    async def shutdown(self) -> None:
        if self._background:
            log.warning(
                "stopping with %d changes still to be stored or acted on: the store's record "
                "stands",
                len(self._background),
            )
        for task in list(self._background):
            task.cancel()
        await self.bus.stop()
        await self.writer.stop()

    def _load_state(self) -> None:
        with self.store.transaction() as tx:
            tx.sync_network(self.world.network)
        now = self.clock.now()
        for restriction in self.store.restrictions(active_at=now):
            for zone in zones_from_geojson(
                {"type": "FeatureCollection", "features": [restriction.feature]},
                source=f"restriction {restriction.id}",
            ):
                self.airspace = self.airspace.add_temporary(zone)
        self.router.update(self.airspace)
        open_incidents = self.store.list_incidents(open_only=True, limit=10_000)
        for incident in open_incidents:
            self._open[incident.id] = IncidentView(
                incident, self.store.assignments_for(incident.id)
            )
        self.fleet.load(self.store.drone_states(), {i.id: i.priority for i in open_incidents})
        self.dispatcher.warm_up(now, self.fleet.view)


def _grants_by_agency(network: Network) -> dict[str, list[tuple[str, str]]]:
    grants: dict[str, list[tuple[str, str]]] = {}
    for agency, zone in network.permissions:
        grants.setdefault(agency, []).append((agency, zone))
    return grants
