"""Network variations for what-if questions, and writing a network back out."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyshare.config import REPO_ROOT
from skyshare.domain import InputError, parse_network
from skyshare.planning.scenario import (
    drone_counts,
    network_document,
    pooled,
    separate_for,
    with_drone_counts,
    with_sites,
)
from skyshare.runtime.world import load_network

LONDON = REPO_ROOT / "launch_sites" / "london.yaml"


def test_a_written_network_reads_back_the_same() -> None:
    network = load_network(LONDON)
    again = parse_network(network_document(network), "written")
    assert again == network  # sites, drones, sharing, kinds and airspace permissions


def test_drone_counts_grow_docks_and_name_new_drones() -> None:
    network = load_network(LONDON)
    site = next(iter(network.sites))
    bigger = with_drone_counts(network, {site: 5})
    assert drone_counts(bigger)[site] == 5
    assert bigger.sites[site].dock_capacity >= 5
    assert {d for d in bigger.drones if d.startswith(f"{site}-w")}
    assert drone_counts(with_drone_counts(network, {site: 0}))[site] == 0
    with pytest.raises(InputError, match="site"):
        with_drone_counts(network, {"nowhere": 1})


def test_separate_and_pooled_networks() -> None:
    network = load_network(LONDON)
    alone = separate_for(network, "fire")
    assert set(alone.agencies) == {"fire"} and not alone.agreements
    assert all(s.owner == "fire" for s in alone.sites.values())
    shared = pooled(network)
    drone = next(d for d in shared.drones.values() if d.owner == "police")
    assert all(shared.may_fly(drone, a, p) for a in shared.agencies for p in (1, 4))


def test_new_sites_are_shared_with_one_drone_each(tmp_path: Path) -> None:
    network = load_network(REPO_ROOT / "launch_sites" / "today.yaml")
    grown = with_sites(network, [("new-1", "New", 51.45, -0.05, "Lewisham")], owner="police")
    assert grown.sites["new-1"].shared and drone_counts(grown)["new-1"] == 1
    with pytest.raises(InputError, match="owner"):
        with_sites(network, [("new-2", "N", 51.4, 0.0, "Bexley")], owner="coastguard")
