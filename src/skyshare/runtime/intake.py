"""Intake: a call from the API or a CAD feed becomes an incident with a proposal."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from skyshare.domain import Assignment, Incident, InputError
from skyshare.domain.events import EventType
from skyshare.intake import (
    CloseRequest,
    IncidentRequest,
    parse_close_request,
    parse_incident_request,
)
from skyshare.runtime.operators import Operators
from skyshare.runtime.state import Conflict
from skyshare.runtime.store_worker import StoreUnavailable, until_taken
from skyshare.store import DuplicateIncident

log = logging.getLogger(__name__)
CAD_RETRY_S = 1.0  # while the store is away, a control room's call is tried this often


def new_incident_id() -> str:
    return f"inc-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Submission:
    incident: Incident
    assignment: Assignment | None
    created: bool


class Intake(Operators):
    """Receiving calls, and control rooms closing theirs; a repeat of a known call is
    answered, not recorded again."""

    async def submit(
        self,
        payload: Mapping[str, Any],
        *,
        actor: str,
        incident_id: str | None = None,
        received_at: datetime | None = None,
        redelivered: bool = False,
    ) -> Submission:
        """Validate a call, record it and propose a drone; idempotent on external_id.
        ``incident_id`` and ``received_at``: the new incident's (default: a fresh id, now).
        ``redelivered``: a control room's message delivered again (``bus.base.Intake``)."""
        request = parse_incident_request(payload, self.network, self.world.area)
        # A repeat of an open call is answered from memory. A repeat of an older one is
        # refused by the database's unique (agency, external_id) and answered below, so
        # that a new call costs no read. A call with no external_id delivered again is the
        # open call it matches, if any: taken in, but not acknowledged before a stop.
        if request.external_id is not None:
            known = self._open.with_external_id(request.agency, request.external_id)
        else:
            known = self._open.same_call(request) if redelivered else None
        if known is not None:
            return await self._existing(known.incident)
        try:
            return await self._receive(
                request, actor, incident_id or new_incident_id(), received_at
            )
        except DuplicateIncident as dup:  # sent twice at once: the database kept the first
            return await self._existing(dup.existing)

    async def _receive(
        self, request: IncidentRequest, actor: str, incident_id: str, received_at: datetime | None
    ) -> Submission:
        async with self._exclusive() as change:
            incident = request.incident(incident_id, received_at or self.clock.now())
            change.new_incident = incident
            change.events.append(
                self._event(
                    EventType.INCIDENT_RECEIVED,
                    actor,
                    incident,
                    {
                        "priority": incident.priority.label,
                        "kind": incident.kind,
                        "lat": incident.position.lat,
                        "lon": incident.position.lon,
                        "borough": incident.borough,
                        "external_id": incident.external_id,
                    },
                )
            )
            incident, assignment = await self._decide(change, incident, exclude=set())
            await self._commit(change)
        return Submission(incident, assignment, created=True)

    async def intake_from_cad(
        self, agency: str, payload: dict[str, Any], redelivered: bool = False
    ) -> Incident:
        """The MQTT door: the topic names the agency, and the payload may not contradict it.
        A payload with ``status: closed`` (or ``cancelled``) closes (or cancels) the call
        its ``external_id`` names.
        ``redelivered``: the broker delivered this message before (``bus.base.Intake``).

        The control room has handed the call over, so a store that is away does not bounce
        it: it is held, and taken in (once, under one incident id) when the store is back.
        The broker has no acknowledgement until then (``bus.mqtt``): should SkyShare stop
        meanwhile, the call is delivered again to the next one."""
        if payload.get("agency", agency) != agency:
            raise InputError(
                "agency", f"{payload['agency']!r} does not match the topic's agency {agency!r}"
            )
        closing = parse_close_request(payload, agency)
        if closing is not None:
            return await self._close_from_cad(closing)
        call, incident_id = {**payload, "agency": agency}, new_incident_id()
        received = self.clock.now()

        async def take_in() -> Submission:  # each try the same call: one id, one arrival
            return await self.submit(
                call,
                actor=f"cad:{agency}",
                incident_id=incident_id,
                received_at=received,
                redelivered=redelivered,
            )

        try:
            return (await take_in()).incident
        except StoreUnavailable as exc:
            log.warning("a call from %s waits for the store: %s", agency, exc)
            taken = await until_taken(exc, take_in, CAD_RETRY_S)
        log.warning("the call from %s is taken in: %s", agency, incident_id)
        if taken is None:  # stored after all, and acted on (late_commits)
            return (await self.incident(incident_id)).incident
        return taken.incident

    async def _close_from_cad(self, request: CloseRequest) -> Incident:
        """Close (or cancel) the call the control room names, recalling a drone flying for
        it. One closed or cancelled already is answered as it is: the broker may deliver
        the message again, or an operator may have closed it first. Held while the store
        is away, like a call."""
        agency, external_id = request.agency, request.external_id
        known = self._open.with_external_id(agency, external_id)
        found = known.incident if known else await self._io("find_incident", agency, external_id)
        if found is None:
            raise InputError("external_id", f"no call {external_id!r} from {agency} is known")

        actor = f"cad:{agency}"

        async def close() -> Incident:
            try:
                view = await self.close_incident(
                    found.id, actor=actor, reason=request.reason, cancel=request.cancel
                )
            except Conflict:  # closed meanwhile
                view = await self.incident(found.id)
            return view.incident

        if not found.status.is_open:
            return found
        try:
            return await close()
        except StoreUnavailable as exc:
            log.warning("ending call %s from %s waits for the store: %s", external_id, agency, exc)
            closed = await until_taken(exc, close, CAD_RETRY_S)
        return closed if closed is not None else (await self.incident(found.id)).incident

    async def _existing(self, incident: Incident) -> Submission:
        view = await self.incident(incident.id)
        return Submission(incident, view.current, created=False)
