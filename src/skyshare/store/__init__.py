"""SkyShare store: SQLModel tables on SQLite or PostgreSQL, migrated by Alembic on open.

Usage::

    store = Store.open("sqlite:///skyshare.db")   # or postgresql+psycopg://...
    with store.transaction() as tx:
        tx.add_incident(incident)
        tx.append(event)                          # hash-chained audit log
    store.get_incident(incident.id)

Thread-safe: one engine, a session per read or transaction. From asyncio, call it
through ``asyncio.to_thread``.
"""

from skyshare.store.audit import GENESIS_HASH, chain_hash
from skyshare.store.records import (
    ChainCheck,
    DroneState,
    DuplicateIncident,
    NotFound,
    StoredDrone,
    StoredEvent,
    StoredRestriction,
    StoredSite,
    StoreError,
    WriterProgress,
)
from skyshare.store.store import Store, Tx

__all__ = [
    "GENESIS_HASH",
    "ChainCheck",
    "DroneState",
    "DuplicateIncident",
    "NotFound",
    "Store",
    "StoreError",
    "StoredDrone",
    "StoredEvent",
    "StoredRestriction",
    "StoredSite",
    "Tx",
    "WriterProgress",
    "chain_hash",
]
