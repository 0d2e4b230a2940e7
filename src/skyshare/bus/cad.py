"""Taking in one control-room (CAD) message: decode it, hand it to intake, word the reply.

Whatever arrives, the answer is a reply to publish, never an exception: a control room
that sends garbage is told why, and the intake loop carries on with the next message.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from skyshare.bus.base import Intake
from skyshare.bus.topics import DEFAULT_PREFIX, cad_accepted_topic, cad_rejected_topic
from skyshare.domain.errors import InputError

log = logging.getLogger(__name__)

PAYLOAD_ECHO_CHARS = 2000  # how much of a rejected message is echoed back
INTERNAL_ERROR_REASON = "internal error while taking in the incident; see the SkyShare log"


@dataclass(frozen=True)
class CadReply:
    topic: str
    body: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return self.topic.endswith("/accepted")


async def take_in(
    agency: str,
    raw: bytes,
    intake: Intake,
    prefix: str = DEFAULT_PREFIX,
    redelivered: bool = False,
) -> CadReply:
    """Run one CAD message through ``intake`` and say what became of it. ``redelivered``:
    the broker delivered it before (see ``Intake``)."""
    text = raw.decode("utf-8", errors="replace")

    def reject(reason: str, field: str | None = None) -> CadReply:
        body = {"reason": reason, "field": field, "payload": _truncate(text)}
        return CadReply(cad_rejected_topic(agency, prefix), body)

    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return reject(f"payload is not UTF-8 text (bad byte at offset {exc.start})")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return reject(f"payload is not valid JSON: {exc.msg} at line {exc.lineno} col {exc.colno}")
    if not isinstance(payload, dict):
        return reject(f"payload must be a JSON object, got {_json_kind(payload)}")

    try:
        incident = await intake(agency, payload, redelivered)
    except InputError as exc:
        return reject(exc.reason, exc.field)
    except Exception:
        log.exception("CAD intake failed for agency %s", agency)
        return reject(INTERNAL_ERROR_REASON)

    body = {
        "incident_id": _attribute(incident, "id"),
        "external_id": _attribute(incident, "external_id") or payload.get("external_id"),
    }
    status = _attribute(incident, "status")
    if status is not None:  # what became of it: proposed, dispatched ..., or closed
        body["status"] = status
    return CadReply(cad_accepted_topic(agency, prefix), body)


def _attribute(incident: Any, name: str) -> Any:
    if isinstance(incident, dict):
        return incident.get(name)
    return getattr(incident, name, None)


def _truncate(text: str) -> str:
    if len(text) <= PAYLOAD_ECHO_CHARS:
        return text
    return text[:PAYLOAD_ECHO_CHARS] + f"... ({len(text) - PAYLOAD_ECHO_CHARS} more chars)"


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
