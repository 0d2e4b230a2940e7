"""The store, run twice: on a SQLite file and on a real PostgreSQL server.

Each PostgreSQL test gets a database of its own (created and dropped around it), so runs
in parallel and other users of the server never see each other. The server is
``SKYSHARE_TEST_POSTGRES_URL`` if set, else 127.0.0.1:5432 as ``postgres`` then ``root``;
when none answers, the PostgreSQL half is skipped with the connection error as reason.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from skyshare.domain import (
    Assignment,
    AssignmentStatus,
    DroneStatus,
    GeoPoint,
    Incident,
    IncidentStatus,
    InputError,
    Network,
    Priority,
    parse_network,
)
from skyshare.domain.events import Event, EventType
from skyshare.store import (
    GENESIS_HASH,
    ChainCheck,
    DroneState,
    DuplicateIncident,
    NotFound,
    Store,
    StoredRestriction,
    Tx,
    chain_hash,
)
from skyshare.store.engine import normalize_url
from skyshare.store.migrate import POSTGRES_MIGRATION_LOCK, current_revision, head_revision
from skyshare.store.tables import metadata

T = TypeVar("T")

T0 = datetime(2025, 3, 14, 9, 30, 0, 123456, tzinfo=UTC)
BST = timezone(timedelta(hours=1), "BST")
NEW_YORK = timezone(timedelta(hours=-5))

# -- databases ------------------------------------------------------------------------


def _postgres_candidates() -> list[str]:
    configured = os.environ.get("SKYSHARE_TEST_POSTGRES_URL")
    if configured:
        return [configured]
    return [f"postgresql://{user}@127.0.0.1:5432/test" for user in ("postgres", "root")]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """A server URL that may CREATE DATABASE, or a visible skip saying why there is none."""
    errors = []
    for url in _postgres_candidates():
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        try:
            with psycopg.connect(conninfo, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return conninfo
        except psycopg.Error as exc:
            errors.append(f"{make_url(url).render_as_string()}: {str(exc).strip()}")
    pytest.skip("PostgreSQL not reachable: " + " | ".join(errors))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The URL of an empty database, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/not-yet-created/skyshare.db"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    name = f"skyshare_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(admin)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


def raw_sql(url: str, *statements: str) -> None:
    """Run SQL behind the store's back, as an intruder with database access would."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def drop_append_only_triggers(url: str) -> None:
    if url.startswith("sqlite"):
        raw_sql(url, "DROP TRIGGER events_refuse_update", "DROP TRIGGER events_refuse_delete")
    else:
        raw_sql(url, "DROP TRIGGER events_refuse_update_delete ON events")


