"""Cover: which expected demand each site can reach soon, and what sending a drone costs.

When two drones would arrive at nearly the same time, the better choice is the one whose
absence leaves less of the city without a drone in the next minutes. A site "covers" a
demand point within ``cover_radius_m`` (straight line). Taking a drone from a site that
keeps another ready drone costs nothing; taking the last ready drone of a site costs the
weight of the demand points that no other site with a ready drone covers.

The site-by-point cover matrix is computed once; each tie-break is a few numpy sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyshare.domain.errors import InputError
from skyshare.domain.models import GeoPoint, LaunchSite
from skyshare.geo import Projection, projection


@dataclass(frozen=True)
class Demand:
    """Where calls are expected, with a weight each (calls per hour, or a count)."""

    points: tuple[GeoPoint, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.points) != len(self.weights):
            raise InputError(
                "weights", f"{len(self.weights)} weights for {len(self.points)} points"
            )
        if any(not w >= 0 for w in self.weights):
            raise InputError("weights", "every weight must be zero or more")

    @classmethod
    def uniform(cls, points: Sequence[GeoPoint]) -> Demand:
        return cls(tuple(points), (1.0,) * len(points))


class CoverIndex:
    """Which sites cover which demand points."""

    def __init__(
        self,
        sites: Mapping[str, LaunchSite],
        demand: Demand,
        radius_m: float,
        proj: Projection | None = None,
    ) -> None:
        proj = proj or projection()
        self.site_ids: tuple[str, ...] = tuple(sites)
        self.site_index = {s: i for i, s in enumerate(self.site_ids)}
        sx, sy = proj.to_metric(
            [s.position.lon for s in sites.values()], [s.position.lat for s in sites.values()]
        )
        px, py = proj.to_metric([p.lon for p in demand.points], [p.lat for p in demand.points])
        dist = np.hypot(np.subtract.outer(sx, px), np.subtract.outer(sy, py))
        self.covers: NDArray[np.bool_] = dist <= radius_m
        self.weights = np.asarray(demand.weights, float)

    def losses(
        self,
        ready: Mapping[str, int],
        site_ids: Sequence[str | None],
        memo: dict[object, object] | None = None,
    ) -> list[float]:
        """Demand weight left uncovered by taking one ready drone from each of ``site_ids``
        (each considered alone; ``None`` for a drone not on a dock, which costs nothing).
        ``ready`` counts the ready drones on each site's docks; ``memo`` (a fleet view's)
        keeps the per-point cover count between decisions on the same view."""
        out = []
        covered_by = None
        for site_id in site_ids:
            i = self.site_index.get(site_id) if site_id is not None else None
            if i is None or ready.get(site_id, 0) != 1:
                out.append(0.0)  # another drone stays, or it was not covering anything
                continue
            if covered_by is None:
                covered_by = self._covered_by(ready, memo)
            alone = self.covers[i] & (covered_by == 1)
            out.append(float(self.weights[alone].sum()))
        return out

    def _covered_by(
        self, ready: Mapping[str, int], memo: dict[object, object] | None
    ) -> NDArray[np.int64]:
        key = ("covered_by", id(self), id(ready))
        found = memo.get(key) if memo is not None else None
        if found is None:
            count = np.array([ready.get(s, 0) for s in self.site_ids], np.int64)
            found = self.covers[count > 0].sum(axis=0)
            if memo is not None:
                memo[key] = found
        return found  # type: ignore[return-value]
