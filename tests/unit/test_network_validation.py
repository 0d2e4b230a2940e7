"""Mistakes in a network file are refused with the item and the field, not ignored."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from skyshare.config import REPO_ROOT
from skyshare.domain import InputError, parse_network

LONDON = yaml.safe_load((REPO_ROOT / "launch_sites" / "london.yaml").read_text())


def broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(LONDON)
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "item", "field"),
    [
        (lambda d: d["sites"][0].update(ilustrative=True), "sites[0]", "ilustrative"),
        (lambda d: d.update(agreement=[]), "(top level)", "agreement"),
        (lambda d: d["agreements"][0].update(users="police"), "agreements[0]", "users"),
        (lambda d: d["sites"][0].update(dock_capacity=2.7), "sites[0]", "dock_capacity"),
    ],
)
def test_a_mistake_names_the_item_and_the_field(change: Any, item: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_network(broken(change), source="london.yaml")
    assert (caught.value.source, caught.value.item, caught.value.field) == (
        "london.yaml",
        item,
        field,
    )


def test_the_bundled_network_still_loads() -> None:
    network = parse_network(LONDON)
    assert len(network.sites) >= 30
