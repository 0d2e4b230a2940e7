"""Geozones to and from EUROCAE ED-269 "UAS geographical zone" JSON, losslessly.

The document is ``{"title", "description", "features": [UASZoneVersion ...]}``; each zone
has ``identifier``, ``country``, ``name``, ``type``, ``restriction``
(PROHIBITED | REQ_AUTHORISATION | CONDITIONAL | NO_RESTRICTION), ``applicability``,
``zoneAuthority`` and ``geometry``: a list of volumes, each with ``uomDimensions`` (M|FT),
lower/upper limits and vertical references (AGL|AMSL|WGS84), and a ``horizontalProjection``
that is a Polygon (``coordinates`` lon, lat as in GeoJSON) or a Circle (``center`` lon,
lat and ``radius`` in metres).

ED-269 has no words for our zone kind and agency entry rules, so the export also writes
them, and every property it cannot place, under ``extendedProperties.skyshare``; reading
that back gives the same zone. Fields of a foreign document that have no meaning here are
kept in ``extra["ed269"]`` and written back on export.

ED-269 limits identifiers to 7 characters; UK designators ("EG RU128A") are longer and
are kept as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from skyshare.airspace.parsing import Item, day_names, entry_to_json
from skyshare.airspace.zones import (
    ANY_AGENCY,
    CircleShape,
    EntryRule,
    Geozone,
    Limit,
    PolygonShape,
    TimeWindow,
    VerticalRef,
    ZoneKind,
)
from skyshare.domain.errors import InputError

FEET = 0.3048
CONSUMED = frozenset(
    {"identifier", "name", "restriction", "applicability", "geometry", "extendedProperties"}
)


def zones_from_ed269(doc: Any, source: str = "<ed269>") -> tuple[Geozone, ...]:
    """Parse an ED-269 document; a bad zone raises ``InputError`` naming it and the field."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("features"), list):
        raise InputError(
            "features", "expected an ED-269 document with a list of features", source=source
        )
    zones: list[Geozone] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["features"]):
        for zone in _zones_of(raw, source, i):
            if zone.id in seen:
                raise InputError(
                    "identifier",
                    f"duplicate zone identifier {zone.id!r}",
                    source=source,
                    item=f"features[{i}] ({zone.id})",
                )
            seen.add(zone.id)
            zones.append(zone)
    return tuple(zones)


def zones_to_ed269(
    zones: Iterable[Geozone], *, title: str = "", description: str = "", country: str = "GBR"
) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "features": [zone_to_ed269(z, country=country) for z in zones],
    }


def zone_to_ed269(zone: Geozone, *, country: str = "GBR") -> dict[str, Any]:
    kept = zone.extra.get("ed269")
    foreign = dict(kept) if isinstance(kept, Mapping) else {}
    authority = (
        [{"name": zone.entry.authority, "purpose": "AUTHORIZATION"}] if zone.entry.authority else []
    )
    feature: dict[str, Any] = {
        "identifier": zone.id,
        "country": country,
        "name": zone.name,
        "type": "COMMON",
        "restriction": _restriction(zone.entry),
        "reason": ["AIR_TRAFFIC"] if zone.kind is ZoneKind.FRZ else ["OTHER"],
        "applicability": [_window(w) for w in zone.windows] or [{"permanent": "YES"}],
        "zoneAuthority": authority,
        "geometry": _volumes(zone),
    }
    feature.update({k: v for k, v in foreign.items() if k not in CONSUMED})
    skyshare = {
        "kind": str(zone.kind),
        "entry": entry_to_json(zone.entry),
        "multi": isinstance(zone.shape, PolygonShape) and zone.shape.multi,
        "extra": dict(zone.extra),
    }
    foreign_ext = foreign.get("extendedProperties")
    feature["extendedProperties"] = {
        **(foreign_ext if isinstance(foreign_ext, Mapping) else {}),
        "skyshare": skyshare,
    }
    return feature


