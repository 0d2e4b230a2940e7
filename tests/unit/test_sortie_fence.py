"""A sortie never fights its own aircraft's fence: every line the aircraft flies (out, the
task on scene, home to its dock) stays inside the fence it carries at the time.

The fence is judged as the autopilot judges it: its items turned into shapes in the
simulated autopilot's own north/east frame, not through the airspace engine's geometry.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from functools import cache

import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from simulators.mavsim.frame import LocalFrame
from skyshare.airspace import NoRoute
from skyshare.airspace.fences import ARDUPILOT, PX4, AutopilotLimits, FenceError, FencePlan
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION as CIRCLE_OUT
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION as CIRCLE_IN
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION as POLYGON_OUT
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION as POLYGON_IN
from skyshare.airspace.sortie import plan_return, plan_sortie
from skyshare.config import Settings
from skyshare.domain import GeoPoint, Priority, TaskKind
from skyshare.runtime.world import World, load_world

NOON = datetime(2025, 3, 3, 12, tzinfo=UTC)
KINDS = {TaskKind.OVERWATCH: "burglary", TaskKind.SEARCH: "missing_person"}
KINDS[TaskKind.DELIVER] = "cardiac_arrest"
CENTRAL = (524_000.0, 175_000.0, 541_000.0, 186_000.0)  # R157-R159, London City: EPSG:27700


@cache
def london() -> World:
    return load_world(Settings())


class AircraftFence:
    """The items as an autopilot holds them: shapes in a flat north/east frame."""

    def __init__(self, plan: FencePlan, frame: LocalFrame) -> None:
        self.frame = frame
        inclusions, self.exclusions = [], []
        items, i = plan.items, 0
        while i < len(items):
            item = items[i]
            if item.command in (POLYGON_IN, POLYGON_OUT):
                run = items[i : i + item.vertex_count]
                shape = Polygon([frame.to_ne(v.lat, v.lon) for v in run])
                (inclusions if item.command == POLYGON_IN else self.exclusions).append(shape)
                i += item.vertex_count
                continue
            if item.command in (CIRCLE_IN, CIRCLE_OUT):
                shape = Point(frame.to_ne(item.lat, item.lon)).buffer(item.radius_m, 64)
                (inclusions if item.command == CIRCLE_IN else self.exclusions).append(shape)
            i += 1
        self.inside = shapely.union_all(inclusions)

    def breaches(self, path: tuple[GeoPoint, ...] | list[GeoPoint]) -> list[str]:
        coords = [self.frame.to_ne(p.lat, p.lon) for p in path]
        line = LineString(coords) if len(coords) > 1 else Point(coords[0])
        found = [
            f"enters exclusion {k}" for k, e in enumerate(self.exclusions) if e.intersects(line)
        ]
        if not self.inside.covers(line):
            found.append("leaves the inclusion")
        return found


def scenarios(world: World, count: int, seed: int, shared_only: bool, agencies=None):
    """(agency, task, drone, start, scene): calls near central London's restricted areas
    and elsewhere, each served by the nearest drone (unless ``shared_only``) and by the
    nearest one shared from another agency; some drones re-tasked in the air (started
    away from their dock)."""
    rng = random.Random(seed)
    net, proj = world.network, world.airspace.projection
    area = world.area.geometry
    minx, miny, maxx, maxy = area.bounds
    made = 0
    while made < count:
        box = CENTRAL if rng.random() < 0.7 else (minx, miny, maxx, maxy)
        x, y = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        if not area.contains(Point(x, y)):
            continue
        scene = GeoPoint(*proj.latlon(x, y))
        agency = rng.choice(sorted(agencies or net.agencies))
        task = rng.choice(list(KINDS))
        need = net.kinds[KINDS[task]].capabilities
        drones = [
            d
            for d in net.drones.values()
            if net.may_fly(d, agency, Priority.P1) and need <= d.model.capabilities
        ]
        drones.sort(key=lambda d: _distance(world, net.sites[d.home_site_id].position, x, y))
        shared = [d for d in drones[:20] if d.owner != agency][:1]
        for drone in shared if shared_only else drones[:1] + shared:
            dock = net.sites[drone.home_site_id].position
            start = dock
            if rng.random() < 0.3:  # in the air, somewhere between its dock and the call
                f = rng.uniform(0.2, 0.8)
                start = GeoPoint(
                    dock.lat + f * (scene.lat - dock.lat) + rng.uniform(-0.01, 0.01),
                    dock.lon + f * (scene.lon - dock.lon) + rng.uniform(-0.015, 0.015),
                )
            made += 1
            yield agency, task, drone, start, scene


def _distance(world: World, p: GeoPoint, x: float, y: float) -> float:
    return math.dist(world.airspace.projection.point(p.lat, p.lon), (x, y))


def pattern_stops(plan_on_scene: tuple[GeoPoint, ...]) -> list[GeoPoint]:
    """Where the task may end (a recall, the time up, a relief): any point of the task."""
    step = max(1, len(plan_on_scene) // 8)
    return [*plan_on_scene[::step], plan_on_scene[-1]]


def check(
    world: World,
    permissions: frozenset[tuple[str, str]],
    limits: AutopilotLimits,
    count: int,
    seed: int,
    shared_only: bool,
    agencies: tuple[str, ...] | None = None,
) -> tuple[list[str], int]:
    airspace, area = world.airspace, world.area
    failures: list[str] = []
    flown = 0
    for agency, task, drone, start, scene in scenarios(world, count, seed, shared_only, agencies):
        dock = world.network.sites[drone.home_site_id].position
        try:
            plan = plan_sortie(
                airspace,
                area,
                agency=agency,
                at=NOON,
                permissions=permissions,
                start=start,
                scene=scene,
                dock=dock,
                task=task,
                limits=limits,
            )
        except (NoRoute, FenceError):  # not flown: the call goes to another drone
            continue
        flown += 1
        frame = LocalFrame(start.lat, start.lon, 0.0)
        fence = AircraftFence(plan.fence, frame)
        what = f"{drone.id} ({drone.owner}) for {agency} {task.value} at {scene}, from {start}"
        legs = {"outbound": plan.route.waypoints, "on scene": plan.on_scene}
        legs |= {f"home {i}": r.waypoints for i, r in enumerate(plan.home)}
        for name, path in legs.items():
            failures += [f"{what}: {name} {b}" for b in fence.breaches(path)]
        for here in pattern_stops(plan.on_scene):
            back = plan_return(
                airspace,
                area,
                agency=agency,
                at=NOON,
                permissions=permissions,
                here=here,
                dock=dock,
                on_board=plan.fence,
                limits=limits,
            )
            on_board = fence if back.fence is None else AircraftFence(back.fence, frame)
            path = (here, *back.route.waypoints)
            failures += [f"{what}: home from {here} {b}" for b in on_board.breaches(path)]
    return failures, flown


@pytest.mark.parametrize("limits", [ARDUPILOT, PX4], ids=lambda x: x.name)
def test_every_line_a_sortie_flies_is_inside_the_fence_it_carries(limits) -> None:
    world = london()
    failures, flown = check(
        world, world.network.permissions, limits, 160, seed=1, shared_only=False
    )
    assert flown >= 100
    assert failures == []


def test_a_drone_shared_with_an_agency_of_other_permissions_flies_home_inside_its_fence() -> None:
    # Without London's illustrative permissions (as in the e2e network), police may enter
    # EG R157-R159 and fire and ambulance may not: a police drone on a fire call must
    # come home under the fire rules its fence was built for.
    world = london()
    failures, flown = check(
        world, frozenset(), ARDUPILOT, 160, seed=2, shared_only=True, agencies=("fire", "ambulance")
    )
    assert flown >= 80
    assert failures == []


def test_a_search_next_to_restricted_airspace_stays_out_of_it() -> None:
    # Next to EG RU135B (London City runway): the lawnmower's square reaches into the
    # zone; the corners there are left out and the legs go around it.
    world = london()
    scene = GeoPoint(51.51309, -0.01477)
    dock = world.network.sites["lfb-shadwell"].position
    plan = plan_sortie(
        world.airspace,
        world.area,
        agency="police",
        at=NOON,
        permissions=world.network.permissions,
        start=dock,
        scene=scene,
        dock=dock,
        task=TaskKind.SEARCH,
        limits=ARDUPILOT,
    )
    zone = next(z for z in world.airspace.compiled if z.id == "EG RU135B")
    proj = world.airspace.projection
    line = LineString([proj.point(p.lat, p.lon) for p in plan.on_scene])
    assert not zone.geometry.intersects(line)
    assert len(plan.on_scene) >= 6  # the rest of the square is still searched
    assert (
        AircraftFence(plan.fence, LocalFrame(dock.lat, dock.lon, 0.0)).breaches(plan.on_scene) == []
    )