def run_at_once(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``work(i)`` on ``count`` threads released together; return results or errors."""
    barrier = threading.Barrier(count, timeout=10)

    def attempt(i: int) -> T | BaseException:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


# -- data -------------------------------------------------------------------------------


def network(
    drone_ids: tuple[str, ...] = ("d1", "d2", "d3"), site_ids: tuple[str, ...] = ("s1", "s2")
) -> Network:
    sites = {
        "s1": {
            "name": "Soho Fire Station",
            "lat": 51.5136,
            "lon": -0.1365,
            "borough": "Westminster",
            "owner": "fire",
            "shared": True,
            "dock_capacity": 4,
            "source": "LFB stations",
        },
        "s2": {
            "name": "Brixton Police",
            "lat": 51.4613,
            "lon": -0.1156,
            "borough": "Lambeth",
            "owner": "police",
            "shared": False,
            "dock_capacity": 4,
            "illustrative": True,
        },
        "s3": {
            "name": "Romford Police",
            "lat": 51.5751,
            "lon": 0.1830,
            "borough": "Havering",
            "owner": "police",
            "shared": True,
            "dock_capacity": 2,
        },
    }
    doc = {
        "agencies": [
            {"id": "police", "name": "Metropolitan Police"},
            {"id": "fire", "name": "London Fire Brigade"},
        ],
        "models": [
            {
                "name": "M30T",
                "cruise_speed_mps": 15,
                "climb_rate_mps": 5,
                "descent_rate_mps": 4,
                "endurance_s": 2400,
                "battery_wh": 263,
                "hover_power_w": 400,
                "cruise_power_w": 450,
                "capabilities": ["thermal", "zoom"],
            }
        ],
        "sites": [{"id": s, **sites[s]} for s in site_ids],
        "drones": [
            {"id": d, "model": "M30T", "site": site_ids[i % len(site_ids)]}
            for i, d in enumerate(drone_ids)
        ],
    }
    return parse_network(doc, "test network")


def incident(n: int = 1, **changes: Any) -> Incident:
    base = Incident(
        id=f"inc-{n}",
        agency="police",
        priority=Priority.P2,
        kind="burglary",
        position=GeoPoint(51.5007, -0.1246, 0.0),
        received_at=T0 + timedelta(minutes=n),
        borough="Westminster",
        description=f"call {n}",
        external_id=f"CAD-{n}",
    )
    return replace(base, **changes)


def event(subject: str = "inc-1", n: int = 0, **changes: Any) -> Event:
    base = Event(
        type=EventType.INCIDENT_RECEIVED,
        at=T0 + timedelta(seconds=n),
        actor="cad:police",
        subject=subject,
        agency="police",
        data={"n": n, "priority": "P2", "where": [51.5, -0.12]},
    )
    return replace(base, **changes)


def restriction(rid: str, **changes: Any) -> StoredRestriction:
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[-0.13, 51.5], [-0.12, 51.5], [-0.12, 51.51], [-0.13, 51.5]]],
        },
        "properties": {"name": f"fire cordon {rid}", "upper_m": 120.0},
    }
    return replace(StoredRestriction(rid, feature, "supervisor-fire", T0), **changes)


def is_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


# -- round trips --------------------------------------------------------------------------


def test_every_record_round_trips_with_times_in_utc(store: Store) -> None:
    net = network()
    received_bst = datetime(2025, 7, 1, 10, 0, 0, 654321, tzinfo=BST)
    call = incident(1, received_at=received_bst, status=IncidentStatus.PROPOSED)
    proposal = Assignment(
        id="asg-1",
        incident_id="inc-1",
        drone_id="d2",
        site_id="s2",
        eta_s=93.5,
        reason="nearest available thermal drone",
        candidates=(
            {"drone_id": "d2", "eta_s": 93.5, "why": ["thermal", "in range"]},
            {"drone_id": "d1", "eta_s": 140.25, "why": None},
        ),
        proposed_at=received_bst + timedelta(seconds=2.5),
    )
    state = DroneState(
        "d2",
        DroneStatus.EN_ROUTE,
        81.5,
        51.49,
        -0.12,
        85.0,
        "inc-1",
        datetime(2025, 7, 1, 5, 1, 2, 3, tzinfo=NEW_YORK),
        docked_at="s1",  # last landed away from home
    )
    cordon = restriction("r-1", created_at=received_bst, ends_at=received_bst + timedelta(hours=2))

    with store.transaction() as tx:
        tx.sync_network(net, at=T0)
        tx.add_incident(call)
        tx.save_assignment(proposal)
        tx.save_drone_state(state)
        stored = tx.append(event("inc-1", at=received_bst))
        tx.save_restriction(cordon)

    got = store.get_incident("inc-1")
    assert got == call
    assert got is not None and is_utc(got.received_at)
    assert store.find_incident("police", "CAD-1") == call
    got_proposal = store.get_assignment("asg-1")
    assert got_proposal == proposal
    assert got_proposal is not None and is_utc(got_proposal.proposed_at)
    assert store.assignments_for("inc-1") == [proposal]
    got_state = store.drone_states()["d2"]
    assert got_state == state and is_utc(got_state.updated_at)
    [logged] = store.events()
    assert logged == stored and logged.seq == 1
    assert logged.event.at == received_bst and is_utc(logged.event.at)
    [got_cordon] = store.restrictions()
    assert got_cordon == cordon and is_utc(got_cordon.created_at) and is_utc(got_cordon.ends_at)
    assert [s.site for s in store.sites()] == [net.sites["s1"], net.sites["s2"]]
    assert {d.id: (d.model, d.home_site_id, d.owner) for d in store.drones()} == {
        "d1": ("M30T", "s1", "fire"),
        "d2": ("M30T", "s2", "police"),
        "d3": ("M30T", "s1", "fire"),
    }


def test_a_new_drone_starts_docked_at_its_home_site(store: Store) -> None:
    with store.transaction() as tx:
        tx.sync_network(network(), at=T0)
    d1 = store.drone_states()["d1"]
    assert (d1.status, d1.battery_pct, d1.lat, d1.lon) == (
        DroneStatus.DOCKED,
        100.0,
        51.5136,
        -0.1365,
    )
    assert d1.updated_at == T0 and d1.incident_id is None


def test_naive_timestamps_are_refused_naming_the_field(store: Store) -> None:
    with pytest.raises(InputError) as refused, store.transaction() as tx:
        tx.add_incident(incident(1, received_at=datetime(2025, 1, 1, 12, 0)))
    assert refused.value.field == "received_at" and "time zone" in refused.value.reason
    assert store.list_incidents() == []


def test_event_data_that_json_cannot_carry_is_refused(store: Store) -> None:
    with pytest.raises(InputError) as refused, store.transaction() as tx:
        tx.append(event(data={"when": T0}))
    assert refused.value.field == "data"
    assert store.events() == [] and store.verify_audit_chain().ok


# -- duplicates -----------------------------------------------------------------------------


def test_a_repeated_external_id_hands_back_the_incident_already_stored(store: Store) -> None:
    first = incident(1)
    with store.transaction() as tx:
        tx.add_incident(first)

    repeat = incident(2, external_id="CAD-1", description="the same call, sent again")
    with pytest.raises(DuplicateIncident) as dup, store.transaction() as tx:
        tx.add_incident(repeat)
    assert dup.value.existing == first
    assert store.get_incident("inc-2") is None

    with pytest.raises(DuplicateIncident) as same_id, store.transaction() as tx:
        tx.add_incident(incident(1, external_id="CAD-other"))
    assert same_id.value.existing == first

    with store.transaction() as tx:  # other agencies, and calls without an id, are separate
        tx.add_incident(incident(3, agency="fire", external_id="CAD-1"))
        tx.add_incident(incident(4, external_id=None))
        tx.add_incident(incident(5, external_id=None))
    assert len(store.list_incidents()) == 4


def test_concurrent_posts_of_one_call_store_it_once(store: Store) -> None:
    def post(i: int) -> tuple[str, str]:
        # As the API does: a duplicate is answered with the stored incident, and logged.
        with store.transaction() as tx:
            try:
                tx.add_incident(incident(100 + i, external_id="CAD-RACE"))
                tx.append(event(f"inc-{100 + i}", i))
                return ("stored", f"inc-{100 + i}")
            except DuplicateIncident as dup:
                tx.append(event(dup.existing.id, i, type=EventType.INCIDENT_REJECTED))
                return ("duplicate", dup.existing.id)

    outcomes = run_at_once(6, post)

    assert sorted(kind for kind, _ in outcomes) == ["duplicate"] * 5 + ["stored"], outcomes
    winner = next(incident_id for kind, incident_id in outcomes if kind == "stored")
    assert {incident_id for _, incident_id in outcomes} == {winner}
    assert [i.id for i in store.list_incidents()] == [winner]
    logged = [(e.event.type, e.event.subject) for e in store.events()]
    assert sorted(logged) == sorted(
        [(EventType.INCIDENT_RECEIVED, winner)] + [(EventType.INCIDENT_REJECTED, winner)] * 5
    )
    assert store.verify_audit_chain().ok


def test_changing_an_external_id_to_one_taken_is_refused(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_incident(incident(1))
        tx.add_incident(incident(2))
    with pytest.raises(DuplicateIncident) as dup, store.transaction() as tx:
        tx.update_incident(incident(2, external_id="CAD-1"))
    assert dup.value.existing.id == "inc-1"
    assert store.get_incident("inc-2") == incident(2)


# -- atomicity ------------------------------------------------------------------------------


def test_a_failed_transaction_leaves_nothing_half_written(store: Store) -> None:
    with store.transaction() as tx:
        tx.sync_network(network(), at=T0)
        tx.add_incident(incident(1))
        tx.append(event("inc-1"))
    before_states = store.drone_states()

    with pytest.raises(RuntimeError, match="crash mid-way"), store.transaction() as tx:
        tx.add_incident(incident(2))
        tx.save_assignment(Assignment("asg-2", "inc-2", "d1", "s1", 60.0, "nearest"))
        tx.save_drone_state(
            DroneState(
                "d1",
                DroneStatus.LAUNCHING,
                99.0,
                None,
                None,
                None,
                "inc-2",
                T0 + timedelta(minutes=5),
            )
        )
        tx.update_incident(incident(1, status=IncidentStatus.CLOSED))
        tx.append(event("inc-2", 1))
        tx.save_restriction(restriction("r-1"))
        assert tx.get_incident("inc-2") == incident(2)  # visible inside, until the crash
        raise RuntimeError("crash mid-way")

    assert store.get_incident("inc-2") is None
    assert store.get_incident("inc-1") == incident(1)
    assert store.get_assignment("asg-2") is None
    assert store.drone_states() == before_states
    assert store.restrictions() == []
    assert [e.seq for e in store.events()] == [1]
    with store.transaction() as tx:  # the chain continues where the committed part ended
        assert tx.append(event("inc-3", 3)).seq == 2
    assert store.verify_audit_chain().ok


def test_a_store_error_mid_transaction_undoes_the_earlier_writes(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_incident(incident(1))
    with pytest.raises(DuplicateIncident), store.transaction() as tx:
        tx.append(event("inc-1", 1))
        tx.add_incident(incident(2, external_id="CAD-1"))
    assert store.events() == []


def test_a_refused_write_caught_mid_transaction_lets_the_rest_commit(store: Store) -> None:
    proposal = Assignment("asg-1", "inc-1", "d1", "s1", 80.0, "nearest")
    with store.transaction() as tx:
        tx.sync_network(network(), at=T0)
        tx.add_incident(incident(1))
        tx.add_incident(incident(2))
        tx.save_assignment(proposal)
    refusals: list[tuple[Callable[[Tx], None], type[Exception]]] = [
        (lambda tx: tx.add_incident(incident(3, external_id="CAD-1")), DuplicateIncident),
        (lambda tx: tx.update_incident(incident(2, external_id="CAD-1")), DuplicateIncident),
        (lambda tx: tx.update_incident(incident(9)), NotFound),
        (lambda tx: tx.save_assignment(replace(proposal, id="asg-2", drone_id="ghost")), NotFound),
        (lambda tx: tx.save_assignment(replace(proposal, site_id="ghost")), NotFound),
    ]
    dispatched = incident(2, status=IncidentStatus.DISPATCHED)

    with store.transaction() as tx:  # as a caller that answers each refusal and goes on
        tx.append(event("inc-1", 1))
        for write, refusal in refusals:
            with pytest.raises(refusal):
                write(tx)
        tx.update_incident(dispatched)
        tx.append(event("inc-2", 2))

    assert store.get_incident("inc-2") == dispatched and store.get_incident("inc-3") is None
    assert store.assignments_for("inc-1") == [proposal]
    assert [e.event.subject for e in store.events()] == ["inc-1", "inc-2"]
    assert store.verify_audit_chain() == ChainCheck(ok=True, count=2)


# -- audit log --------------------------------------------------------------------------------


def append_events(store: Store, count: int) -> None:
    with store.transaction() as tx:
        for n in range(count):
            tx.append(event(f"inc-{n % 2}", n))


def test_the_audit_chain_verifies_and_links_each_entry_to_the_one_before(store: Store) -> None:
    append_events(store, 3)
    append_events(store, 2)
    entries = store.events()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    check = store.verify_audit_chain()
    assert (check.ok, check.count, check.first_bad_seq) == (True, 5, None)


def test_a_failed_batch_of_entries_leaves_the_chain_where_the_last_commit_left_it(
    store: Store,
) -> None:
    append_events(store, 2)
    with pytest.raises(RuntimeError, match="crash"), store.transaction() as tx:
        for n in range(3):
            tx.append(event("inc-1", n))
        raise RuntimeError("crash before commit")
    assert store.verify_audit_chain() == ChainCheck(ok=True, count=2)

    append_events(store, 3)
    assert [e.seq for e in store.events()] == [1, 2, 3, 4, 5]
    assert store.verify_audit_chain() == ChainCheck(ok=True, count=5)


def test_an_edited_entry_breaks_the_chain_at_that_entry(store: Store, store_url: str) -> None:
    append_events(store, 5)
    drop_append_only_triggers(store_url)
    raw_sql(store_url, "UPDATE events SET actor = 'mallory' WHERE seq = 3")

    check = store.verify_audit_chain()
    assert (check.ok, check.first_bad_seq, check.count) == (False, 3, 2)
    assert "hash" in check.reason


def test_a_rehashed_edit_still_breaks_the_chain_at_the_next_entry(
    store: Store, store_url: str
) -> None:
    append_events(store, 4)
    drop_append_only_triggers(store_url)
    entry = store.events()[1]
    forged = replace(entry.event, actor="mallory")
    raw_sql(
        store_url,
        f"UPDATE events SET actor = 'mallory', "
        f"hash = '{chain_hash(2, forged, entry.prev_hash)}' WHERE seq = 2",
    )
    assert store.verify_audit_chain().first_bad_seq == 3


@pytest.mark.parametrize("removed", [2, 5])
def test_a_removed_entry_breaks_the_chain(store: Store, store_url: str, removed: int) -> None:
    append_events(store, 5)
    drop_append_only_triggers(store_url)
    raw_sql(store_url, f"DELETE FROM events WHERE seq = {removed}")

    check = store.verify_audit_chain()
    assert not check.ok and check.first_bad_seq == removed


def test_the_database_refuses_to_change_or_delete_events(store: Store, store_url: str) -> None:
    append_events(store, 2)
    before = store.events()
    for statement in (
        "UPDATE events SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 2",
        "DELETE FROM events",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            raw_sql(store_url, statement)
    assert store.events() == before and store.verify_audit_chain().ok


def test_concurrent_appenders_keep_one_linear_chain(store: Store) -> None:
    def appender(worker: int) -> None:
        for n in range(8):
            with store.transaction() as tx:
                tx.append(event(f"worker-{worker}", n))

    assert run_at_once(4, appender) == [None] * 4
    entries = store.events()
    assert [e.seq for e in entries] == list(range(1, 33))
    assert sorted((e.event.subject, e.event.data["n"]) for e in entries) == sorted(
        (f"worker-{w}", n) for w in range(4) for n in range(8)
    )
    assert store.verify_audit_chain() == ChainCheck(ok=True, count=32)


# -- migrations and lifetime -------------------------------------------------------------------


def test_migrations_are_idempotent_and_match_the_models(store_url: str) -> None:
    for _ in range(3):
        Store.open(store_url).close()
    store = Store.open(store_url)
    try:
        append_events(store, 1)
        assert store.events()[0].seq == 1  # the chain head was seeded once, not per open
    finally:
        store.close()

    engine = create_engine(normalize_url(store_url))
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
    finally:
        engine.dispose()


OPENER = """
import sys
from skyshare.store import Store
print("opening", flush=True)
Store.open(sys.argv[1]).close()
"""


@contextlib.contextmanager
def migration_lock_held(url: str) -> Iterator[Callable[[], int]]:
    """Hold the store's migration lock; yield a count of connections waiting for it."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield lambda: -1  # SQLite cannot tell who waits for a lock
        finally:
            conn.execute("COMMIT")
            conn.close()
        return
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (POSTGRES_MIGRATION_LOCK,))

        def waiting() -> int:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
            return int(row[0]) if row else 0

        try:
            yield waiting
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (POSTGRES_MIGRATION_LOCK,))


