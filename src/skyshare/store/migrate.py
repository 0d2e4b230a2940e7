"""Apply the Alembic migrations that ship inside this package; no ``alembic.ini`` needed.

``upgrade`` is safe to call on every start, from several processes at once: the whole
upgrade runs in one transaction that first takes a lock (``BEGIN IMMEDIATE`` on SQLite,
a transaction-scoped advisory lock on PostgreSQL), so a second process waits, then finds
the schema at head and does nothing.

For developers, ``python -m skyshare.store`` (see ``__main__.py``) shows the current
revision, upgrades, or autogenerates a new revision from ``tables.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from skyshare.store.engine import WRITES

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number; it names "the SkyShare schema" among advisory locks.
POSTGRES_MIGRATION_LOCK = 0x536B79536861
_ALEMBIC_IN_USE = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``, holding the migration lock throughout."""
    # Alembic keeps the running migration in module globals (``alembic.context``), so
    # only one thread per process may run one, whichever database it is for.
    with _ALEMBIC_IN_USE, engine.connect() as connection:
        connection.execution_options(**{WRITES: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK}
                )
            command.upgrade(alembic_config(connection), revision)


def autogenerate_revision(engine: Engine, message: str) -> None:
    """Write a new revision file for the differences between ``tables.py`` and the schema."""
    with _ALEMBIC_IN_USE, engine.connect() as connection, connection.begin():
        command.revision(alembic_config(connection), message, autogenerate=True)
