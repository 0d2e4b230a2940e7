"""Synthetic incident streams: Poisson arrivals, a borough by weight, a point inside it.

Pure and deterministic: the same arguments and seed give the same list, and nothing here
reads a clock or a file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from simulators.incidents.records import GeneratedIncident, KindShare
from skyshare.airspace.service_area import ServiceArea
from skyshare.domain import InputError

SECONDS_PER_WEEK = 7 * 86_400.0


def poisson_incidents(
    rate_per_week: float,
    days: float,
    weights_by_borough: Mapping[str, float],
    kinds_mix: Sequence[KindShare],
    service_area: ServiceArea,
    seed: int,
    start: datetime,
) -> list[GeneratedIncident]:
    """``days`` of calls arriving as a Poisson process of ``rate_per_week`` (all agencies).

    Each call falls in a borough drawn by ``weights_by_borough`` (relative, e.g. counts from
    ``borough_weights``), at a point uniform over that borough's polygon, with an agency,
    kind and priority drawn from ``kinds_mix`` (``DEFAULT_MIX`` is an assumed realistic
    one). Sorted by time; ``start`` is timezone-aware and the window is [start, start+days).
    """
    if start.tzinfo is None:
        raise InputError("start", "needs a timezone-aware datetime (e.g. UTC)")
    if not (math.isfinite(rate_per_week) and rate_per_week >= 0):
        raise InputError("rate_per_week", f"{rate_per_week} is not a rate >= 0")
    if not (math.isfinite(days) and days > 0):
        raise InputError("days", f"{days} is not a duration > 0")
    boroughs, borough_p = _normalised_weights(weights_by_borough, service_area)
    mix_p = _mix_probabilities(kinds_mix)

    rng = np.random.default_rng(seed)
    duration_s = days * 86_400.0
    count = int(rng.poisson(rate_per_week * duration_s / SECONDS_PER_WEEK))
    # Given the count, Poisson arrival times are independent and uniform over the window.
    offsets_s = np.sort(rng.uniform(0.0, duration_s, count))
    borough_index = rng.choice(len(boroughs), size=count, p=borough_p)
    mix_index = rng.choice(len(kinds_mix), size=count, p=mix_p)

    lat = np.empty(count)
    lon = np.empty(count)
    for b, name in enumerate(boroughs):
        rows = np.flatnonzero(borough_index == b)
        if len(rows):
            x, y = points_in(service_area.geometry_of(name), len(rows), rng)
            lon[rows], lat[rows] = service_area.projection.to_wgs84(x, y)

    incidents = []
    for i in range(count):
        share = kinds_mix[int(mix_index[i])]
        incidents.append(
            GeneratedIncident(
                at=start + timedelta(seconds=float(offsets_s[i])),
                agency=share.agency,
                priority=share.priority,
                kind=share.kind,
                lat=float(lat[i]),
                lon=float(lon[i]),
                borough=boroughs[int(borough_index[i])],
                external_id=f"poisson-{seed}-{i:06d}",
            )
        )
    return incidents


def points_in(
    geometry: BaseGeometry, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform over ``geometry`` (projected metres), by vectorised rejection."""
    x0, y0, x1, y1 = geometry.bounds
    fill = geometry.area / ((x1 - x0) * (y1 - y0))
    shapely.prepare(geometry)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < n:
        # Draw enough that one round usually suffices, however ragged the polygon.
        batch = int((n - have) / fill * 1.25) + 16
        x = rng.uniform(x0, x1, batch)
        y = rng.uniform(y0, y1, batch)
        keep = shapely.contains_xy(geometry, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _normalised_weights(
    weights: Mapping[str, float], area: ServiceArea
) -> tuple[list[str], np.ndarray]:
    known = set(area.names)
    names = sorted(weights)
    for name in names:
        if name not in known:
            raise InputError("weights_by_borough", f"unknown borough {name!r}")
        w = weights[name]
        if not (isinstance(w, int | float) and math.isfinite(w) and w >= 0):
            raise InputError("weights_by_borough", f"weight of {name!r} must be >= 0, got {w!r}")
    total = float(sum(weights[n] for n in names))
    if total <= 0:
        raise InputError("weights_by_borough", "needs at least one borough with weight > 0")
    return names, np.array([weights[n] / total for n in names])


def _mix_probabilities(mix: Sequence[KindShare]) -> np.ndarray:
    if not mix:
        raise InputError("kinds_mix", "is empty")
    weights = np.array([share.weight for share in mix], dtype=float)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise InputError("kinds_mix", "weights must be >= 0 with a positive total")
    return weights / weights.sum()
