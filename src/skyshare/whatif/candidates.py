"""Candidate sites in (a CSV, a network file, or defaults), chosen sites out (a network)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import yaml

from skyshare.domain import InputError, Network
from skyshare.planning.placement import CandidateSite, candidates_from_network, lattice_candidates
from skyshare.planning.scenario import network_document, with_sites
from skyshare.planning.study import Study
from skyshare.runtime.world import load_network, read_document
from skyshare.whatif.output import err
from skyshare.whatif.world import World


def load_candidates(path: Path) -> list[CandidateSite]:
    """Candidate sites from a CSV (``id, name, lat, lon[, borough]``) or a network file."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        items = [(f"row {k + 2}", r) for k, r in enumerate(rows)]
    else:
        doc = read_document(path)
        sites = doc.get("sites") if isinstance(doc, dict) else None
        if not isinstance(sites, list):
            raise InputError("sites", "expected a list of sites", source=str(path))
        items = [(f"sites[{k}]", r) for k, r in enumerate(sites)]
    out_sites = []
    for item, raw in items:
        if not isinstance(raw, dict):
            raise InputError("(item)", "expected a mapping", source=str(path), item=item)
        try:
            lat, lon = float(raw["lat"]), float(raw["lon"])
        except KeyError as exc:
            raise InputError(str(exc.args[0]), "is required", source=str(path), item=item) from None
        except (TypeError, ValueError):
            raise InputError(
                "lat", "lat and lon must be numbers", source=str(path), item=item
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(
                "lat", f"({lat}, {lon}) is not a position", source=str(path), item=item
            )
        site_id = str(raw.get("id") or item)
        out_sites.append(
            CandidateSite(
                site_id, str(raw.get("name") or site_id), lat, lon, str(raw.get("borough") or "")
            )
        )
    if not out_sites:
        raise InputError("sites", "no candidate site in the file", source=str(path))
    return out_sites


def default_candidates(
    world: World, study: Study, lattice_m: float | None, at_least: int
) -> list[CandidateSite]:
    """The configured network's sites not yet in this one, plus a lattice when asked for
    or when those are fewer than ``at_least``."""
    found: list[CandidateSite] = []
    default_path = world.settings.network_file
    if default_path.exists() and default_path.resolve() != world.network_path.resolve():
        found = candidates_from_network(load_network(default_path), world.network)
    if lattice_m is not None or len(found) < at_least:
        found += lattice_candidates(study, lattice_m or 2000.0)
    return found


def save_network(network: Network, added: Sequence[CandidateSite], path: Path) -> None:
    """The network plus ``added`` (shared sites of its first agency, one drone each)."""
    grown = with_sites(
        network,
        [(s.id, s.name, s.lat, s.lon, s.borough) for s in added],
        owner=next(iter(network.agencies)),
        drones_each=1,
    )
    doc = network_document(grown)
    path.write_text(
        "# Written by skyshare whatif optimize: the network with the sites it proposes.\n"
        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    err.print(f"network written: {path} ({len(added)} sites added)")
