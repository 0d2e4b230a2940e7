"""Mission and geofence items, and the MAVLink mission protocol that uploads them.

Upload (https://mavlink.io/en/services/mission.html): the ground station sends
MISSION_COUNT; the vehicle asks for each item with MISSION_REQUEST_INT (or the legacy
MISSION_REQUEST, answered with a float MISSION_ITEM); it ends with MISSION_ACK. The
vehicle drives the exchange; the ground station re-sends its last message when nothing
comes, a bounded number of times. Every message carries the vehicle's system id as
target and the mission type (mission, fence, rally), and replies are matched on both,
so an upload to one vehicle never feeds another.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyshare.domain.errors import InputError
from skyshare.fleet.errors import CommandDenied, CommandTimeout
from skyshare.fleet.protocol import enum_name, mavlink, mission_result_name

if TYPE_CHECKING:
    from skyshare.fleet.vehicle import Vehicle

MISSION = mavlink.MAV_MISSION_TYPE_MISSION
FENCE = mavlink.MAV_MISSION_TYPE_FENCE
RALLY = mavlink.MAV_MISSION_TYPE_RALLY

_REL = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
_GLOBAL_FRAMES_INT = {
    mavlink.MAV_FRAME_GLOBAL_INT,
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT,
    mavlink.MAV_FRAME_GLOBAL,
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT,
}
# MISSION_ITEM (float) uses the non-_INT frame numbers.
_FLOAT_FRAME = {
    mavlink.MAV_FRAME_GLOBAL_INT: mavlink.MAV_FRAME_GLOBAL,
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT: mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT: mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT,
}


def _check_latlon(lat: float, lon: float, where: str) -> None:
    if not (isinstance(lat, int | float) and -90.0 <= lat <= 90.0):
        raise InputError(f"{where}.lat", f"must be a latitude in -90..90, got {lat!r}")
    if not (isinstance(lon, int | float) and -180.0 <= lon <= 180.0):
        raise InputError(f"{where}.lon", f"must be a longitude in -180..180, got {lon!r}")


def _check_finite(value: float, field: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value)):
        raise InputError(field, f"must be a finite number, got {value!r}")


def _check_positive(value: float, field: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(field, f"must be > 0, got {value!r}")


@dataclass(frozen=True)
class MissionItem:
    """One MISSION_ITEM_INT. ``x``/``y`` are degrees x 1e7 in global frames.

    Altitudes of the constructors are metres above home (MAV_FRAME_GLOBAL_RELATIVE_ALT_INT).
    """

    command: int
    frame: int = _REL
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0
    y: int = 0
    z: float = 0.0
    autocontinue: bool = True

    @property
    def lat(self) -> float:
        return self.x / 1e7

    @property
    def lon(self) -> float:
        return self.y / 1e7

    @property
    def has_position(self) -> bool:
        return self.frame in _GLOBAL_FRAMES_INT and (self.x != 0 or self.y != 0)

    @property
    def name(self) -> str:
        return enum_name("MAV_CMD", self.command)

    @classmethod
    def waypoint(
        cls, lat: float, lon: float, alt_m: float, hold_s: float = 0.0, accept_radius_m: float = 0.0
    ) -> MissionItem:
        _check_latlon(lat, lon, "waypoint")
        _check_finite(alt_m, "waypoint.alt_m")
        return cls(
            mavlink.MAV_CMD_NAV_WAYPOINT,
            param1=hold_s,
            param2=accept_radius_m,
            x=round(lat * 1e7),
            y=round(lon * 1e7),
            z=alt_m,
        )

    @classmethod
    def takeoff(
        cls, alt_m: float, lat: float | None = None, lon: float | None = None
    ) -> MissionItem:
        """Take off to ``alt_m``; with no position, the autopilot's own (filled for PX4)."""
        _check_positive(alt_m, "takeoff.alt_m")
        x = y = 0
        if lat is not None and lon is not None:
            _check_latlon(lat, lon, "takeoff")
            x, y = round(lat * 1e7), round(lon * 1e7)
        return cls(mavlink.MAV_CMD_NAV_TAKEOFF, x=x, y=y, z=alt_m)

    @classmethod
    def loiter_time(
        cls, lat: float, lon: float, alt_m: float, seconds: float, radius_m: float = 0.0
    ) -> MissionItem:
        _check_latlon(lat, lon, "loiter_time")
        _check_positive(seconds, "loiter_time.seconds")
        return cls(
            mavlink.MAV_CMD_NAV_LOITER_TIME,
            param1=seconds,
            param3=radius_m,
            x=round(lat * 1e7),
            y=round(lon * 1e7),
            z=alt_m,
        )

    @classmethod
    def loiter_turns(
        cls, lat: float, lon: float, alt_m: float, turns: float, radius_m: float
    ) -> MissionItem:
        """Orbit a point ``turns`` times (radius > 0 clockwise, < 0 counter-clockwise)."""
        _check_latlon(lat, lon, "loiter_turns")
        _check_positive(turns, "loiter_turns.turns")
        _check_finite(radius_m, "loiter_turns.radius_m")
        return cls(
            mavlink.MAV_CMD_NAV_LOITER_TURNS,
            param1=turns,
            param3=radius_m,
            x=round(lat * 1e7),
            y=round(lon * 1e7),
            z=alt_m,
        )

    @classmethod
    def loiter_unlimited(
        cls, lat: float, lon: float, alt_m: float, radius_m: float = 0.0
    ) -> MissionItem:
        _check_latlon(lat, lon, "loiter_unlimited")
        return cls(
            mavlink.MAV_CMD_NAV_LOITER_UNLIM,
            param3=radius_m,
            x=round(lat * 1e7),
            y=round(lon * 1e7),
            z=alt_m,
        )

    @classmethod
    def return_to_launch(cls) -> MissionItem:
        return cls(mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH)

    @classmethod
    def land(cls, lat: float | None = None, lon: float | None = None) -> MissionItem:
        """Land here (no position) or at (lat, lon)."""
        x = y = 0
        if lat is not None and lon is not None:
            _check_latlon(lat, lon, "land")
            x, y = round(lat * 1e7), round(lon * 1e7)
        return cls(mavlink.MAV_CMD_NAV_LAND, x=x, y=y)

    @classmethod
    def change_speed(cls, speed_mps: float) -> MissionItem:
        _check_positive(speed_mps, "change_speed.speed_mps")
        return cls(
            mavlink.MAV_CMD_DO_CHANGE_SPEED,
            frame=mavlink.MAV_FRAME_MISSION,
            param1=1.0,  # ground speed
            param2=speed_mps,
            param3=-1.0,  # throttle unchanged
        )


