"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from skyshare.domain.errors import InputError


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp in and out, on every backend.

    PostgreSQL keeps it as ``timestamptz``. SQLite has no time zones, so the value is
    stored as naive UTC text (which sorts in time order) and marked UTC again on the way
    out. A naive datetime is refused: its meaning depends on where the code runs.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give a time zone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_column_type() -> JSON:
    """Plain ``json`` (not ``jsonb``) so that stored documents keep their exact text."""
    return JSON(none_as_null=True)


def to_utc(value: datetime, field: str) -> datetime:
    """``value`` in UTC; anything but a timezone-aware datetime is an error naming ``field``."""
    if not isinstance(value, datetime):
        raise InputError(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(field, f"naive datetime {value.isoformat()} refused: give a time zone")
    return value.astimezone(UTC)
