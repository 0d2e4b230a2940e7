"""The audit log: every decision and command, hash-chained, readable by those it concerns."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from skyshare.api.auth import Principal
from skyshare.api.deps import current_principal, get_runtime, require_agency
from skyshare.domain import Role
from skyshare.runtime.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["audit"])


def _entry(stored: Any) -> dict[str, Any]:
    return {"seq": stored.seq, **stored.event.to_json(), "hash": stored.hash}


@router.get("/incidents/{incident_id}/events", summary="The audit trail of one incident")
async def incident_events(
    incident_id: str,
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
) -> list[dict[str, Any]]:
    view = await runtime.incident(incident_id)
    require_agency(principal, view.incident.agency)
    stored = await asyncio.to_thread(runtime.store.events, subject=incident_id)
    return [_entry(s) for s in stored]


@router.get("/audit", summary="Audit entries after a sequence number (page with after=)")
async def audit(
    after: int = Query(0, ge=0),
    limit: int = Query(500, ge=1, le=5000),
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
) -> list[dict[str, Any]]:
    agency = None if principal.may_act_for("*") else principal.agency
    stored = await asyncio.to_thread(
        runtime.store.events, agency=agency, after_seq=after, limit=limit
    )
    return [_entry(s) for s in stored]


@router.get("/audit/verify", summary="Recompute the hash chain (admin and supervisors)")
async def verify(
    principal: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    if principal.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise HTTPException(403, detail=f"role {principal.role.value} may not verify the log")
    check = await asyncio.to_thread(runtime.store.verify_audit_chain)
    return {
        "ok": check.ok,
        "entries": check.count,
        "first_bad_seq": check.first_bad_seq,
        "reason": check.reason,
    }
