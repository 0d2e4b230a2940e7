"""The fleet link: MAVLink to many vehicles at once, the same whichever autopilot flies them.

    from skyshare.fleet import FleetConfig, FleetManager, MissionItem

    async with FleetManager(FleetConfig(speedup=1.0)) as fleet:
        await fleet.connect("udpin:0.0.0.0:14550")
        drone = await fleet.wait_vehicle(7)
        await drone.wait_ready()
        await drone.takeoff(30)
        await drone.goto(51.5080, -0.1280, 60)

See link.py (one connection), vehicle.py (state and commands), events.py (fleet events).
"""

from skyshare.fleet.autopilot import FenceAction
from skyshare.fleet.commands import Ack, CommandOutcome
from skyshare.fleet.config import FleetConfig
from skyshare.fleet.errors import (
    CommandDenied,
    CommandError,
    CommandTimeout,
    FleetError,
    UnknownVehicle,
    UnsupportedMode,
    WaitTimeout,
)
from skyshare.fleet.events import (
    Armed,
    BatteryLow,
    Disarmed,
    FenceBreached,
    FleetEvent,
    Landed,
    LinkLost,
    LinkRestored,
    ModeChanged,
    StatusText,
    Subscription,
    TookOff,
    VehicleDiscovered,
)
from skyshare.fleet.link import FleetLink
from skyshare.fleet.manager import FleetManager
from skyshare.fleet.mission import Fence, FenceCircle, FencePolygon, MissionItem
from skyshare.fleet.state import (
    Autopilot,
    FlightPhase,
    GeoPoint,
    LandedState,
    LinkHealth,
    ModeKind,
    VehicleState,
)
from skyshare.fleet.vehicle import Vehicle

__all__ = [
    "Ack",
    "Armed",
    "Autopilot",
    "BatteryLow",
    "CommandDenied",
    "CommandError",
    "CommandOutcome",
    "CommandTimeout",
    "Disarmed",
    "Fence",
    "FenceAction",
    "FenceBreached",
    "FenceCircle",
    "FencePolygon",
    "FleetConfig",
    "FleetError",
    "FleetEvent",
    "FleetLink",
    "FleetManager",
    "FlightPhase",
    "GeoPoint",
    "Landed",
    "LandedState",
    "LinkHealth",
    "LinkLost",
    "LinkRestored",
    "MissionItem",
    "ModeChanged",
    "ModeKind",
    "StatusText",
    "Subscription",
    "TookOff",
    "UnknownVehicle",
    "UnsupportedMode",
    "Vehicle",
    "VehicleDiscovered",
    "VehicleState",
    "WaitTimeout",
]