def test_two_processes_opening_a_new_database_at_once_both_succeed(store_url: str) -> None:
    with migration_lock_held(store_url) as waiting:
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, store_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        # Let both reach the lock before releasing it, so that they really start together.
        for opener in openers:
            assert opener.stdout is not None and opener.stdout.readline() == "opening\n"
        deadline = time.monotonic() + 20
        while waiting() not in (-1, 2) and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a condition, with a deadline
    for opener in openers:
        _, errors = opener.communicate(timeout=60)
        assert opener.returncode == 0, errors
    with Store.open(store_url) as store:
        append_events(store, 1)
        assert store.verify_audit_chain().count == 1


def test_stores_opened_at_once_in_one_process_all_succeed(store_url: str) -> None:
    outcomes = run_at_once(3, lambda _: Store.open(store_url))
    stores = [o for o in outcomes if isinstance(o, Store)]
    for opened in stores:
        opened.close()
    assert len(stores) == 3, outcomes


def test_drone_state_survives_a_restart(store_url: str) -> None:
    state = DroneState(
        "d1", DroneStatus.ON_SCENE, 42.25, 51.5, -0.1, 60.0, "inc-1", T0 + timedelta(minutes=9)
    )
    with Store.open(store_url) as store, store.transaction() as tx:
        tx.sync_network(network(), at=T0)
        tx.save_drone_state(state)

    with Store.open(store_url) as store:
        assert store.drone_states()["d1"] == state
        with store.transaction() as tx:  # the restarted runtime syncs the network again
            tx.sync_network(network(), at=T0 + timedelta(hours=1))
        assert store.drone_states()["d1"] == state


