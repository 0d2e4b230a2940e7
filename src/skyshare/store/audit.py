"""The hash chain of the audit log: canonical form, hashing and verification.

Entry ``seq`` stores ``hash = sha256(canonical JSON of {seq, event, prev_hash})`` where
``prev_hash`` is the hash of entry ``seq - 1`` (64 zeros before the first). Editing,
removing or reordering any entry changes a hash that a later entry (or the chain head)
still remembers, so ``verify_chain`` finds the first entry that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from skyshare.domain.errors import InputError
from skyshare.domain.events import Event, EventType
from skyshare.store.columns import to_utc
from skyshare.store.records import ChainCheck, StoredEvent

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no spaces, no NaN, UTF-8 as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def normalize_event(event: Event) -> Event:
    """``event`` exactly as it will read back from the database, so its hash will match.

    The time becomes UTC and ``data`` goes through JSON once (tuples become lists, keys
    become strings); data that JSON cannot carry is refused here, before anything is
    written.
    """
    try:
        event_type = EventType(event.type)
    except ValueError:
        raise InputError("type", f"unknown event type {event.type!r}") from None
    try:
        data = json.loads(canonical_json(event.data))
    except (TypeError, ValueError) as exc:
        raise InputError("data", f"event data must be plain JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("data", "event data must be a JSON object")
    return replace(event, type=event_type, at=to_utc(event.at, "at"), data=data)


def chain_hash(seq: int, event: Event, prev_hash: str) -> str:
    document = {"seq": seq, "event": event.to_json(), "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def verify_chain(entries: Iterable[StoredEvent], head_seq: int, head_hash: str) -> ChainCheck:
    """Check ``entries`` (in ``seq`` order) link up and end where the chain head says."""
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainCheck(False, count, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != expected_prev:
            return ChainCheck(False, count, entry.seq, "prev_hash does not match the entry before")
        if chain_hash(entry.seq, entry.event, entry.prev_hash) != entry.hash:
            return ChainCheck(False, count, entry.seq, "contents do not match the stored hash")
        expected_seq, expected_prev, count = entry.seq + 1, entry.hash, count + 1
    if (head_seq, head_hash) != (count, expected_prev):
        # The tail was cut off, or rows were added behind the head's back.
        first_bad = min(head_seq, count) + 1
        return ChainCheck(False, count, first_bad, f"chain head says {head_seq} entries")
    return ChainCheck(True, count)
