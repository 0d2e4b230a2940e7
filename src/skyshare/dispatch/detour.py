"""Lower bounds of route lengths that see the zones: the taut string around a disk.

No legal route enters a forbidden zone, so none enters a disk inside one. The shortest
path from ``a`` to ``b`` that avoids an open disk (centre ``c``, radius ``r``) is the
straight segment if that misses the disk, else the "taut string": tangent from ``a``,
arc, tangent to ``b``::

    sqrt(|a-c|^2 - r^2) + sqrt(|b-c|^2 - r^2) + r * (theta - acos(r/|a-c|) - acos(r/|b-c|))

with ``theta`` the angle a-c-b. Its maximum over the disks is a lower bound of every legal
route, far tighter than the straight line when a zone lies across it (London's airport
zones are circles, so their disk is the zone itself). Vectorised over segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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

    A decision calls this with one common end (the scene) for a few dozen segments, so it
    is written for numpy's per-call cost: a common end stays a scalar, and clipping is
    ``minimum(maximum(...))`` (``np.clip`` checks its arguments at ten times the cost).
    """
    ax, ay = np.asarray(ax, float), np.asarray(ay, float)
    straight = np.hypot(bx - ax, by - ay)
    if not len(disks) or not len(ax):
        return straight
    common = isinstance(bx, float | int) or np.ndim(bx) == 0
    if common:
        bx, by = float(bx), float(by)  # type: ignore[arg-type]
        # A disk farther from the common end than the longest segment is out of reach.
        reach = np.hypot(disks.x - bx, disks.y - by) - disks.r < straight.max()
        if not reach.any():
            return straight
        disks = Disks(disks.x[reach], disks.y[reach], disks.r[reach])
    else:
        bx = np.broadcast_to(np.asarray(bx, float), ax.shape)
        by = np.broadcast_to(np.asarray(by, float), ax.shape)
    # Only (segment, disk) pairs whose bounding boxes meet can be in each other's way.
    lo_x, hi_x = np.minimum(ax, bx), np.maximum(ax, bx)
    lo_y, hi_y = np.minimum(ay, by), np.maximum(ay, by)
    meet = (
        (lo_x[:, None] < disks.x + disks.r)
        & (hi_x[:, None] > disks.x - disks.r)
        & (lo_y[:, None] < disks.y + disks.r)
        & (hi_y[:, None] > disks.y - disks.r)
    )
    seg, disk = np.nonzero(meet)
    if not len(seg):
        return straight
    seg_ax, seg_ay = ax[seg], ay[seg]
    seg_bx, seg_by = (bx, by) if common else (bx[seg], by[seg])  # type: ignore[index]
    cx, cy, r = disks.x[disk], disks.y[disk], disks.r[disk] * SHRINK
    pax, pay = seg_ax - cx, seg_ay - cy
    pbx, pby = seg_bx - cx, seg_by - cy
    da, db = np.hypot(pax, pay), np.hypot(pbx, pby)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Distance from the centre to the segment: is the disk in the way at all?
        sx, sy = seg_bx - seg_ax, seg_by - seg_ay
        length_sq = sx * sx + sy * sy
        t = np.where(length_sq > 0, _clip(-(pax * sx + pay * sy) / length_sq, 0.0, 1.0), 0.0)
        gap = np.hypot(pax + t * sx, pay + t * sy)
        blocked = (gap < r) & (da > r) & (db > r)
        if not blocked.any():
            return straight  # the common case: no disk across any segment
        # Only the blocked pairs go on (the same figures as computing them all).
        seg, r, da, db = seg[blocked], r[blocked], da[blocked], db[blocked]
        pax, pay, pbx, pby = pax[blocked], pay[blocked], pbx[blocked], pby[blocked]
        cos_theta = _clip((pax * pbx + pay * pby) / (da * db), -1.0, 1.0)
        arc = (
            np.arccos(cos_theta)
            - np.arccos(_clip(r / da, -1.0, 1.0))
            - np.arccos(_clip(r / db, -1.0, 1.0))
        )
        taut = np.sqrt(np.maximum(da * da - r * r, 0.0)) + np.sqrt(np.maximum(db * db - r * r, 0.0))
        taut = taut + r * np.maximum(arc, 0.0)
    out = straight.copy()
    np.maximum.at(out, seg, taut)
    return out


def _clip(x: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.float64]:
    return np.minimum(np.maximum(x, lo), hi)