def test_leaving_the_network_retires_drones_and_sites_without_deleting_them(store: Store) -> None:
    with store.transaction() as tx:
        tx.sync_network(network(("d1", "d2", "d3"), ("s1", "s2")), at=T0)
        tx.add_incident(incident(1))
        tx.save_assignment(Assignment("asg-1", "inc-1", "d2", "s2", 70.0, "nearest"))

    with store.transaction() as tx:
        tx.sync_network(network(("d1", "d4"), ("s1", "s3")), at=T0)

    assert set(store.drone_states()) == {"d1", "d4"}
    assert {d.id: d.retired for d in store.drones(include_retired=True)} == {
        "d1": False,
        "d2": True,
        "d3": True,
        "d4": False,
    }
    assert [s.site.id for s in store.sites()] == ["s1", "s3"]
    assert {s.site.id: s.retired for s in store.sites(include_retired=True)} == {
        "s1": False,
        "s2": True,
        "s3": False,
    }
    assert store.get_assignment("asg-1") is not None  # still names d2 and s2

    with store.transaction() as tx:  # coming back un-retires, with its last state
        tx.sync_network(network(("d1", "d2"), ("s1", "s2")), at=T0)
    assert "d2" in store.drone_states()


# -- updates and reads ---------------------------------------------------------------------------


