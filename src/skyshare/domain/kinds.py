"""The catalogue of incident kinds: what each needs from a drone and how long it stays.

A network file may add kinds or override these; the defaults reflect drone-as-first-
responder practice (overwatch of a scene, thermal search for people, defibrillator drop).
"""

from __future__ import annotations

from skyshare.domain.enums import Capability as C
from skyshare.domain.enums import TaskKind
from skyshare.domain.models import IncidentKind


def _kind(name: str, task: TaskKind, caps: set[C], minutes: float) -> IncidentKind:
    return IncidentKind(name, task, frozenset(caps), minutes * 60.0)


DEFAULT_KINDS: dict[str, IncidentKind] = {
    k.name: k
    for k in (
        _kind("burglary", TaskKind.OVERWATCH, {C.THERMAL}, 10),
        _kind("suspect_search", TaskKind.SEARCH, {C.THERMAL}, 15),
        _kind("missing_person", TaskKind.SEARCH, {C.THERMAL}, 20),
        _kind("public_disorder", TaskKind.OVERWATCH, {C.ZOOM, C.LOUDSPEAKER}, 20),
        _kind("road_traffic_collision", TaskKind.OVERWATCH, {C.ZOOM}, 10),
        _kind("firearms", TaskKind.OVERWATCH, {C.ZOOM, C.THERMAL}, 20),
        _kind("building_fire", TaskKind.OVERWATCH, {C.THERMAL, C.ZOOM}, 20),
        _kind("grass_fire", TaskKind.OVERWATCH, {C.THERMAL}, 15),
        _kind("water_rescue", TaskKind.SEARCH, {C.THERMAL, C.SPOTLIGHT}, 15),
        _kind("hazmat", TaskKind.OVERWATCH, {C.ZOOM}, 20),
        _kind("cardiac_arrest", TaskKind.DELIVER, {C.PAYLOAD}, 2),
        _kind("major_incident", TaskKind.OVERWATCH, {C.ZOOM, C.THERMAL}, 25),
        _kind("welfare_check", TaskKind.OVERWATCH, set(), 5),
    )
}
