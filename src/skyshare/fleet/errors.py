"""What can go wrong when talking to a vehicle, each error saying which vehicle and why."""

from __future__ import annotations


class FleetError(Exception):
    """Base class of every fleet-link error."""


class CommandError(FleetError):
    """A command to one vehicle did not succeed."""

    def __init__(self, system_id: int, command: str, message: str) -> None:
        self.system_id = system_id
        self.command = command
        super().__init__(f"vehicle {system_id}: {command}: {message}")


class CommandDenied(CommandError):
    """The vehicle answered, and the answer was no.

    ``result`` is the MAV_RESULT (or MAV_MISSION_RESULT) name, e.g. ``MAV_RESULT_FAILED``;
    ``reason`` is the last STATUSTEXT the vehicle sent about it (often the real reason,
    e.g. ``PreArm: Need Position Estimate``), or "" when it sent none.
    """

    def __init__(self, system_id: int, command: str, result: str, reason: str = "") -> None:
        self.result = result
        self.reason = reason
        detail = f"{result}" + (f": {reason}" if reason else "")
        super().__init__(system_id, command, f"refused ({detail})")


class CommandTimeout(CommandError):
    """No answer (or not the awaited state) after every attempt."""

    def __init__(self, system_id: int, command: str, attempts: int, waited_s: float) -> None:
        self.attempts = attempts
        self.waited_s = waited_s
        super().__init__(
            system_id, command, f"no answer after {attempts} attempt(s) over {waited_s:.2f} s"
        )


class WaitTimeout(FleetError):
    """A vehicle did not reach an awaited state in time."""

    def __init__(self, system_id: int, what: str, timeout_s: float, last: str = "") -> None:
        self.system_id = system_id
        self.what = what
        self.timeout_s = timeout_s
        suffix = f" (last: {last})" if last else ""
        super().__init__(f"vehicle {system_id}: not {what} within {timeout_s:.2f} s{suffix}")


class UnknownVehicle(FleetError, KeyError):
    """No vehicle with that system id has been heard on the link(s)."""

    def __init__(self, system_id: int, known: list[int]) -> None:
        self.system_id = system_id
        super().__init__(f"no vehicle with system id {system_id} heard; known: {known or 'none'}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class UnsupportedMode(FleetError, ValueError):
    """A flight mode name this autopilot does not have."""

    def __init__(self, autopilot: str, mode: str, known: list[str]) -> None:
        super().__init__(f"{autopilot} has no mode {mode!r}; known: {', '.join(known)}")