@dataclass(frozen=True)
class FencePolygon:
    """A fence polygon of (lat, lon) vertices; ``inclusion``: stay inside, else stay out."""

    vertices: tuple[tuple[float, float], ...]
    inclusion: bool = True

    def __post_init__(self) -> None:
        verts = tuple((float(lat), float(lon)) for lat, lon in self.vertices)
        object.__setattr__(self, "vertices", verts)
        if len(verts) >= 4 and verts[0] == verts[-1]:  # a closed ring: drop the repeat
            object.__setattr__(self, "vertices", verts[:-1])
        if len(self.vertices) < 3:
            raise InputError("fence.polygon.vertices", f"needs >= 3 vertices, got {len(verts)}")
        for i, (lat, lon) in enumerate(self.vertices):
            _check_latlon(lat, lon, f"fence.polygon.vertices[{i}]")


@dataclass(frozen=True)
class FenceCircle:
    lat: float
    lon: float
    radius_m: float
    inclusion: bool = True

    def __post_init__(self) -> None:
        _check_latlon(self.lat, self.lon, "fence.circle")
        _check_positive(self.radius_m, "fence.circle.radius_m")


@dataclass(frozen=True)
class Fence:
    """A geofence: inclusion/exclusion polygons and circles, and an optional return point."""

    polygons: tuple[FencePolygon, ...] = ()
    circles: tuple[FenceCircle, ...] = ()
    return_point: tuple[float, float] | None = None  # (lat, lon)

    def __post_init__(self) -> None:
        object.__setattr__(self, "polygons", tuple(self.polygons))
        object.__setattr__(self, "circles", tuple(self.circles))
        if self.return_point is not None:
            _check_latlon(self.return_point[0], self.return_point[1], "fence.return_point")

    def items(self) -> list[MissionItem]:
        """The MISSION_TYPE_FENCE items (frame MAV_FRAME_GLOBAL, as QGroundControl sends)."""
        frame = mavlink.MAV_FRAME_GLOBAL
        out: list[MissionItem] = []
        if self.return_point is not None:
            lat, lon = self.return_point
            out.append(
                MissionItem(
                    mavlink.MAV_CMD_NAV_FENCE_RETURN_POINT,
                    frame=frame,
                    x=round(lat * 1e7),
                    y=round(lon * 1e7),
                )
            )
        for polygon in self.polygons:
            command = (
                mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
                if polygon.inclusion
                else mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
            )
            n = len(polygon.vertices)
            for lat, lon in polygon.vertices:
                out.append(
                    MissionItem(
                        command, frame=frame, param1=n, x=round(lat * 1e7), y=round(lon * 1e7)
                    )
                )
        for circle in self.circles:
            command = (
                mavlink.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
                if circle.inclusion
                else mavlink.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
            )
            out.append(
                MissionItem(
                    command,
                    frame=frame,
                    param1=circle.radius_m,
                    x=round(circle.lat * 1e7),
                    y=round(circle.lon * 1e7),
                )
            )
        return out


