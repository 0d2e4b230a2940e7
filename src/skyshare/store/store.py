"""The store: a synchronous, thread-safe front to the database.

One engine per ``Store``; every read and every ``transaction()`` gets a session of its
own, so threads (and ``asyncio.to_thread`` calls) never share one. A write is a
``with store.transaction() as tx:`` block: all of it is committed, or none of it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from skyshare.domain import Assignment, Drone, Incident, Network
from skyshare.domain.errors import InputError
from skyshare.domain.events import Event
from skyshare.store import mapping, queries
from skyshare.store.audit import chain_hash, normalize_event, verify_chain
from skyshare.store.columns import to_utc
from skyshare.store.engine import WRITES, create_store_engine, is_memory_sqlite, normalize_url
from skyshare.store.records import (
    ChainCheck,
    DroneState,
    DuplicateIncident,
    NotFound,
    StoredDrone,
    StoredEvent,
    StoredRestriction,
    StoredSite,
    WriterProgress,
)
from skyshare.store.tables import (
    AssignmentRow,
    AuditHeadRow,
    DroneRow,
    EventRow,
    IncidentRow,
    RestrictionRow,
    SiteRow,
    WriterProgressRow,
)

MAX_FAILED_KEPT = 64  # failed write numbers a writer's progress row remembers
# Advisory lock that keeps two network syncs on PostgreSQL from inserting the same rows.
POSTGRES_SYNC_LOCK = 0x536B7953796E63


class Store:
    """Sites, drones, incidents, assignments, restrictions and the hash-chained audit log."""

    def __init__(self, engine: Engine, url: str, *, serialise: bool = False) -> None:
        self._engine = engine
        self.url = url  # password hidden: safe to log
        self.in_memory = serialise  # an in-memory database: no other process can open it
        # An in-memory SQLite database is one shared connection: take turns on it.
        self._turn: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if serialise else contextlib.nullcontext()
        )

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to ``url`` (SQLite or PostgreSQL) and migrate its schema to head (unless
        ``migrate`` is off: another store opened it first)."""
        parsed = normalize_url(url)
        engine = create_store_engine(parsed)
        if migrate:
            # Imported here: Alembic costs the store's process a fifth of its start-up.
            from skyshare.store.migrate import upgrade

            try:
                upgrade(engine)
            except BaseException:
                engine.dispose()
                raise
        shown = parsed.render_as_string(hide_password=True)
        return cls(engine, shown, serialise=is_memory_sqlite(parsed))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One atomic unit of work: committed when the block ends, rolled back if it raises."""
        with (
            self._turn,
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            # Mark the connection before its BEGIN so SQLite takes the write lock now.
            tx = Tx(session, session.connection(execution_options={WRITES: True}))
            yield tx
            tx.before_commit()

    @contextlib.contextmanager
    def _reading(self, **options: Any) -> Iterator[Session]:
        with self._turn, Session(self._engine) as session:
            if options:
                session.connection(execution_options=options)
            yield session

    # -- reads ------------------------------------------------------------------------

    def get_incident(self, incident_id: str) -> Incident | None:
        with self._reading() as session:
            return queries.get_incident(session, incident_id)

    def find_incident(self, agency: str, external_id: str) -> Incident | None:
        with self._reading() as session:
            return queries.find_incident(session, agency, external_id)

    def list_incidents(
        self, *, agency: str | None = None, open_only: bool = False, limit: int = 200
    ) -> list[Incident]:
        """Newest first (by received time)."""
        with self._reading() as session:
            return queries.list_incidents(
                session, agency=agency, open_only=open_only, limit=_limit(limit)
            )

    def assignments_for_incidents(self, incident_ids: list[str]) -> dict[str, list[Assignment]]:
        """Each incident's assignments, oldest first, in one query."""
        with self._reading() as session:
            return queries.assignments_for_many(session, incident_ids)

    def get_assignment(self, assignment_id: str) -> Assignment | None:
        with self._reading() as session:
            return queries.get_assignment(session, assignment_id)

    def assignments_for(self, incident_id: str) -> list[Assignment]:
        """An incident's assignments, oldest first."""
        with self._reading() as session:
            return queries.assignments_for(session, incident_id)

    def drone_states(self, *, include_retired: bool = False) -> dict[str, DroneState]:
        with self._reading() as session:
            return queries.drone_states(session, include_retired=include_retired)

    def drones(self, *, include_retired: bool = False) -> list[StoredDrone]:
        with self._reading() as session:
            return queries.drones(session, include_retired=include_retired)

    def sites(self, *, include_retired: bool = False) -> list[StoredSite]:
        with self._reading() as session:
            return queries.sites(session, include_retired=include_retired)

    def events(
        self,
        *,
        subject: str | None = None,
        agency: str | None = None,
        after_seq: int = 0,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        """Audit entries after ``after_seq``, oldest first: page on with the last ``seq``."""
        with self._reading() as session:
            return queries.events(
                session, subject=subject, agency=agency, after_seq=after_seq, limit=_limit(limit)
            )

    def verify_audit_chain(self) -> ChainCheck:
        """Recompute the whole chain; any edited, removed or reordered entry breaks it."""
        # One snapshot for the head and all entries, whatever is appended meanwhile.
        snapshot = {"isolation_level": "REPEATABLE READ"} if self._is_postgres else {}
        with self._reading(**snapshot) as session:
            head = queries.audit_head(session)
            return verify_chain(queries.all_events(session), head.seq, head.hash)

    def write_progress(self, session: str) -> WriterProgress:
        """How far the numbered writes of writer ``session`` were processed."""
        with self._reading() as reading:
            row = reading.get(WriterProgressRow, session)
            if row is None:
                return WriterProgress()
            return WriterProgress(row.last_number, frozenset(int(n) for n in row.failed.split()))

    def writer_sessions(self) -> list[str]:
        """The writers whose progress is kept: a service running, and any that ended
        without stopping cleanly (its record is what would settle its writes in doubt)."""
        with self._reading() as reading:
            return sorted(reading.exec(select(WriterProgressRow.session)).all())

    def forget_progress(self, session: str) -> None:
        """Drop writer ``session``'s progress: it stopped with every write answered, so
        nothing of it is left to settle."""
        with self.transaction() as tx:
            tx.forget_progress(session)

    def note_failure(self, session: str, number: int) -> None:
        """Record that write ``number`` of writer ``session`` failed: not committed."""
        with self.transaction() as tx:
            tx.note_progress(session, number, failed=True)

    def restrictions(self, *, active_at: datetime | None = None) -> list[StoredRestriction]:
        """All restrictions (oldest first), or those in force at ``active_at``."""
        with self._reading() as session:
            return queries.restrictions(session, active_at=active_at)

    @property
    def _is_postgres(self) -> bool:
        return self._engine.dialect.name == "postgresql"


# The hot write path runs statements built once, here, on the tables themselves, through
# the session's connection: building ORM statements, and the ORM's bookkeeping around
# them, cost more CPU than the database did.
_EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
_HEAD: Table = AuditHeadRow.__table__  # type: ignore[attr-defined]
_INCIDENTS: Table = IncidentRow.__table__  # type: ignore[attr-defined]
_ASSIGNMENTS: Table = AssignmentRow.__table__  # type: ignore[attr-defined]
_DRONES: Table = DroneRow.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = _EVENTS.insert()
_MOVE_HEAD = (
    _HEAD.update()
    .where(_HEAD.c.id == queries.AUDIT_HEAD_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_PROGRESS: Table = WriterProgressRow.__table__  # type: ignore[attr-defined]
_NOTE_PROGRESS = (
    _PROGRESS.update()
    .where(_PROGRESS.c.session == bindparam("s"))
    .values(last_number=bindparam("n"))
)
# UPDATEs whose SET clause is the columns named in the parameters.
_UPDATE_INCIDENT = _INCIDENTS.update().where(_INCIDENTS.c.id == bindparam("incident_key"))
_UPDATE_DRONE = _DRONES.update().where(_DRONES.c.id == bindparam("drone_key"))


# ON CONFLICT is a dialect construct: one statement per backend, picked by the
# transaction's dialect.
_DialectInsert = sqlite.Insert | postgresql.Insert
_DIALECT_INSERTS: dict[str, Callable[[Table], _DialectInsert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def _upsert_on_id(
    insert: Callable[[Table], _DialectInsert], table: Table, keys: set[str]
) -> _DialectInsert:
    """INSERT, or on a taken ``id`` overwrite every column but ``keys`` with the new values."""
    statement = insert(table)
    changed = {c.name: statement.excluded[c.name] for c in table.c if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=[table.c.id], set_=changed)


# Nothing on a taken id or external id: ``rowcount`` 0 tells the duplicate (an INSERT's
# rowcount is kept only when asked for).
_ADD_INCIDENT = {
    name: insert(_INCIDENTS).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    for name, insert in _DIALECT_INSERTS.items()
}
_SAVE_ASSIGNMENT = {
    name: _upsert_on_id(insert, _ASSIGNMENTS, {"row_id", "id"})  # row_id keeps the order
    for name, insert in _DIALECT_INSERTS.items()
}


class Tx:
    """Writes (and the reads a write needs) inside one ``Store.transaction()``."""

    def __init__(self, session: Session, connection: Connection) -> None:
        self._session = session
        self._connection = connection  # the session's: hot writes go straight to it
        self._dialect = connection.dialect.name
        # The audit chain's head once this transaction holds its lock: later appends in
        # the same transaction chain on from it without reading it again, and the
        # ``audit_head`` row is written once, by ``before_commit``.
        self._head: tuple[int, str] | None = None

    def before_commit(self) -> None:
        """Record the chain's new head. ``Store.transaction()`` calls it just before commit."""
        if self._head is not None:
            seq, digest = self._head
            self._connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": digest})

    # -- reads that see this transaction's own writes -------------------------------

    def get_incident(self, incident_id: str) -> Incident | None:
        return queries.get_incident(self._session, incident_id)

    def find_incident(self, agency: str, external_id: str) -> Incident | None:
        return queries.find_incident(self._session, agency, external_id)

    def get_assignment(self, assignment_id: str) -> Assignment | None:
        return queries.get_assignment(self._session, assignment_id)

    def drone_states(self) -> dict[str, DroneState]:
        return queries.drone_states(self._session, include_retired=False)

    # -- network ---------------------------------------------------------------------

    def sync_network(self, network: Network, *, at: datetime | None = None) -> None:
        """Make sites and drones match ``network``.

        Live drone state is kept. A new drone starts docked at its home site as of ``at``
        (default: now). Sites and drones no longer in the network are marked retired,
        never deleted, so that past assignments still name them.
        """
        session = self._session
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_SYNC_LOCK})
        since = to_utc(at or datetime.now(UTC), "at")

        site_rows = {row.id: row for row in session.exec(select(SiteRow))}
        for site in network.sites.values():
            fields = mapping.site_fields(site) | {"retired": False}
            _upsert(session, site_rows.get(site.id), SiteRow, site.id, fields)
        for site_id, row in site_rows.items():
            row.retired = site_id not in network.sites
        session.flush()  # drones refer to sites

        drone_rows = {row.id: row for row in session.exec(select(DroneRow))}
        for drone in network.drones.values():
            row = drone_rows.get(drone.id)
            fields = _drone_fields(drone)
            if row is None:
                fields |= _initial_state(drone, since)
            _upsert(session, row, DroneRow, drone.id, fields)
        for drone_id, row in drone_rows.items():
            row.retired = drone_id not in network.drones
        session.flush()

    # -- incidents and assignments ---------------------------------------------------

    def add_incident(self, incident: Incident) -> None:
        """Insert a new incident.

        Raises ``DuplicateIncident`` (carrying the incident already stored) when its id,
        or its agency's ``external_id``, is taken. A UNIQUE constraint decides, so two
        concurrent posts of the same call cannot both get in.
        """
        fields = mapping.incident_fields(incident)
        # The conflict is skipped, not raised, so the transaction stays usable on
        # PostgreSQL too: the race loser can still read the winner and log the duplicate.
        done = self._connection.execute(_ADD_INCIDENT[self._dialect], {"id": incident.id, **fields})
        if done.rowcount == 1:
            return
        existing = self._existing_incident(incident)
        if existing is None:  # the database skipped it, yet no incident holds its keys
            raise RuntimeError(f"incident {incident.id!r} was refused for no visible reason")
        raise DuplicateIncident(existing)

    def update_incident(self, incident: Incident) -> None:
        """Overwrite a stored incident (status changes and the like)."""
        fields = mapping.incident_fields(incident)
        try:
            with self._undoable():
                done = self._connection.execute(
                    _UPDATE_INCIDENT, {"incident_key": incident.id, **fields}
                )
        except IntegrityError:
            taken_by = None
            if incident.external_id is not None:
                taken_by = queries.find_incident(
                    self._session, incident.agency, incident.external_id
                )
            if taken_by is None or taken_by.id == incident.id:
                raise
            raise DuplicateIncident(taken_by) from None
        if done.rowcount == 0:
            raise NotFound("incident", incident.id)

    def save_assignment(self, assignment: Assignment) -> None:
        """Insert an assignment, or update the stored one with the same id."""
        fields = mapping.assignment_fields(assignment)
        try:
            with self._undoable():
                self._connection.execute(
                    _SAVE_ASSIGNMENT[self._dialect], {"id": assignment.id, **fields}
                )
        except IntegrityError:
            # The foreign keys refused it: say which of them names nothing.
            for kind, table, key in (
                ("incident", IncidentRow, assignment.incident_id),
                ("drone", DroneRow, assignment.drone_id),
                ("site", SiteRow, assignment.site_id),
            ):
                if self._session.get(table, key) is None:
                    raise NotFound(kind, key) from None
            raise

    def save_drone_state(self, state: DroneState) -> None:
        """Record a drone's live state. The drone must be in the network (``sync_network``)."""
        fields = mapping.drone_state_fields(state)
        done = self._connection.execute(_UPDATE_DRONE, {"drone_key": state.drone_id, **fields})
        if done.rowcount != 1:
            raise NotFound("drone", state.drone_id)

    # -- audit log -------------------------------------------------------------------

    def append(self, event: Event) -> StoredEvent:
        """Add ``event`` to the end of the audit log, chained to the entry before it."""
        event = normalize_event(event)
        if self._head is None:
            self._head = queries.audit_head_for_append(self._connection)
        head_seq, prev_hash = self._head
        seq = head_seq + 1
        digest = chain_hash(seq, event, prev_hash)
        self._connection.execute(
            _INSERT_EVENT,
            {
                "seq": seq,
                "type": event.type.value,
                "at": event.at,
                "actor": event.actor,
                "subject": event.subject,
                "agency": event.agency,
                "data": event.data,
                "prev_hash": prev_hash,
                "hash": digest,
            },
        )
        self._head = (seq, digest)
        return StoredEvent(seq, event, prev_hash, digest)

    # -- temporary restrictions ------------------------------------------------------

    def save_restriction(self, r: StoredRestriction) -> None:
        """Insert a restriction, or update the stored one with the same id."""
        _check_restriction(r)
        fields = mapping.restriction_fields(r)
        row = self._session.get(RestrictionRow, r.id)
        _upsert(self._session, row, RestrictionRow, r.id, fields)
        self._session.flush()

    def end_restriction(self, restriction_id: str, at: datetime) -> None:
        """Lift a restriction as of ``at``. Lifting it again keeps the first lift time."""
        lifted_at = to_utc(at, "at")
        row = self._session.get(RestrictionRow, restriction_id)
        if row is None:
            raise NotFound("restriction", restriction_id)
        if row.lifted_at is None:
            row.lifted_at = lifted_at
            self._session.flush()

    def forget_progress(self, session: str) -> None:
        self._connection.execute(_PROGRESS.delete().where(_PROGRESS.c.session == session))

    def note_progress(self, session: str, number: int, *, failed: bool = False) -> None:
        """Record, in this transaction, that the writes of writer ``session`` up to
        ``number`` have been processed (``failed``: ``number`` itself not committed), so
        that after a crash the writer knows which of its unanswered writes were."""
        if not failed:
            moved = self._connection.execute(_NOTE_PROGRESS, {"s": session, "n": number})
            if moved.rowcount:
                return
        row = self._session.get(WriterProgressRow, session)
        if row is None:
            row = WriterProgressRow(session=session, last_number=number, failed="")
            self._session.add(row)
        row.last_number = max(row.last_number, number)
        if failed:
            kept = row.failed.split()[-(MAX_FAILED_KEPT - 1) :]
            row.failed = " ".join([*kept, str(number)])
        self._session.flush()

    def _undoable(self) -> contextlib.AbstractContextManager[Any]:
        """Around a write whose error is diagnosed afterwards, in the same transaction.

        A savepoint on PostgreSQL, which aborts the whole transaction on an error; SQLite
        undoes just the failed statement by itself, so it needs none.
        """
        if self._dialect == "postgresql":
            return self._connection.begin_nested()
        return contextlib.nullcontext()

    def _existing_incident(self, incident: Incident) -> Incident | None:
        same_id = queries.get_incident(self._session, incident.id)
        if same_id is not None:
            return same_id
        if incident.external_id is None:
            return None
        return queries.find_incident(self._session, incident.agency, incident.external_id)


def _drone_fields(drone: Drone) -> dict[str, Any]:
    return {
        "model": drone.model.name,
        "owner": drone.owner,
        "home_site_id": drone.home_site_id,
        "retired": False,
    }


def _initial_state(drone: Drone, since: datetime) -> dict[str, Any]:
    position = drone.position
    return {
        "status": drone.status.value,
        "battery_pct": drone.battery_pct,
        "lat": position.lat if position else None,
        "lon": position.lon if position else None,
        "alt_m": position.alt_m if position else None,
        "incident_id": None,
        "state_updated_at": since,
    }


def _check_restriction(r: StoredRestriction) -> None:
    if not isinstance(r.feature, dict) or r.feature.get("type") != "Feature":
        raise InputError("feature", "must be a GeoJSON Feature (an object with type 'Feature')")
    starts = to_utc(r.starts_at, "starts_at") if r.starts_at is not None else None
    ends = to_utc(r.ends_at, "ends_at") if r.ends_at is not None else None
    if starts is not None and ends is not None and ends <= starts:
        raise InputError("ends_at", "must be after starts_at")


def _upsert(session: Session, row: Any, table: type[Any], key: str, fields: dict[str, Any]) -> None:
    if row is None:
        session.add(table(id=key, **fields))
    else:
        _assign(row, fields)


def _assign(row: Any, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(row, name, value)


def _limit(limit: int) -> int:
    if limit < 1:
        raise InputError("limit", f"must be at least 1, got {limit}")
    return limit
