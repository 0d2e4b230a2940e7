"""Replay real incidents from a data.police.uk street-level crime CSV.

police.uk publishes the month of each crime, never the day or time, so a replay spreads
each month's records uniformly over that month, deterministically for a seed. Reading
the file (``read_police_csv``) is the only I/O; everything else is pure.

Both the project's shared copy (``crime_id, month, lat, lon, type, borough``) and a raw
police.uk download (``Crime ID, Month, Latitude, Longitude, Crime type``; no borough) are
read. Rows without a location, which police.uk publishes for some crimes, are skipped and
counted.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np

from simulators.incidents.records import GeneratedIncident
from skyshare.airspace.service_area import ServiceArea
from skyshare.domain import POLICE, InputError, Priority

# Column -> the headers it may have (project copy first, then police.uk's own).
COLUMNS: dict[str, tuple[str, ...]] = {
    "crime_id": ("crime_id", "Crime ID"),
    "month": ("month", "Month"),
    "lat": ("lat", "Latitude"),
    "lon": ("lon", "Longitude"),
    "type": ("type", "Crime type"),
    "borough": ("borough",),
}
REQUIRED = ("month", "lat", "lon", "type")

# police.uk crime types -> the incident kind a drone would fly for. Types with no sensible
# drone task (drugs, shoplifting, ...) are left out on purpose: pass your own mapping.
DEFAULT_KIND_BY_TYPE: dict[str, str] = {
    "Burglary": "burglary",
    "Robbery": "suspect_search",
    "Theft from the person": "suspect_search",
    "Vehicle crime": "suspect_search",
    "Violence and sexual offences": "suspect_search",
    "Criminal damage and arson": "suspect_search",
    "Possession of weapons": "firearms",
    "Public order": "public_disorder",
    "Anti-social behaviour": "public_disorder",
}


@dataclass(frozen=True, slots=True)
class CrimeRecord:
    """One row: ``month`` is ``YYYY-MM``; ``borough`` is empty when the file has none."""

    crime_id: str
    month: str
    lat: float
    lon: float
    crime_type: str
    borough: str
    row: int  # line number in the file, for error messages


@dataclass(frozen=True)
class PoliceCsv:
    records: tuple[CrimeRecord, ...]
    skipped_without_location: int
    source: str


def read_police_csv(path: str | Path) -> PoliceCsv:
    """Read and check a police.uk-style CSV. Bad values fail naming the file, row and column."""
    source = str(path)
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        columns = {
            key: next((h for h in names if h in header), None) for key, names in COLUMNS.items()
        }
        for key in REQUIRED:
            if columns[key] is None:
                raise InputError(
                    key,
                    f"missing column (one of {', '.join(COLUMNS[key])}; "
                    f"found: {', '.join(header) or 'nothing'})",
                    source=source,
                )
        records, skipped = [], 0
        for line, row in enumerate(reader, start=2):
            value = {
                key: (row.get(col) or "").strip() if col else "" for key, col in columns.items()
            }
            if not value["lat"] and not value["lon"]:
                skipped += 1
                continue
            item = f"row {line}"
            _month_start(value["month"], source=source, item=item)  # validates
            records.append(
                CrimeRecord(
                    crime_id=value["crime_id"],
                    month=value["month"],
                    lat=_coordinate(value["lat"], "lat", 90.0, source, item),
                    lon=_coordinate(value["lon"], "lon", 180.0, source, item),
                    crime_type=value["type"],
                    borough=value["borough"],
                    row=line,
                )
            )
    return PoliceCsv(tuple(records), skipped, source)


def replay(
    records: Iterable[CrimeRecord],
    seed: int,
    *,
    kind_by_type: Mapping[str, str] = DEFAULT_KIND_BY_TYPE,
    priority: Priority = Priority.P2,
    agency: str = POLICE,
    service_area: ServiceArea | None = None,
    source: str = "",
) -> list[GeneratedIncident]:
    """Each record once, at a time drawn uniformly within its month; sorted by time.

    With ``service_area``, a record's borough is the one its point falls in (a river point:
    the nearest); otherwise, and for points outside the area, the file's own borough.
    """
    records = list(records)
    rng = np.random.default_rng(seed)
    fractions = rng.random(len(records))
    incidents = []
    for record, fraction in zip(records, fractions, strict=True):
        item = f"row {record.row}"
        kind = kind_by_type.get(record.crime_type)
        if kind is None:
            raise InputError(
                "type",
                f"no incident kind for crime type {record.crime_type!r}; "
                "pass kind_by_type to map it",
                source=source,
                item=item,
            )
        start = _month_start(record.month, source=source, item=item)
        length_s = (_next_month(start) - start).total_seconds()
        borough = record.borough
        if service_area is not None:
            borough = service_area.borough_of(record.lat, record.lon) or borough
        incidents.append(
            GeneratedIncident(
                at=start + timedelta(seconds=math.floor(fraction * length_s)),
                agency=agency,
                priority=priority,
                kind=kind,
                lat=record.lat,
                lon=record.lon,
                borough=borough,
                external_id=record.crime_id or f"row-{record.row}",
            )
        )
    incidents.sort(key=lambda inc: (inc.at, inc.external_id))
    return incidents


def replay_csv(
    path: str | Path,
    seed: int,
    *,
    kind_by_type: Mapping[str, str] = DEFAULT_KIND_BY_TYPE,
    priority: Priority = Priority.P2,
    agency: str = POLICE,
    service_area: ServiceArea | None = None,
) -> list[GeneratedIncident]:
    """``replay`` of the rows of a police.uk CSV (rows without a location are skipped)."""
    data = read_police_csv(path)
    return replay(
        data.records,
        seed,
        kind_by_type=kind_by_type,
        priority=priority,
        agency=agency,
        service_area=service_area,
        source=data.source,
    )


class _HasBorough(Protocol):
    @property
    def borough(self) -> str: ...


def borough_weights(
    items: Iterable[_HasBorough], boroughs: Iterable[str] | None = None
) -> dict[str, float]:
    """Incidents per borough, as weights for ``poisson_incidents``.

    With ``boroughs`` (e.g. ``service_area.names``) every one of them is present (zero if
    it had none) and items from elsewhere are left out.
    """
    counts = Counter(item.borough for item in items if item.borough)
    if boroughs is None:
        return {name: float(n) for name, n in sorted(counts.items())}
    return {name: float(counts.get(name, 0)) for name in sorted(set(boroughs))}


def borough_weights_csv(
    path: str | Path, boroughs: Iterable[str] | None = None
) -> dict[str, float]:
    """``borough_weights`` of a CSV that has a borough column."""
    data = read_police_csv(path)
    if not any(r.borough for r in data.records):
        raise InputError(
            "borough",
            "the file has no borough values; replay it with a "
            "service_area and weigh the result instead",
            source=data.source,
        )
    return borough_weights(data.records, boroughs)


def _coordinate(text: str, name: str, limit: float, source: str, item: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            name, f"expected a number, got {text!r}", source=source, item=item
        ) from None
    if not (math.isfinite(value) and -limit <= value <= limit):
        raise InputError(
            name, f"{text} is outside [-{limit:g}, {limit:g}]", source=source, item=item
        )
    return value


def _month_start(text: str, *, source: str, item: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(
            "month", f"expected YYYY-MM, got {text!r}", source=source, item=item
        ) from None


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)
