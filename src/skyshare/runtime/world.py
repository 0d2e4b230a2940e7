"""Loading the static world from files: network, service area, airspace.

This is the one place that reads those files; the core only ever sees parsed documents.
Every failure names the file, and the core's validators name the feature and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skyshare.airspace import AirspaceMap, load_zones
from skyshare.airspace.service_area import ServiceArea, parse_service_area
from skyshare.config import Settings
from skyshare.domain import InputError, Network, parse_network
from skyshare.geo import projection


@dataclass(frozen=True)
class World:
    """What SkyShare knows before anything happens."""

    network: Network
    area: ServiceArea
    airspace: AirspaceMap  # the published zones; temporary restrictions are added live


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON file, failing with the file name and the parser's reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("(file)", exc.strerror or str(exc), source=str(path)) from None
    try:
        if path.suffix in {".yaml", ".yml"}:
            return yaml.safe_load(text)
        return json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise InputError(
            "(file)", f"not valid {path.suffix[1:].upper()}: {exc}", source=str(path)
        ) from None


def load_network(path: Path) -> Network:
    return parse_network(read_document(path), source=str(path))


def load_world(settings: Settings) -> World:
    proj = projection(settings.crs)
    network = load_network(settings.network_file)
    area = parse_service_area(
        read_document(settings.boroughs_file), source=str(settings.boroughs_file), proj=proj
    )
    check_sites_in_area(network, area, str(settings.network_file))
    # GeoJSON or ED-269, told apart by shape.
    zones = load_zones(read_document(settings.airspace_file), str(settings.airspace_file))
    airspace = AirspaceMap(
        zones,
        ceiling_m=settings.ceiling_m,
        min_cruise_alt_m=settings.min_cruise_alt_m,
        crs=settings.crs,
    )
    return World(network, area, airspace)


def check_sites_in_area(network: Network, area: ServiceArea, source: str) -> None:
    """Every launch site must lie in the service area, in the borough the file names."""
    for site in network.sites.values():
        found = area.borough_of(site.position.lat, site.position.lon)
        if found is None:
            raise InputError(
                "lat", "the site is outside the service area", source=source, item=f"site {site.id}"
            )
        if found != site.borough:
            raise InputError(
                "borough",
                f"the site lies in {found}, not {site.borough}",
                source=source,
                item=f"site {site.id}",
            )
