"""Flying the dispatched drones: from an approved assignment to a drone back on a dock.

One task per sortie commands one aircraft over MAVLink through ``skyshare.fleet``:
fence upload, arm and take off to the cruise altitude, the legal route leg by leg, the
task on scene, the way back, landing and charging. Telemetry keeps the runtime's fleet
picture current and is checked against the airspace every second (conformance). A
lost link hands the incident to another drone at once while the aircraft's own failsafe
brings it home. A drone with no aircraft heard (none listed for it, or not heard yet) is
out of service; an aircraft heard for the first time is taken up as after a lost link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from skyshare.airspace import NoRoute, Route
from skyshare.airspace.fences import (
    ARDUPILOT,
    PX4,
    AutopilotLimits,
    FenceError,
    FencePlan,
    fence_params,
    warm_inclusion_outlines,
    warm_zone_shapes,
)
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION as CIRCLE_OUT
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION as CIRCLE_IN
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION as POLYGON_OUT
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION as POLYGON_IN
from skyshare.airspace.fences import MAV_CMD_NAV_FENCE_RETURN_POINT as RETURN_POINT
from skyshare.airspace.sortie import LEG_TOLERANCE_M, SortiePlan, plan_return, plan_sortie
from skyshare.dispatch.docks import ON_THE_DOCK_M, recorded_dock
from skyshare.domain import (
    Assignment,
    DroneStatus,
    GeoPoint,
    Incident,
    TaskKind,
)
from skyshare.domain.events import EventType
from skyshare.fleet import (
    BatteryLow,
    Fence,
    FenceBreached,
    FenceCircle,
    FencePolygon,
    FleetError,
    FleetManager,
    LandedState,
    LinkLost,
    LinkRestored,
    ModeChanged,
    ModeKind,
    Subscription,
    Vehicle,
    VehicleDiscovered,
    VehicleState,
    WaitTimeout,
)
from skyshare.geo import haversine_m

log = logging.getLogger(__name__)
T = TypeVar("T")

DELIVERY_ALT_M = 10.0
# Why a drone's aircraft cannot be flown (FlightControl.no_aircraft).
NOT_LISTED = "no aircraft is listed for it"
NOT_HEARD = "its aircraft is not heard"
# Why a drone heard where its records do not put it is out of service (``misplaced``).
MISPLACED = (
    "{where}, the dock it is recorded on: is a system id in the aircraft file wrong (two "
    "swapped?), or was the drone moved by hand? Out of service until a crew returns it to "
    "service on the dock where it stands"
)
# Why a drone whose aircraft is not the one the aircraft file names is out of service.
NOT_ITS_AIRCRAFT = (
    "{why}: is a system id in the aircraft file wrong (two swapped?), or its board id? Out "
    "of service until the file is put right and the service restarted"
)
POSITION_WAIT_S = 5.0  # vehicle seconds a landed aircraft is given to say where it is


@dataclass(frozen=True)
class Sortie:
    incident: Incident
    assignment: Assignment
    vehicle: Vehicle
    route: Route


class FlightDirector:
    """Implements the runtime's ``FlightControl`` on a ``FleetManager``."""

    def __init__(
        self,
        runtime: object,
        manager: FleetManager,
        system_ids: Mapping[str, int],
        *,
        speedup: float = 1.0,
        board_ids: Mapping[str, str] | None = None,
    ) -> None:
        from skyshare.runtime.runtime import Runtime  # the type only; avoids a cycle

        assert isinstance(runtime, Runtime)
        self.runtime = runtime
        self.manager = manager
        self.system_ids = dict(system_ids)
        self.drone_of = {sysid: drone for drone, sysid in self.system_ids.items()}
        self.board_ids = dict(board_ids or {})  # drone -> the board id its aircraft must report
        self.speedup = speedup
        self._sorties: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Start-up work: fences' outlines fitted, every aircraft's fence parameters set.
        self.warmed: asyncio.Future[Any] | None = None
        self._returning: set[str] = set()  # drones we are bringing home ourselves
        self._relief_arrivals: dict[str, asyncio.Event] = {}  # incident id -> relief on scene
        # Per drone: the agency whose rules its sortie flies under, and the fence it carries.
        self._agency: dict[str, str] = {}
        self._fences: dict[str, FencePlan] = {}
        self._stopping = threading.Event()  # tells the start-up work in a thread to stop

    async def _compute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Airspace work for a sortie (a route, a fence): milliseconds once the caches are
        warm, so it runs on the loop. Measured: handing it to threads made each launch
        wait hundreds of ms for the GIL under load (see benchmarks/launch_latency.py)."""
        return fn(*args, **kwargs)

    async def start(self) -> None:
        # Subscribed now, not when the task first runs: an aircraft first heard in between
        # must not go unseen (it would stay out of service).
        events = self.manager.subscribe()
        self._tasks = [
            asyncio.create_task(self._watch_fleet(events), name="flights-events"),
            asyncio.create_task(self._watch_telemetry(), name="flights-telemetry"),
        ]
        # Fences need the service area's outline fitted to their vertex budget (hundreds
        # of ms each): fit them all now, off the loop, before the first call needs one.
        # And the fence parameters are the same for every sortie: set them now, so that a
        # launch uploads only its fence (each parameter costs a round trip or two).
        warm = asyncio.create_task(asyncio.to_thread(self._warm_up), name="fence-warm-up")
        configure = asyncio.create_task(self._configure_fences(), name="fence-parameters")
        self._tasks += [warm, configure]
        self.warmed = asyncio.gather(warm, configure)

    def _warm_up(self) -> None:
        # Only pure functions of the service area and of each zone, safe beside the loop's
        # own routing (the router's caches are not for two threads at once). A thread
        # cannot be cancelled: it stops between outlines once the director stops.
        warm_zone_shapes(self.runtime.airspace.compiled)
        for limits in (ARDUPILOT, PX4):
            warm_inclusion_outlines(self.runtime.world.area, limits, stop=self._stopping.is_set)

    async def _configure_fences(self) -> None:
        """Every aircraft connected now; one that connects later gets its parameters at
        its first launch."""
        ceiling = self.runtime.airspace.ceiling_m
        ours = [v for sysid, v in self.manager.vehicles.items() if sysid in self.drone_of]
        await asyncio.gather(
            *(self._set_params(v, fence_params(_limits(v), ceiling)) for v in ours)
        )

    async def _set_params(self, vehicle: Vehicle, params: Mapping[str, float]) -> None:
        """Set those of ``params`` the vehicle has not reported at that value already; an
        older firmware without one is noted, and the rest go on."""
        for name, value in params.items():  # e.g. no home circle on ArduPilot
            if vehicle.param_value(name) == value:
                continue
            try:
                await vehicle.set_param(name, value)
            except FleetError as exc:
                await self.runtime.flight_event(
                    self.drone_of[vehicle.system_id],
                    EventType.COMMAND_RESULT,
                    {"command": f"set {name}", "error": str(exc)},
                )

    async def stop(self) -> None:
        self._stopping.set()
        for task in [*self._tasks, *self._sorties.values()]:
            task.cancel()
        waits = [*self._tasks, *self._sorties.values()]
        if self.warmed is not None:  # its outcome is read, not left for the loop to report
            waits.append(self.warmed)
        for task in waits:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- FlightControl ---------------------------------------------------------------

    async def launch(self, incident: Incident, assignment: Assignment) -> None:
        drone_id = assignment.drone_id
        previous = self._sorties.get(drone_id)
        if previous is not None:  # re-tasked in the air: the old sortie ends here
            previous.cancel()
        self._sorties[drone_id] = asyncio.create_task(
            self._fly(incident, assignment), name=f"sortie-{drone_id}"
        )

    async def recall(self, drone_id: str, reason: str) -> None:
        previous = self._sorties.pop(drone_id, None)
        if previous is not None:
            previous.cancel()
        self._sorties[drone_id] = asyncio.create_task(
            self._return_home(drone_id, reason), name=f"return-{drone_id}"
        )

    # These read the vehicle's live telemetry record, not a ``state`` snapshot: they are
    # asked at every decision, and a snapshot (of everything known) costs far more.

    def airborne(self, drone_id: str) -> bool:
        return self._vehicle(drone_id).telemetry.landed in _AIRBORNE

    def flying_itself(self, drone_id: str) -> str | None:
        if drone_id in self._returning:  # ours: it lands on the dock we chose
            return None
        t = self._vehicle(drone_id).telemetry
        return t.mode if t.mode_kind in (ModeKind.RETURN, ModeKind.LAND) else None

    def flying_themselves(self) -> set[str]:
        """The drones whose aircraft a failsafe or a pilot is flying home or down: not to
        be re-tasked in the air (its battery or its fence may be why) until landed."""
        runtime = self.runtime
        return {
            s.drone_id
            for s in runtime.fleet
            if s.status is DroneStatus.RETURNING
            and self.no_aircraft(s.drone_id) is None
            and self.flying_itself(s.drone_id) is not None
        }

    def links(self) -> dict[str, bool]:
        """Per drone with an aircraft listed: is its aircraft heard now?"""
        vehicles = self.manager.vehicles
        return {
            drone: sysid in vehicles and vehicles[sysid].connected
            for drone, sysid in self.system_ids.items()
        }

    def misplaced(self, drone_id: str) -> str | None:
        runtime = self.runtime
        if self.no_aircraft(drone_id) is not None:
            return None
        wrong = self.not_its_aircraft(drone_id)
        if wrong is not None:
            return NOT_ITS_AIRCRAFT.format(why=wrong)
        site_id = recorded_dock(runtime.network, runtime.fleet[drone_id])
        where = None if site_id is None else self.away_from(drone_id, site_id)
        return None if where is None else MISPLACED.format(where=where)

    def away_from(self, drone_id: str, site_id: str) -> str | None:
        system_id = self.system_ids.get(drone_id)
        vehicle = None if system_id is None else self.manager.find(system_id)
        here = None if vehicle is None or vehicle.state.airborne else _here(vehicle)
        if here is None:
            return None
        dock = self.runtime.network.sites[site_id].position
        off_m = float(haversine_m(here.lat, here.lon, dock.lat, dock.lon))
        if off_m <= ON_THE_DOCK_M:
            return None
        return f"its aircraft (system {system_id}) is on the ground {off_m:,.0f} m from {site_id}"

    def not_its_aircraft(self, drone_id: str) -> str | None:
        expected = self.board_ids.get(drone_id)
        system_id = self.system_ids.get(drone_id)
        vehicle = None if system_id is None else self.manager.find(system_id)
        if expected is None or vehicle is None:
            return None
        reported = vehicle.state.board_id
        if reported == expected:
            return None
        said = "reports none" if reported is None else f"reports {reported}"
        return (
            f"its aircraft (system {system_id}) is not the one the aircraft file names: board "
            f"id {expected} in the file, and the aircraft {said}"
        )

    def no_aircraft(self, drone_id: str) -> str | None:
        system_id = self.system_ids.get(drone_id)
        if system_id is None:
            return NOT_LISTED
        vehicle = self.manager.find(system_id)
        # Heard, it must also say whether it is up: every decision about it turns on that.
        heard = vehicle is not None and vehicle.telemetry.landed is not LandedState.UNKNOWN
        return None if heard else NOT_HEARD

    # --- one sortie ------------------------------------------------------------------

    def _vehicle(self, drone_id: str) -> Vehicle:
        return self.manager.vehicle(self.system_ids[drone_id])

    async def _fly(self, incident: Incident, assignment: Assignment) -> None:
        drone_id = assignment.drone_id
        runtime = self.runtime
        if await self._without_aircraft(drone_id):
            return
        try:
            vehicle = self._vehicle(drone_id)
            start = _here(vehicle) or runtime.network.sites[assignment.site_id].position
            # The whole sortie, the way home included, is flown under the call's agency
            # and inside one fence built around everything it will fly.
            self._agency[drone_id] = incident.agency
            plan = await self._compute(
                plan_sortie,
                runtime.airspace,
                runtime.world.area,
                agency=incident.agency,
                at=runtime.clock.now(),
                permissions=runtime.airspace_permissions(),
                start=start,
                scene=incident.position,
                dock=self._dock(drone_id),
                task=runtime.network.kinds[incident.kind].task,
                limits=_limits(vehicle),
                # Where its failsafe would fly it; on the ground, where it stands (the
                # autopilot sets home again when it arms).
                aircraft_home=vehicle.state.home if vehicle.state.airborne else None,
            )
            await self._upload(vehicle, drone_id, plan.fence)
            route = plan.route
            await runtime.flight_started(drone_id, incident, route)
            if not vehicle.state.airborne:
                await vehicle.wait_ready(self._timeout(120))
                await vehicle.takeoff(route.cruise_alt_m)
                await vehicle.wait_for(
                    lambda s: s.alt_rel_m >= route.cruise_alt_m - 3,
                    self._timeout(120),
                    "cruise altitude",
                )
            speed = runtime.network.drones[drone_id].model.cruise_speed_mps
            await self._fly_legs(vehicle, route.waypoints[1:], route.cruise_alt_m, speed)
            await runtime.flight_on_scene(drone_id, incident)
            handover = self._relief_arrivals.get(incident.id)
            if handover is not None:  # this drone relieves another: that one may go
                handover.set()
            await self._on_scene(vehicle, incident, plan, route.cruise_alt_m)
        except asyncio.CancelledError:
            raise
        except (FleetError, NoRoute, FenceError) as exc:
            log.warning("sortie of %s for %s failed: %s", drone_id, incident.id, exc)
            await self._hand_back(drone_id, incident, str(exc))
            return
        except Exception as exc:  # a bug must not strand the call: hand it on, say why
            log.exception("sortie of %s for %s broke", drone_id, incident.id)
            await self._hand_back(drone_id, incident, f"internal error: {exc!r}")
            return
        await self._return_home(drone_id, "task complete")

    async def _without_aircraft(self, drone_id: str) -> bool:
        """A drone with no aircraft heard (one put back into service by hand, say) cannot be
        flown: it goes out of service, its call to another drone. Says whether it did."""
        why = self.no_aircraft(drone_id)
        if why is None:
            return False
        log.warning("%s cannot be flown: %s", drone_id, why)
        if self._sorties.get(drone_id) is asyncio.current_task():
            self._sorties.pop(drone_id, None)
        await self.runtime.aircraft_missing({drone_id: why})
        return True

    async def _hand_back(self, drone_id: str, incident: Incident, reason: str) -> None:
        """The sortie failed: the runtime offers the call to another drone. Once here the
        sortie is no longer ours to cancel: a link loss cancelling it mid-hand-over left
        the call with no drone (seen in the e2e link-loss test: the failed command came
        first, the link loss cancelled the hand-over half done)."""
        if self._sorties.get(drone_id) is asyncio.current_task():
            self._sorties.pop(drone_id, None)
        await self.runtime.flight_failed(drone_id, incident, reason)

    async def _fly_legs(
        self,
        vehicle: Vehicle,
        points: Iterable[GeoPoint],
        alt_m: float,
        speed: float | None,
        leg_timeout_s: float = 1800,
    ) -> None:
        for point in points:
            await vehicle.goto(point.lat, point.lon, alt_m, speed_mps=speed)
            await vehicle.wait_reached(
                point.lat,
                point.lon,
                tolerance_m=LEG_TOLERANCE_M,
                timeout_s=self._timeout(leg_timeout_s),
            )

    async def _upload(self, vehicle: Vehicle, drone_id: str, fence: FencePlan) -> None:
        runtime = self.runtime
        await self._set_params(vehicle, fence.params)
        await vehicle.upload_fence(fence_from_plan(fence))
        self._fences[drone_id] = fence
        await runtime.flight_event(
            drone_id,
            EventType.COMMAND_SENT,
            {
                "command": "upload_fence",
                "items": len(fence.items),
                "excluded_zones": list(fence.excluded_zones),
            },
        )

    def _dock(self, drone_id: str) -> GeoPoint:
        """The dock the drone launched from: where it lands unless, on its way back, one
        with a free slot is cheaper to reach (``Runtime.flight_returning`` decides)."""
        runtime = self.runtime
        return runtime.network.sites[runtime.fleet[drone_id].dock_site_id].position

    async def _on_scene(
        self, vehicle: Vehicle, incident: Incident, plan: SortiePlan, alt_m: float
    ) -> None:
        """Do the task until the call is closed (recall), the time on scene is up or the
        battery says go home."""
        kind = self.runtime.network.kinds[incident.kind]
        p = incident.position
        if kind.task is TaskKind.OVERWATCH:
            if plan.orbit_radius_m > 0:
                await vehicle.orbit(p.lat, p.lon, plan.orbit_radius_m, alt_m=alt_m)
        elif kind.task is TaskKind.SEARCH:
            await self._fly_legs(vehicle, plan.on_scene, alt_m, None, leg_timeout_s=600)
        elif kind.task is TaskKind.DELIVER:
            await vehicle.goto(p.lat, p.lon, DELIVERY_ALT_M)
            await vehicle.wait_for(
                lambda s: s.alt_rel_m <= DELIVERY_ALT_M + 2, self._timeout(120), "delivery height"
            )
            await self.runtime.flight_event(
                vehicle_drone(self, vehicle), EventType.COMMAND_SENT, {"command": "release"}
            )
            await vehicle.goto(p.lat, p.lon, alt_m)
        await self._stay(vehicle, incident, kind.on_scene_s)

    async def _stay(self, vehicle: Vehicle, incident: Incident, on_scene_s: float) -> None:
        """Stay until the time on scene is up. Should the battery run down first, ask for
        a relief drone, and leave when it arrives (or at the return reserve)."""
        settings = self.runtime.settings
        drone_id = vehicle_drone(self, vehicle)

        def below(pct: float) -> Callable[[VehicleState], bool]:
            return lambda s: s.battery_pct is not None and s.battery_pct <= pct

        try:
            await vehicle.wait_for(below(settings.relief_battery_pct), on_scene_s, "relief")
        except WaitTimeout:
            return  # the time on scene is over: the task is done
        arrived = self._relief_arrivals.setdefault(incident.id, asyncio.Event())
        await self.runtime.request_relief(incident.id, drone_id)
        low = asyncio.ensure_future(
            vehicle.wait_for(below(settings.return_battery_pct), on_scene_s, "reserve")
        )
        relief = asyncio.ensure_future(arrived.wait())
        try:
            await asyncio.wait({low, relief}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (low, relief):
                waiting.cancel()
            await asyncio.gather(low, relief, return_exceptions=True)
            self._relief_arrivals.pop(incident.id, None)

    async def _return_home(self, drone_id: str, reason: str) -> None:
        runtime = self.runtime
        try:
            if await self._without_aircraft(drone_id):
                return
            vehicle = self._vehicle(drone_id)
            if not vehicle.state.airborne:  # never left, or already landed by itself
                await runtime.flight_landed(drone_id, _here(vehicle))
                return
            self._returning.add(drone_id)
            here = _here(vehicle) or self._dock(drone_id)
            # The sortie's agency, whose rules the fence on board was built for; the owner's
            # only if no sortie of ours put a fence on this aircraft.
            agency = self._agency.get(drone_id, runtime.network.drones[drone_id].owner)
            dock_id = await runtime.flight_returning(drone_id, reason, here, agency)
            home = runtime.network.sites[dock_id].position
            try:
                back = await self._compute(
                    plan_return,
                    runtime.airspace,
                    runtime.world.area,
                    agency=agency,
                    at=runtime.clock.now(),
                    permissions=runtime.airspace_permissions(),
                    here=here,
                    dock=home,
                    on_board=self._fences.get(drone_id),
                    limits=_limits(vehicle),
                    aircraft_home=vehicle.state.home,
                )
            except NoRoute:  # e.g. already inside a zone: the autopilot's RTL is the way out
                await vehicle.rtl()
                back = None
            if back is not None and back.fence is not None:
                await self._upload(vehicle, drone_id, back.fence)  # it covers the way home
            elif back is not None and back.problem:  # nothing fits: fly on, and say so
                await runtime.flight_event(
                    drone_id,
                    EventType.COMMAND_RESULT,
                    {"command": "upload_fence", "error": back.problem},
                )
            legs = back.route.waypoints[1:] if back is not None else ()
            alt = back.route.cruise_alt_m if back is not None else 0.0
            speed = runtime.network.drones[drone_id].model.cruise_speed_mps
            await self._fly_legs(vehicle, legs, alt, speed)
            if legs:
                await vehicle.land()
            await vehicle.wait_landed(self._timeout(600))
            await vehicle.wait_disarmed(self._timeout(120))
            await runtime.flight_landed(drone_id)
        except asyncio.CancelledError:
            raise
        except FleetError as exc:
            # The aircraft did not take our commands (e.g. its own failsafe is flying it
            # home): say so, and follow it down.
            log.warning("return of %s failed: %s", drone_id, exc)
            await runtime.flight_event(
                drone_id, EventType.COMMAND_RESULT, {"command": "return", "error": str(exc)}
            )
            self._sorties[drone_id] = asyncio.create_task(
                self._follow_down(drone_id), name=f"failsafe-{drone_id}"
            )
        finally:
            self._returning.discard(drone_id)
            if self._sorties.get(drone_id) is asyncio.current_task():
                self._sorties.pop(drone_id, None)

    @staticmethod
    def _timeout(vehicle_seconds: float) -> float:
        # The fleet link takes timeouts in the vehicle's seconds and scales them itself.
        return vehicle_seconds

    # --- watching the fleet ----------------------------------------------------------

    async def _watch_fleet(self, subscription: Subscription) -> None:
        with subscription as events:
            async for event in events:
                drone_id = self.drone_of.get(event.system_id)
                if drone_id is None:
                    continue
                try:
                    if isinstance(event, LinkLost):
                        sortie = self._sorties.pop(drone_id, None)
                        if sortie is not None:
                            sortie.cancel()
                        await self.runtime.link_lost(drone_id, event.silent_s)
                    elif isinstance(event, LinkRestored):
                        await self.runtime.flight_event(
                            drone_id,
                            EventType.LINK_REGAINED,
                            {"outage_s": round(event.outage_s, 1)},
                        )
                        if self.runtime.fleet[drone_id].status is DroneStatus.OFFLINE:
                            await self._take_up_restored(drone_id)
                    elif isinstance(event, VehicleDiscovered):
                        await self._first_heard(drone_id, event)
                    elif isinstance(event, FenceBreached):
                        await self.runtime.flight_event(
                            drone_id, EventType.GEOFENCE_BREACH, {"source": "aircraft fence"}
                        )
                    elif (
                        isinstance(event, ModeChanged)
                        and event.kind in (ModeKind.RETURN, ModeKind.LAND)
                        and drone_id in self._sorties
                        and drone_id not in self._returning
                    ):
                        await self._autopilot_took_over(drone_id, event.new)
                    elif isinstance(event, BatteryLow):
                        await self.runtime.flight_event(
                            drone_id, EventType.BATTERY_LOW, {"remaining_pct": event.remaining_pct}
                        )
                except Exception:  # one bad event must not stop the watch
                    log.exception("handling %r", event)

    async def _first_heard(self, drone_id: str, event: VehicleDiscovered) -> None:
        """An aircraft heard for the first time since start-up: its drone, out of service
        while it was not heard, is taken up as after a lost link, and may then be offered."""
        if self.runtime.fleet[drone_id].status is not DroneStatus.OFFLINE:
            return  # heard before resume_flights looked, which took it up
        if drone_id in self._sorties:
            return  # already being taken up
        self._sorties[drone_id] = asyncio.create_task(
            self._take_up_heard(drone_id, event.link), name=f"heard-{drone_id}"
        )

    async def _take_up_heard(self, drone_id: str, link: str) -> None:
        """Once it says whether it is in the air: brought home if up, landed where it
        stands if not."""
        try:
            await self._vehicle(drone_id).wait_for(
                knows_if_airborne, self._timeout(30), "whether it is in the air"
            )
        except FleetError as exc:
            log.warning("%s's aircraft is heard, not whether it is up: %s", drone_id, exc)
            if self._sorties.get(drone_id) is asyncio.current_task():
                self._sorties.pop(drone_id, None)
            return
        await self.runtime.flight_event(
            drone_id, EventType.LINK_REGAINED, {"reason": "first heard", "link": link}
        )
        await self.says_where(self._vehicle(drone_id))
        if drone_id in self.board_ids:
            await self._vehicle(drone_id).identify(POSITION_WAIT_S)
        misplaced = self.misplaced(drone_id)
        if misplaced is not None:
            if self._sorties.get(drone_id) is asyncio.current_task():
                self._sorties.pop(drone_id, None)
            await self.runtime.aircraft_misplaced({drone_id: misplaced})
            return
        await self._return_home(drone_id, "aircraft heard")

    async def _take_up_restored(self, drone_id: str) -> None:
        """An out-of-service drone's link is back: brought home, or landed where it is.
        If the file gives its board id, the aircraft is asked for it first (in a task of
        its own: the answer takes a moment): it may have been swapped on the dock during
        the outage, and one on the ground that reports another is out of service."""
        if drone_id not in self.board_ids:
            await self.recall(drone_id, "link restored")
            return
        previous = self._sorties.pop(drone_id, None)  # as ``recall`` does
        if previous is not None:
            previous.cancel()
        self._sorties[drone_id] = asyncio.create_task(
            self._identify_then_recall(drone_id), name=f"restored-{drone_id}"
        )

    async def _identify_then_recall(self, drone_id: str) -> None:
        try:
            vehicle = self._vehicle(drone_id)
            await vehicle.identify(POSITION_WAIT_S)
            wrong = None if vehicle.state.airborne else self.not_its_aircraft(drone_id)
        finally:
            if self._sorties.get(drone_id) is asyncio.current_task():
                self._sorties.pop(drone_id, None)
        if wrong is not None:
            await self.runtime.aircraft_misplaced({drone_id: NOT_ITS_AIRCRAFT.format(why=wrong)})
        else:
            await self.recall(drone_id, "link restored")

    async def says_where(self, vehicle: Vehicle) -> None:
        """Give a landed aircraft a few seconds to report its position (``misplaced`` needs
        it); one without a fix by then is taken as it is."""
        with contextlib.suppress(WaitTimeout):
            await vehicle.wait_for(
                lambda s: s.airborne or s.lat is not None,
                self._timeout(POSITION_WAIT_S),
                "its position",
            )

    async def _autopilot_took_over(self, drone_id: str, mode: str) -> None:
        """A failsafe (fence, battery, link) switched the aircraft to return or land: the
        sortie ends, the incident goes to another drone, and we follow it down."""
        sortie = self._sorties.pop(drone_id, None)
        if sortie is not None:
            sortie.cancel()
        incident_id = self.runtime.fleet[drone_id].task_incident_id
        if incident_id is not None:
            view = await self.runtime.incident(incident_id)
            await self.runtime.flight_failed(
                drone_id, view.incident, f"the aircraft switched itself to {mode}"
            )
        self._sorties[drone_id] = asyncio.create_task(
            self._follow_down(drone_id), name=f"failsafe-{drone_id}"
        )

    async def _follow_down(self, drone_id: str) -> None:
        vehicle = self._vehicle(drone_id)
        try:
            await vehicle.wait_landed(self._timeout(900))
            await vehicle.wait_disarmed(self._timeout(120))
            await self.runtime.flight_landed(drone_id, _here(vehicle))
        except FleetError as exc:
            log.warning("following %s down failed: %s", drone_id, exc)
        finally:
            if self._sorties.get(drone_id) is asyncio.current_task():
                self._sorties.pop(drone_id, None)

    async def _watch_telemetry(self) -> None:
        """Once a second: positions into the fleet picture, conformance of every flight,
        charging on the docks."""
        period = 1.0 / self.speedup
        while True:
            await asyncio.sleep(max(period, 0.05))
            now = self.runtime.clock.now()
            vehicles = self.manager.vehicles
            for drone_id, sysid in self.system_ids.items():
                vehicle = vehicles.get(sysid)
                state = vehicle.state if vehicle else None
                await self.runtime.note_telemetry(drone_id, state, now, 1.0 * self.speedup)
            await self.runtime.check_conformance(now)


_AIRBORNE = (LandedState.IN_AIR, LandedState.TAKING_OFF, LandedState.LANDING)  # as VehicleState


def knows_if_airborne(state: VehicleState) -> bool:
    """Whether the aircraft has said if it is in the air (not yet, armed and first heard)."""
    return state.landed is not LandedState.UNKNOWN


def _limits(vehicle: Vehicle) -> AutopilotLimits:
    return PX4 if str(vehicle.autopilot).lower() == "px4" else ARDUPILOT


def fence_from_plan(plan: FencePlan) -> Fence:
    """The airspace engine's fence items as the fleet link's ``Fence``."""
    polygons: list[FencePolygon] = []
    circles: list[FenceCircle] = []
    vertices: list[tuple[float, float]] = []
    return_point = None
    for item in plan.items:
        if item.command in (POLYGON_IN, POLYGON_OUT):
            vertices.append((item.lat, item.lon))
            if len(vertices) == item.vertex_count:
                inclusion = item.command == POLYGON_IN
                polygons.append(FencePolygon(tuple(vertices), inclusion=inclusion))
                vertices = []
        elif item.command in (CIRCLE_IN, CIRCLE_OUT):
            inclusion = item.command == CIRCLE_IN
            circles.append(FenceCircle(item.lat, item.lon, item.radius_m, inclusion=inclusion))
        elif item.command == RETURN_POINT:
            return_point = (item.lat, item.lon)
    return Fence(tuple(polygons), tuple(circles), return_point)


def vehicle_drone(director: FlightDirector, vehicle: Vehicle) -> str:
    return director.drone_of[vehicle.system_id]


def _here(vehicle: Vehicle) -> GeoPoint | None:
    s = vehicle.state
    if s.lat is None or s.lon is None:
        return None
    return GeoPoint(s.lat, s.lon, s.alt_rel_m or 0.0)
