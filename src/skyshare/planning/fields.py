"""Legal-route distance fields: from one launch site to every target point at once.

Routing each of ~160,000 grid cells from each of 100 sites one query at a time would take
hours, so a field is computed the way the router itself works, for all targets together:

1. The router's visibility graph (convex corners of the buffered zones an agency may not
   enter, with all-pairs shortest distances between corners) is reused as it is.
2. From the site, the corners it sees give the legal distance ``D[v]`` to every corner
   ``v`` (one numpy minimum over the corners the site sees).
3. A target's legal distance is the straight distance when the site sees it, else the
   least ``D[v] + |v - target|`` over the corners ``v`` that see it along a tangent
   (the last bend of a shortest path is such a corner).
4. "Which targets does a point see" is answered for all targets within the horizon at
   once by casting shadows: sort the targets by bearing from the point; each obstacle
   edge that faces the point hides the targets in its bearing interval that lie beyond
   its line. What a corner sees does not depend on the site, so it is computed once and
   shared by every site.

Targets inside a zone the agency may not enter are unreachable, as the router refuses
them. Targets within the safety buffer (but outside the zone) are reached the way the
router reaches them: at the nearest edge of the buffer, then a short step in.
Distances beyond ``horizon_m`` are not computed (they count as unreachable).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from skyshare.airspace.airspace_map import AirspaceMap
from skyshare.airspace.obstacles import EROSION_M, ObstacleSet
from skyshare.airspace.routing import VERTICAL_MARGIN_M
from skyshare.airspace.visibility import VisibilityGraph

ROUTE_HORIZON_S = 1800.0  # zones active within this of the flight count, as for the router


@dataclass(frozen=True)
class Obstructions:
    """What stands in the way of one agency's flights at one time.

    ``obstacles`` and ``graph`` are the router's own (buffered, simplified zones and their
    visibility graph), so a field's distances are the router's route lengths.
    ``no_entry`` holds the zone footprints in which a flight may neither start nor end.
    """

    obstacles: ObstacleSet
    graph: VisibilityGraph
    no_entry: tuple[BaseGeometry, ...]

    @classmethod
    def for_agency(
        cls,
        airspace: AirspaceMap,
        agency: str,
        *,
        at: datetime,
        permissions: Iterable[tuple[str, str]] = frozenset(),
        cruise_alt_m: float | None = None,
    ) -> Obstructions:
        """The obstructions ``airspace.route`` would use for ``agency`` at ``at``."""
        cruise = airspace.min_cruise_alt_m if cruise_alt_m is None else float(cruise_alt_m)
        until = at + timedelta(seconds=ROUTE_HORIZON_S)
        grants = frozenset(permissions)
        band = (cruise - VERTICAL_MARGIN_M, cruise + VERTICAL_MARGIN_M)
        in_the_way = airspace.forbidden(
            agency, at=at, until=until, permissions=grants, heights=band
        )
        climbing = airspace.forbidden(
            agency, at=at, until=until, permissions=grants, heights=(0.0, band[1])
        )
        entry = airspace.router.graph_for(frozenset(in_the_way))
        return cls(entry.obstacles, entry.graph, tuple(z.geometry for z in climbing))

    @classmethod
    def open_sky(cls) -> Obstructions:
        obstacles = ObstacleSet((), 0.0, 0.0)
        return cls(obstacles, VisibilityGraph(obstacles), ())

    @property
    def signature(self) -> tuple[int, ...]:
        """Equal for two agencies that are obstructed alike (their fields are the same)."""
        return (id(self.obstacles), *sorted(id(g) for g in self.no_entry))


@dataclass(frozen=True)
class SparseField:
    """Legal distances from one source: ``distance_m[k]`` to target ``index[k]``.

    Targets not listed are unreachable or beyond the horizon. ``note`` says why a source
    reaches nothing (e.g. it is inside a zone the agency may not enter).
    """

    index: NDArray[np.int64]
    distance_m: NDArray[np.float64]
    note: str = ""

    def dense(self, size: int) -> NDArray[np.float64]:
        out = np.full(size, np.inf)
        out[self.index] = self.distance_m
        return out


def _edges(polygons: Sequence[BaseGeometry]) -> tuple[NDArray, NDArray]:
    """Every ring edge (start, end), oriented so the obstacle lies on its left."""
    starts, ends = [], []
    for polygon in polygons:
        oriented = shapely.orient_polygons(polygon)
        for part in getattr(oriented, "geoms", [oriented]):
            for ring in (part.exterior, *part.interiors):
                coords = np.asarray(ring.coords)
                starts.append(coords[:-1])
                ends.append(coords[1:])
    if not starts:
        return np.zeros((0, 2)), np.zeros((0, 2))
    return np.concatenate(starts), np.concatenate(ends)


class FieldSolver:
    """Legal distance fields over a fixed set of target points, for one set of obstructions.

    ``x``/``y`` are target positions in projected metres (grid cells, incident positions).
    Build once per obstruction set and target set; ``field_from`` per source.
    """

    def __init__(
        self,
        obstructions: Obstructions,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        horizon_m: float,
    ) -> None:
        self.obstructions = obstructions
        self.horizon_m = float(horizon_m)
        self.size = len(x)
        obstacles, graph = obstructions.obstacles, obstructions.graph
        # The router tests segments against obstacles shrunk by EROSION_M (a route may
        # run along an outline); shadows are cast by the same shrunk outlines.
        eroded = [p.buffer(-EROSION_M, join_style="mitre") for p in obstacles.polygons]
        self._a, self._b = _edges([e for e in eroded if not e.is_empty])
        self._edge_box = np.column_stack(
            [np.minimum(self._a, self._b), np.maximum(self._a, self._b)]
        )  # x0, y0, x1, y1 of each edge
        self.corners = graph.xy
        self._corner_prev, self._corner_next = graph.prev, graph.next
        self._corner_views: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}

        tx, ty = np.asarray(x, float), np.asarray(y, float)
        reachable = np.ones(self.size, dtype=bool)
        for zone in obstructions.no_entry:
            reachable &= ~shapely.intersects_xy(zone, tx, ty)
        # Targets inside an obstacle's buffer are reached through the buffer's nearest edge.
        proxy_x, proxy_y = tx.copy(), ty.copy()
        for polygon, shrunk in zip(obstacles.polygons, eroded, strict=True):
            if shrunk.is_empty:
                continue
            inside = np.flatnonzero(reachable & shapely.contains_xy(shrunk, tx, ty))
            if not len(inside):
                continue
            points = shapely.points(tx[inside], ty[inside])
            steps = shapely.shortest_line(polygon.boundary, points)
            exits = shapely.get_coordinates(steps).reshape(-1, 2, 2)[:, 0]
            proxy_x[inside], proxy_y[inside] = exits[:, 0], exits[:, 1]
            crossing = np.zeros(len(inside), dtype=bool)
            for zone in obstructions.no_entry:
                crossing |= shapely.intersects(steps, zone)
            reachable[inside[crossing]] = False
        self._lead = np.hypot(tx - proxy_x, ty - proxy_y)
        self._targets = np.flatnonzero(reachable)
        self._px, self._py = proxy_x[self._targets], proxy_y[self._targets]
        self._tree = cKDTree(np.column_stack([self._px, self._py])) if len(self._targets) else None
        self.unreachable = ~reachable

    # --- what a point sees ---------------------------------------------------------------

    def _window(self, x: float, y: float, radius: float) -> NDArray[np.int64]:
        """Positions (into ``_targets``) of targets whose proxy is within ``radius``."""
        if self._tree is None or radius <= 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._tree.query_ball_point((x, y), radius), dtype=np.int64)

    def visible(
        self, x: float, y: float, radius: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Targets (positions into ``_targets``) that (x, y) sees within ``radius``, and
        their straight distances."""
        window = self._window(x, y, radius)
        if not len(window):
            return window, np.zeros(0)
        dx, dy = self._px[window] - x, self._py[window] - y
        hidden = self._shadowed(x, y, dx, dy, radius)
        keep = ~hidden
        return window[keep], np.hypot(dx[keep], dy[keep])

    def _shadowed(
        self, x: float, y: float, dx: NDArray, dy: NDArray, radius: float
    ) -> NDArray[np.bool_]:
        hidden = np.zeros(len(dx), dtype=bool)
        if not len(self._a):
            return hidden
        box = self._edge_box
        near = (
            (box[:, 0] <= x + radius)
            & (box[:, 2] >= x - radius)
            & (box[:, 1] <= y + radius)
            & (box[:, 3] >= y - radius)
        )
        a, b = self._a[near], self._b[near]
        ex, ey = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
        # An edge hides something only if the point is on its free (right) side.
        facing = ex * (y - a[:, 1]) - ey * (x - a[:, 0]) < 0
        a, b = a[facing], b[facing]
        if not len(a):
            return hidden
        bearing = np.arctan2(dy, dx)
        order = np.argsort(bearing)
        sorted_bearing = bearing[order]
        start_bearing = np.arctan2(a[:, 1] - y, a[:, 0] - x)
        end_bearing = np.arctan2(b[:, 1] - y, b[:, 0] - x)
        # Seen from the point, an edge with the point on its right runs clockwise, from
        # its start's bearing down to its end's: it spans [end, start] counter-clockwise.
        lo = np.searchsorted(sorted_bearing, end_bearing, side="right")
        hi = np.searchsorted(sorted_bearing, start_bearing, side="left")
        tx, ty = dx + x, dy + y
        for k in range(len(a)):
            if end_bearing[k] <= start_bearing[k]:
                rows = order[lo[k] : hi[k]]
            else:  # the interval wraps past the bearing pi
                rows = np.concatenate([order[lo[k] :], order[: hi[k]]])
            if not len(rows):
                continue
            ax, ay = a[k]
            ex_k, ey_k = b[k, 0] - ax, b[k, 1] - ay
            beyond = ex_k * (ty[rows] - ay) - ey_k * (tx[rows] - ax) > 0
            hidden[rows[beyond]] = True
        return hidden

    def _corner_view(self, corner: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Targets a corner sees along a tangent (the last leg of a route bending there)."""
        view = self._corner_views.get(corner)
        if view is None:
            cx, cy = self.corners[corner]
            seen, dist = self.visible(float(cx), float(cy), self.horizon_m)
            tangent = _tangent(
                self._px[seen] - cx,
                self._py[seen] - cy,
                self.corners[corner],
                self._corner_prev[corner],
                self._corner_next[corner],
            )
            view = (seen[tangent], dist[tangent])
            self._corner_views[corner] = view
        return view

    # --- fields ---------------------------------------------------------------------------

    def field_from(self, x: float, y: float) -> SparseField:
        """Legal distances from the source (x, y) to every target within the horizon."""
        start, lead, note = self._leave_buffer(x, y)
        if start is None:
            return SparseField(np.zeros(0, np.int64), np.zeros(0), note)
        sx, sy = start
        budget = self.horizon_m - lead
        best = np.full(len(self._targets), np.inf)
        seen, dist = self.visible(sx, sy, budget)
        best[seen] = dist
        graph = self.obstructions.graph
        if len(graph):
            corners, reach = graph.visible_from(sx, sy)
            if len(corners):
                to_corner = (reach[:, None] + graph.dist[corners]).min(axis=0)
                for corner in np.flatnonzero(to_corner < budget):
                    rows, r = self._corner_view(int(corner))
                    via = to_corner[corner] + r
                    better = via < best[rows]
                    best[rows[better]] = via[better]
        total = best + lead + self._lead[self._targets]
        keep = np.flatnonzero(total <= self.horizon_m)
        return SparseField(self._targets[keep], total[keep], note)

    def _leave_buffer(self, x: float, y: float) -> tuple[tuple[float, float] | None, float, str]:
        """Where a flight from (x, y) starts its free path, how far that is, or why none."""
        for zone in self.obstructions.no_entry:
            if shapely.intersects_xy(zone, x, y):
                return None, 0.0, "the site is inside a zone this agency may not enter"
        around = self.obstructions.obstacles.containing(x, y)
        if around is None:
            return (x, y), 0.0, ""
        step = shapely.shortest_line(around.boundary, shapely.Point(x, y))
        ex, ey = shapely.get_coordinates(step)[0]
        if any(shapely.intersects(step, zone) for zone in self.obstructions.no_entry):
            return None, 0.0, "the site cannot leave the safety buffer without entering a zone"
        return (float(ex), float(ey)), math.hypot(ex - x, ey - y), ""


def _tangent(
    dx: NDArray, dy: NDArray, at: NDArray, prev: NDArray, nxt: NDArray
) -> NDArray[np.bool_]:
    """Does the line from the corner towards (dx, dy) leave both ring neighbours on one
    side (graze the obstacle rather than enter it)? The router's own rule."""
    px, py = prev[0] - at[0], prev[1] - at[1]
    qx, qy = nxt[0] - at[0], nxt[1] - at[1]
    length = np.hypot(dx, dy) + 1e-12
    sin_prev = (dx * py - dy * px) / (length * (math.hypot(px, py) + 1e-12))
    sin_next = (dx * qy - dy * qx) / (length * (math.hypot(qx, qy) + 1e-12))
    return sin_prev * sin_next >= -1e-9
