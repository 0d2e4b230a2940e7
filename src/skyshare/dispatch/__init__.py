"""Dispatch: which drone goes to which incident, and why. Pure and deterministic.

Start at ``Dispatcher`` (``dispatcher.py``). The parts, one job each:
``config`` (the rules and figures), ``eta`` (flight time and energy), ``routing`` (the
router protocol, a straight-line router, the route cache), ``airspace_router`` (the
airspace engine as a router), ``detour`` (route-length bounds around zones), ``fleet``
(the fleet at one moment), ``index`` (per-drone network facts as columns), ``evaluate``
(lower bounds and exact answers), ``policy`` (feasibility, scoring, ranking), ``cover``
(the cover-aware tie-break), ``explain`` (the operator's sentences), ``proposal`` (what a
decision returns), ``batch`` (optimal and greedy assignment), ``relief`` (overwatch
handover), ``sharing`` (flight minutes per agency and owner), ``docks`` (where a drone
lands when it comes back), ``naive`` (the same rules without shortcuts, the reference the
fast path must agree with).
"""

from skyshare.dispatch.airspace_router import AirspaceRouter
from skyshare.dispatch.config import DispatchConfig
from skyshare.dispatch.cover import Demand
from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.dispatch.eta import CALM, FlightModel, Sortie, Wind
from skyshare.dispatch.fleet import DroneState, FleetView
from skyshare.dispatch.naive import NaiveDispatcher
from skyshare.dispatch.proposal import (
    Candidate,
    Displacement,
    Proposal,
    Reason,
    Rejection,
    Why,
)
from skyshare.dispatch.relief import ReliefPlan
from skyshare.dispatch.routing import RouteLike, Router, StraightLineRouter
from skyshare.dispatch.sharing import FlightRecord, SharingLedger

__all__ = [
    "CALM",
    "AirspaceRouter",
    "Candidate",
    "Demand",
    "DispatchConfig",
    "Dispatcher",
    "Displacement",
    "DroneState",
    "FleetView",
    "FlightModel",
    "FlightRecord",
    "NaiveDispatcher",
    "Proposal",
    "Reason",
    "Rejection",
    "ReliefPlan",
    "RouteLike",
    "Router",
    "SharingLedger",
    "Sortie",
    "StraightLineRouter",
    "Why",
    "Wind",
]
