"""The shared network as operators see it: sites, drones and the airspace; and a recovered
drone put back into service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import TypeAdapter

from skyshare.api.auth import Principal
from skyshare.api.deps import commanding_principal, current_principal, get_runtime, require_agency
from skyshare.api.schemas import DroneOut, ReturnToServiceIn, SiteOut
from skyshare.runtime.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["network"])


SITE_LIST = TypeAdapter(list[SiteOut])


@router.get("/sites", response_model=list[SiteOut])
async def sites(
    request: Request,
    _: Principal = Depends(current_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """The launch sites. They do not change while the service runs: the answer is made
    once per network (dashboards ask often, and a launch must not wait behind them)."""
    made: tuple[object, bytes] | None = getattr(request.app.state, "sites_json", None)
    if made is None or made[0] is not runtime.network:
        listed = [SiteOut.of(s) for _, s in sorted(runtime.network.sites.items())]
        made = request.app.state.sites_json = (runtime.network, SITE_LIST.dump_json(listed))
    return Response(made[1], media_type="application/json")


@router.get("/drones", response_model=list[DroneOut])
async def drones(
    _: Principal = Depends(current_principal), runtime: Runtime = Depends(get_runtime)
) -> list[DroneOut]:
    return [DroneOut.of(d, runtime.network) for d in runtime.drones()]


@router.post("/drones/{drone_id}/return-to-service", response_model=DroneOut)
async def return_to_service(
    drone_id: str,
    body: ReturnToServiceIn,
    principal: Principal = Depends(commanding_principal),
    runtime: Runtime = Depends(get_runtime),
) -> DroneOut:
    """A drone out of service (down away from any dock, say), recovered by a crew to the
    dock ``site_id``: it charges there and is offered for calls again."""
    drone = runtime.network.drones.get(drone_id)
    if drone is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no drone {drone_id}")
    require_agency(principal, drone.owner)
    state = await runtime.return_to_service(
        drone_id, body.site_id, actor=principal.name, battery_pct=body.battery_pct
    )
    return DroneOut.of(state, runtime.network)


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
