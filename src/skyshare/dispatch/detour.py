"""Lower bounds of route lengths that see the zones: the taut string around a disk.

No legal route enters a forbidden zone, so none enters a disk inside one. The shortest
path from ``a`` to ``b`` that avoids an open disk (centre ``c``, radius ``r``) is the
straight segment if that misses the disk, else the "taut string": tangent from ``a``,
arc, tangent to ``b``::

    sqrt(|a-c|^2 - r^2) + sqrt(|b-c|^2 - r^2) + r * (theta - acos(r/|a-c|) - acos(r/|b-c|))

with ``theta`` the angle a-c-b. Its maximum over the disks is a lower bound of every legal
route, far tighter than the straight line when a zone lies across it (London's airport
zones are circles, so their disk is the zone itself). Many segments at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyshare.dispatch.kernels import taut_lengths

SHRINK = 1.0 - 1e-6  # keeps float rounding from putting a disk edge outside its zone


@dataclass(frozen=True)
class Disks:
    """Disks inside forbidden zones, in projected metres."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    r: NDArray[np.float64]

    @classmethod
    def none(cls) -> Disks:
        empty = np.zeros(0)
        return cls(empty, empty, empty)

    def __len__(self) -> int:
        return len(self.r)


def route_length_bounds(
    ax: NDArray[np.float64],
    ay: NDArray[np.float64],
    bx: NDArray[np.float64] | float,
    by: NDArray[np.float64] | float,
    disks: Disks,
) -> NDArray[np.float64]:
    """A lower bound of the legal route length of each segment a->b (at least the straight
    distance). Ends inside a disk have no legal route; their bound is the straight line.

    A decision calls this with one common end (the scene) for a few dozen segments and
    some sixty disks: one compiled pass over the pairs (``kernels.taut_lengths``).
    """
    ax, ay = np.asarray(ax, float), np.asarray(ay, float)
    common = not isinstance(bx, np.ndarray)
    if common:
        bx, by = np.full(len(ax), float(bx)), np.full(len(ax), float(by))  # type: ignore[arg-type]
    else:
        bx, by = np.asarray(bx, float), np.asarray(by, float)
    return taut_lengths(ax, ay, bx, by, disks.x, disks.y, disks.r, SHRINK, common)
