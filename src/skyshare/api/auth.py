"""API keys: each maps to an agency and a role.

Keys come from ``SKYSHARE_API_KEYS`` (``key:agency:role,...``) or a keys file with one
``key:agency:role`` per line (``#`` starts a comment). Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from skyshare.domain import InputError, Role

ALL_AGENCIES = "*"  # an admin key may name "*" to act for every agency


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an agency and a role. ``name`` goes into the audit log, never the key."""

    name: str
    agency: str
    role: Role

    def may_act_for(self, agency: str) -> bool:
        return self.role is Role.ADMIN or self.agency in (agency, ALL_AGENCIES)

    @property
    def may_command(self) -> bool:
        """Planners read; operators, supervisors and admins act."""
        return self.role is not Role.PLANNER


class KeyRing:
    """Looks a presented key up without leaking timing about which keys exist."""

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, presented: str) -> Principal | None:
        found = None
        for key, principal in self._entries.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = principal
        return found


def parse_keys(lines: Iterable[str], known_agencies: Iterable[str], source: str) -> KeyRing:
    agencies = {*known_agencies, ALL_AGENCIES}
    entries: dict[str, Principal] = {}
    for n, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        item = f"entry {n}"
        parts = line.split(":")
        if len(parts) != 3:
            raise InputError("(entry)", "expected key:agency:role", source=source, item=item)
        key, agency, role = (p.strip() for p in parts)
        if len(key) < 8:
            raise InputError("key", "must be at least 8 characters", source=source, item=item)
        if agency not in agencies:
            raise InputError("agency", f"unknown agency {agency!r}", source=source, item=item)
        try:
            parsed_role = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise InputError(
                "role", f"unknown role {role!r}; use one of {roles}", source=source, item=item
            ) from None
        entries[key] = Principal(f"{agency}-{parsed_role.value}-{n}", agency, parsed_role)
    return KeyRing(entries)


def load_keys(env_value: str, keys_file: Path | None, known_agencies: Iterable[str]) -> KeyRing:
    agencies = list(known_agencies)
    lines = [part for part in env_value.split(",") if part.strip()]
    ring = parse_keys(lines, agencies, "SKYSHARE_API_KEYS")
    if keys_file is not None:
        from_file = parse_keys(keys_file.read_text().splitlines(), agencies, str(keys_file))
        ring = KeyRing({**ring._entries, **from_file._entries})
    return ring


def generate_demo_keys(agencies: Iterable[str]) -> str:
    """One operator key per agency plus an admin and a planner, as SKYSHARE_API_KEYS text."""
    entries = [f"{secrets.token_urlsafe(12)}:{a}:operator" for a in sorted(agencies)]
    entries.append(f"{secrets.token_urlsafe(12)}:*:admin")
    entries.append(f"{secrets.token_urlsafe(12)}:*:planner")
    return ",".join(entries)
