"""One SQLAlchemy engine per store, set up for safe concurrent use on SQLite and PostgreSQL.

SQLite: WAL (readers never wait for the writer), foreign keys on, a busy timeout, and a
transaction that will write starts with ``BEGIN IMMEDIATE`` so that it takes the write
lock up front. A deferred BEGIN would upgrade its lock only at the first write, and two
such transactions can deadlock each other ("database is locked") instead of queueing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import StaticPool

from skyshare.domain.errors import InputError

# Execution option that marks a connection whose transaction will write.
WRITES = "skyshare_writes"
SQLITE_BUSY_TIMEOUT_S = 30.0


def normalize_url(url: str) -> URL:
    """Parse ``url``; plain ``postgresql://`` (or ``postgres://``) means psycopg 3."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse message
        raise InputError("database_url", f"not a database URL: {url!r} ({exc})") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InputError(
            "database_url", f"unsupported database {parsed.drivername!r}: use sqlite or postgresql"
        )
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_store_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # pre-ping: a server restart should cost one retry, not a failed request
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    memory = is_memory_sqlite(url)
    if not memory:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
    }
    if memory:
        # Each connection to ":memory:" would be a different, empty database; the store
        # serialises its use of this single connection (see Store).
        options["poolclass"] = StaticPool
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: it would otherwise
        # BEGIN late and in its own way (see SQLAlchemy's "sqlite_transactions" notes).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            # FULL: each commit reaches the disk before it is acknowledged (NORMAL under
            # WAL may lose the last ones to a power cut). One fsync per group commit.
            cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine
