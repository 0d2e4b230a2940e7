"""The vehicle's side of missions and guided targets: storing lists, the current item.

A mixin of ``SimVehicle``: what the mission protocol calls back (``mission_items``,
``store_items``, ``clear_items``), the current-item bookkeeping ``MissionRun`` reports
into, item coordinates in the local frame, and SET_POSITION_TARGET_* decoding (the
personality decides what a setpoint means in its current mode).
"""

from __future__ import annotations

import math
from typing import Any

from simulators.mavsim import fence as fence_mod
from simulators.mavsim import telemetry
from simulators.mavsim.mission import FENCE, MISSION, RALLY, Item
from simulators.mavsim.missionrun import MISSION_FRAMES, SUPPORTED, MissionRun
from simulators.mavsim.nav import Activity
from simulators.mavsim.wire import C, Channel


class MissionHost:
    """Mixin: mission, fence and rally storage, mission progress, guided setpoints."""

    wp_radius: float = 2.0
    default_orbit_radius: float = 10.0

    # ------------------------------------------------------------ missions
    def _on_mission_item(self, channel: Channel, msg: Any) -> None:
        if msg.current == 2 and getattr(msg, "mission_type", MISSION) == MISSION:
            self.guided_goto_item(Item.from_msg(msg), channel, msg)  # ArduPilot "fly to here"
            return
        self.mission_proto.on_item(channel, msg)

    def guided_goto_item(self, item: Item, channel: Channel, msg: Any) -> None:
        """MISSION_ITEM(_INT) with current=2: only ArduPilot answers it."""

    def _on_mission_set_current(self, channel: Channel, msg: Any) -> None:
        self.set_mission_current(msg.seq)

    def store_items(self, mission_type: int, items: list[Item]) -> int:
        items = [it.with_seq(i) for i, it in enumerate(items)]
        if mission_type == MISSION:
            for it in items:
                if it.command not in SUPPORTED:
                    return C.MAV_MISSION_UNSUPPORTED
                if it.frame not in MISSION_FRAMES:
                    return C.MAV_MISSION_UNSUPPORTED_FRAME
            self.items[MISSION] = items
            self.mission_ever_uploaded = True
            self.mission_stored()
        elif mission_type == FENCE:
            if fence_mod.validate(items) is not None:
                return C.MAV_MISSION_INVALID
            self.items[FENCE] = items
            self.geofence = fence_mod.build(items, self.frame)
        else:
            if any(it.command != C.MAV_CMD_NAV_RALLY_POINT for it in items):
                return C.MAV_MISSION_UNSUPPORTED
            self.items[RALLY] = items
            self.rally_points = [
                (*self.frame.to_ne(it.lat, it.lon), self.item_up(it)) for it in items
            ]
        return C.MAV_MISSION_ACCEPTED

    def clear_items(self, mission_type: int) -> bool:
        return self.store_items(mission_type, []) == C.MAV_MISSION_ACCEPTED

    def mission_stored(self) -> None:
        """A new mission replaced the old one: restart execution state."""
        self.mission_started = False
        self.mission_complete = False
        self.mission_seq = 0
        if self.mission_run is not None and self.activity is self.mission_run:
            self.mission_run = self.new_mission_run(0)
            self.activity = self.mission_run

    def set_mission_current(self, seq: int) -> bool:
        flyable = self.flyable_items()
        index = next((i for i, it in enumerate(flyable) if it.seq == seq), None)
        if index is None:
            return False
        self.mission_seq = seq
        self.mission_complete = False
        if self.mission_run is not None and self.activity is self.mission_run:
            self.mission_run = self.new_mission_run(index)
            self.activity = self.mission_run
        return True

    def new_mission_run(self, index: int) -> MissionRun:
        return MissionRun(self, self.flyable_items(), index)

    def mission_index(self) -> int:
        """Where AUTO/MISSION resumes: the current item, or the start after completion."""
        flyable = self.flyable_items()
        if self.mission_complete:
            return 0
        return next((i for i, it in enumerate(flyable) if it.seq == self.mission_seq), 0)

    # Called by MissionRun.
    def mission_current_changed(self, seq: int) -> None:
        self.mission_seq = seq
        self.mission_started = True
        self.broadcast(telemetry.mission_current(self))

    def mission_item_reached(self, seq: int) -> None:
        self.broadcast(C.MAVLink_mission_item_reached_message(seq))
        self.on_item_reached(seq)

    def on_item_reached(self, seq: int) -> None: ...

    def mission_finished(self) -> None:
        self.mission_complete = True
        self.broadcast(telemetry.mission_current(self))

    @property
    def mission_speed(self) -> float:
        return self.speed_override or self.limits.speed_xy

    def orbit_speed(self, radius: float) -> float:
        return min(self.limits.speed_xy, 5.0)

    def make_takeoff(self, u: float) -> Activity:
        raise NotImplementedError

    def item_ne(self, item: Item) -> tuple[float, float]:
        if item.x == 0 and item.y == 0:
            return self.body.n, self.body.e
        return self.frame.to_ne(item.lat, item.lon)

    def item_up(self, item: Item) -> float:
        return self.alt_to_amsl(item.z, item.frame) - self.frame.alt0

    def alt_to_amsl(self, alt: float, frame: int) -> float:
        """An altitude in a MAVLink frame -> metres above mean sea level (flat terrain)."""
        if frame in (C.MAV_FRAME_GLOBAL, C.MAV_FRAME_GLOBAL_INT):
            return alt
        if frame in (C.MAV_FRAME_GLOBAL_TERRAIN_ALT, C.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT):
            return self.frame.alt0 + alt
        return self.home_alt_amsl + alt  # relative-to-home frames, and the default

    # -------------------------------------------------------- guided targets
    def _on_position_target_global(self, channel: Channel, msg: Any) -> None:
        mask = msg.type_mask
        pos = mask & 7 != 7
        vel = mask & 56 != 56
        lat, lon = msg.lat_int / 1e7, msg.lon_int / 1e7
        n, e = self.frame.to_ne(lat, lon)
        u = self.alt_to_amsl(msg.alt, msg.coordinate_frame) - self.frame.alt0
        self.on_setpoint((n, e, u) if pos else None, (msg.vx, msg.vy, -msg.vz) if vel else None)

    def _on_position_target_local(self, channel: Channel, msg: Any) -> None:
        mask = msg.type_mask
        pos = mask & 7 != 7
        vel = mask & 56 != 56
        b = self.body
        if msg.coordinate_frame in (C.MAV_FRAME_BODY_NED, C.MAV_FRAME_BODY_OFFSET_NED):
            h = math.radians(b.heading)
            dn = msg.x * math.cos(h) - msg.y * math.sin(h)
            de = msg.x * math.sin(h) + msg.y * math.cos(h)
            target = (b.n + dn, b.e + de, b.u - msg.z)
            vn = msg.vx * math.cos(h) - msg.vy * math.sin(h)
            ve = msg.vx * math.sin(h) + msg.vy * math.cos(h)
        elif msg.coordinate_frame == C.MAV_FRAME_LOCAL_OFFSET_NED:
            target = (b.n + msg.x, b.e + msg.y, b.u - msg.z)
            vn, ve = msg.vx, msg.vy
        else:
            target = (msg.x, msg.y, -msg.z)
            vn, ve = msg.vx, msg.vy
        self.on_setpoint(target if pos else None, (vn, ve, -msg.vz) if vel else None)

    def on_setpoint(
        self,
        position: tuple[float, float, float] | None,
        velocity: tuple[float, float, float] | None,
    ) -> None:
        """A SET_POSITION_TARGET_* arrived (local frame); personalities decide if it counts."""
