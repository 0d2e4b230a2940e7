"""Read queries, shared by ``Store`` (a session of their own) and ``Tx`` (inside a write)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, Table, func, or_, text
from sqlmodel import Session, col, select

from skyshare.domain import Assignment, Incident
from skyshare.store import mapping
from skyshare.store.columns import to_utc
from skyshare.store.records import (
    DroneState,
    StoredDrone,
    StoredEvent,
    StoredRestriction,
    StoredSite,
)
from skyshare.store.tables import (
    OPEN_INCIDENT,
    AssignmentRow,
    AuditHeadRow,
    DroneRow,
    EventRow,
    IncidentRow,
    RestrictionRow,
    SiteRow,
)

AUDIT_HEAD_ID = 1


def get_incident(session: Session, incident_id: str) -> Incident | None:
    row = session.get(IncidentRow, incident_id)
    return None if row is None else mapping.incident(row)


def find_incident(session: Session, agency: str, external_id: str) -> Incident | None:
    query = select(IncidentRow).where(
        IncidentRow.agency == agency, IncidentRow.external_id == external_id
    )
    row = session.exec(query).first()
    return None if row is None else mapping.incident(row)


def list_incidents(
    session: Session, *, agency: str | None, open_only: bool, limit: int
) -> list[Incident]:
    query = select(IncidentRow)
    if agency is not None:
        query = query.where(IncidentRow.agency == agency)
    if open_only:
        query = query.where(text(OPEN_INCIDENT))  # the partial indexes' own words
    query = query.order_by(col(IncidentRow.received_at).desc(), col(IncidentRow.id).desc())
    return [mapping.incident(row) for row in session.exec(query.limit(limit))]


def assignment_row(session: Session, assignment_id: str) -> AssignmentRow | None:
    return session.exec(select(AssignmentRow).where(AssignmentRow.id == assignment_id)).first()


def get_assignment(session: Session, assignment_id: str) -> Assignment | None:
    row = assignment_row(session, assignment_id)
    return None if row is None else mapping.assignment(row)


def assignments_for(session: Session, incident_id: str) -> list[Assignment]:
    query = (
        select(AssignmentRow)
        .where(AssignmentRow.incident_id == incident_id)
        .order_by(col(AssignmentRow.row_id))
    )
    return [mapping.assignment(row) for row in session.exec(query)]


def assignments_for_many(session: Session, incident_ids: list[str]) -> dict[str, list[Assignment]]:
    """Each incident's assignments, oldest first (none: an empty list), in one query."""
    found: dict[str, list[Assignment]] = {i: [] for i in incident_ids}
    if incident_ids:
        query = (
            select(AssignmentRow)
            .where(col(AssignmentRow.incident_id).in_(incident_ids))
            .order_by(col(AssignmentRow.row_id))
        )
        for row in session.exec(query):
            found[row.incident_id].append(mapping.assignment(row))
    return found


def drone_states(session: Session, *, include_retired: bool) -> dict[str, DroneState]:
    query = select(DroneRow).order_by(col(DroneRow.id))
    if not include_retired:
        query = query.where(col(DroneRow.retired).is_(False))
    return {row.id: mapping.drone_state(row) for row in session.exec(query)}


def drones(session: Session, *, include_retired: bool) -> list[StoredDrone]:
    query = select(DroneRow).order_by(col(DroneRow.id))
    if not include_retired:
        query = query.where(col(DroneRow.retired).is_(False))
    return [mapping.stored_drone(row) for row in session.exec(query)]


def sites(session: Session, *, include_retired: bool) -> list[StoredSite]:
    query = select(SiteRow).order_by(col(SiteRow.id))
    if not include_retired:
        query = query.where(col(SiteRow.retired).is_(False))
    return [mapping.stored_site(row) for row in session.exec(query)]


def events(
    session: Session, *, subject: str | None, agency: str | None, after_seq: int, limit: int
) -> list[StoredEvent]:
    query = select(EventRow).where(EventRow.seq > after_seq)
    if subject is not None:
        query = query.where(EventRow.subject == subject)
    if agency is not None:
        query = query.where(EventRow.agency == agency)
    query = query.order_by(col(EventRow.seq)).limit(limit)
    return [mapping.stored_event(row) for row in session.exec(query)]


def all_events(session: Session, batch: int = 1000) -> Iterator[StoredEvent]:
    """Every entry in chain order, fetched in batches so a long log never sits in memory."""
    after = 0
    while True:
        query = select(EventRow).where(EventRow.seq > after).order_by(col(EventRow.seq))
        rows = session.exec(query.limit(batch)).all()
        for row in rows:
            yield mapping.stored_event(row)
        if len(rows) < batch:
            return
        after = rows[-1].seq
        session.expunge_all()  # keep the identity map from growing with the log


def audit_head(session: Session) -> AuditHeadRow:
    return session.exec(select(AuditHeadRow).where(AuditHeadRow.id == AUDIT_HEAD_ID)).one()


_HEAD: Table = AuditHeadRow.__table__  # type: ignore[attr-defined]
# Built once and run on the connection, past the ORM: every transaction that logs runs it.
_HEAD_FOR_APPEND = (
    select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == AUDIT_HEAD_ID).with_for_update()
)


def audit_head_for_append(connection: Connection) -> tuple[int, str]:
    """The chain head's ``(seq, hash)``, locked until the transaction ends.

    The row lock serialises appenders on PostgreSQL; SQLite already holds its write lock.
    """
    seq, head_hash = connection.execute(_HEAD_FOR_APPEND).one()
    return seq, head_hash


def restrictions(session: Session, *, active_at: datetime | None) -> list[StoredRestriction]:
    query = select(RestrictionRow)
    if active_at is not None:
        at = to_utc(active_at, "active_at")
        starts = func.coalesce(RestrictionRow.starts_at, RestrictionRow.created_at)
        query = query.where(
            starts <= at,
            or_(col(RestrictionRow.ends_at).is_(None), col(RestrictionRow.ends_at) > at),
            or_(col(RestrictionRow.lifted_at).is_(None), col(RestrictionRow.lifted_at) > at),
        )
    query = query.order_by(col(RestrictionRow.created_at), col(RestrictionRow.id))
    return [mapping.restriction(row) for row in session.exec(query)]
