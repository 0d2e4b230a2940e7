"""Simulators: MAVLink vehicles, SITL launchers and incident streams."""
