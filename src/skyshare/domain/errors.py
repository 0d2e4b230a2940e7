"""Errors the core raises about bad input: each names where the input is wrong and why."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Bad input. ``field`` names the offending field, ``reason`` says what is wrong with it.

    ``source`` names the file or message the input came from (when there is one), and
    ``item`` the feature, row or record inside it, so that an operator can find and fix it.
    """

    def __init__(self, field: str, reason: str, *, source: str = "", item: str = "") -> None:
        self.field = field
        self.reason = reason
        self.source = source
        self.item = item
        where = ": ".join(part for part in (source, item) if part)
        super().__init__(f"{where + ': ' if where else ''}{field}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # pickled by what it was made of
        return (_rebuild, (type(self), self.field, self.reason, self.source, self.item))


def _rebuild(cls: type[InputError], field: str, reason: str, source: str, item: str) -> InputError:
    return cls(field, reason, source=source, item=item)
