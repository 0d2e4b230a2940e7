"""mavsim: a multi-vehicle MAVLink simulator with ArduCopter and PX4 personalities.

See README.md in this folder for the ports, the in-process API and fault injection.
"""

from simulators.mavsim.cli import main, run_from_args
from simulators.mavsim.config import Airframe, SimConfig
from simulators.mavsim.simulator import Simulator
from simulators.mavsim.vehicle import SimVehicle

__all__ = ["Airframe", "SimConfig", "SimVehicle", "Simulator", "main", "run_from_args"]
