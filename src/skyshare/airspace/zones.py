"""Geozones: where a drone may not fly, between which heights, when, and who may enter anyway.

A ``Geozone`` is plain data in WGS84 degrees (GeoJSON order: lon, lat), exactly as it was
read, so that exporting it gives back what came in. Metric geometry for computation is
derived from it by :class:`skyshare.airspace.airspace_map.AirspaceMap`.

Who may enter is part of the data (``EntryRule``): some agencies enter freely (the
central London restricted areas admit aircraft in the service of the Metropolitan
Police), others only with a recorded permission (an airport's ATC clearance), which the
caller passes in as ``(agency, zone_id)`` grants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

ANY_AGENCY = "*"

Permissions = frozenset[tuple[str, str]]
"""Recorded permissions: ``(agency, zone_id)`` grants, e.g. an ATC clearance for one FRZ."""


def permissions_of(grants: Iterable[tuple[str, str]] | None) -> Permissions:
    """Normalise any iterable of ``(agency, zone_id)`` pairs to a frozenset."""
    return frozenset((str(a), str(z)) for a, z in (grants or ()))


class ZoneKind(StrEnum):
    PROHIBITED = "prohibited"
    RESTRICTED = "restricted"
    FRZ = "frz"  # an aerodrome's flight restriction zone
    DANGER = "danger"
    TEMPORARY = "temporary"


class VerticalRef(StrEnum):
    """The datum of a height. ``AGL`` covers the AIP's "SFC" (height above the surface)."""

    AGL = "AGL"
    AMSL = "AMSL"
    WGS84 = "WGS84"  # height above the ellipsoid (ED-318 style)

    @classmethod
    def parse(cls, value: object) -> VerticalRef:
        text = str(value).strip().upper()
        aliases = {"SFC": "AGL", "GND": "AGL", "MSL": "AMSL", "ALT": "AMSL", "W84": "WGS84"}
        text = aliases.get(text, text)
        try:
            return cls(text)
        except ValueError:
            raise ValueError(
                f"unknown vertical reference {value!r}: expected AGL, AMSL or WGS84"
            ) from None


@dataclass(frozen=True, slots=True)
class Limit:
    """A vertical limit in metres above its datum."""

    value_m: float
    ref: VerticalRef = VerticalRef.AGL


@dataclass(frozen=True, slots=True)
class Ground:
    """What the engine assumes about the ground, to compare AMSL limits with flight heights.

    Drones report height above their take-off point, which is close to the ground. A limit
    in AMSL is turned into a height above ground using the lowest and highest ground the
    area may have, whichever makes the zone larger (the conservative choice). London's
    ground near the restricted areas lies about 0-30 m AMSL; the outer boroughs reach
    ~245 m, where only AGL zones (the FRZs) lie. ``geoid_m`` is the height of the geoid
    above the WGS84 ellipsoid (about 46 m in London), used for WGS84 limits.
    """

    low_amsl_m: float = 0.0
    high_amsl_m: float = 30.0
    geoid_m: float = 46.0

    def lower_agl(self, limit: Limit) -> float:
        """The lowest height above ground that a lower limit could mean."""
        if limit.ref is VerticalRef.AGL:
            return limit.value_m
        amsl = limit.value_m - (self.geoid_m if limit.ref is VerticalRef.WGS84 else 0.0)
        return amsl - self.high_amsl_m

    def upper_agl(self, limit: Limit) -> float:
        """The highest height above ground that an upper limit could mean."""
        if limit.ref is VerticalRef.AGL:
            return limit.value_m
        amsl = limit.value_m - (self.geoid_m if limit.ref is VerticalRef.WGS84 else 0.0)
        return amsl - self.low_amsl_m


WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True, slots=True)
class DailyPeriod:
    """Active on ``days`` (``MON``..``SUN``) from ``start`` to ``end`` UTC (wraps past midnight
    when ``end <= start``; ``00:00``-``00:00`` means all day)."""

    days: frozenset[str]
    start: time
    end: time

    def intervals(self, day0: datetime, day1: datetime) -> Iterable[tuple[datetime, datetime]]:
        """The concrete intervals of this period that start on days ``day0``..``day1``
        (UTC days, whatever zone the two are given in)."""
        day0 = day0.astimezone(UTC)
        day = datetime(day0.year, day0.month, day0.day, tzinfo=UTC)
        while day <= day1:
            if WEEKDAYS[day.weekday()] in self.days:
                begin = datetime.combine(day.date(), self.start, UTC)
                finish = datetime.combine(day.date(), self.end, UTC)
                if finish <= begin:
                    finish += timedelta(days=1)
                yield begin, finish
            day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """When a zone is active: between ``start`` and ``end`` (either open), and within one of
    the daily periods of ``schedule`` if there is any. Datetimes are timezone-aware UTC."""

    start: datetime | None = None
    end: datetime | None = None
    schedule: tuple[DailyPeriod, ...] = ()

    def contains(self, at: datetime) -> bool:
        return self.overlaps(at, at)

    def overlaps(self, begin: datetime, finish: datetime) -> bool:
        """Is the window active at any instant of ``[begin, finish]``?"""
        lo = max(begin, self.start) if self.start else begin
        hi = min(finish, self.end) if self.end else finish
        if self.end is not None and hi >= self.end and lo >= self.end:
            return False
        if lo > hi:
            return False
        if not self.schedule:
            return True
        for period in self.schedule:
            for a, b in period.intervals(lo - timedelta(days=1), hi):
                if a <= hi and b > lo:
                    return True
        return False


