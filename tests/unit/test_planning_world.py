"""Small synthetic worlds for the planning tests, and tests of the grid they stand on.

Geometry is laid out in British National Grid metres relative to ``ORIGIN`` (central
London), so that figures can be checked by hand; positions are handed to the code in
WGS84 as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pytest
import shapely

from skyshare.airspace import AirspaceMap
from skyshare.airspace.service_area import Borough, ServiceArea
from skyshare.airspace.zones import EntryRule, Geozone, PolygonShape, ZoneKind
from skyshare.domain import (
    Agency,
    Capability,
    Drone,
    DroneModel,
    GeoPoint,
    LaunchSite,
    Network,
    Priority,
    SharingAgreement,
)
from skyshare.geo import projection
from skyshare.planning.grid import build_grid

ORIGIN = (530_000.0, 180_000.0)
PROJ = projection()

# A DJI M4TD as in launch_sites/: 15 m/s cruise, 6 m/s climb, 5 m/s descent.
MODEL = DroneModel(
    name="test-quad",
    cruise_speed_mps=15.0,
    climb_rate_mps=6.0,
    descent_rate_mps=5.0,
    endurance_s=2100.0,
    battery_wh=99.0,
    hover_power_w=126.0,
    cruise_power_w=132.0,
    capabilities=frozenset({Capability.THERMAL, Capability.ZOOM}),
)


def point(x: float, y: float) -> GeoPoint:
    """The WGS84 position ``x`` m east and ``y`` m north of ``ORIGIN``."""
    lat, lon = PROJ.latlon(ORIGIN[0] + x, ORIGIN[1] + y)
    return GeoPoint(lat, lon)


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(ORIGIN[0] + x0, ORIGIN[1] + y0, ORIGIN[0] + x1, ORIGIN[1] + y1)


def service_area(boroughs: dict[str, tuple[float, float, float, float]]) -> ServiceArea:
    return ServiceArea([Borough(n, "", box(*b)) for n, b in boroughs.items()], PROJ)


def zone(zone_id: str, corners: tuple[float, float, float, float], free: Iterable[str] = ()):
    """A restricted square zone (ground to 400 m) that ``free`` agencies may enter."""
    x0, y0, x1, y1 = corners
    ring = [point(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    return Geozone(
        id=zone_id,
        name=zone_id,
        kind=ZoneKind.RESTRICTED,
        shape=PolygonShape(((tuple((p.lon, p.lat) for p in ring),),)),
        entry=EntryRule(free=frozenset(free)),
    )


def airspace(zones: Sequence[Geozone]) -> AirspaceMap:
    """No safety buffer and no simplification, so routes hug the zones as drawn."""
    return AirspaceMap(zones, buffer_m=0.0, simplify_m=0.0)


def network(
    sites: Sequence[tuple[str, float, float, str, int]],
    agencies: Sequence[str] = ("police", "fire"),
    *,
    model: DroneModel = MODEL,
    auto_launch: bool = True,
    shared: bool = True,
) -> Network:
    """Sites ``(id, x, y, owner, drones)``; every site shared with every agency."""
    launch_sites, drones = {}, {}
    for site_id, x, y, owner, count in sites:
        launch_sites[site_id] = LaunchSite(
            site_id, site_id, point(x, y), "B", owner, shared, max(1, count)
        )
        for k in range(count):
            drones[f"{site_id}-{k}"] = Drone(
                f"{site_id}-{k}", model, site_id, owner, position=point(x, y)
            )
    users = frozenset(agencies)
    return Network(
        agencies={
            a: Agency(a, a, frozenset(Priority) if auto_launch else frozenset()) for a in agencies
        },
        models={model.name: model},
        sites=launch_sites,
        drones=drones,
        agreements={a: SharingAgreement(a, users) for a in agencies},
    )


def test_a_cell_belongs_to_the_borough_holding_its_centre() -> None:
    area = service_area({"West": (0, 0, 1000, 500), "East": (1000, 0, 1500, 500)})
    grid = build_grid(area, 100.0)
    counts = dict(zip(grid.names, grid.counts(), strict=True))
    assert counts == {"West": 50, "East": 25}
    assert grid.cell_area_km2 == pytest.approx(0.01)
    east = grid.cells_of("East")
    assert np.all(grid.x[east] > ORIGIN[0] + 1000)


def test_raster_puts_each_cell_back_on_its_lattice_square() -> None:
    area = service_area({"L": (0, 0, 300, 200)})
    grid = build_grid(area, 100.0)
    image = grid.raster(np.arange(len(grid), dtype=float))
    assert image.shape == (grid.ny, grid.nx)
    assert np.nansum(image) == sum(range(len(grid)))
