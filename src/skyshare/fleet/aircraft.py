"""The aircraft file: which aircraft each drone of the network is.

    # Which aircraft each drone is: the MAVLink link SkyShare hears it on, its system id,
    # and (optional) its autopilot's hardware id.
    aircraft:
      pol-1: {link: "tcp:127.0.0.1:5760", system_id: 1, board_id: "3a0027000f51333130383838"}
      pol-2: {link: "udpin:0.0.0.0:14550", system_id: 2}

``parse_aircraft`` turns the file's text into one ``Aircraft`` per drone listed, or raises
``InputError`` naming the drone (``item``) and the field; it reads no file and opens no
link, so a bad file changes nothing. Links are written as ``skyshare.fleet.endpoints``
reads them, and ``udp:`` is the same link as ``udpin:``. Each distinct link is opened
once and may carry many aircraft (PX4 vehicles on one UDP port, or behind a router).

A system id names one aircraft across every link: the fleet link tells aircraft apart by
it, and takes one heard on two links for one aircraft (a redundant radio). So two drones
may share a link, never a system id: give each aircraft its own (ArduPilot
``SYSID_THISMAV``, PX4 ``MAV_SYS_ID``).

A system id is a setting, and two aircraft on one dock look alike from the ground: a
``board_id`` says which aircraft it must be. It is the hardware id the autopilot reports
(AUTOPILOT_VERSION, ``skyshare.fleet.state.board_id``) in hex, as SkyShare logs it when it
first hears the aircraft; an aircraft that reports another, or none, is not flown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from skyshare.domain.errors import InputError
from skyshare.fleet.endpoints import Scheme, parse_endpoint

ENTRY_KEYS = ("link", "system_id", "board_id")
BOARD_ID_HEX = 36  # AUTOPILOT_VERSION's uid2: 18 bytes
LISTENING = (Scheme.UDPIN, Scheme.TCPIN)  # links that bind a port of this machine


@dataclass(frozen=True)
class Aircraft:
    drone_id: str
    link: str  # the connection string as the fleet link opens it (``udp:`` -> ``udpin:``)
    system_id: int
    board_id: str | None = None  # lowercase hex; None: the file does not say


def parse_aircraft(
    text: str, drone_ids: Collection[str], *, source: str = "", ground_station_id: int = 255
) -> dict[str, Aircraft]:
    """The aircraft of each drone listed in ``text`` (YAML), by drone id, in file order.

    ``drone_ids``: the network's drones. ``ground_station_id``: SkyShare's own system id
    on the links, which no aircraft may have (it would never be heard)."""
    listed: dict[str, Aircraft] = {}
    for drone_id, entry in _entries(text, source).items():
        try:
            listed[drone_id] = _aircraft(drone_id, entry, drone_ids, ground_station_id, listed)
        except InputError as exc:
            raise InputError(
                exc.field, exc.reason, source=source, item=f"aircraft.{drone_id}"
            ) from None
    return listed


def links(aircraft: Mapping[str, Aircraft]) -> list[str]:
    """Each distinct link once, in the order first listed."""
    return list(dict.fromkeys(a.link for a in aircraft.values()))


def _aircraft(
    drone_id: str,
    entry: Any,
    drone_ids: Collection[str],
    ground_station_id: int,
    before: Mapping[str, Aircraft],
) -> Aircraft:
    if drone_id not in drone_ids:
        raise InputError("drone_id", f"{drone_id!r} is not a drone of the network")
    if not isinstance(entry, Mapping):
        raise InputError("(entry)", f"expected {{link: ..., system_id: ...}}, got {entry!r}")
    unknown = sorted(str(k) for k in entry if k not in ENTRY_KEYS)
    if unknown:
        raise InputError(unknown[0], f"unknown key; expected {', '.join(ENTRY_KEYS)}")
    link = _link(entry.get("link"))
    system_id = _system_id(entry.get("system_id"), ground_station_id)
    board_id = _board_id(entry.get("board_id"))
    for other in before.values():
        if other.system_id == system_id:
            raise InputError(
                "system_id",
                f"system {system_id} is {other.drone_id}'s already: each aircraft needs a "
                "system id of its own, whatever its link (SYSID_THISMAV, MAV_SYS_ID)",
            )
        bound = _listens_on(link)
        if bound is not None and other.link != link and _listens_on(other.link) == bound:
            raise InputError("link", f"{link} and {other.link} would both listen on one port")
        if board_id is not None and other.board_id == board_id:
            raise InputError("board_id", f"{board_id} is {other.drone_id}'s already")
    return Aircraft(drone_id, link, system_id, board_id)


def _entries(text: str, source: str) -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=_UniqueKeys)
    except _KeyTwice as twice:
        raise InputError(
            "drone_id",
            f"listed twice (lines {twice.first} and {twice.again})",
            source=source,
            item=f"aircraft.{twice.key}",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError("(file)", f"not valid YAML: {exc}", source=source) from None
    if not isinstance(document, Mapping) or "aircraft" not in document:
        raise InputError(
            "aircraft", "is required: each drone id with its {link, system_id}", source=source
        )
    unknown = sorted(str(k) for k in document if k != "aircraft")
    if unknown:
        raise InputError(unknown[0], "unknown key; expected only 'aircraft'", source=source)
    entries = document["aircraft"]
    if not isinstance(entries, Mapping) or not entries:
        raise InputError(
            "aircraft",
            f"expected each drone id with its {{link, system_id}}, got {entries!r}",
            source=source,
        )
    return {str(k): v for k, v in entries.items()}


def _link(value: Any) -> str:
    if value is None:
        raise InputError("link", "is required, e.g. tcp:127.0.0.1:5760 or udpin:0.0.0.0:14550")
    try:
        return str(parse_endpoint(value))
    except InputError as exc:
        raise InputError("link", exc.reason) from None


def _listens_on(link: str) -> tuple[Scheme, int] | None:
    """The port of this machine a link binds (a fixed one), if it binds one."""
    endpoint = parse_endpoint(link)
    if endpoint.scheme in LISTENING and endpoint.port:
        return endpoint.scheme, endpoint.port
    return None


def _system_id(value: Any, ground_station_id: int) -> int:
    if value is None:
        raise InputError("system_id", "is required: the aircraft's MAVLink system id, 1..255")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 255:
        raise InputError("system_id", f"must be a whole number 1..255, got {value!r}")
    if value == ground_station_id:
        raise InputError("system_id", f"{value} is SkyShare's own (the ground station's)")
    return value


def _board_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):  # YAML reads 0x1f or 1234 as a number: quoted, it is not
        raise InputError("board_id", f"must be quoted hex digits, got {value!r}")
    digits = value.strip().lower()
    if not 0 < len(digits) <= BOARD_ID_HEX or any(c not in "0123456789abcdef" for c in digits):
        raise InputError(
            "board_id",
            f"must be 1 to {BOARD_ID_HEX} hex digits, as the aircraft reports it; got {value!r}",
        )
    return digits


class _KeyTwice(yaml.YAMLError):
    def __init__(self, key: object, first: int, again: int) -> None:
        super().__init__(f"{key!r} given twice")
        self.key, self.first, self.again = key, first, again


class _UniqueKeys(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping: plain YAML keeps the
    last one silently, and a drone listed twice would fly as whichever came last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _KeyTwice(key, seen[key], line)
            except TypeError:  # an unhashable key: the safe loader says so itself
                break
            seen[key] = line
        return super().construct_mapping(node, deep=deep)
