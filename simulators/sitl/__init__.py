"""Launchers for real ArduPilot / PX4 SITL binaries that a user supplies (see launcher.py)."""

from simulators.sitl.launcher import ENV_VAR, SitlError, SitlFleet, SitlInstance, SitlSpec

__all__ = ["ENV_VAR", "SitlError", "SitlFleet", "SitlInstance", "SitlSpec"]
