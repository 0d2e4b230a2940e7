"""The compiled loops of a decision give the figures the numpy formulas they replaced give.

Each reference below is the vectorised numpy code the kernel replaced (the same formulas
in the same order), run on random fleets and scenes with and without wind, drones at the
scene itself, wind stronger than a drone, exclusions, preemption and relief. The bounds
must come out as the same floats: the dispatcher's choices are checked against the naive
dispatcher elsewhere, but its explanations quote these figures.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from skyshare.dispatch.airspace_router import Clearance
from skyshare.dispatch.kernels import (
    dock_energy_bounds,
    screen_fleet,
    segments_meet,
    taut_lengths,
)

SHRINK = 1.0 - 1e-6
KEEP = 1.0 - 1e-9
CODES = np.array([1, 3, 2, 4, 5, 6, 7, 8], np.int8)  # any codes, in precedence order
WINDS = [(0.0, 0.0), (3.0, -4.0), (-12.0, 9.0), (25.0, 0.0)]  # the last beats some drones


def clip(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.minimum(np.maximum(x, lo), hi)


def taut_reference(ax, ay, bx, by, cx, cy, cr):
    straight = np.hypot(bx - ax, by - ay)
    out = straight.copy()
    pax, pay = ax[:, None] - cx, ay[:, None] - cy
    pbx, pby = bx[:, None] - cx, by[:, None] - cy
    lo_x, hi_x = np.minimum(ax, bx)[:, None], np.maximum(ax, bx)[:, None]
    lo_y, hi_y = np.minimum(ay, by)[:, None], np.maximum(ay, by)[:, None]
    meet = (lo_x < cx + cr) & (hi_x > cx - cr) & (lo_y < cy + cr) & (hi_y > cy - cr)
    r = cr * SHRINK
    da, db = np.hypot(pax, pay), np.hypot(pbx, pby)
    sx, sy = (bx - ax)[:, None], (by - ay)[:, None]
    length_sq = sx * sx + sy * sy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(length_sq > 0, clip(-(pax * sx + pay * sy) / length_sq, 0.0, 1.0), 0.0)
        gap = np.hypot(pax + t * sx, pay + t * sy)
        blocked = meet & (gap < r) & (da > r) & (db > r)
        cos_theta = clip((pax * pbx + pay * pby) / (da * db), -1.0, 1.0)
        arc = (
            np.arccos(cos_theta)
            - np.arccos(clip(r / da, -1.0, 1.0))
            - np.arccos(clip(r / db, -1.0, 1.0))
        )
        taut = np.sqrt(np.maximum(da * da - r * r, 0.0)) + np.sqrt(np.maximum(db * db - r * r, 0.0))
        taut = taut + r * np.maximum(arc, 0.0)
    return np.maximum(out, np.where(blocked, taut, -np.inf).max(axis=1, initial=-np.inf))


@pytest.mark.parametrize("seed", range(4))
def test_taut_lengths_are_the_numpy_figures(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 40, 25
    ax, ay = rng.uniform(-5000, 5000, n), rng.uniform(-5000, 5000, n)
    cx, cy, cr = rng.uniform(-4000, 4000, m), rng.uniform(-4000, 4000, m), rng.uniform(50, 900, m)
    # One common end (a scene), as a decision asks; and a different end per segment.
    scene = np.full(n, rng.uniform(-1000, 1000)), np.full(n, rng.uniform(-1000, 1000))
    ends = rng.uniform(-5000, 5000, n), rng.uniform(-5000, 5000, n)
    for (bx, by), common in ((scene, True), (ends, False)):
        got = taut_lengths(ax, ay, bx, by, cx, cy, cr, SHRINK, common)
        want = taut_reference(ax, ay, bx, by, cx, cy, cr)
        np.testing.assert_array_max_ulp(got, want, maxulp=2)
        assert (got > np.hypot(bx - ax, by - ay) + 1.0).sum() >= 5  # disks were in the way


def screen_reference(columns, per_drone, floors, scene, cfg, priority, preempt, relief, bounds):
    x, y, alt, battery, status, task_priority = columns
    speed, climb, descent, hover_w, cruise_w, battery_wh, group_of = per_drone[:7]
    capable, may_fly, free, is_out, is_busy, is_on_dock = per_drone[7:]
    jx, jy, we, wn, scene_alt = scene
    delay, min_cruise, climb_f, descent_f, min_launch, gain, penalty = cfg
    dx, dy = jx - x, jy - y
    dist = np.hypot(dx, dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        if we == 0.0 and wn == 0.0:
            cruise = dist / speed
        else:
            moving = dist > 0
            ux, uy = np.where(moving, dx / dist, 0.0), np.where(moving, dy / dist, 0.0)
            along = we * ux + wn * uy
            slack = speed**2 - (we**2 + wn**2 - along * along)
            ground = along + np.sqrt(np.maximum(slack, 0.0))
            ground = np.where((slack >= 0) & (ground > 0), ground, 0.0)
            cruise = np.where(moving, dist / ground, 0.0)
    on_dock = is_on_dock[status]
    up_s = np.maximum(0.0, min_cruise - np.where(on_dock, 0.0, alt)) / climb
    up_wh = up_s * hover_w * climb_f / 3600.0
    down_s = max(0.0, min_cruise - scene_alt) / descent
    eta = np.where(on_dock, delay, 0.0) + up_s + cruise + down_s
    wh = up_wh + (down_s * hover_w * descent_f + cruise * cruise_w) / 3600.0
    eta_s, out_wh = eta * KEEP, wh * KEEP
    floor, whole = floors[0][group_of], floors[1][group_of]
    out_pct = out_wh * 100.0 / battery_wh
    needed, needed_whole = out_pct + floor, out_pct + whole
    busy = is_busy[status]
    takes = busy & (task_priority > priority) & preempt
    checks = [
        is_out[status],
        ~free,
        busy & ~takes,
        ~capable,
        ~may_fly,
        on_dock & (battery < min_launch),
        ~np.isfinite(floor),
        ~np.isfinite(cruise),
        (battery < needed) & bounds,
    ]
    code = np.zeros(len(x), np.int8)
    for mask, value in reversed(list(zip(checks, [*CODES, CODES[5]], strict=True))):
        np.copyto(code, value, where=mask)
    relief_sure = (battery < needed_whole) & bounds & relief
    lb = eta_s + np.where(takes, gain, 0.0) + np.where(relief_sure, penalty, 0.0)
    bounds_ = (eta_s, out_wh, on_dock, ~np.isfinite(cruise), cruise)
    return code, takes & (code == 0), bounds_, lb, needed, needed_whole, relief_sure


@pytest.mark.parametrize("wind", WINDS)
@pytest.mark.parametrize("relief", [False, True])
def test_the_screen_is_the_numpy_screen(wind: tuple[float, float], relief: bool) -> None:
    rng = np.random.default_rng(7)
    n, groups = 500, 6
    x, y = rng.uniform(-20000, 20000, n), rng.uniform(-20000, 20000, n)
    x[:3], y[:3] = 100.0, -250.0  # drones at the scene itself
    alt = rng.choice([0.0, 60.0, 90.0], n)
    battery = rng.uniform(5, 100, n)
    status = rng.integers(0, 9, n).astype(np.int8)
    task_priority = rng.integers(0, 5, n).astype(np.int8)
    model = [rng.choice(v, n) for v in ([14.0, 17.0, 21.0], [3.0, 5.0], [2.0, 3.0])]
    model += [rng.choice(v, n) for v in ([350.0, 420.0], [300.0, 380.0], [120.0, 260.0])]
    group_of = rng.integers(0, groups, n).astype(np.intp)
    masks = [rng.random(n) > p for p in (0.1, 0.15, 0.05)]
    tables = [rng.random(9) > 0.6 for _ in range(3)]
    least = rng.uniform(20, 60, groups)
    least[2] = np.inf  # a group with no way back
    floors = (least, least + rng.uniform(0, 30, groups))
    scene = (100.0, -250.0, *wind, 30.0)
    cfg = (15.0, 60.0, 1.2, 0.8, 30.0, 45.0, 300.0)
    for priority, preempt, bounds in ((1, True, True), (3, False, True), (2, True, False)):
        got = screen_fleet(
            x, y, alt, battery, status, task_priority, tuple(model), group_of, tuple(masks),
            tuple(tables), floors, scene, (*cfg, KEEP), priority, preempt, relief, bounds, CODES,
        )  # fmt: skip
        want = screen_reference(
            (x, y, alt, battery, status, task_priority), [*model, group_of, *masks, *tables],
            floors, scene, cfg, priority, preempt, relief, bounds,
        )  # fmt: skip
        flat_got, flat_want = (*got[:2], *got[2], *got[3:]), (*want[:2], *want[2], *want[3:])
        for a, b in zip(flat_got, flat_want, strict=True):
            np.testing.assert_array_equal(a, b)
        assert len(set(got[0].tolist())) >= 6  # most reasons were given
        if wind == WINDS[-1]:
            assert got[2][3].any()  # the strong wind beat some drones


@pytest.mark.parametrize("wind", WINDS)
def test_dock_energy_bounds_are_the_numpy_figures_in_order(wind: tuple[float, float]) -> None:
    rng = np.random.default_rng(3)
    dx, dy = rng.uniform(-15000, 15000, 200), rng.uniform(-15000, 15000, 200)
    dx[5] = dy[5] = 0.0  # a dock at the point itself
    length = np.hypot(dx, dy) * np.where(rng.random(200) < 0.2, 1.3, 1.0)
    airspeed, vertical = np.array([14.0, 17.0, 21.0]), np.array([4.0, 5.5, 7.0])
    cruise_w = np.array([300.0, 380.0, 520.0])
    got, order = dock_energy_bounds(dx, dy, length, (airspeed, vertical, cruise_w), wind, KEEP)
    we, wn = wind
    dist = np.hypot(dx, dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        if wind == (0.0, 0.0):
            cruise = dist[None, :] / airspeed[:, None]
        else:
            along = we * (dx / dist) + wn * (dy / dist)
            slack = airspeed[:, None] ** 2 - (we**2 + wn**2 - along * along)
            ground = along + np.sqrt(np.maximum(slack, 0.0))
            ground = np.where((slack >= 0) & (ground > 0), ground, 0.0)
            cruise = np.where(dist > 0, dist / ground, 0.0)
    cruise = np.maximum(cruise, length / (airspeed[:, None] + np.hypot(we, wn)))
    want = (vertical[:, None] + cruise * cruise_w[:, None]) / 3600.0 * KEEP
    np.testing.assert_array_equal(got, want)
    for row in range(3):  # each model's docks, by its bound
        in_order = got[row][order[row]]
        assert (in_order[1:] >= in_order[:-1]).all()
        assert sorted(order[row].tolist()) == list(range(200))


def test_segments_meet_the_polygons_where_geos_says_they_do() -> None:
    rng = np.random.default_rng(11)
    circles = rng.uniform((-9e3, -9e3, 100), (9e3, 9e3, 900), (30, 3))
    zones = [shapely.Point(x, y).buffer(r, quad_segs=8) for x, y, r in circles]
    ring = shapely.Point(0, 0).buffer(3000).difference(shapely.Point(0, 0).buffer(1500))
    square = shapely.box(4000.0, 4000.0, 5000.0, 5000.0)
    polygons = [*zones, ring, square]  # a hole, and straight edges to touch
    area = Clearance.of(polygons)
    x0, y0 = rng.uniform(-10000, 10000, 600), rng.uniform(-10000, 10000, 600)
    x1, y1 = rng.uniform(-10000, 10000, 600), rng.uniform(-10000, 10000, 600)
    x0[:4], y0[:4], x1[:4], y1[:4] = (  # touching a corner, along an edge, in the hole, inside
        np.array([3000.0, 4200.0, -500.0, 4100.0]),
        np.array([3000.0, 5000.0, 200.0, 4100.0]),
        np.array([4000.0, 4800.0, 500.0, 4900.0]),
        np.array([4000.0, 5000.0, -300.0, 4900.0]),
    )
    met = segments_meet((x0, y0, x1, y1), area.boxes, area.part_rings, area.ring_starts, area.xy)
    lines = shapely.linestrings(np.stack([np.stack([x0, y0], 1), np.stack([x1, y1], 1)], 1))
    np.testing.assert_array_equal(met, shapely.intersects(shapely.union_all(polygons), lines))
    assert met[[0, 1, 3]].all() and not met[2]
    assert 100 < met.sum() < 500  # both kinds were drawn
