"""Text options to values: durations, call rates, start times, shares."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from skyshare.domain import InputError

# A Monday: runs are reproducible unless --start says otherwise (see the package docstring).
REFERENCE_START = datetime(2025, 3, 3, tzinfo=UTC)


def parse_seconds(text: str, field: str = "within") -> float:
    """``120``, ``120s``, ``2min``, ``1.5 m`` -> seconds."""
    match = re.fullmatch(
        r"\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*",
        text or "",
        re.IGNORECASE,
    )
    if match is None:
        raise InputError(field, f"expected a duration such as 120s or 2min, got {text!r}")
    unit = (match[2] or "s").lower()
    scale = 3600.0 if unit.startswith("h") else 60.0 if unit.startswith("m") else 1.0
    value = float(match[1]) * scale
    if not value > 0:
        raise InputError(field, "must be positive")
    return value


def parse_approval(text: str) -> float:
    """The operator approval delay: like a duration, but zero is allowed."""
    return 0.0 if text.strip() in {"0", "0s"} else parse_seconds(text, "approval")


def parse_rate(text: str) -> float:
    """``200/week``, ``30/day``, ``200`` (per week) -> calls per week."""
    match = re.fullmatch(
        r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(week|wk|w|day|d))?\s*", text or "", re.IGNORECASE
    )
    if match is None:
        raise InputError("rate", f"expected e.g. 200/week or 30/day, got {text!r}")
    per = (match[2] or "week").lower()
    return float(match[1]) * (7.0 if per.startswith("d") else 1.0)


def parse_start(text: str | None) -> datetime:
    """An ISO 8601 time (UTC when it names no zone); the reference start when absent."""
    if text is None:
        return REFERENCE_START
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("start", f"not an ISO 8601 time: {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parse_share(text: str) -> float:
    """``25%`` -> 0.25 (for --every-borough)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", text or "")
    if match is None or not 0 < float(match[1]) <= 100:
        raise InputError("every-borough", f"expected a share such as 25%, got {text!r}")
    return float(match[1]) / 100.0
