"""FastAPI dependencies: the runtime, and who is calling."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from skyshare.api.auth import KeyRing, Principal
from skyshare.runtime.runtime import Runtime

_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key from SKYSHARE_API_KEYS or the keys file",
)


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def current_principal(request: Request, key: str | None = Depends(_api_key)) -> Principal:
    """401 without a valid key. Role and agency checks are the route's business."""
    ring: KeyRing = request.app.state.keys
    principal = ring.lookup(key) if key else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or unknown API key (send it in the X-API-Key header)",
            headers={"WWW-Authenticate": "APIKey"},
        )
    return principal


async def commanding_principal(principal: Principal = Depends(current_principal)) -> Principal:
    """403 for read-only roles."""
    if not principal.may_command:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"role {principal.role.value} may not change anything"
        )
    return principal


def require_agency(principal: Principal, agency: str) -> None:
    if not principal.may_act_for(agency):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"key for agency {principal.agency} may not act for agency {agency}",
        )
