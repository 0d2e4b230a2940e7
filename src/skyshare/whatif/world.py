"""The world a what-if runs in: network, service area and airspace, read from files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skyshare.airspace import AirspaceMap, load_zones
from skyshare.airspace.service_area import ServiceArea, parse_service_area
from skyshare.config import Settings
from skyshare.dispatch.airspace_router import AirspaceRouter
from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.dispatch.routing import StraightLineRouter
from skyshare.domain import Network
from skyshare.runtime.world import load_network, read_document


@dataclass
class World:
    settings: Settings
    network: Network
    network_path: Path
    area: ServiceArea
    airspace: AirspaceMap | None

    def dispatcher_factory(self) -> Callable[[Network], Dispatcher]:
        """A Dispatcher for a network: routes around the airspace with the network's
        recorded permissions, as the runtime builds it."""
        config = DispatchConfig(min_cruise_alt_m=self.settings.min_cruise_alt_m)
        open_sky = StraightLineRouter(self.settings.min_cruise_alt_m, self.area.projection)

        def make(network: Network) -> Dispatcher:
            if self.airspace is None:
                return Dispatcher(network, open_sky, config)
            grants: dict[str, list[tuple[str, str]]] = {}
            for agency, zone_id in network.permissions:
                grants.setdefault(agency, []).append((agency, zone_id))
            return Dispatcher(network, AirspaceRouter(self.airspace, grants), config)

        return make


@dataclass(frozen=True)
class WorldFiles:
    """The command-line options that say where the world is; None: the configured file."""

    sites: Path | None
    airspace: Path | None
    boroughs: Path | None
    open_sky: bool


def load_world(files: WorldFiles) -> World:
    settings = Settings()
    network_path = files.sites or settings.network_file
    network = load_network(network_path)
    area_path = files.boroughs or settings.boroughs_file
    area = parse_service_area(read_document(area_path), source=str(area_path))
    zones_map = None
    if not files.open_sky:
        zones_path = files.airspace or settings.airspace_file
        zones_map = AirspaceMap(
            load_zones(read_document(zones_path), str(zones_path)),
            ceiling_m=settings.ceiling_m,
            min_cruise_alt_m=settings.min_cruise_alt_m,
            crs=settings.crs,
        )
    return World(settings, network, network_path, area, zones_map)
