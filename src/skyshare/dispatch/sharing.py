"""Multi-agency accounting: who flew whose drones, for how many minutes.

A shared network lives on trust that the books balance. Every flight is recorded with
the agency it flew for (the user) and the agency that owns the drone and its site (the
owner); the ledger answers minutes per agency, per owner, per site, the user-by-owner
matrix, and each agency's balance (minutes others flew on its drones minus minutes it
flew on others'). It is a plain accumulator: no clock, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from skyshare.domain.errors import InputError
from skyshare.domain.network import Network


@dataclass(frozen=True, slots=True)
class FlightRecord:
    """One flight (or part of one): ``seconds`` flown by ``drone_id`` for ``agency``."""

    drone_id: str
    agency: str
    owner: str
    site_id: str
    seconds: float
    incident_id: str | None = None


class SharingLedger:
    """Flight seconds by (user agency, owner agency, site)."""

    def __init__(self) -> None:
        self._seconds: dict[tuple[str, str, str], float] = defaultdict(float)
        self.flights = 0

    def record(self, flight: FlightRecord) -> None:
        if not flight.seconds >= 0:
            raise InputError(
                "seconds", f"must be zero or more, got {flight.seconds}", item=flight.drone_id
            )
        self._seconds[(flight.agency, flight.owner, flight.site_id)] += flight.seconds
        self.flights += 1

    def record_flight(
        self,
        network: Network,
        drone_id: str,
        agency: str,
        seconds: float,
        incident_id: str | None = None,
    ) -> FlightRecord:
        """Record a flight of a network drone; owner and site come from the network."""
        drone = network.drones.get(drone_id)
        if drone is None:
            raise InputError("drone_id", f"unknown drone {drone_id!r}")
        if agency not in network.agencies:
            raise InputError("agency", f"unknown agency {agency!r}", item=drone_id)
        flight = FlightRecord(
            drone_id, agency, drone.owner, drone.home_site_id, seconds, incident_id
        )
        self.record(flight)
        return flight

    def merge(self, other: SharingLedger) -> None:
        for key, seconds in other._seconds.items():
            self._seconds[key] += seconds
        self.flights += other.flights

    def _minutes_by(self, part: int) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for key, seconds in self._seconds.items():
            out[key[part]] += seconds / 60.0
        return dict(sorted(out.items()))

    def minutes_by_agency(self) -> dict[str, float]:
        """Minutes flown for each agency (on anyone's drones)."""
        return self._minutes_by(0)

    def minutes_by_owner(self) -> dict[str, float]:
        """Minutes flown on each owner's drones (for anyone)."""
        return self._minutes_by(1)

    def minutes_by_site(self) -> dict[str, float]:
        return self._minutes_by(2)

    def matrix(self) -> dict[tuple[str, str], float]:
        """Minutes by (user agency, owner)."""
        out: dict[tuple[str, str], float] = defaultdict(float)
        for (agency, owner, _), seconds in self._seconds.items():
            out[(agency, owner)] += seconds / 60.0
        return dict(sorted(out.items()))

    def balance(self) -> dict[str, float]:
        """Per agency: minutes others flew on its drones minus minutes it flew on others'.
        Positive means it gives more than it takes."""
        out: dict[str, float] = defaultdict(float)
        for (agency, owner), minutes in self.matrix().items():
            if agency != owner:
                out[owner] += minutes
                out[agency] -= minutes
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "flights": self.flights,
            "minutes_by_agency": self.minutes_by_agency(),
            "minutes_by_owner": self.minutes_by_owner(),
            "minutes_by_site": self.minutes_by_site(),
            "matrix": [
                {"agency": a, "owner": o, "minutes": m} for (a, o), m in self.matrix().items()
            ],
            "balance": self.balance(),
        }
