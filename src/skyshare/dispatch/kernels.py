"""Compiled loops (numba) for the parts of a decision that visit every drone, every dock,
or every pair of a segment and a zone: the screen of the fleet, the docks' energy
bounds, the taut-string bounds around zones, and which straight segments meet a zone.

Written with numpy (or shapely), each was dozens of calls on a few hundred or a thousand
numbers, and a decision paid the cost per call more than the arithmetic: a third of a
decision. Here each is one pass, the same arithmetic in the same order, so the same
floats (``tests/unit/test_dispatch_kernels.py`` checks them against numpy and GEOS).

Compiled on first use, and cached on disk beside this file; ``warm_up`` does it at
start-up. numba is imported then too: its import alone takes a second, which tools that
never decide should not pay. ``NUMBA_DISABLE_JIT=1`` runs them as plain Python, for a
debugger (Python's own ``math.hypot`` may then differ in the last bit).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

F = TypeVar("F", bound=Callable[..., Any])


def floats(*values: float) -> tuple[float, ...]:
    """Plain floats (a setting read as 15 is an int): a kernel is compiled per argument
    type, and one set of types should do."""
    return tuple(float(v) for v in values)


HELPERS: list[str] = []  # functions the kernels call, compiled before any kernel


def helper(fn: F) -> F:
    """A function the kernels call: compiled (and inlined) with them, plain Python before."""
    HELPERS.append(fn.__name__)
    return fn


def njit(fn: F) -> F:
    """``fn`` compiled by numba when first called: cached on disk, and dividing by zero as
    numpy does (inf or nan, not an exception)."""
    compiled: Callable[..., Any] | None = None

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        nonlocal compiled
        if compiled is None:
            import numba

            for name in HELPERS:  # a kernel sees the compiled helpers among its globals
                if not isinstance(globals()[name], numba.core.dispatcher.Dispatcher):
                    globals()[name] = numba.njit(inline="always", error_model="numpy")(
                        globals()[name]
                    )
            compiled = numba.njit(cache=True, error_model="numpy")(fn)
        return compiled(*args)

    return call  # type: ignore[return-value]


@helper
def straight_cruise_s(
    dx: float, dy: float, dist: float, airspeed: float, wind_e: float, wind_n: float
) -> float:
    """Seconds to cruise the offset (dx, dy), ``dist`` long, at ``airspeed`` in the wind
    (east, north): ``Wind.ground_speed`` along the track; inf where the wind wins."""
    if wind_e == 0.0 and wind_n == 0.0:
        return dist / airspeed
    if not dist > 0:
        return 0.0
    along = wind_e * (dx / dist) + wind_n * (dy / dist)
    slack = airspeed**2 - (wind_e**2 + wind_n**2 - along * along)
    ground = along + math.sqrt(max(slack, 0.0))
    return dist / ground if slack >= 0 and ground > 0 else math.inf


@njit
def taut_lengths(
    ax: NDArray[np.float64],
    ay: NDArray[np.float64],
    bx: NDArray[np.float64],
    by: NDArray[np.float64],
    cx: NDArray[np.float64],
    cy: NDArray[np.float64],
    cr: NDArray[np.float64],
    shrink: float,
    common: bool,
) -> NDArray[np.float64]:
    """For each segment a->b, the longest taut string around the disks (centre, radius)
    it crosses, or its straight length (see ``detour.route_length_bounds``). With a
    ``common`` end b, disks farther from it than the longest segment are skipped."""
    n, m = len(ax), len(cx)
    out = np.empty(n)
    longest = 0.0
    for s in range(n):
        out[s] = math.hypot(bx[s] - ax[s], by[s] - ay[s])
        longest = max(longest, out[s])
    for k in range(m):
        if common and n and math.hypot(cx[k] - bx[0], cy[k] - by[0]) - cr[k] >= longest:
            continue
        r = cr[k] * shrink
        for s in range(n):
            # Only a disk whose bounding box meets the segment's can be in its way.
            if not (
                min(ax[s], bx[s]) < cx[k] + cr[k]
                and max(ax[s], bx[s]) > cx[k] - cr[k]
                and min(ay[s], by[s]) < cy[k] + cr[k]
                and max(ay[s], by[s]) > cy[k] - cr[k]
            ):
                continue
            pax, pay = ax[s] - cx[k], ay[s] - cy[k]
            pbx, pby = bx[s] - cx[k], by[s] - cy[k]
            da, db = math.hypot(pax, pay), math.hypot(pbx, pby)
            sx, sy = bx[s] - ax[s], by[s] - ay[s]
            length_sq = sx * sx + sy * sy
            t = 0.0
            if length_sq > 0:
                t = min(max(-(pax * sx + pay * sy) / length_sq, 0.0), 1.0)
            gap = math.hypot(pax + t * sx, pay + t * sy)
            if not (gap < r and da > r and db > r):
                continue
            cos_theta = min(max((pax * pbx + pay * pby) / (da * db), -1.0), 1.0)
            arc = (
                math.acos(cos_theta)
                - math.acos(min(max(r / da, -1.0), 1.0))
                - math.acos(min(max(r / db, -1.0), 1.0))
            )
            taut = math.sqrt(max(da * da - r * r, 0.0)) + math.sqrt(max(db * db - r * r, 0.0))
            taut = taut + r * max(arc, 0.0)
            out[s] = max(out[s], taut)
    return out


@njit
def screen_fleet(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    alt: NDArray[np.float64],
    battery: NDArray[np.float64],
    status: NDArray[np.int8],
    task_priority: NDArray[np.int8],
    model: tuple[NDArray[np.float64], ...],
    group_of: NDArray[np.intp],
    allowed: tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]],
    by_status: tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]],
    floors: tuple[NDArray[np.float64], NDArray[np.float64]],
    scene: tuple[float, float, float, float, float],
    cfg: tuple[float, float, float, float, float, float, float, float],
    priority: int,
    preempt: bool,
    relief_task: bool,
    use_bounds: bool,
    codes: NDArray[np.int8],
) -> tuple[NDArray, ...]:
    """Every drone's lower bounds to the scene and its screen verdict, in one pass.

    ``model``: per drone (speed, climb rate, descent rate, hover W, cruise W, battery Wh);
    ``allowed``: capable, may fly for the agency, not excluded; ``by_status``: tables by
    status code of out of service, busy, on a dock; ``floors``: per return group, the
    battery % needed beyond the flight out for the least useful and the whole stay;
    ``scene``: (x, y, wind east, wind north, scene altitude); ``cfg``: (launch delay,
    least cruise altitude, climb and descent power factors, launch battery floor,
    preemption gain, relief penalty, 1 - bound slack); ``codes``: the code written for
    each reason, in order of precedence: out of service, excluded, busy, no capability,
    not shared, low battery, no legal route, wind (0 stays "open"). See ``policy.screen``.
    """
    speed, climb_rate, descent_rate, hover_w, cruise_w, battery_wh = model
    capable, may_fly, free = allowed
    is_out, is_busy, is_on_dock = by_status
    floor_least, floor_whole = floors
    jx, jy, wind_e, wind_n, scene_alt = scene
    launch_delay, min_cruise, climb_f, descent_f, min_launch, gain, penalty, keep = cfg
    out_of_service, excluded, busy_code, no_capability = codes[0], codes[1], codes[2], codes[3]
    not_shared, low_battery, no_legal_route, wind = codes[4], codes[5], codes[6], codes[7]
    n = len(x)
    code = np.zeros(n, np.int8)
    preemptible = np.zeros(n, np.bool_)
    eta_s, out_wh, cruise_s = np.empty(n), np.empty(n), np.empty(n)
    on_dock, wind_blocked = np.empty(n, np.bool_), np.empty(n, np.bool_)
    lb_score, needed, needed_whole = np.empty(n), np.empty(n), np.empty(n)
    relief_sure = np.zeros(n, np.bool_)
    for i in range(n):
        dx, dy = jx - x[i], jy - y[i]
        cruise = straight_cruise_s(dx, dy, math.hypot(dx, dy), speed[i], wind_e, wind_n)
        docked = is_on_dock[status[i]]
        up_s = max(0.0, min_cruise - (0.0 if docked else alt[i])) / climb_rate[i]
        up_wh = up_s * hover_w[i] * climb_f / 3600.0
        down_s = max(0.0, min_cruise - scene_alt) / descent_rate[i]
        eta = (launch_delay if docked else 0.0) + up_s + cruise + down_s
        wh = up_wh + (down_s * hover_w[i] * descent_f + cruise * cruise_w[i]) / 3600.0
        eta_s[i], out_wh[i], cruise_s[i] = eta * keep, wh * keep, cruise
        on_dock[i], wind_blocked[i] = docked, not math.isfinite(cruise)
        out_pct = out_wh[i] * 100.0 / battery_wh[i]
        g = group_of[i]
        needed[i] = out_pct + floor_least[g]
        needed_whole[i] = out_pct + floor_whole[g]
        busy = is_busy[status[i]]
        takes = preempt and busy and task_priority[i] > priority
        # The first reason that applies, in order of precedence.
        if is_out[status[i]]:
            code[i] = out_of_service
        elif not free[i]:
            code[i] = excluded
        elif busy and not takes:
            code[i] = busy_code
        elif not capable[i]:
            code[i] = no_capability
        elif not may_fly[i]:
            code[i] = not_shared
        elif docked and battery[i] < min_launch:
            code[i] = low_battery
        elif not math.isfinite(floor_least[g]):
            code[i] = no_legal_route
        elif wind_blocked[i]:
            code[i] = wind
        elif use_bounds and battery[i] < needed[i]:
            code[i] = low_battery
        score = eta_s[i] + (gain if takes else 0.0)
        # A drone whose bound already cannot stay the whole time will surely need relief.
        if use_bounds and relief_task:
            relief_sure[i] = battery[i] < needed_whole[i]
            score = score + (penalty if relief_sure[i] else 0.0)
        lb_score[i] = score
        preemptible[i] = takes and code[i] == 0
    bounds = (eta_s, out_wh, on_dock, wind_blocked, cruise_s)  # ``evaluate.Bounds``
    return code, preemptible, bounds, lb_score, needed, needed_whole, relief_sure


@njit
def dock_energy_bounds(
    dx: NDArray[np.float64],
    dy: NDArray[np.float64],
    length: NDArray[np.float64],
    models: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    wind: tuple[float, float],
    keep: float,
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Lower bounds of the energy (Wh) from a point to each dock (offsets ``dx``, ``dy``)
    by a route at least ``length`` long, models x docks, and each model's docks in order
    of their bounds (stable). ``models``: per model, airspeed, the least climb and
    descent energy (Wh), cruise power (W); ``wind``: east, north. See
    ``evaluate.JobBuilder.energy_bounds``."""
    airspeed, vertical_wh, cruise_w = models
    wind_e, wind_n = wind
    calm = wind_e == 0.0 and wind_n == 0.0
    fastest = math.hypot(wind_e, wind_n)  # no ground speed is above airspeed plus this
    dist = np.empty(len(dx))
    for j in range(len(dx)):
        dist[j] = math.hypot(dx[j], dy[j])
    out = np.empty((len(airspeed), len(dx)))
    order = np.empty((len(airspeed), len(dx)), np.intp)
    # In calm air every model's bound grows with ``length`` (never below ``dist``): one
    # order serves them all (it differs from each one's own only between equal bounds).
    by_length = np.argsort(length, kind="mergesort")
    for k in range(len(airspeed)):
        for j in range(len(dx)):
            cruise = straight_cruise_s(dx[j], dy[j], dist[j], airspeed[k], wind_e, wind_n)
            cruise = max(cruise, length[j] / (airspeed[k] + fastest))
            out[k, j] = (vertical_wh[k] + cruise * cruise_w[k]) / 3600.0 * keep
        order[k] = by_length if calm else np.argsort(out[k], kind="mergesort")
    return out, order


