"""Geozones to and from GeoJSON (RFC 7946), losslessly.

A zone is a Feature whose ``id`` is the zone id and whose geometry is a Polygon or
MultiPolygon (lon, lat), or a Point with a ``radius_m`` property for a circle (GeoJSON
has no circles). Properties the engine reads::

    name, kind (prohibited|restricted|frz|danger|temporary),
    lower_m, lower_ref, upper_m, upper_ref   (metres; AGL|AMSL|WGS84, SFC and MSL accepted),
    applicability  [{start, end, schedule: [{days, start, end}]}]  (absent or [] = H24),
    entry          {free: [agency..], with_permission: [agency.. or "*"], authority}

Every other property (source, remarks, the raw limit text ...) is kept as it came and
written back on export. A feature without ``entry`` gets the default rule for its kind
(see :func:`skyshare.airspace.zones.default_entry`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from skyshare.airspace.parsing import Item, day_names, entry_to_json
from skyshare.airspace.zones import (
    CircleShape,
    Geozone,
    Limit,
    PolygonShape,
    TimeWindow,
    VerticalRef,
    default_entry,
)
from skyshare.domain.errors import InputError

KNOWN_PROPERTIES = frozenset(
    {
        "id",
        "name",
        "kind",
        "lower_m",
        "lower_ref",
        "upper_m",
        "upper_ref",
        "radius_m",
        "applicability",
        "entry",
    }
)


def zones_from_geojson(doc: Any, source: str = "<geojson>") -> tuple[Geozone, ...]:
    """Parse a FeatureCollection of zones; any bad feature raises ``InputError`` naming it."""
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise InputError("type", "expected a GeoJSON FeatureCollection", source=source)
    features = doc.get("features")
    if not isinstance(features, list):
        raise InputError("features", "expected a list of features", source=source)
    zones: list[Geozone] = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        zone = zone_from_feature(feature, source, i)
        if zone.id in seen:
            raise InputError(
                "id",
                f"duplicate zone id {zone.id!r}",
                source=source,
                item=f"features[{i}] ({zone.name})",
            )
        seen.add(zone.id)
        zones.append(zone)
    return tuple(zones)


def zone_from_feature(feature: Any, source: str = "<geojson>", index: int = 0) -> Geozone:
    """One Feature to a ``Geozone``."""
    label = f"features[{index}]"
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise InputError("type", "expected a GeoJSON Feature", source=source, item=label)
    props = feature.get("properties") or {}
    check = Item(source, label)
    props = check.mapping("properties", props)
    raw_id = feature.get("id", props.get("id", props.get("designator")))
    if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    zone_id = check.text("id", raw_id)
    name = check.text("properties.name", props.get("name", zone_id))
    check.item = f"{label} ({zone_id})"

    kind = check.kind("properties.kind", props.get("kind"))
    geometry = check.mapping("geometry", feature.get("geometry"))
    shape = _shape(check, geometry, props)
    lower = _limit(check, "lower", props, default=0.0)
    upper = _limit(check, "upper", props, default=None)
    if lower.ref == upper.ref and lower.value_m >= upper.value_m:
        raise check.fail(
            "properties.upper_m",
            f"upper limit {upper.value_m} m must be above the lower {lower.value_m} m",
        )
    windows = _windows(check, props.get("applicability"))
    remarks = props.get("remarks") if isinstance(props.get("remarks"), str) else ""
    entry = (
        check.entry("properties.entry", props["entry"])
        if "entry" in props
        else default_entry(kind, remarks)
    )
    extra = {k: v for k, v in props.items() if k not in KNOWN_PROPERTIES}
    return Geozone(zone_id, name, kind, shape, lower, upper, windows, entry, extra)


def zones_to_geojson(zones: Iterable[Geozone], **members: Any) -> dict[str, Any]:
    """A FeatureCollection of ``zones``; ``members`` adds top-level members (e.g. ``name``)."""
    return {"type": "FeatureCollection", **members, "features": [zone_to_feature(z) for z in zones]}


def zone_to_feature(zone: Geozone) -> dict[str, Any]:
    clash = KNOWN_PROPERTIES & set(zone.extra)
    if clash:
        raise ValueError(f"zone {zone.id}: extra properties clash with {sorted(clash)}")
    props: dict[str, Any] = {
        "name": zone.name,
        "kind": str(zone.kind),
        "lower_m": zone.lower.value_m,
        "lower_ref": str(zone.lower.ref),
        "upper_m": None if math.isinf(zone.upper.value_m) else zone.upper.value_m,
        "upper_ref": str(zone.upper.ref),
    }
    if isinstance(zone.shape, CircleShape):
        props["radius_m"] = zone.shape.radius_m
        geometry: dict[str, Any] = {
            "type": "Point",
            "coordinates": [zone.shape.lon, zone.shape.lat],
        }
    else:
        geometry = polygon_geometry(zone.shape)
    props["applicability"] = [window_to_json(w) for w in zone.windows]
    props["entry"] = entry_to_json(zone.entry)
    props.update(zone.extra)
    return {"type": "Feature", "id": zone.id, "geometry": geometry, "properties": props}


def polygon_geometry(shape: PolygonShape) -> dict[str, Any]:
    polygons = [[[list(p) for p in ring] for ring in poly] for poly in shape.polygons]
    if shape.multi:
        return {"type": "MultiPolygon", "coordinates": polygons}
    return {"type": "Polygon", "coordinates": polygons[0]}


def window_to_json(window: TimeWindow) -> dict[str, Any]:
    return {
        "start": window.start.isoformat() if window.start else None,
        "end": window.end.isoformat() if window.end else None,
        "schedule": [
            {"days": day_names(p.days), "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in window.schedule
        ],
    }


def _shape(check: Item, geometry: Mapping[str, Any], props: Mapping[str, Any]):
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind in ("Polygon", "MultiPolygon"):
        if "radius_m" in props:
            raise check.fail("properties.radius_m", "only a Point geometry (a circle) has a radius")
        return check.polygon_shape("geometry.coordinates", kind, coordinates)
    if kind == "Point":
        lon, lat = check.position("geometry.coordinates", coordinates)
        if "radius_m" not in props:
            raise check.fail("properties.radius_m", "a Point zone is a circle and needs radius_m")
        radius = check.number("properties.radius_m", props["radius_m"])
        assert radius is not None
        if radius <= 0:
            raise check.fail("properties.radius_m", f"must be positive, got {radius}")
        return CircleShape(lon, lat, radius)
    raise check.fail("geometry.type", f"expected Polygon, MultiPolygon or Point, got {kind!r}")


def _limit(check: Item, which: str, props: Mapping[str, Any], default: float | None) -> Limit:
    field = f"properties.{which}_m"
    value = props.get(f"{which}_m", default)
    if value is None and default is None and f"{which}_m" not in props:
        raise check.fail(field, "is required (metres; null for no upper limit)")
    number = check.number(field, value, allow_none=which == "upper")
    try:
        ref = VerticalRef.parse(props.get(f"{which}_ref", "AGL"))
    except ValueError as exc:
        raise check.fail(f"properties.{which}_ref", str(exc)) from None
    return Limit(math.inf if number is None else number, ref)


def _windows(check: Item, value: Any) -> tuple[TimeWindow, ...]:
    if value is None:
        return ()
    windows = []
    for i, raw in enumerate(check.sequence("properties.applicability", value)):
        field = f"properties.applicability[{i}]"
        item = check.mapping(field, raw)
        schedule = [
            (p.get("days"), p.get("start"), p.get("end"))
            for p in (
                check.mapping(f"{field}.schedule[{j}]", s)
                for j, s in enumerate(
                    check.sequence(f"{field}.schedule", item.get("schedule") or [])
                )
            )
        ]
        windows.append(check.window(field, item.get("start"), item.get("end"), schedule))
    return tuple(windows)
