"""Response times from many launch points to many targets, kept sparse.

A ``TravelTimes`` holds, for each source (an existing site or a candidate), the targets it
reaches within the horizon by a legal route and the seconds it takes its drone model.
Coverage, site optimisation and the maps all read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from skyshare.domain.models import DroneModel
from skyshare.planning.fields import FieldSolver
from skyshare.planning.response import ResponseModel


@dataclass(frozen=True)
class Source:
    """A launch point: where it is (projected metres) and the drone that would fly."""

    id: str
    x: float
    y: float
    model: DroneModel


class TravelTimes:
    """Seconds from each source to each target it reaches within ``horizon_s``."""

    def __init__(
        self,
        sources: Sequence[Source],
        solver: FieldSolver,
        response: ResponseModel,
        horizon_s: float,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.sources = tuple(sources)
        self.size = solver.size
        self.horizon_s = float(horizon_s)
        self.index: list[NDArray[np.int64]] = []
        self.seconds: list[NDArray[np.float64]] = []
        self.notes: dict[str, str] = {}
        for source in self.sources:
            timing = response.of(source.model)
            field = solver.field_from(source.x, source.y)
            seconds = timing.seconds(field.distance_m)
            keep = seconds <= self.horizon_s
            self.index.append(field.index[keep])
            self.seconds.append(seconds[keep])
            if field.note:
                self.notes[source.id] = field.note
            if progress is not None:
                progress(1)

    def __len__(self) -> int:
        return len(self.sources)

    def best(self, chosen: Iterable[int] | None = None) -> NDArray[np.float64]:
        """Per target, the least seconds over the ``chosen`` sources (all by default);
        ``inf`` where none reaches it within the horizon."""
        out = np.full(self.size, np.inf)
        for k in range(len(self.sources)) if chosen is None else chosen:
            rows, seconds = self.index[k], self.seconds[k]
            out[rows] = np.minimum(out[rows], seconds)
        return out

    def cover_matrix(self, within_s: float) -> sparse.csr_matrix:
        """Sources x targets, 1 where the source reaches the target within ``within_s``."""
        rows, cols = [], []
        for k, (index, seconds) in enumerate(zip(self.index, self.seconds, strict=True)):
            hit = index[seconds <= within_s]
            rows.append(np.full(len(hit), k, dtype=np.int64))
            cols.append(hit)
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        data = np.ones(len(r), dtype=np.int8)
        return sparse.csr_matrix((data, (r, c)), shape=(len(self.sources), self.size))