def _restriction(entry: EntryRule) -> str:
    if ANY_AGENCY in entry.free:
        return "NO_RESTRICTION"
    if entry.free:
        return "CONDITIONAL"
    return "REQ_AUTHORISATION" if entry.with_permission else "PROHIBITED"


def _window(window: TimeWindow) -> dict[str, Any]:
    out: dict[str, Any] = {"permanent": "NO"}
    if window.start:
        out["startDateTime"] = window.start.isoformat()
    if window.end:
        out["endDateTime"] = window.end.isoformat()
    if window.schedule:
        out["schedule"] = [
            {
                "day": day_names(p.days),
                "startTime": p.start.isoformat() + "Z",
                "endTime": p.end.isoformat() + "Z",
            }
            for p in window.schedule
        ]
    return out


def _volumes(zone: Geozone) -> list[dict[str, Any]]:
    base = {
        "uomDimensions": "M",
        "lowerLimit": zone.lower.value_m,
        "lowerVerticalReference": str(zone.lower.ref),
        "upperLimit": None if math.isinf(zone.upper.value_m) else zone.upper.value_m,
        "upperVerticalReference": str(zone.upper.ref),
    }
    if isinstance(zone.shape, CircleShape):
        s = zone.shape
        return [
            {
                **base,
                "horizontalProjection": {
                    "type": "Circle",
                    "center": [s.lon, s.lat],
                    "radius": s.radius_m,
                },
            }
        ]
    return [
        {
            **base,
            "horizontalProjection": {
                "type": "Polygon",
                "coordinates": [[list(p) for p in ring] for ring in poly],
            },
        }
        for poly in zone.shape.polygons
    ]


def _zones_of(raw: Any, source: str, index: int) -> list[Geozone]:
    label = f"features[{index}]"
    check = Item(source, label)
    feature = check.mapping("(feature)", raw)
    zone_id = check.text("identifier", feature.get("identifier"))
    check.item = f"{label} ({zone_id})"
    name = check.text("name", feature.get("name", zone_id))
    ext = feature.get("extendedProperties") or {}
    ours = check.mapping("extendedProperties", ext).get("skyshare")
    windows = _applicability(check, feature.get("applicability"))
    volumes = [
        _volume(check, f"geometry[{i}]", v)
        for i, v in enumerate(check.sequence("geometry", feature.get("geometry")))
    ]
    if not volumes:
        raise check.fail("geometry", "needs at least one volume")

    if ours is not None:
        ours = check.mapping("extendedProperties.skyshare", ours)
        kind, entry, extra, multi = _ours(check, ours)
    else:
        kind, entry = _meaning(check, feature)
        foreign = {k: v for k, v in feature.items() if k not in CONSUMED}
        if ext:
            foreign["extendedProperties"] = ext
        extra = {"ed269": foreign}
        multi = False

    limits = {(lo, hi) for lo, hi, _ in volumes}
    if len(volumes) == 1 or (len(limits) == 1 and all(isinstance(s, tuple) for *_, s in volumes)):
        (lower, upper), shapes = volumes[0][:2], [s for *_, s in volumes]
        shape = (
            shapes[0]
            if isinstance(shapes[0], CircleShape)
            else PolygonShape(tuple(shapes), multi=multi or len(shapes) > 1)
        )
        return [Geozone(zone_id, name, kind, shape, lower, upper, windows, entry, extra)]
    # Volumes with different limits (or circles mixed in) become one zone each.
    return [
        Geozone(
            f"{zone_id}#{i + 1}",
            name,
            kind,
            s if isinstance(s, CircleShape) else PolygonShape((s,)),
            lo,
            hi,
            windows,
            entry,
            extra,
        )
        for i, (lo, hi, s) in enumerate(volumes)
    ]


def _ours(check: Item, ours: Mapping[str, Any]) -> tuple[ZoneKind, EntryRule, dict, bool]:
    kind = check.kind("extendedProperties.skyshare.kind", ours.get("kind"))
    entry = check.entry("extendedProperties.skyshare.entry", ours.get("entry") or {})
    extra = dict(check.mapping("extendedProperties.skyshare.extra", ours.get("extra") or {}))
    return kind, entry, extra, bool(ours.get("multi", False))