def test_an_assignment_is_updated_in_place_and_listed_in_order(store: Store) -> None:
    first = Assignment("asg-1", "inc-1", "d1", "s1", 80.0, "nearest")
    second = Assignment("asg-0", "inc-1", "d2", "s2", 95.0, "next nearest")
    with store.transaction() as tx:
        tx.sync_network(network(), at=T0)
        tx.add_incident(incident(1))
        tx.save_assignment(first)
        tx.save_assignment(second)
    declined = replace(first, status=AssignmentStatus.DECLINED)
    with store.transaction() as tx:
        tx.save_assignment(declined)
    assert store.assignments_for("inc-1") == [declined, second]


def test_reads_inside_a_transaction_see_its_own_later_writes(store: Store) -> None:
    proposal = Assignment("asg-1", "inc-1", "d1", "s1", 80.0, "nearest")
    dispatched = incident(1, status=IncidentStatus.DISPATCHED)
    approved = replace(proposal, status=AssignmentStatus.APPROVED)
    launching = DroneState("d1", DroneStatus.LAUNCHING, 97.0, 51.5, -0.13, 5.0, "inc-1", T0)
    with store.transaction() as tx:
        tx.sync_network(network(), at=T0)
        tx.add_incident(incident(1))
        tx.save_assignment(proposal)
        assert tx.get_incident("inc-1") == tx.find_incident("police", "CAD-1") == incident(1)
        assert tx.get_assignment("asg-1") == proposal
        assert tx.drone_states()["d1"].status == DroneStatus.DOCKED

        tx.update_incident(dispatched)
        tx.save_assignment(approved)
        tx.save_drone_state(launching)
        assert tx.get_incident("inc-1") == tx.find_incident("police", "CAD-1") == dispatched
        assert tx.get_assignment("asg-1") == approved
        assert tx.drone_states()["d1"] == launching


