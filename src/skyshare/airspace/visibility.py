"""The visibility graph among obstacle corners, and shortest paths on it.

A shortest path around polygons bends only at convex corners, and only where it runs
tangent to the obstacle on both sides of the corner. So the graph keeps convex corners as
nodes and, as edges, the unobstructed segments tangent at both ends (the "reduced"
visibility graph: the same shortest paths as the full one, with far fewer edges). Edges
live in a networkx graph; all-pairs distances between corners are computed once with
scipy, so a query only has to find which corners its two endpoints see.
"""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import shortest_path

from skyshare.airspace.obstacles import ObstacleSet

ROW_CHUNK = 256


def _cross(ax: NDArray, ay: NDArray, bx: NDArray, by: NDArray) -> NDArray:
    return ax * by - ay * bx


class VisibilityGraph:
    """Convex obstacle corners, the tangent segments between them, and all-pairs distances."""

    def __init__(self, obstacles: ObstacleSet) -> None:
        self.obstacles = obstacles
        xy, prev, nxt = _convex_corners(obstacles)
        self.xy, self.prev, self.next = xy, prev, nxt
        self._x, self._y = xy[:, 0].copy(), xy[:, 1].copy()
        self._neighbours = _neighbours(xy, prev, nxt)  # what every tangent test reuses
        self.graph = nx.Graph()
        self.graph.add_nodes_from((i, {"xy": (float(x), float(y))}) for i, (x, y) in enumerate(xy))
        for i, j, length in self._edges():
            self.graph.add_edge(i, j, weight=length)
        n = len(xy)
        if n:
            matrix = nx.to_scipy_sparse_array(self.graph, nodelist=range(n), weight="weight")
            self.dist, self.pred = shortest_path(
                matrix, method="D", directed=False, return_predecessors=True
            )
        else:
            self.dist = np.zeros((0, 0))
            self.pred = np.zeros((0, 0), dtype=np.int32)

    def __len__(self) -> int:
        return len(self.xy)

    def tangent_mask(self, x: float, y: float) -> NDArray[np.bool_]:
        """Corners where a line from (x, y) grazes the obstacle instead of entering it."""
        return _grazes(self._x - x, self._y - y, *self._neighbours)

    def visible_from(self, x: float, y: float) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Corners that (x, y) sees along a tangent, and their distances."""
        candidates = np.nonzero(self.tangent_mask(x, y))[0]
        if not len(candidates):
            return candidates, np.zeros(0)
        clear = ~self.obstacles.blocked(rays(x, y, self.xy[candidates]))
        seen = candidates[clear]
        return seen, np.hypot(self.xy[seen, 0] - x, self.xy[seen, 1] - y)

    def path(self, i: int, j: int) -> list[int]:
        """Corner indices of the shortest path from corner i to corner j."""
        nodes = [j]
        while nodes[-1] != i:
            nodes.append(int(self.pred[i, nodes[-1]]))
        return nodes[::-1]

    def _edges(self) -> Iterator[tuple[int, int, float]]:
        xy, n = self.xy, len(self.xy)
        for row0 in range(0, n, ROW_CHUNK):
            rows = np.arange(row0, min(n, row0 + ROW_CHUNK))
            dx = xy[None, :, 0] - xy[rows, None, 0]
            dy = xy[None, :, 1] - xy[rows, None, 1]
            at_start = _tangent(
                dx, dy, xy[rows, None], self.prev[rows, None], self.next[rows, None]
            )
            at_end = _tangent(dx, dy, xy[None, :], self.prev[None, :], self.next[None, :])
            upper = np.arange(n)[None, :] > rows[:, None]
            ii, jj = np.nonzero(at_start & at_end & upper)
            if not len(ii):
                continue
            ii = rows[ii]
            lines = shapely.linestrings(np.stack([xy[ii], xy[jj]], axis=1))
            clear = ~self.obstacles.blocked(lines)
            lengths = np.hypot(*(xy[jj] - xy[ii]).T)
            for a, b, length in zip(ii[clear], jj[clear], lengths[clear], strict=True):
                yield int(a), int(b), float(length)


def rays(x: float, y: float, ends: NDArray) -> NDArray[np.object_]:
    """Segments from (x, y) to each of ``ends`` (n x 2)."""
    coords = np.empty((len(ends), 2, 2))
    coords[:, 0, 0], coords[:, 0, 1] = x, y
    coords[:, 1] = ends
    return shapely.linestrings(coords)


def _tangent(dx: NDArray, dy: NDArray, at: NDArray, prev: NDArray, nxt: NDArray) -> NDArray:
    """Do both ring neighbours of each corner lie on one side of the line (dx, dy) through it?"""
    return _grazes(dx, dy, *_neighbours(at, prev, nxt))


def _neighbours(at: NDArray, prev: NDArray, nxt: NDArray) -> tuple[NDArray, ...]:
    """Each corner's vectors to its two ring neighbours, with their lengths."""
    px, py = prev[..., 0] - at[..., 0], prev[..., 1] - at[..., 1]
    nx_, ny_ = nxt[..., 0] - at[..., 0], nxt[..., 1] - at[..., 1]
    return px, py, np.hypot(px, py) + 1e-12, nx_, ny_, np.hypot(nx_, ny_) + 1e-12


def _grazes(
    dx: NDArray,
    dy: NDArray,
    px: NDArray,
    py: NDArray,
    p_length: NDArray,
    nx_: NDArray,
    ny_: NDArray,
    n_length: NDArray,
) -> NDArray[np.bool_]:
    """``_tangent`` given the neighbours (``_neighbours``)."""
    length = np.hypot(dx, dy) + 1e-12
    sin_prev = _cross(dx, dy, px, py) / (length * p_length)
    sin_next = _cross(dx, dy, nx_, ny_) / (length * n_length)
    # Nearly collinear neighbours count as tangent: an extra candidate edge is harmless.
    return sin_prev * sin_next >= -1e-9


def _convex_corners(obstacles: ObstacleSet) -> tuple[NDArray, NDArray, NDArray]:
    points, prevs, nexts = [], [], []
    for polygon in obstacles.polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            coords = np.asarray(ring.coords)[:-1]
            if len(coords) < 3:
                continue
            prev = np.roll(coords, 1, axis=0)
            nxt = np.roll(coords, -1, axis=0)
            # Oriented rings keep the obstacle on the left, so a left turn is a convex corner.
            turn = _cross(
                coords[:, 0] - prev[:, 0],
                coords[:, 1] - prev[:, 1],
                nxt[:, 0] - coords[:, 0],
                nxt[:, 1] - coords[:, 1],
            )
            convex = turn > 0
            points.append(coords[convex])
            prevs.append(prev[convex])
            nexts.append(nxt[convex])
    if not points:
        empty = np.zeros((0, 2))
        return empty, empty, empty
    return np.concatenate(points), np.concatenate(prevs), np.concatenate(nexts)