def _meaning(check: Item, feature: Mapping[str, Any]) -> tuple[ZoneKind, EntryRule]:
    restriction = check.text("restriction", feature.get("restriction")).upper()
    authorities = feature.get("zoneAuthority") or []
    names = [a.get("name") for a in authorities if isinstance(a, Mapping) and a.get("name")]
    authority = str(names[0]) if names else ""
    if restriction == "PROHIBITED":
        return ZoneKind.PROHIBITED, EntryRule(with_permission=frozenset(), authority=authority)
    if restriction in ("REQ_AUTHORISATION", "REQ_AUTHORIZATION", "CONDITIONAL"):
        return ZoneKind.RESTRICTED, EntryRule(authority=authority)
    if restriction == "NO_RESTRICTION":
        return ZoneKind.RESTRICTED, EntryRule(free=frozenset({ANY_AGENCY}), authority=authority)
    raise check.fail(
        "restriction",
        f"unknown restriction {restriction!r}: expected PROHIBITED, "
        "REQ_AUTHORISATION, CONDITIONAL or NO_RESTRICTION",
    )


def _applicability(check: Item, value: Any) -> tuple[TimeWindow, ...]:
    if value is None:
        return ()
    windows = []
    for i, raw in enumerate(check.sequence("applicability", value)):
        field = f"applicability[{i}]"
        item = check.mapping(field, raw)
        if str(item.get("permanent", "NO")).upper() == "YES":
            return ()  # permanently active, whatever else is listed
        schedule = [
            (p.get("day"), p.get("startTime"), p.get("endTime"))
            for p in (
                check.mapping(f"{field}.schedule[{j}]", s)
                for j, s in enumerate(
                    check.sequence(f"{field}.schedule", item.get("schedule") or [])
                )
            )
        ]
        windows.append(
            check.window(field, item.get("startDateTime"), item.get("endDateTime"), schedule)
        )
    return tuple(windows)


def _volume(check: Item, field: str, raw: Any) -> tuple[Limit, Limit, Any]:
    volume = check.mapping(field, raw)
    uom = str(volume.get("uomDimensions", "M")).upper()
    if uom not in ("M", "FT"):
        raise check.fail(f"{field}.uomDimensions", f"expected M or FT, got {uom!r}")
    scale = FEET if uom == "FT" else 1.0

    def limit(which: str, default: float | None) -> Limit:
        value = check.number(
            f"{field}.{which}Limit", volume.get(f"{which}Limit", default), allow_none=True
        )
        try:
            ref = VerticalRef.parse(volume.get(f"{which}VerticalReference", "AGL"))
        except ValueError as exc:
            raise check.fail(f"{field}.{which}VerticalReference", str(exc)) from None
        if value is None:
            return Limit(0.0 if which == "lower" else math.inf, ref)
        return Limit(value * scale if scale != 1.0 else value, ref)

    lower, upper = limit("lower", 0.0), limit("upper", None)
    if lower.ref == upper.ref and lower.value_m >= upper.value_m:
        raise check.fail(f"{field}.upperLimit", "must be above the lower limit")
    projection = check.mapping(f"{field}.horizontalProjection", volume.get("horizontalProjection"))
    kind = projection.get("type")
    if kind == "Circle":
        lon, lat = check.position(f"{field}.horizontalProjection.center", projection.get("center"))
        radius = check.number(f"{field}.horizontalProjection.radius", projection.get("radius"))
        assert radius is not None
        if radius <= 0:
            raise check.fail(f"{field}.horizontalProjection.radius", "must be positive")
        return lower, upper, CircleShape(lon, lat, radius * scale if scale != 1.0 else radius)
    if kind == "Polygon":
        return (
            lower,
            upper,
            check.polygon(
                f"{field}.horizontalProjection.coordinates", projection.get("coordinates")
            ),
        )
    raise check.fail(
        f"{field}.horizontalProjection.type", f"expected Polygon or Circle, got {kind!r}"
    )