def _item_message(
    vehicle: Vehicle, item: MissionItem, seq: int, mission_type: int, as_float: bool
) -> mavlink.MAVLink_message:
    common = (vehicle.system_id, vehicle.component_id, seq)
    if as_float:
        frame = _FLOAT_FRAME.get(item.frame, item.frame)
        in_degrees = item.frame in _GLOBAL_FRAMES_INT
        return mavlink.MAVLink_mission_item_message(
            *common,
            frame,
            item.command,
            0,
            int(item.autocontinue),
            item.param1,
            item.param2,
            item.param3,
            item.param4,
            item.x / 1e7 if in_degrees else float(item.x),
            item.y / 1e7 if in_degrees else float(item.y),
            item.z,
            mission_type,
        )
    return mavlink.MAVLink_mission_item_int_message(
        *common,
        item.frame,
        item.command,
        0,
        int(item.autocontinue),
        item.param1,
        item.param2,
        item.param3,
        item.param4,
        item.x,
        item.y,
        item.z,
        mission_type,
    )


_REQUESTS = (mavlink.MAVLINK_MSG_ID_MISSION_REQUEST_INT, mavlink.MAVLINK_MSG_ID_MISSION_REQUEST)


async def upload_items(vehicle: Vehicle, items: Sequence[MissionItem], mission_type: int) -> None:
    """Upload ``items`` as the vehicle's mission/fence/rally; raise on refusal or silence."""
    what = f"upload {enum_name('MAV_MISSION_TYPE', mission_type)} ({len(items)} items)"
    cfg = vehicle.config
    wait = cfg.answer_wait(cfg.mission_timeout_s)
    loop = asyncio.get_running_loop()
    count = len(items)
    count_msg = mavlink.MAVLink_mission_count_message(
        vehicle.system_id, vehicle.component_id, count, mission_type
    )
    async with vehicle.mission_exchange() as inbox:
        started = loop.time()
        text_mark = vehicle.text_mark()
        last: mavlink.MAVLink_message = count_msg
        highest = -1
        attempts = 1
        vehicle.send(count_msg)
        while True:
            try:
                async with asyncio.timeout(wait):
                    msg = await inbox.get()
            except TimeoutError:
                if attempts >= cfg.mission_attempts:
                    raise CommandTimeout(
                        vehicle.system_id, what, attempts, loop.time() - started
                    ) from None
                attempts += 1
                vehicle.send(last)
                continue
            if getattr(msg, "mission_type", 0) != mission_type:
                continue
            if msg.id == mavlink.MAVLINK_MSG_ID_MISSION_ACK:
                if msg.type == mavlink.MAV_MISSION_ACCEPTED:
                    if highest == count - 1:
                        return
                    continue  # a stale ACK from an earlier exchange
                reason = await vehicle.reason_since(text_mark)
                raise CommandDenied(vehicle.system_id, what, mission_result_name(msg.type), reason)
            if msg.id in _REQUESTS:
                seq = msg.seq
                if not 0 <= seq < count:
                    continue
                as_float = msg.id == mavlink.MAVLINK_MSG_ID_MISSION_REQUEST
                last = _item_message(vehicle, items[seq], seq, mission_type, as_float)
                vehicle.send(last)
                if seq > highest:
                    highest = seq
                    attempts = 1  # progress: the retry budget starts again


async def clear_items(vehicle: Vehicle, mission_type: int) -> None:
    """MISSION_CLEAR_ALL for one mission type, confirmed by MISSION_ACK."""
    what = f"clear {enum_name('MAV_MISSION_TYPE', mission_type)}"
    cfg = vehicle.config
    wait = cfg.answer_wait(cfg.mission_timeout_s)
    loop = asyncio.get_running_loop()
    msg_out = mavlink.MAVLink_mission_clear_all_message(
        vehicle.system_id, vehicle.component_id, mission_type
    )
    async with vehicle.mission_exchange() as inbox:
        started = loop.time()
        text_mark = vehicle.text_mark()
        for attempt in range(1, cfg.mission_attempts + 1):
            vehicle.send(msg_out)
            deadline = loop.time() + wait
            while (remaining := deadline - loop.time()) > 0:
                try:
                    async with asyncio.timeout(remaining):
                        msg = await inbox.get()
                except TimeoutError:
                    break
                if msg.id != mavlink.MAVLINK_MSG_ID_MISSION_ACK:
                    continue
                if getattr(msg, "mission_type", 0) != mission_type:
                    continue
                if msg.type == mavlink.MAV_MISSION_ACCEPTED:
                    return
                reason = await vehicle.reason_since(text_mark)
                raise CommandDenied(vehicle.system_id, what, mission_result_name(msg.type), reason)
            if attempt == cfg.mission_attempts:
                raise CommandTimeout(vehicle.system_id, what, attempt, loop.time() - started)