@dataclass(frozen=True, slots=True)
class EntryRule:
    """Which agencies may enter a zone: ``free`` ones without more ado, ``with_permission`` ones
    only with a recorded permission from ``authority``. ``"*"`` stands for any agency."""

    free: frozenset[str] = frozenset()
    with_permission: frozenset[str] = frozenset({ANY_AGENCY})
    authority: str = ""

    def may_enter(self, agency: str, zone_id: str, permissions: Permissions) -> bool:
        if agency in self.free or ANY_AGENCY in self.free:
            return True
        needs = agency in self.with_permission or ANY_AGENCY in self.with_permission
        return needs and (agency, zone_id) in permissions

    def explain(self, agency: str) -> str:
        """Why ``agency`` may not enter, in words an operator understands."""
        if agency in self.with_permission or ANY_AGENCY in self.with_permission:
            who = self.authority or "the zone's authority"
            return f"entry needs a recorded permission from {who}"
        return "entry is not permitted"


@dataclass(frozen=True, slots=True)
class PolygonShape:
    """One or more polygons, each a tuple of closed rings of (lon, lat); the first ring of
    each polygon is its exterior. ``multi`` keeps whether it came as a MultiPolygon."""

    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]
    multi: bool = False


@dataclass(frozen=True, slots=True)
class CircleShape:
    lon: float
    lat: float
    radius_m: float


Shape = PolygonShape | CircleShape


@dataclass(frozen=True)
class Geozone:
    """One restricted volume of airspace, in the units and datums it was published in.

    ``windows`` empty means always active (the AIP's "H24"). ``extra`` keeps every property
    the engine does not interpret (source, remarks, the raw limit text ...), so that an
    export gives back what an import read.
    """

    id: str
    name: str
    kind: ZoneKind
    shape: Shape
    lower: Limit = Limit(0.0)
    upper: Limit = Limit(math.inf)
    windows: tuple[TimeWindow, ...] = ()
    entry: EntryRule = EntryRule()
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def active_at(self, at: datetime) -> bool:
        return not self.windows or any(w.contains(at) for w in self.windows)

    def active_during(self, begin: datetime, finish: datetime) -> bool:
        return not self.windows or any(w.overlaps(begin, finish) for w in self.windows)

    def may_enter(self, agency: str, permissions: Permissions = frozenset()) -> bool:
        return self.entry.may_enter(agency, self.id, permissions)

    @property
    def expires_at(self) -> datetime | None:
        """When the zone stops for good (all windows closed), or None if it never does."""
        if not self.windows or any(w.end is None for w in self.windows):
            return None
        return max(w.end for w in self.windows if w.end is not None)


POLICE_SERVICE_PHRASE = "in the service of the chief officer of police"


def default_entry(kind: ZoneKind, remarks: str = "", police_agency: str = "police") -> EntryRule:
    """The entry rule a zone gets when its data does not state one.

    Prohibited areas admit nobody. FRZs need the aerodrome's ATC permission for everybody.
    Restricted, danger and temporary areas need a recorded permission, except that a
    restricted area whose AIP remarks admit "any aircraft in the service of the Chief
    Officer of Police" (R157-R159 over central London) admits the police freely.
    """
    if kind is ZoneKind.PROHIBITED:
        return EntryRule(with_permission=frozenset())
    if kind is ZoneKind.FRZ:
        return EntryRule(authority="the aerodrome's air traffic service unit or operator")
    free = frozenset({police_agency}) if POLICE_SERVICE_PHRASE in remarks.lower() else frozenset()
    if kind is ZoneKind.TEMPORARY:
        return EntryRule(free=free, authority="the issuing authority")
    return EntryRule(free=free, authority="the appropriate ATC unit (Special Flight Notification)")


def temporary_zone(
    zone_id: str,
    name: str,
    shape: Shape,
    *,
    start: datetime,
    end: datetime,
    lower: Limit = Limit(0.0),
    upper: Limit = Limit(math.inf),
    entry: EntryRule | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Geozone:
    """A temporary restriction active from ``start`` until it expires at ``end``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a temporary restriction needs timezone-aware start and end times")
    if end <= start:
        raise ValueError("a temporary restriction must end after it starts")
    rule = entry if entry is not None else default_entry(ZoneKind.TEMPORARY)
    return Geozone(
        zone_id,
        name,
        ZoneKind.TEMPORARY,
        shape,
        lower,
        upper,
        (TimeWindow(start, end),),
        rule,
        dict(extra or {}),
    )
