"""Relief: an overwatch longer than one battery gets a drone that takes over in time.

The drone on scene must leave when its battery falls to what it needs to reach the
nearest dock with the reserve. A relief drone is chosen by the normal policy (same
scene, the remaining time on scene, the drone on scene excluded) and launched so that it
arrives ``handover_overlap_s`` before that moment. If even launching now is too late,
the plan says how long the scene goes uncovered (``gap_s``). The plan is data: the
runtime launches the relief at ``launch_at`` and records the handover.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from skyshare.dispatch.eta import FlightModel
from skyshare.dispatch.evaluate import Job
from skyshare.dispatch.fleet import DroneState
from skyshare.dispatch.proposal import Candidate, Proposal
from skyshare.domain.errors import InputError
from skyshare.domain.models import Drone


@dataclass(frozen=True)
class ReliefPlan:
    """The handover of an overwatch from the drone on scene to a relief drone.

    ``must_leave_at``: when the drone on scene must head for a dock. ``relief`` is
    ``None`` when none is needed (``needed`` false) or none can come (see
    ``proposal.unserved_reason``). ``launch_at``/``arrives_at``: when the relief should
    lift off and when it will be on scene; ``handover_at`` is when it takes over.
    ``gap_s`` is how long the scene is left uncovered (0 when the relief is in time).
    ``further_relief``: the relief cannot stay to the end either; plan again once it is
    on scene.
    """

    incident_id: str
    on_scene_drone_id: str
    needed_until: datetime
    must_leave_at: datetime
    needed: bool
    relief: Candidate | None = None
    launch_at: datetime | None = None
    arrives_at: datetime | None = None
    handover_at: datetime | None = None
    gap_s: float = 0.0
    further_relief: bool = False
    proposal: Proposal | None = None
    explanation: str = ""

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "incident_id": self.incident_id,
            "on_scene_drone_id": self.on_scene_drone_id,
            "needed_until": iso(self.needed_until),
            "must_leave_at": iso(self.must_leave_at),
            "needed": self.needed,
            "relief_drone_id": self.relief.drone_id if self.relief else None,
            "launch_at": iso(self.launch_at),
            "arrives_at": iso(self.arrives_at),
            "handover_at": iso(self.handover_at),
            "gap_s": round(self.gap_s, 1),
            "further_relief": self.further_relief,
            "explanation": self.explanation,
        }


def station_left_s(fm: FlightModel, drone: Drone, state: DroneState, job: Job) -> float:
    """How much longer the drone on scene can stay and still land with the reserve."""
    model = drone.model
    back = job.back_for(model, drone.owner)
    if back is None:
        raise InputError("incident", job.no_way_back(), item=job.incident.id)
    pct_per_wh = 100.0 / model.battery_wh
    spare = state.battery_pct - back.flight.energy_wh * pct_per_wh - fm.config.reserve_pct
    scene_pct_per_s = fm.scene_power_w(model, job.task) / 3600.0 * pct_per_wh
    return max(0.0, spare / scene_pct_per_s)


def schedule_relief(
    on_scene: DroneState,
    must_leave_at: datetime,
    needed_until: datetime,
    proposal: Proposal,
    now: datetime,
    overlap_s: float,
) -> ReliefPlan:
    """Turn the policy's choice of a relief drone into launch and handover times."""
    relief = proposal.chosen
    base = ReliefPlan(
        proposal.incident_id,
        on_scene.drone_id,
        needed_until,
        must_leave_at,
        True,
        proposal=proposal,
    )
    if relief is None:
        gap_s = (needed_until - must_leave_at).total_seconds()
        return replace(
            base, gap_s=gap_s, explanation=f"no relief available: {proposal.unserved_reason}"
        )
    eta = timedelta(seconds=relief.eta_s)
    launch_at = max(now, must_leave_at - timedelta(seconds=overlap_s) - eta)
    arrives_at = launch_at + eta
    gap_s = max(0.0, (arrives_at - must_leave_at).total_seconds())
    explanation = (
        f"{relief.drone_id} launches at {launch_at:%H:%M:%S} and relieves "
        f"{on_scene.drone_id} at {arrives_at:%H:%M:%S}, "
        + (
            f"with the scene uncovered for {gap_s:.0f} s"
            if gap_s > 0
            else f"{(must_leave_at - arrives_at).total_seconds():.0f} s before it must leave"
        )
        + f" ({must_leave_at:%H:%M:%S})"
    )
    if relief.sortie.needs_relief:
        explanation += "; it cannot stay to the end either: another relief will follow"
    return ReliefPlan(
        proposal.incident_id,
        on_scene.drone_id,
        needed_until,
        must_leave_at,
        True,
        relief,
        launch_at,
        arrives_at,
        arrives_at,
        gap_s,
        relief.sortie.needs_relief,
        proposal,
        explanation,
    )
