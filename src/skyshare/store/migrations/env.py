"""Alembic environment for the SkyShare store.

There is no ``alembic.ini``: ``skyshare.store.migrate`` builds the configuration in code
and hands over an open connection, already inside the transaction (and the lock) that
makes concurrent upgrades safe. ``python -m skyshare.store revision "message" --url ...``
autogenerates a new revision from ``tables.py``.
"""

from __future__ import annotations

from alembic import context

from skyshare.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run store migrations through skyshare.store.migrate, which passes a connection"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    # SQLite DDL is transactional too; run the whole upgrade as one unit on both backends.
    transactional_ddl=True,
    compare_type=True,
)

with context.begin_transaction():
    context.run_migrations()
