"""What the API speaks: request bodies and response shapes (they document /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from skyshare.dispatch import DroneState
from skyshare.dispatch.docks import stranded
from skyshare.domain import Assignment, Incident, LaunchSite, Network


class IncidentIn(BaseModel):
    """A call from a control room. Field rules are checked by skyshare.intake."""

    agency: str = Field(examples=["police"])
    priority: str | int = Field(examples=["P1"], description="P1 immediate .. P4 routine")
    kind: str = Field(examples=["burglary"])
    lat: float = Field(examples=[51.5074], description="WGS84 degrees")
    lon: float = Field(examples=[-0.1278], description="WGS84 degrees")
    description: str | None = None
    external_id: str | None = Field(
        default=None, description="The caller's own id; posting it again returns the same incident"
    )


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class ReturnToServiceIn(BaseModel):
    """A recovered drone, back on a dock. Site rules are checked by the runtime."""

    site_id: str = Field(examples=["met-islington"], description="The dock it is now on")
    battery_pct: float | None = Field(
        default=None, ge=0.0, le=100.0, description="The charge the crew reads, if any"
    )


class ProposalOut(BaseModel):
    assignment_id: str
    drone_id: str
    site_id: str
    eta_s: float
    reason: str
    status: str
    candidates: list[dict[str, Any]]
    proposed_at: datetime | None

    @classmethod
    def of(cls, a: Assignment) -> ProposalOut:
        return cls(
            assignment_id=a.id,
            drone_id=a.drone_id,
            site_id=a.site_id,
            eta_s=round(a.eta_s, 1),
            reason=a.reason,
            status=a.status.value,
            candidates=list(a.candidates),
            proposed_at=a.proposed_at,
        )


class IncidentOut(BaseModel):
    id: str
    agency: str
    priority: str
    kind: str
    lat: float
    lon: float
    borough: str
    status: str
    received_at: datetime
    description: str
    external_id: str | None
    proposal: ProposalOut | None = None
    history: list[ProposalOut] | None = None

    @classmethod
    def of(
        cls, i: Incident, current: Assignment | None = None, history: list[Assignment] | None = None
    ) -> IncidentOut:
        return cls(
            id=i.id,
            agency=i.agency,
            priority=i.priority.name,
            kind=i.kind,
            lat=i.position.lat,
            lon=i.position.lon,
            borough=i.borough,
            status=i.status.value,
            received_at=i.received_at,
            description=i.description,
            external_id=i.external_id,
            proposal=ProposalOut.of(current) if current else None,
            history=[ProposalOut.of(a) for a in history] if history is not None else None,
        )


class SiteOut(BaseModel):
    id: str
    name: str
    lat: float
    lon: float
    borough: str
    owner: str
    shared: bool
    dock_capacity: int
    illustrative: bool
    source: str

    @classmethod
    def of(cls, s: LaunchSite) -> SiteOut:
        return cls(
            id=s.id,
            name=s.name,
            lat=s.position.lat,
            lon=s.position.lon,
            borough=s.borough,
            owner=s.owner,
            shared=s.shared,
            dock_capacity=s.dock_capacity,
            illustrative=s.illustrative,
            source=s.source,
        )


class DroneOut(BaseModel):
    id: str
    model: str
    home_site_id: str
    # The dock it is on or heading for (home, or the nearest free one); None while it is
    # out of service away from every dock, waiting for a crew.
    dock_site_id: str | None
    owner: str
    status: str
    battery_pct: float
    lat: float
    lon: float
    alt_m: float
    incident_id: str | None
    capabilities: list[str]

    @classmethod
    def of(cls, state: DroneState, network: Network) -> DroneOut:
        drone = network.drones[state.drone_id]
        p = state.position
        return cls(
            id=drone.id,
            model=drone.model.name,
            home_site_id=drone.home_site_id,
            dock_site_id=None if stranded(network, state) else state.dock_site_id,
            owner=drone.owner,
            status=state.status.value,
            battery_pct=round(state.battery_pct, 1),
            lat=p.lat,
            lon=p.lon,
            alt_m=p.alt_m,
            incident_id=state.task_incident_id,
            capabilities=sorted(drone.model.capabilities),
        )
