"""An independent SDK, MAVSDK (PyPI ``mavsdk``, the native binding), flies mavsim's PX4 personality.

MAVSDK connects the way it connects to PX4 SITL (``udpin://0.0.0.0:PORT``), waits for
health, arms, takes off, goes to a location, uploads a geofence and a mission, flies
it and returns to launch. Every step is checked against the simulator's truth.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest

mavsdk = pytest.importorskip("mavsdk.asyncio")

from mavsdk.asyncio import ComponentType, Configuration, Mavsdk  # noqa: E402
from mavsdk.asyncio.plugins.action import ActionAsync  # noqa: E402
from mavsdk.asyncio.plugins.geofence import GeofenceAsync  # noqa: E402
from mavsdk.asyncio.plugins.info import InfoAsync  # noqa: E402
from mavsdk.asyncio.plugins.mission import MissionAsync  # noqa: E402
from mavsdk.asyncio.plugins.telemetry import TelemetryAsync  # noqa: E402
from mavsdk.plugins.geofence import FenceType, GeofenceData, Point, Polygon  # noqa: E402
from mavsdk.plugins.mission import MissionItem, MissionPlan  # noqa: E402
from mavsdk.plugins.telemetry import FlightMode  # noqa: E402

from simulators.mavsim import SimConfig, Simulator  # noqa: E402
from simulators.mavsim.mission import FENCE, MISSION  # noqa: E402
from simulators.mavsim.probe import free_udp_port  # noqa: E402
from skyshare.geo import haversine_m  # noqa: E402

pytestmark = pytest.mark.sitl
T = TypeVar("T")


async def first(stream: AsyncIterator[T], pred: Callable[[T], bool], timeout: float = 10) -> T:
    """The first item of a MAVSDK subscription that satisfies ``pred``."""

    async def scan() -> T:
        async for item in stream:
            if pred(item):
                return item
        raise AssertionError("subscription ended")

    return await asyncio.wait_for(scan(), timeout)


def waypoint(lat: float, lon: float, alt: float, speed: float) -> MissionItem:
    return MissionItem(
        latitude_deg=lat,
        longitude_deg=lon,
        relative_altitude_m=alt,
        speed_m_s=speed,
        is_fly_through=True,
        camera_action=MissionItem.CameraAction.NONE,
        vehicle_action=MissionItem.VehicleAction.NONE,
    )


async def test_mavsdk_flies_takeoff_goto_mission_geofence_and_rtl() -> None:
    port = free_udp_port()
    cfg = SimConfig(
        autopilot="px4",
        home=(47.3977, 8.5456),
        speedup=20,
        seed=9,
        px4_api_ports=[port],
        px4_bind_base=0,
    )
    async with Simulator(cfg) as sim:
        v = sim.vehicles[0]
        config = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
        async with Mavsdk(config) as sdk:
            await sdk.add_any_connection(f"udpin://0.0.0.0:{port}")
            system = await sdk.first_autopilot(timeout_s=10.0)
            assert system is not None
            telemetry = TelemetryAsync(system)
            action = ActionAsync(system)
            mission = MissionAsync(system)
            geofence = GeofenceAsync(system)

            async for health in telemetry.subscribe_health():
                if health.is_global_position_ok and health.is_home_position_ok:
                    break
            assert v.prearm_ok  # MAVSDK's view of health matches the vehicle's
            # Which aircraft it is, as MAVSDK reads AUTOPILOT_VERSION: the ids mavsim sends.
            identification = await InfoAsync(system).get_identification()
            assert identification.hardware_uid == v.board_id.ljust(18, b"\0").hex()
            assert identification.legacy_uid == 0x4D415653494D0000 + v.sysid

            await action.set_takeoff_altitude(15.0)
            assert v.params["MIS_TAKEOFF_ALT"] == 15.0
            await action.arm()
            assert v.armed
            await action.takeoff()
            await sim.wait_for(lambda: v.mode == "HOLD" and v.alt_rel > 14.6, 60)
            await first(telemetry.subscribe_flight_mode(), lambda m: m == FlightMode.HOLD)

            target = v.frame.to_latlon(120.0, 60.0)
            await action.goto_location(*target, v.home_alt_amsl + 20.0, 0.0)
            await sim.wait_for(lambda: haversine_m(v.lat, v.lon, *target) < 1.0, 90)
            assert abs(v.alt_rel - 20.0) < 0.5 and v.mode == "HOLD"

            square = ((-400, -400), (-400, 400), (400, 400), (400, -400))
            corners = [v.frame.to_latlon(n, e) for n, e in square]
            fence = Polygon([Point(lat, lon) for lat, lon in corners], FenceType.INCLUSION)
            await geofence.upload_geofence(GeofenceData(polygons=[fence]))
            assert len(v.items[FENCE]) == 4 and not v.geofence.empty
            assert v.geofence.breached(500.0, 0.0, union_of_inclusions=True)

            legs = [(200.0, 60.0), (200.0, 160.0), (100.0, 160.0)]
            plan = [waypoint(*v.frame.to_latlon(n, e), 20.0, 8.0) for n, e in legs]
            await mission.upload_mission(MissionPlan(plan))
            assert len(v.items[MISSION]) >= 3
            await mission.start_mission()
            closest = [math.inf] * len(legs)

            def flown() -> bool:
                for i, (n, e) in enumerate(legs):
                    closest[i] = min(closest[i], math.hypot(v.body.n - n, v.body.e - e))
                return v.mission_complete

            await sim.wait_for(flown, 200)
            assert max(closest) < 2.0
            finished = False
            for _ in range(20):  # MAVSDK learns it from the next MISSION_CURRENT
                finished = await mission.is_mission_finished()
                if finished:
                    break
                t = sim.now
                await sim.wait_for(lambda t=t: sim.now >= t + 0.5, 5)
            assert finished

            await action.return_to_launch()
            await sim.wait_for(lambda: v.mode == "RTL", 10)
            await first(
                telemetry.subscribe_flight_mode(), lambda m: m == FlightMode.RETURN_TO_LAUNCH
            )
            await sim.wait_for(lambda: not v.armed, 200)
            assert haversine_m(v.lat, v.lon, v.home_lat, v.home_lon) < 1.0
            assert v.alt_rel == pytest.approx(0.0, abs=0.01)
        assert sim.errors == []
