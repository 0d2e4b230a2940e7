"""The MAVLink mission protocol (vehicle side) for mission, fence and rally item lists.

Upload: the GCS sends MISSION_COUNT; the vehicle requests each item in turn with
MISSION_REQUEST_INT (MISSION_REQUEST once the GCS has answered with a legacy
MISSION_ITEM), re-requests after ``retry_s`` of silence, gives up after ``timeout_s``
with MISSION_ACK OPERATION_CANCELLED, and ends with MISSION_ACK carrying the result of
storing the list. Download: MISSION_REQUEST_LIST -> MISSION_COUNT, then one item per
request; the GCS drives the retries. MISSION_CLEAR_ALL clears one list (or all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pymavlink.dialects.v20 import ardupilotmega as mavlink

MISSION = mavlink.MAV_MISSION_TYPE_MISSION
FENCE = mavlink.MAV_MISSION_TYPE_FENCE
RALLY = mavlink.MAV_MISSION_TYPE_RALLY
ALL = mavlink.MAV_MISSION_TYPE_ALL
TYPES = (MISSION, FENCE, RALLY)

ACCEPTED = mavlink.MAV_MISSION_ACCEPTED
ERROR = mavlink.MAV_MISSION_ERROR
UNSUPPORTED_FRAME = mavlink.MAV_MISSION_UNSUPPORTED_FRAME
UNSUPPORTED = mavlink.MAV_MISSION_UNSUPPORTED
NO_SPACE = mavlink.MAV_MISSION_NO_SPACE
INVALID = mavlink.MAV_MISSION_INVALID
INVALID_SEQUENCE = mavlink.MAV_MISSION_INVALID_SEQUENCE
DENIED = mavlink.MAV_MISSION_DENIED
CANCELLED = mavlink.MAV_MISSION_OPERATION_CANCELLED


def as_int(x: float, default: int = 0) -> int:
    """A MAVLink float parameter as an integer; NaN (\"unset\") gives ``default``."""
    return round(x) if math.isfinite(x) else default


def finite_or(x: float, default: float) -> float:
    return x if math.isfinite(x) else default


@dataclass(frozen=True)
class Item:
    """One mission/fence/rally item, always held in MISSION_ITEM_INT form."""

    seq: int
    frame: int
    command: int
    current: int = 0
    autocontinue: int = 1
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0  # latitude degE7 (or local x)
    y: int = 0  # longitude degE7
    z: float = 0.0  # altitude metres, in ``frame``
    mission_type: int = MISSION

    @property
    def lat(self) -> float:
        return self.x / 1e7

    @property
    def lon(self) -> float:
        return self.y / 1e7

    @classmethod
    def from_msg(cls, msg: Any) -> Item:
        """From MISSION_ITEM_INT, or from legacy MISSION_ITEM (degrees as floats)."""
        is_int = msg.get_type() == "MISSION_ITEM_INT"
        x = msg.x if is_int else round(msg.x * 1e7)
        y = msg.y if is_int else round(msg.y * 1e7)
        return cls(
            seq=msg.seq,
            frame=msg.frame,
            command=msg.command,
            current=msg.current,
            autocontinue=msg.autocontinue,
            param1=msg.param1,
            param2=msg.param2,
            param3=msg.param3,
            param4=msg.param4,
            x=int(x),
            y=int(y),
            z=msg.z,
            mission_type=getattr(msg, "mission_type", MISSION),
        )

    def with_seq(self, seq: int) -> Item:
        return replace(self, seq=seq)


class Channel(Protocol):
    def send(self, data: bytes) -> None: ...


class Host(Protocol):
    """What the protocol needs from the vehicle."""

    sysid: int
    compid: int

    def send_to(self, channel: Channel, msg: Any) -> None: ...
    def mission_items(self, mission_type: int) -> list[Item]: ...
    def store_items(self, mission_type: int, items: list[Item]) -> int: ...
    def clear_items(self, mission_type: int) -> bool: ...


@dataclass
class _Upload:
    mission_type: int
    count: int
    channel: Channel
    peer: tuple[int, int]  # (sysid, compid) of the GCS uploading
    items: list[Item]
    last_rx: float
    last_request: float
    legacy: bool = False


class MissionProtocol:
    """One vehicle's end of the mission protocol, for all three item types."""

    def __init__(
        self,
        host: Host,
        clock: Callable[[], float],
        *,
        retry_s: float,
        timeout_s: float,
        max_items: int = 700,
    ) -> None:
        self.host = host
        self.clock = clock
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self.max_items = max_items
        self._uploads: dict[int, _Upload] = {}

    @property
    def busy(self) -> bool:
        return bool(self._uploads)

    def _ack(self, channel: Channel, peer: tuple[int, int], result: int, mtype: int) -> None:
        enc = mavlink.MAVLink_mission_ack_message(peer[0], peer[1], result, mtype)
        self.host.send_to(channel, enc)

    def _request(self, up: _Upload) -> None:
        seq = len(up.items)
        cls = (
            mavlink.MAVLink_mission_request_message
            if up.legacy
            else (mavlink.MAVLink_mission_request_int_message)
        )
        self.host.send_to(up.channel, cls(up.peer[0], up.peer[1], seq, up.mission_type))
        up.last_request = self.clock()

    # ----------------------------------------------------------------- upload
    def on_count(self, channel: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", MISSION)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        if mtype not in TYPES:
            self._ack(channel, peer, UNSUPPORTED, mtype)
            return
        current = self._uploads.get(mtype)
        if current is not None and current.peer != peer:
            self._ack(channel, peer, DENIED, mtype)  # someone else is mid-upload
            return
        if msg.count > self.max_items:
            self._ack(channel, peer, NO_SPACE, mtype)
            return
        if msg.count == 0:
            self._uploads.pop(mtype, None)
            self._ack(channel, peer, self.host.store_items(mtype, []), mtype)
            return
        now = self.clock()
        up = _Upload(mtype, msg.count, channel, peer, [], now, now)
        self._uploads[mtype] = up
        self._request(up)

    def on_item(self, channel: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", MISSION)
        up = self._uploads.get(mtype)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        if up is None:
            return  # a late duplicate after the upload finished: nothing to answer
        if peer != up.peer:
            self._ack(channel, peer, DENIED, mtype)
            return
        up.legacy = msg.get_type() == "MISSION_ITEM"
        expected = len(up.items)
        if msg.seq == expected - 1:
            return  # a retransmission of the item we already have
        if msg.seq != expected:
            self._ack(channel, peer, INVALID_SEQUENCE, mtype)
            return
        up.items.append(Item.from_msg(msg))
        up.last_rx = self.clock()
        if len(up.items) < up.count:
            self._request(up)
            return
        del self._uploads[mtype]
        self._ack(channel, peer, self.host.store_items(mtype, up.items), mtype)

    def on_ack(self, msg: Any) -> None:
        """A GCS may abandon its upload by acking with an error."""
        mtype = getattr(msg, "mission_type", MISSION)
        up = self._uploads.get(mtype)
        if up is not None and (msg.get_srcSystem(), msg.get_srcComponent()) == up.peer:
            del self._uploads[mtype]

    def tick(self) -> None:
        now = self.clock()
        for mtype, up in list(self._uploads.items()):
            if now - up.last_rx > self.timeout_s:
                del self._uploads[mtype]
                self._ack(up.channel, up.peer, CANCELLED, mtype)
            elif now - up.last_request > self.retry_s:
                self._request(up)

    # --------------------------------------------------------------- download
    def on_request_list(self, channel: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", MISSION)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        if mtype not in TYPES:
            self._ack(channel, peer, UNSUPPORTED, mtype)
            return
        if mtype in self._uploads:
            self._ack(channel, peer, DENIED, mtype)
            return
        count = len(self.host.mission_items(mtype))
        self.host.send_to(
            channel, mavlink.MAVLink_mission_count_message(peer[0], peer[1], count, mtype)
        )

    def on_request(self, channel: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", MISSION)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        if mtype in self._uploads:
            self._ack(channel, peer, DENIED, mtype)
            return
        items = self.host.mission_items(mtype) if mtype in TYPES else []
        if not 0 <= msg.seq < len(items):
            self._ack(channel, peer, INVALID_SEQUENCE, mtype)
            return
        it = items[msg.seq]
        if msg.get_type() == "MISSION_REQUEST":
            out = mavlink.MAVLink_mission_item_message(
                peer[0], peer[1], it.seq, it.frame, it.command, it.current, it.autocontinue,
                it.param1, it.param2, it.param3, it.param4, it.x / 1e7, it.y / 1e7, it.z, mtype,
            )  # fmt: skip
        else:
            out = mavlink.MAVLink_mission_item_int_message(
                peer[0], peer[1], it.seq, it.frame, it.command, it.current, it.autocontinue,
                it.param1, it.param2, it.param3, it.param4, it.x, it.y, it.z, mtype,
            )  # fmt: skip
        self.host.send_to(channel, out)

    # ------------------------------------------------------------------ clear
    def on_clear_all(self, channel: Channel, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", MISSION)
        peer = (msg.get_srcSystem(), msg.get_srcComponent())
        types = TYPES if mtype == ALL else (mtype,)
        if any(t in self._uploads for t in types) or mtype not in (*TYPES, ALL):
            self._ack(channel, peer, ERROR if mtype in (*TYPES, ALL) else UNSUPPORTED, mtype)
            return
        ok = all([self.host.clear_items(t) for t in types])
        self._ack(channel, peer, ACCEPTED if ok else ERROR, mtype)
