"""Incidents: intake, the proposal, and the operator's approve / decline / close / cancel."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response, status

from skyshare.api.auth import Principal
from skyshare.api.deps import commanding_principal, current_principal, get_runtime, require_agency
from skyshare.api.schemas import IncidentIn, IncidentOut, ReasonIn
from skyshare.runtime.runtime import IncidentView, Runtime

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


def _out(view: IncidentView) -> IncidentOut:
    return IncidentOut.of(view.incident, view.current, view.assignments)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentOut,
    responses={200: {"description": "Already received (same external_id)"}},
)
async def create_incident(
    body: IncidentIn,
    response: Response,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
) -> IncidentOut:
    """Receive a call and propose a drone. 201 when new, 200 when already received."""
    require_agency(principal, body.agency)
    submission = await runtime.submit(body.model_dump(), actor=principal.name)
    if not submission.created:
        response.status_code = status.HTTP_200_OK
    return IncidentOut.of(submission.incident, submission.assignment)


@router.get("", response_model=list[IncidentOut])
async def list_incidents(
    open_only: bool = Query(False, alias="open"),
    limit: int = Query(200, ge=1, le=1000),
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
) -> list[IncidentOut]:
    """Incidents the caller's agency may see, newest first, each with its current
    proposal (the drone and why; ``history`` is on the incident's own page)."""
    agency = None if principal.may_act_for("*") else principal.agency
    views = await runtime.incidents(agency=agency, open_only=open_only, limit=limit)
    return [IncidentOut.of(v.incident, v.current) for v in views]


@router.get("/{incident_id}", response_model=IncidentOut)
async def get_incident(
    incident_id: str,
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
) -> IncidentOut:
    view = await runtime.incident(incident_id)
    require_agency(principal, view.incident.agency)
    return _out(view)


@router.post("/{incident_id}/approve", response_model=IncidentOut)
async def approve(
    incident_id: str,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
) -> IncidentOut:
    """Launch the proposed drone."""
    require_agency(principal, (await runtime.incident(incident_id)).incident.agency)
    return _out(await runtime.approve(incident_id, actor=principal.name))


@router.post("/{incident_id}/decline", response_model=IncidentOut)
async def decline(
    incident_id: str,
    body: ReasonIn | None = None,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
) -> IncidentOut:
    """Refuse the proposed drone; the next candidate is proposed."""
    require_agency(principal, (await runtime.incident(incident_id)).incident.agency)
    reason = body.reason if body else ""
    return _out(await runtime.decline(incident_id, actor=principal.name, reason=reason))


@router.post("/{incident_id}/close", response_model=IncidentOut)
async def close(
    incident_id: str,
    body: ReasonIn | None = None,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
) -> IncidentOut:
    """Close the call (dealt with); its drone is released."""
    return await _end_call(runtime, principal, incident_id, body, cancel=False)


@router.post("/{incident_id}/cancel", response_model=IncidentOut)
async def cancel(
    incident_id: str,
    body: ReasonIn | None = None,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
) -> IncidentOut:
    """Cancel the call (withdrawn: sent in error, a duplicate, a hoax); its drone is
    released."""
    return await _end_call(runtime, principal, incident_id, body, cancel=True)


async def _end_call(
    runtime: Runtime, principal: Principal, incident_id: str, body: ReasonIn | None, *, cancel: bool
) -> IncidentOut:
    require_agency(principal, (await runtime.incident(incident_id)).incident.agency)
    reason = body.reason if body else ""
    ended = await runtime.close_incident(
        incident_id, actor=principal.name, reason=reason, cancel=cancel
    )
    return _out(ended)
