"""The square grid that coverage is measured on: one point per cell, each in one borough.

A cell belongs to the borough that contains its centre, so a borough's share of covered
cells is its share of covered area to within the cell size. Cells whose centre is in no
borough (the tidal Thames of an "excluding MHW" boundary file) are not counted: a
borough's area is its own polygon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from skyshare.airspace.service_area import ServiceArea
from skyshare.domain.errors import InputError


@dataclass(frozen=True)
class Grid:
    """Cell centres in projected metres, with each cell's borough and lattice position.

    ``ix``/``iy`` place the cell on the lattice whose corner is (``x0``, ``y0``), so a
    per-cell value can be drawn as an image of ``ny`` rows by ``nx`` columns.
    """

    cell_m: float
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    borough: NDArray[np.int32]  # index into ``names``
    names: tuple[str, ...]
    x0: float
    y0: float
    ix: NDArray[np.int32]
    iy: NDArray[np.int32]
    nx: int
    ny: int

    def __len__(self) -> int:
        return len(self.x)

    @property
    def cell_area_km2(self) -> float:
        return self.cell_m * self.cell_m / 1e6

    def cells_of(self, name: str) -> NDArray[np.intp]:
        return np.flatnonzero(self.borough == self.names.index(name))

    def counts(self) -> NDArray[np.int64]:
        """Cells per borough, in the order of ``names``."""
        return np.bincount(self.borough, minlength=len(self.names))

    def raster(self, values: NDArray, fill: float = np.nan) -> NDArray[np.float64]:
        """Per-cell values as an ``ny`` x ``nx`` image (row 0 at the south)."""
        image = np.full((self.ny, self.nx), fill, dtype=float)
        image[self.iy, self.ix] = values
        return image


def build_grid(
    area: ServiceArea, cell_m: float = 100.0, boroughs: Sequence[str] | None = None
) -> Grid:
    """A grid of ``cell_m`` cells over the boroughs of ``area`` (all, or those named)."""
    if not cell_m > 0:
        raise InputError("cell_m", f"must be positive, got {cell_m}")
    chosen = list(area.boroughs)
    if boroughs is not None:
        unknown = sorted(set(boroughs) - set(area.names))
        if unknown:
            raise InputError("boroughs", f"unknown borough(s): {', '.join(unknown)}")
        chosen = [b for b in area.boroughs if b.name in set(boroughs)]
    bounds = np.array([b.geometry.bounds for b in chosen])
    x0 = float(np.floor(bounds[:, 0].min() / cell_m) * cell_m)
    y0 = float(np.floor(bounds[:, 1].min() / cell_m) * cell_m)
    nx = int(np.ceil((bounds[:, 2].max() - x0) / cell_m))
    ny = int(np.ceil((bounds[:, 3].max() - y0) / cell_m))
    owner = np.full((ny, nx), -1, dtype=np.int32)
    for index, borough in enumerate(chosen):
        bx0, by0, bx1, by1 = borough.geometry.bounds
        i0, i1 = int((bx0 - x0) // cell_m), int(np.ceil((bx1 - x0) / cell_m))
        j0, j1 = int((by0 - y0) // cell_m), int(np.ceil((by1 - y0) / cell_m))
        jj, ii = np.mgrid[j0:j1, i0:i1]
        cx = x0 + (ii + 0.5) * cell_m
        cy = y0 + (jj + 0.5) * cell_m
        shapely.prepare(borough.geometry)
        inside = shapely.contains_xy(borough.geometry, cx, cy) & (owner[jj, ii] < 0)
        owner[jj[inside], ii[inside]] = index
    iy, ix = np.nonzero(owner >= 0)
    return Grid(
        cell_m=float(cell_m),
        x=x0 + (ix + 0.5) * cell_m,
        y=y0 + (iy + 0.5) * cell_m,
        borough=owner[iy, ix].astype(np.int32),
        names=tuple(b.name for b in chosen),
        x0=x0,
        y0=y0,
        ix=ix.astype(np.int32),
        iy=iy.astype(np.int32),
        nx=nx,
        ny=ny,
    )