def warm_up() -> None:
    """Compile (or load from the disk cache) every kernel with the types a decision
    passes, so that no decision pays for it."""
    f, i8, b = np.zeros(1), np.zeros(1, np.int8), np.zeros(1, bool)
    taut_lengths(f, f, f, f, f, f, f, 1.0, True)
    segments_meet(
        (f, f, f, f), np.zeros((1, 4)), np.zeros(2, np.intp), np.zeros(2, np.intp), np.zeros((1, 2))
    )
    dock_energy_bounds(f, f, f, (f, f, f), (0.0, 0.0), 1.0)
    screen_fleet(
        f, f, f, f, i8, i8, (f, f, f, f, f, f), np.zeros(1, np.intp), (b, b, b), (b, b, b),
        (f, f), (0.0,) * 5, (0.0,) * 8, 1, True, True, True, np.arange(8, dtype=np.int8),
    )  # fmt: skip


@njit
def segments_meet(
    ends: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    boxes: NDArray[np.float64],
    part_rings: NDArray[np.intp],
    ring_starts: NDArray[np.intp],
    xy: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """For each segment a -> b of ``ends`` (x0, y0, x1, y1): does it meet (cross, touch or
    lie inside) any of the polygons? Polygon p has the rings ``part_rings[p]`` up to
    ``part_rings[p + 1]`` (its outline, then its holes), ring r the closed run of points
    ``xy[ring_starts[r]:ring_starts[r + 1]]``, and ``boxes[p]`` its bounding box."""
    x0, y0, x1, y1 = ends
    out = np.zeros(len(x0), np.bool_)
    for s in range(len(x0)):
        ax, ay, bx, by = x0[s], y0[s], x1[s], y1[s]
        lo_x, hi_x, lo_y, hi_y = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
        for p in range(len(boxes)):
            if lo_x > boxes[p, 2] or hi_x < boxes[p, 0] or lo_y > boxes[p, 3] or hi_y < boxes[p, 1]:
                continue
            inside = False  # a, by the even-odd rule over every ring of the polygon
            for r in range(part_rings[p], part_rings[p + 1]):
                for k in range(ring_starts[r], ring_starts[r + 1] - 1):
                    cx, cy, dx, dy = xy[k, 0], xy[k, 1], xy[k + 1, 0], xy[k + 1, 1]
                    # Which side of each segment the other's ends lie on (0: on its line).
                    c_ab = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
                    d_ab = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
                    a_cd = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx)
                    b_cd = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx)
                    crossing = (c_ab > 0) != (d_ab > 0) and (a_cd > 0) != (b_cd > 0)
                    crossing = crossing and c_ab != 0 and d_ab != 0 and a_cd != 0 and b_cd != 0
                    touching = (
                        (c_ab == 0 and lo_x <= cx <= hi_x and lo_y <= cy <= hi_y)
                        or (d_ab == 0 and lo_x <= dx <= hi_x and lo_y <= dy <= hi_y)
                        or (a_cd == 0 and min(cx, dx) <= ax <= max(cx, dx)
                            and min(cy, dy) <= ay <= max(cy, dy))
                        or (b_cd == 0 and min(cx, dx) <= bx <= max(cx, dx)
                            and min(cy, dy) <= by <= max(cy, dy))
                    )  # fmt: skip
                    if crossing or touching:
                        out[s] = True
                        break
                    if (cy > ay) != (dy > ay) and ax < (dx - cx) * (ay - cy) / (dy - cy) + cx:
                        inside = not inside
                if out[s]:
                    break
            if out[s] or inside:
                out[s] = True
                break
    return out
