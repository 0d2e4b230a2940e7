"""MQTT topic names: one place that spells them, for the bus and for anyone talking to it.

Events go out on ``<prefix>/events/<type>``. Control-room (CAD) systems send incidents to
``<prefix>/cad/<agency>/incidents`` and hear back on ``<prefix>/cad/<agency>/accepted`` or
``<prefix>/cad/<agency>/rejected``. The prefix is ``skyshare/v1`` unless configured.
"""

from __future__ import annotations

import hashlib

from skyshare.domain.errors import InputError
from skyshare.domain.events import EventType

DEFAULT_PREFIX = "skyshare/v1"


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start a topic name, else raise naming what is wrong."""
    if not prefix:
        raise InputError("topic_prefix", "must not be empty")
    if prefix.startswith("/") or prefix.endswith("/"):
        raise InputError("topic_prefix", f"must not start or end with '/', got {prefix!r}")
    if any(c in prefix for c in "+#\0"):
        raise InputError("topic_prefix", f"must not contain '+', '#' or NUL, got {prefix!r}")
    return prefix


def session_client_id(prefix: str = DEFAULT_PREFIX) -> str:
    """A broker session name for the SkyShare serving ``prefix``: the same after a restart
    (so the session resumes), another for another deployment on the same broker, and
    within MQTT 3.1.1's 23 characters."""
    return "skyshare-" + hashlib.sha256(check_prefix(prefix).encode()).hexdigest()[:14]


def event_topic(event_type: EventType | str, prefix: str = DEFAULT_PREFIX) -> str:
    """``skyshare/v1/events/incident_received`` and so on."""
    return f"{prefix}/events/{EventType(event_type).value}"


def events_filter(prefix: str = DEFAULT_PREFIX) -> str:
    """A subscription filter for every event type."""
    return f"{prefix}/events/#"


def _check_agency(agency: str) -> str:
    if not agency or any(c in agency for c in "/+#\0"):
        raise InputError("agency", f"must be one topic level without '/', '+' or '#': {agency!r}")
    return agency


def cad_incidents_topic(agency: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Where a control-room system of ``agency`` sends new incidents."""
    return f"{prefix}/cad/{_check_agency(agency)}/incidents"


def cad_incidents_filter(prefix: str = DEFAULT_PREFIX) -> str:
    """What the bus subscribes to in order to take in incidents from every agency."""
    return f"{prefix}/cad/+/incidents"


def cad_accepted_topic(agency: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/cad/{_check_agency(agency)}/accepted"


def cad_rejected_topic(agency: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/cad/{_check_agency(agency)}/rejected"


def agency_of_cad_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> str | None:
    """The agency level of ``<prefix>/cad/<agency>/incidents``, or None for other topics."""
    head = f"{prefix}/cad/"
    if not topic.startswith(head):
        return None
    levels = topic[len(head) :].split("/")
    if len(levels) != 2 or levels[1] != "incidents" or not levels[0]:
        return None
    return levels[0]
