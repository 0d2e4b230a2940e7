"""The shared network as operators see it: sites, drones and the airspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from skyshare.api.auth import Principal
from skyshare.api.deps import current_principal, get_runtime
from skyshare.api.schemas import DroneOut, SiteOut
from skyshare.runtime.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["network"])


@router.get("/sites", response_model=list[SiteOut])
async def sites(
    _: Principal = Depends(current_principal), runtime: Runtime = Depends(get_runtime)
) -> list[SiteOut]:
    return [SiteOut.of(s) for _, s in sorted(runtime.network.sites.items())]


@router.get("/drones", response_model=list[DroneOut])
async def drones(
    _: Principal = Depends(current_principal), runtime: Runtime = Depends(get_runtime)
) -> list[DroneOut]:
    return [DroneOut.of(d, runtime.network) for d in runtime.drones()]


@router.get("/airspace", summary="Airspace zones as a GeoJSON FeatureCollection")
async def airspace(
    _: Principal = Depends(current_principal), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    return runtime.airspace.to_geojson()


@router.get("/boroughs", summary="The service area's boroughs as GeoJSON (WGS84)")
async def boroughs(
    _: Principal = Depends(current_principal), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    return runtime.boroughs_geojson()
