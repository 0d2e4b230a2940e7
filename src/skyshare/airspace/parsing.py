"""Checks shared by the zone readers: each failure names the feature and the reason."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any

import shapely
from shapely.geometry import Polygon

from skyshare.airspace.zones import (
    WEEKDAYS,
    DailyPeriod,
    EntryRule,
    PolygonShape,
    TimeWindow,
    ZoneKind,
)
from skyshare.domain.errors import InputError

KIND_ALIASES = {
    "flight restriction zone": "frz",
    "flight_restriction_zone": "frz",
    "p": "prohibited",
    "r": "restricted",
    "d": "danger",
    "tra": "temporary",
}


class Item:
    """Raises ``InputError`` naming the source, the feature and the field."""

    def __init__(self, source: str, item: str) -> None:
        self.source, self.item = source, item

    def fail(self, field: str, reason: str) -> InputError:
        return InputError(field, reason, source=self.source, item=self.item)

    def number(self, field: str, value: Any, *, allow_none: bool = False) -> float | None:
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(field, f"must be finite, got {value!r}")
        return float(value)

    def text(self, field: str, value: Any, *, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(field, "is required (a non-empty string)")
        return value

    def mapping(self, field: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(field, f"expected an object, got {type(value).__name__}")
        return value

    def sequence(self, field: str, value: Any) -> Sequence[Any]:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise self.fail(field, f"expected a list, got {type(value).__name__}")
        return value

    def position(self, field: str, value: Any) -> tuple[float, float]:
        """A GeoJSON position: lon, lat (a third number, the height, is ignored)."""
        pos = self.sequence(field, value)
        if len(pos) not in (2, 3):
            raise self.fail(field, f"a position needs lon, lat; got {list(pos)!r}")
        lon = self.number(field, pos[0])
        lat = self.number(field, pos[1])
        assert lon is not None and lat is not None
        if not -180.0 <= lon <= 180.0:
            raise self.fail(field, f"longitude {lon} is outside [-180, 180]")
        if not -90.0 <= lat <= 90.0:
            raise self.fail(field, f"latitude {lat} is outside [-90, 90]")
        return lon, lat

    def ring(self, field: str, value: Any) -> tuple[tuple[float, float], ...]:
        points = self.sequence(field, value)
        ring = tuple(self.position(f"{field}[{i}]", p) for i, p in enumerate(points))
        if len(ring) < 4:
            raise self.fail(field, f"a ring needs at least 4 positions, got {len(ring)}")
        if ring[0] != ring[-1]:
            raise self.fail(field, "a ring must be closed (first position == last position)")
        return ring

    def polygon(self, field: str, value: Any) -> tuple[tuple[tuple[float, float], ...], ...]:
        rings = self.sequence(field, value)
        if not rings:
            raise self.fail(field, "a polygon needs at least its exterior ring")
        parsed = tuple(self.ring(f"{field}[{i}]", r) for i, r in enumerate(rings))
        geom = Polygon(parsed[0], parsed[1:])
        if not geom.is_valid:
            raise self.fail(field, f"invalid polygon: {shapely.is_valid_reason(geom)}")
        if geom.area <= 0:
            raise self.fail(field, "polygon has no area")
        return parsed

    def polygon_shape(self, field: str, kind: str, coordinates: Any) -> PolygonShape:
        if kind == "Polygon":
            return PolygonShape((self.polygon(field, coordinates),), multi=False)
        polygons = self.sequence(field, coordinates)
        if not polygons:
            raise self.fail(field, "a MultiPolygon needs at least one polygon")
        shape = PolygonShape(
            tuple(self.polygon(f"{field}[{i}]", p) for i, p in enumerate(polygons)), multi=True
        )
        union = shapely.MultiPolygon([Polygon(p[0], p[1:]) for p in shape.polygons])
        if not union.is_valid:
            raise self.fail(field, f"invalid MultiPolygon: {shapely.is_valid_reason(union)}")
        return shape

    def instant(self, field: str, value: Any) -> datetime | None:
        if value is None:
            return None
        try:
            at = datetime.fromisoformat(self.text(field, value))
        except ValueError:
            raise self.fail(field, f"not an ISO 8601 date-time: {value!r}") from None
        if at.tzinfo is None:
            raise self.fail(field, f"needs a timezone (e.g. 'Z' or '+00:00'): {value!r}")
        return at

    def time_of_day(self, field: str, value: Any) -> time:
        text = self.text(field, value).strip()
        if text.upper().endswith("Z"):  # ED-269 writes "08:00:00.00Z"; times are UTC anyway
            text = text[:-1]
        try:
            parsed = time.fromisoformat(text)
        except ValueError:
            raise self.fail(field, f"not a time of day (HH:MM[:SS]): {value!r}") from None
        if parsed.tzinfo is not None:
            raise self.fail(field, f"times of day are UTC: write them without an offset: {value!r}")
        return parsed

    def days(self, field: str, value: Any) -> frozenset[str]:
        raw = self.sequence(field, value)
        days = frozenset(str(d).upper() for d in raw)
        if "ANY" in days:
            return frozenset(WEEKDAYS)
        unknown = days - set(WEEKDAYS)
        if unknown or not days:
            raise self.fail(field, f"expected days among {', '.join(WEEKDAYS)}, got {list(raw)!r}")
        return days

    def window(
        self, field: str, start: Any, end: Any, schedule: Sequence[tuple[Any, Any, Any]]
    ) -> TimeWindow:
        begin = self.instant(f"{field}.start", start)
        finish = self.instant(f"{field}.end", end)
        if begin is not None and finish is not None and finish <= begin:
            raise self.fail(f"{field}.end", "must be after the start")
        periods = tuple(
            DailyPeriod(
                self.days(f"{field}.schedule[{i}].days", days),
                self.time_of_day(f"{field}.schedule[{i}].start", a),
                self.time_of_day(f"{field}.schedule[{i}].end", b),
            )
            for i, (days, a, b) in enumerate(schedule)
        )
        return TimeWindow(begin, finish, periods)

    def kind(self, field: str, value: Any) -> ZoneKind:
        text = self.text(field, value).strip().lower()
        try:
            return ZoneKind(KIND_ALIASES.get(text, text))
        except ValueError:
            kinds = ", ".join(k.value for k in ZoneKind)
            raise self.fail(field, f"unknown kind {value!r}: expected one of {kinds}") from None

    def entry(self, field: str, value: Any) -> EntryRule:
        raw = self.mapping(field, value)

        def agencies(name: str) -> frozenset[str]:
            items = self.sequence(f"{field}.{name}", raw.get(name) or [])
            return frozenset(self.text(f"{field}.{name}", a).strip() for a in items)

        authority = self.text(f"{field}.authority", raw.get("authority"), required=False)
        return EntryRule(agencies("free"), agencies("with_permission"), authority)


def entry_to_json(entry: EntryRule) -> dict[str, Any]:
    return {
        "free": sorted(entry.free),
        "with_permission": sorted(entry.with_permission),
        "authority": entry.authority,
    }


def day_names(days: frozenset[str]) -> list[str]:
    return [d for d in WEEKDAYS if d in days]
