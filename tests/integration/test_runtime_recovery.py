"""A drone that comes down by itself away from every dock: out of service where it lies,
offered for nothing and keeping no dock slot, until an operator puts it back on a dock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyshare.config import Settings
from skyshare.dispatch.docks import dock_under
from skyshare.domain import DroneStatus, GeoPoint, InputError
from skyshare.domain.events import Event, EventType
from skyshare.runtime.clock import ManualClock
from skyshare.runtime.runtime import Runtime

CAMDEN = {"agency": "police", "priority": "P1", "kind": "burglary", "lat": 51.5517, "lon": -0.1588}
DAGENHAM = "lfb-dagenham"  # a shared fire dock: two slots, one taken by its own drone
FIELD = GeoPoint(51.5545, 0.1500)  # open ground 700 m from the Dagenham dock


async def _flying(runtime: Runtime) -> str:
    """A police P1 in Camden launches at once: the drone flying it (any agency's)."""
    submitted = await runtime.submit(CAMDEN, actor="cad")
    assert submitted.assignment is not None
    return submitted.assignment.drone_id


async def _down_in_the_field(runtime: Runtime) -> str:
    """A drone heading for the Dagenham dock, put down short of it by its failsafe."""
    drone_id = await _flying(runtime)
    dock = await runtime.flight_returning(drone_id, "failsafe", FIELD)
    assert dock == DAGENHAM  # its slot there is reserved
    assert dock_under(runtime.network, FIELD) is None
    await runtime.flight_landed(drone_id, where=FIELD)
    return drone_id


def _last(runtime: Runtime, drone_id: str, kind: EventType) -> Event:
    return [s.event for s in runtime.store.events(subject=drone_id) if s.event.type is kind][-1]


async def _candidates(runtime: Runtime, near: str) -> set[str]:
    """The drones proposed (chosen and next best) for a police P1 beside the dock ``near``."""
    site = runtime.network.sites[near].position
    submitted = await runtime.submit(
        {**CAMDEN, "lat": site.lat + 0.001, "lon": site.lon}, actor="cad"
    )
    assert submitted.assignment is not None
    return {c["drone_id"] for c in submitted.assignment.candidates}


async def test_a_drone_down_away_from_any_dock_is_out_of_service_where_it_lies(
    runtime: Runtime,
) -> None:
    drone_id = await _down_in_the_field(runtime)
    state = runtime.fleet[drone_id]
    assert state.status is DroneStatus.MAINTENANCE
    assert (state.position.lat, state.position.lon) == (FIELD.lat, FIELD.lon)
    assert state.task_incident_id is None
    assert state.dock_site_id != DAGENHAM  # the reservation is gone
    landed = _last(runtime, drone_id, EventType.DRONE_LANDED)
    assert landed.data["needs_recovery"] is True
    assert (landed.data["lat"], landed.data["lon"]) == (FIELD.lat, FIELD.lon)
    assert "away from any dock" in landed.data["reason"]


async def test_a_drone_down_in_a_field_is_not_offered_and_frees_its_dock_slot(
    runtime: Runtime,
) -> None:
    down = await _down_in_the_field(runtime)
    assert down not in await _candidates(runtime, DAGENHAM)
    # The slot it had reserved is there for the next drone back (the dock's own drone
    # holds the other).
    other = await _flying(runtime)
    assert other != down
    assert await runtime.flight_returning(other, "task complete", FIELD) == DAGENHAM


async def test_it_is_still_down_in_the_field_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", mqtt_url=None)
    clock = ManualClock(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    first = await Runtime.create(settings, clock=clock)
    try:
        drone_id = await _down_in_the_field(first)
    finally:
        await first.shutdown()
    again = await Runtime.create(settings, clock=clock)
    try:
        state = again.fleet[drone_id]
        assert state.status is DroneStatus.MAINTENANCE
        assert (state.position.lat, state.position.lon) == (FIELD.lat, FIELD.lon)
    finally:
        await again.shutdown()


async def test_an_operator_puts_a_recovered_drone_back_on_a_dock_and_it_is_offered_again(
    runtime: Runtime,
) -> None:
    drone_id = await _down_in_the_field(runtime)
    state = await runtime.return_to_service(
        drone_id, DAGENHAM, actor="police-ops", battery_pct=100.0
    )
    dock = runtime.network.sites[DAGENHAM]
    assert (state.status, state.docked_at, state.position) == (
        DroneStatus.DOCKED,
        DAGENHAM,
        dock.position,
    )
    event = _last(runtime, drone_id, EventType.DRONE_STATUS)
    assert event.actor == "police-ops"
    assert event.data["site_id"] == DAGENHAM
    assert (event.data["previous_status"], event.data["status"]) == ("maintenance", "docked")
    assert drone_id in await _candidates(runtime, DAGENHAM)


async def test_returned_home_with_a_low_pack_it_charges_there(runtime: Runtime) -> None:
    drone_id = await _down_in_the_field(runtime)
    home = runtime.network.drones[drone_id].home_site_id
    state = await runtime.return_to_service(drone_id, home, actor="ops", battery_pct=20.0)
    assert (state.status, state.docked_at, state.battery_pct) == (DroneStatus.CHARGING, None, 20.0)


async def test_a_return_to_service_that_does_not_fit_is_refused_naming_the_field(
    runtime: Runtime,
) -> None:
    police = await _down_in_the_field(runtime)
    fire = next(d for d in runtime.network.drones.values() if d.owner == "fire").id
    await runtime.flight_landed(fire, where=FIELD)
    in_service = next(d.drone_id for d in runtime.fleet if d.status is DroneStatus.DOCKED)
    refusals = {
        "unknown drone": ("drone_id", "no-such-drone", DAGENHAM, None),
        "in service": ("drone_id", in_service, DAGENHAM, None),
        "unknown site": ("site_id", police, "no-such-site", None),
        "not shared with fire": ("site_id", fire, "met-hyde-park", None),
        "every slot taken": ("site_id", police, "met-west-end", None),
        "battery": ("battery_pct", police, DAGENHAM, 140.0),
    }
    for case, (field, drone_id, site_id, battery) in refusals.items():
        with pytest.raises(InputError) as refused:
            await runtime.return_to_service(drone_id, site_id, actor="ops", battery_pct=battery)
        assert refused.value.field == field, case
    assert runtime.fleet[police].status is DroneStatus.MAINTENANCE  # nothing changed
    assert runtime.fleet[police].position.lat == FIELD.lat


async def test_the_simulated_crew_carries_an_aircraft_in_mavsim_s_own_process(
    runtime: Runtime,
) -> None:
    """The demo runs mavsim in a child process: the crew's carry goes to it as a command,
    and an aircraft there is moved as one in this process is."""
    from skyshare.runtime.simfleet import start_simulated_fleet

    drone = "lfb-dowgate-1"
    fleet = await start_simulated_fleet(
        runtime, speedup=20.0, boot_scale=0.1, drones=[drone], separate_process=True
    )
    try:
        await fleet.recover(drone, FIELD.lat, FIELD.lon, battery_pct=40.0)
        vehicle = fleet.manager.vehicle(fleet.system_ids[drone])
        state = await vehicle.wait_reached(FIELD.lat, FIELD.lon, tolerance_m=5.0, timeout_s=60)
        assert state.battery_pct is not None and 35 < state.battery_pct < 45
    finally:
        await fleet.stop()