def test_writes_about_unknown_records_are_refused(store: Store) -> None:
    with store.transaction() as tx:
        tx.sync_network(network(), at=T0)
        tx.add_incident(incident(1))
    attempts: list[tuple[Callable[..., None], Any, str]] = [
        (lambda tx, x: tx.update_incident(x), incident(9), "incident"),
        (
            lambda tx, x: tx.save_drone_state(x),
            DroneState("ghost", DroneStatus.DOCKED, 100.0, None, None, None, None, T0),
            "drone",
        ),
        (
            lambda tx, x: tx.save_assignment(x),
            Assignment("a", "inc-1", "ghost", "s1", 1.0, ""),
            "drone",
        ),
        (
            lambda tx, x: tx.save_assignment(x),
            Assignment("a", "inc-9", "d1", "s1", 1.0, ""),
            "incident",
        ),
        (lambda tx, x: tx.end_restriction(x, T0), "r-ghost", "restriction"),
    ]
    for write, record, kind in attempts:
        with pytest.raises(NotFound) as missing, store.transaction() as tx:
            write(tx, record)
        assert missing.value.kind == kind


def test_incidents_are_listed_newest_first_and_filtered(store: Store) -> None:
    calls = [
        incident(1),
        incident(2, agency="fire", status=IncidentStatus.CLOSED),
        incident(3, status=IncidentStatus.CANCELLED),
        incident(4, agency="fire"),
        incident(5, status=IncidentStatus.DISPATCHED),
    ]
    with store.transaction() as tx:
        for call in reversed(calls):
            tx.add_incident(call)

    def ids(found: list[Incident]) -> list[str]:
        return [i.id for i in found]

    assert ids(store.list_incidents()) == ["inc-5", "inc-4", "inc-3", "inc-2", "inc-1"]
    assert ids(store.list_incidents(agency="fire")) == ["inc-4", "inc-2"]
    assert ids(store.list_incidents(open_only=True)) == ["inc-5", "inc-4", "inc-1"]
    assert ids(store.list_incidents(agency="police", open_only=True)) == ["inc-5", "inc-1"]
    assert ids(store.list_incidents(limit=2)) == ["inc-5", "inc-4"]
    with pytest.raises(InputError):
        store.list_incidents(limit=0)


