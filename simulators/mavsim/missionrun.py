"""Flying an uploaded mission: one item after another, as AUTO (ArduPilot) or MISSION (PX4).

Navigation items become activities (waypoint -> go to and optionally wait, loiter
items, take-off, return, land); DO items act at once (change speed, jump). The
personality supplies what differs: how a return item is flown, take-off speed, the
speed to cruise at, and what "reached" is reported as.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from simulators.mavsim.mission import Item, as_int, finite_or
from simulators.mavsim.nav import Activity, Goto, Hold, Land, Orbit, Return, Takeoff, Wait
from simulators.mavsim.physics import Setpoint

if TYPE_CHECKING:
    from simulators.mavsim.vehicle import SimVehicle

C = mavlink
NAV_COMMANDS = frozenset(
    {
        C.MAV_CMD_NAV_WAYPOINT,
        C.MAV_CMD_NAV_LOITER_UNLIM,
        C.MAV_CMD_NAV_LOITER_TURNS,
        C.MAV_CMD_NAV_LOITER_TIME,
        C.MAV_CMD_NAV_RETURN_TO_LAUNCH,
        C.MAV_CMD_NAV_LAND,
        C.MAV_CMD_NAV_TAKEOFF,
        C.MAV_CMD_NAV_DELAY,
        C.MAV_CMD_NAV_LOITER_TO_ALT,
    }
)
# DO/CONDITION items the simulator accepts and either acts on or treats as done at once
# (cameras, gimbals, servos: nothing to simulate, but a real mission carries them).
ACCEPTED_OTHER = frozenset(
    {
        C.MAV_CMD_DO_CHANGE_SPEED,
        C.MAV_CMD_DO_JUMP,
        C.MAV_CMD_DO_SET_HOME,
        C.MAV_CMD_DO_SET_ROI,
        C.MAV_CMD_DO_SET_ROI_LOCATION,
        C.MAV_CMD_DO_SET_ROI_NONE,
        C.MAV_CMD_DO_MOUNT_CONTROL,
        C.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        C.MAV_CMD_DO_SET_CAM_TRIGG_DIST,
        C.MAV_CMD_DO_DIGICAM_CONTROL,
        C.MAV_CMD_IMAGE_START_CAPTURE,
        C.MAV_CMD_IMAGE_STOP_CAPTURE,
        C.MAV_CMD_VIDEO_START_CAPTURE,
        C.MAV_CMD_VIDEO_STOP_CAPTURE,
        C.MAV_CMD_DO_SET_SERVO,
        C.MAV_CMD_DO_SET_RELAY,
        C.MAV_CMD_DO_LAND_START,
        C.MAV_CMD_DO_VTOL_TRANSITION,
        C.MAV_CMD_CONDITION_YAW,
        C.MAV_CMD_CONDITION_DELAY,
        C.MAV_CMD_CONDITION_DISTANCE,
        C.MAV_CMD_DO_SET_CAM_TRIGG_INTERVAL,
        C.MAV_CMD_DO_GRIPPER,
        C.MAV_CMD_DO_WINCH,
    }
)
SUPPORTED = NAV_COMMANDS | ACCEPTED_OTHER
GLOBAL_FRAMES = frozenset(
    {
        C.MAV_FRAME_GLOBAL,
        C.MAV_FRAME_GLOBAL_RELATIVE_ALT,
        C.MAV_FRAME_GLOBAL_INT,
        C.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
        C.MAV_FRAME_GLOBAL_TERRAIN_ALT,
        C.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT,
    }
)
MISSION_FRAMES = GLOBAL_FRAMES | {C.MAV_FRAME_MISSION}


class MissionRun(Activity):
    """Executes ``items`` (the flyable list, home excluded) from ``index``."""

    name = "mission"

    def __init__(
        self,
        v: SimVehicle,
        items: list[Item],
        index: int,
        *,
        implicit_takeoff_u: float | None = None,
    ) -> None:
        self.v = v
        self.items = items
        self.index = max(0, min(index, len(items)))
        self.queue: list[Callable[[], Activity]] = []
        self.sub: Activity | None = None
        self.finished = not items
        self._jumps: dict[int, int] = {}
        self._end_hold: Hold | None = None
        self._item_queued = False  # the queue holds the item at ``index`` (not a lead-in)
        if implicit_takeoff_u is not None and not v.airborne and not self._starts_with_takeoff():
            self.queue.append(lambda: v.make_takeoff(implicit_takeoff_u))
        # Items are prepared lazily, when the vehicle first flies this mission: entering
        # AUTO/MISSION on the ground, disarmed, does not start it.

    def _starts_with_takeoff(self) -> bool:
        return bool(self.items) and self.items[self.index % len(self.items)].command == (
            C.MAV_CMD_NAV_TAKEOFF
        )

    @property
    def current_seq(self) -> int:
        if not self.items:
            return 0
        return self.items[min(self.index, len(self.items) - 1)].seq

    @property
    def lifts_off(self) -> bool:
        if self.finished:
            return False
        if self.sub is None and not self.queue:
            self._prepare(self.v)
        return isinstance(self.sub, Takeoff) or (self.sub is None and bool(self.queue))

    @property
    def landing(self) -> bool:
        return isinstance(self.sub, Land) or (isinstance(self.sub, Return) and self.sub.landing)

    @property
    def taking_off(self) -> bool:
        return isinstance(self.sub, Takeoff)

    # ------------------------------------------------------------ item setup
    def _prepare(self, v: SimVehicle) -> None:
        """Run DO items at the cursor and queue the next navigation item's activities."""
        guard = 0
        while not self.queue and not self.finished and guard < 1000:
            guard += 1
            if self.index >= len(self.items):
                self.finished = True
                v.mission_finished()
                return
            item = self.items[self.index]
            if item.command in NAV_COMMANDS:
                self.queue = self._activities_for(v, item)
                self._item_queued = True
                v.mission_current_changed(item.seq)
                return
            self._do_item(v, item)

    def _do_item(self, v: SimVehicle, item: Item) -> None:
        if item.command == C.MAV_CMD_DO_CHANGE_SPEED and finite_or(item.param2, 0.0) > 0:
            v.set_speed(item.param2)
        if item.command == C.MAV_CMD_DO_JUMP:
            done = self._jumps.get(item.seq, 0)
            repeat = as_int(item.param2)
            target = next(
                (i for i, it in enumerate(self.items) if it.seq == as_int(item.param1, -1)), None
            )
            if target is not None and (repeat < 0 or done < repeat):
                self._jumps[item.seq] = done + 1
                self.index = target
                return
        self.index += 1

    def _activities_for(self, v: SimVehicle, item: Item) -> list[Callable[[], Activity]]:
        cmd = item.command
        if cmd == C.MAV_CMD_NAV_TAKEOFF:
            u = v.item_up(item)
            return [lambda: v.make_takeoff(u)]
        if cmd == C.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            return [lambda: v.mission_return()]
        hold_s = max(0.0, finite_or(item.param1, 0.0))
        if cmd == C.MAV_CMD_NAV_DELAY:
            return [lambda: Wait(v, hold_s)]
        n, e = v.item_ne(item)
        u = v.item_up(item)
        if cmd == C.MAV_CMD_NAV_LAND:
            return [
                lambda: Goto(n, e, max(v.body.u, 0.0), v.mission_speed, radius=v.wp_radius),
                lambda: Land(n, e),
            ]
        goto = [lambda: Goto(n, e, u, v.mission_speed, radius=v.wp_radius)]
        if cmd == C.MAV_CMD_NAV_WAYPOINT and hold_s > 0:
            return [*goto, lambda: Wait(v, hold_s)]
        if cmd == C.MAV_CMD_NAV_LOITER_TIME:
            return [*goto, lambda: Wait(v, hold_s)]
        if cmd == C.MAV_CMD_NAV_LOITER_UNLIM:
            return [*goto, lambda: _Forever(n, e, u)]
        if cmd == C.MAV_CMD_NAV_LOITER_TURNS:
            r3 = finite_or(item.param3, 0.0)
            radius = abs(r3) if r3 else v.default_orbit_radius
            speed = math.copysign(v.orbit_speed(radius), -1.0 if r3 < 0 else 1.0)
            turns = max(0.0, finite_or(item.param1, 1.0))
            return [lambda: Orbit(n, e, radius, speed, u, turns=turns)]
        return goto  # WAYPOINT, LOITER_TO_ALT

    # -------------------------------------------------------------- per tick
    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        if self.finished:
            if self._end_hold is None:
                self._end_hold = Hold.here(v)
            return self._end_hold.update(v, dt)
        if self.sub is None:
            self._next_sub(v)
            if self.sub is None:
                return self.update(v, dt)
        sp = self.sub.update(v, dt)
        if self.sub.done:
            self._sub_done(v)
        return sp

    def _next_sub(self, v: SimVehicle) -> None:
        if not self.queue:
            self._prepare(v)
        if self.queue:
            self.sub = self.queue.pop(0)()

    def _sub_done(self, v: SimVehicle) -> None:
        self.sub = None
        if self.queue:
            return
        if self._item_queued:
            self._item_queued = False
            if self.index < len(self.items):
                v.mission_item_reached(self.items[self.index].seq)
            self.index += 1
        self._prepare(v)

    def on_touchdown(self, v: SimVehicle) -> None:
        """A LAND or RTL item ended on the ground: the mission is over."""
        if self.landing:
            self.sub = None
            self.queue = []
            if self.index < len(self.items):
                v.mission_item_reached(self.items[self.index].seq)
            self.index = len(self.items)
            self.finished = True
            v.mission_finished()


class _Forever(Hold):
    name = "loiter"

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        sp = super().update(v, dt)
        self.done = False
        return sp
