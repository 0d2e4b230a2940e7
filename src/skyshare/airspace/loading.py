"""Reading zone documents that callers have already parsed (the core never opens files)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skyshare.airspace.ed269 import zones_from_ed269
from skyshare.airspace.geojson_io import zones_from_geojson
from skyshare.airspace.zones import Geozone
from skyshare.domain.errors import InputError


def load_zones(doc: Any, source: str = "<zones>") -> tuple[Geozone, ...]:
    """Zones from a parsed GeoJSON FeatureCollection or ED-269 document (detected by shape).

    Raises ``InputError`` naming ``source``, the feature and the reason for bad data.
    """
    if isinstance(doc, Mapping) and doc.get("type") == "FeatureCollection":
        return zones_from_geojson(doc, source)
    if isinstance(doc, Mapping) and isinstance(doc.get("features"), list) and "type" not in doc:
        return zones_from_ed269(doc, source)
    raise InputError(
        "type", "expected a GeoJSON FeatureCollection or an ED-269 document", source=source
    )