def plan_of(store_url: str, statement: str, parameters: Any) -> str:
    """The database's plan for a statement the store issued (on PostgreSQL, with
    sequential scans off: the small tables of a test would be read whole anyway)."""
    engine = create_engine(normalize_url(store_url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                return " ".join(str(row[3]) for row in rows)
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            return " ".join(str(row[0]) for row in rows)
    finally:
        engine.dispose()


@contextlib.contextmanager
def selects_issued() -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (with their parameters) any engine issues meanwhile."""
    issued: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            issued.append((statement, parameters))

    sa_event.listen(Engine, "before_cursor_execute", capture)
    try:
        yield issued
    finally:
        sa_event.remove(Engine, "before_cursor_execute", capture)


@pytest.mark.parametrize("agency", [None, "police"])
def test_open_incidents_are_read_from_their_index_not_from_all_ever_stored(
    store: Store, store_url: str, agency: str | None
) -> None:
    """The open incidents are listed every second (escalation) and by every dashboard,
    while closed ones pile up for years: the database's plan for the store's own query
    reads an index of the open incidents alone (on PostgreSQL, with sequential scans
    off: a table this small would be read whole anyway)."""
    with store.transaction() as tx:
        for n in (1, 2):
            tx.add_incident(incident(n, status=IncidentStatus.CLOSED))
        tx.add_incident(incident(3, status=IncidentStatus.PROPOSED))
    with selects_issued() as issued:
        assert [i.id for i in store.list_incidents(agency=agency, open_only=True)] == ["inc-3"]
    [(statement, parameters)] = [q for q in issued if "FROM incidents" in q[0]]
    plan = plan_of(store_url, statement, parameters)
    assert re.search(r"\bix_incidents_open(_agency)?\b", plan), plan


def test_an_agency_s_audit_feed_pages_by_its_index(store: Store, store_url: str) -> None:
    """An agency's audit feed, a page at a time: the plan reads the (agency, seq) index
    instead of sorting all of the agency's entries for every page."""
    with store.transaction() as tx:
        for n in range(6):
            tx.append(event(f"inc-{n % 3}", n, agency="fire" if n % 2 else "police"))
    with selects_issued() as issued:
        assert [e.seq for e in store.events(agency="fire", after_seq=2, limit=2)] == [4, 6]
    [(statement, parameters)] = [q for q in issued if "FROM events" in q[0]]
    plan = plan_of(store_url, statement, parameters)
    assert "ix_events_agency_seq" in plan and "TEMP B-TREE" not in plan, plan


def test_events_are_filtered_and_paged(store: Store) -> None:
    with store.transaction() as tx:
        for n in range(6):
            tx.append(event(f"inc-{n % 3}", n, agency="fire" if n % 2 else "police"))

    assert [e.seq for e in store.events(subject="inc-1")] == [2, 5]
    assert [e.seq for e in store.events(agency="fire")] == [2, 4, 6]
    assert [e.seq for e in store.events(agency="police", subject="inc-0")] == [1]
    assert [e.seq for e in store.events(after_seq=2, limit=3)] == [3, 4, 5]
    assert store.events(after_seq=6) == []


def test_restrictions_in_force_follow_start_expiry_and_lifting(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_restriction(restriction("open-ended"))
        tx.save_restriction(restriction("later", starts_at=T0 + timedelta(hours=1)))
        tx.save_restriction(restriction("expiring", ends_at=T0 + timedelta(minutes=30)))
        tx.save_restriction(restriction("lifted"))
    with store.transaction() as tx:
        tx.end_restriction("lifted", T0 + timedelta(minutes=10))
        tx.end_restriction("lifted", T0 + timedelta(minutes=50))  # the first lift stands

    def active(minutes: int) -> set[str]:
        return {r.id for r in store.restrictions(active_at=T0 + timedelta(minutes=minutes))}

    assert active(-1) == set()
    assert active(5) == {"open-ended", "expiring", "lifted"}
    assert active(20) == {"open-ended", "expiring"}
    assert active(90) == {"open-ended", "later"}
    lifted = {r.id: r for r in store.restrictions()}["lifted"]
    assert lifted.lifted_at == T0 + timedelta(minutes=10)
    assert lifted.active_at(T0 + timedelta(minutes=5)) and not lifted.active_at(
        T0 + timedelta(minutes=10)
    )

    with pytest.raises(InputError, match="ends_at"), store.transaction() as tx:
        tx.save_restriction(restriction("backwards", starts_at=T0, ends_at=T0 - timedelta(1)))
    with pytest.raises(InputError, match="feature"), store.transaction() as tx:
        tx.save_restriction(restriction("not-geojson", feature={"type": "Polygon"}))


# -- opening -------------------------------------------------------------------------------------


def test_a_bad_database_url_is_refused_with_the_reason() -> None:
    with pytest.raises(InputError) as refused:
        Store.open("mysql://someone@localhost/skyshare")
    assert refused.value.field == "database_url" and "unsupported" in refused.value.reason


def test_an_in_memory_store_works_across_threads() -> None:
    with Store.open("sqlite://") as store:

        def post(i: int) -> None:
            with store.transaction() as tx:
                tx.add_incident(incident(i))
                tx.append(event(f"inc-{i}", i))

        assert run_at_once(4, post) == [None] * 4
        assert len(store.list_incidents()) == 4 and store.verify_audit_chain().count == 4


def test_a_sqlite_file_is_on_disk_before_a_commit_is_acknowledged(tmp_path: Any) -> None:
    """WAL with synchronous FULL: each commit is synced to disk before it returns, so a
    power cut cannot take back an incident the caller was told is recorded."""
    store = Store.open(f"sqlite:///{tmp_path}/skyshare.db")
    try:
        with store._engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        assert (mode, synchronous) == ("wal", 2)  # 2 is FULL
    finally:
        store.close()
