"""The aircraft file: which aircraft each drone is. A bad file is refused whole, and the
error names the drone and the field, so that an operator can fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from skyshare.domain.errors import InputError
from skyshare.fleet.aircraft import Aircraft, links, parse_aircraft
from skyshare.fleet.state import board_id

DRONES = {"pol-1", "pol-2", "fire-1", "aed-1"}
SOURCE = "aircraft.yaml"


def parse(text: str) -> dict[str, Aircraft]:
    return parse_aircraft(text, DRONES, source=SOURCE)


def refusal(text: str) -> InputError:
    with pytest.raises(InputError) as refused:
        parse(text)
    assert refused.value.source == SOURCE
    return refused.value


def test_each_listed_drone_gets_its_link_and_system_id_and_each_link_is_opened_once() -> None:
    aircraft = parse(
        """
# Which aircraft each drone is.
aircraft:
  pol-1: {link: "tcp:127.0.0.1:5760", system_id: 1}
  pol-2: {link: "udp:0.0.0.0:14550", system_id: 2}
  fire-1: {link: "udpin:0.0.0.0:14550", system_id: 3}
"""
    )
    assert aircraft == {
        "pol-1": Aircraft("pol-1", "tcp:127.0.0.1:5760", 1),
        "pol-2": Aircraft("pol-2", "udpin:0.0.0.0:14550", 2),
        "fire-1": Aircraft("fire-1", "udpin:0.0.0.0:14550", 3),
    }
    # udp: is udpin: (as in mavutil): the two PX4 aircraft share one listening port.
    assert links(aircraft) == ["tcp:127.0.0.1:5760", "udpin:0.0.0.0:14550"]


ENTRY = {
    "a drone not of the network": (
        "pol-9: {link: 'tcp:127.0.0.1:5760', system_id: 1}",
        "aircraft.pol-9",
        "drone_id",
        "not a drone of the network",
    ),
    "no link": ("pol-1: {system_id: 1}", "aircraft.pol-1", "link", "is required"),
    "a link of no known scheme": (
        "pol-1: {link: '/dev/ttyUSB0', system_id: 1}",
        "aircraft.pol-1",
        "link",
        "unknown scheme",
    ),
    "a link with no port": (
        "pol-1: {link: 'tcp:127.0.0.1', system_id: 1}",
        "aircraft.pol-1",
        "link",
        "expected tcp:HOST:PORT",
    ),
    "no system id": (
        "pol-1: {link: 'tcp:127.0.0.1:5760'}",
        "aircraft.pol-1",
        "system_id",
        "is required",
    ),
    "system id 0": (
        "pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 0}",
        "aircraft.pol-1",
        "system_id",
        "1..255, got 0",
    ),
    "system id 256": (
        "pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 256}",
        "aircraft.pol-1",
        "system_id",
        "1..255, got 256",
    ),
    "a system id in words": (
        "pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 'one'}",
        "aircraft.pol-1",
        "system_id",
        "whole number",
    ),
    "the ground station's own system id": (
        "pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 255}",
        "aircraft.pol-1",
        "system_id",
        "SkyShare's own",
    ),
    "a misspelt key": (
        "pol-1: {link: 'tcp:127.0.0.1:5760', sysid: 1}",
        "aircraft.pol-1",
        "sysid",
        "unknown key",
    ),
    "a board id YAML reads as a number": (
        "pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 1, board_id: 0x3a0027}",
        "aircraft.pol-1",
        "board_id",
        "must be quoted hex digits",
    ),
    "a board id that is not hex": (
        "pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 1, board_id: 'PX4-0042'}",
        "aircraft.pol-1",
        "board_id",
        "hex digits",
    ),
    "a board id longer than AUTOPILOT_VERSION carries": (
        f"pol-1: {{link: 'tcp:127.0.0.1:5760', system_id: 1, board_id: '{'ab' * 19}'}}",
        "aircraft.pol-1",
        "board_id",
        "1 to 36 hex digits",
    ),
    "an entry that is not a mapping": (
        "pol-1: tcp:127.0.0.1:5760",
        "aircraft.pol-1",
        "(entry)",
        "expected {link: ..., system_id: ...}",
    ),
}


@pytest.mark.parametrize("case", sorted(ENTRY))
def test_a_bad_entry_is_refused_naming_the_drone_and_the_field(case: str) -> None:
    entry, item, field, reason = ENTRY[case]
    error = refusal(f"aircraft:\n  {entry}\n")
    assert (error.item, error.field) == (item, field)
    assert reason in error.reason


def test_two_drones_with_one_system_id_on_one_link_are_refused() -> None:
    error = refusal(
        """
aircraft:
  pol-1: {link: "udpin:0.0.0.0:14550", system_id: 7}
  pol-2: {link: "udp:0.0.0.0:14550", system_id: 7}
"""
    )
    assert (error.item, error.field) == ("aircraft.pol-2", "system_id")
    assert "pol-1's already" in error.reason


def test_two_drones_with_one_system_id_on_two_links_are_refused_too() -> None:
    # The fleet link would take them for one aircraft heard on two links.
    error = refusal(
        """
aircraft:
  pol-1: {link: "tcp:127.0.0.1:5760", system_id: 1}
  pol-2: {link: "tcp:127.0.0.1:5770", system_id: 1}
"""
    )
    assert (error.item, error.field) == ("aircraft.pol-2", "system_id")


def test_a_drone_listed_twice_is_refused_not_taken_as_the_last() -> None:
    error = refusal(
        """aircraft:
  pol-1: {link: "tcp:127.0.0.1:5760", system_id: 1}
  pol-2: {link: "tcp:127.0.0.1:5770", system_id: 2}
  pol-1: {link: "tcp:127.0.0.1:5780", system_id: 3}
"""
    )
    assert (error.item, error.field) == ("aircraft.pol-1", "drone_id")
    assert "listed twice (lines 2 and 4)" in error.reason


def test_two_links_listening_on_one_port_are_refused() -> None:
    error = refusal(
        """
aircraft:
  pol-1: {link: "udpin:0.0.0.0:14550", system_id: 1}
  pol-2: {link: "udpin:127.0.0.1:14550", system_id: 2}
"""
    )
    assert (error.item, error.field) == ("aircraft.pol-2", "link")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "aircraft"),
        ("aircraft:\n", "aircraft"),
        ("aircraft: []\n", "aircraft"),
        ("vehicles:\n  pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 1}\n", "aircraft"),
        ("aircraft: {pol-1: {link: 'tcp:127.0.0.1:5760', system_id: 1}}\nextra: 1\n", "extra"),
        ("aircraft: {pol-1: [\n", "(file)"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused_naming_the_field(text: str, field: str) -> None:
    assert refusal(text).field == field


def test_the_example_file_names_drones_of_the_london_network_on_their_docks() -> None:
    sites = Path(__file__).parents[2] / "launch_sites"
    london = yaml.safe_load((sites / "london.yaml").read_text(encoding="utf-8"))
    example = (sites / "aircraft.example.yaml").read_text(encoding="utf-8")
    aircraft = parse_aircraft(example, {d["id"] for d in london["drones"]})
    assert [a.system_id for a in aircraft.values()] == [1, 2, 3]  # skyshare sim's, in order
    # Each line says where its drone's dock is, for skyshare sim --home.
    docks = {s["id"]: (s["lat"], s["lon"]) for s in london["sites"]}
    home = {d["id"]: docks[d["site"]] for d in london["drones"]}
    said = {}
    for line in example.splitlines():
        if "# dock " in line:
            lat, lon = line.split("# dock ")[1].split(",")
            said[line.split(":")[0].strip()] = (float(lat), float(lon))
    assert said == {drone: home[drone] for drone in aircraft}


def test_a_board_id_is_read_as_lowercase_hex_and_belongs_to_one_drone() -> None:
    aircraft = parse(
        """
aircraft:
  pol-1: {link: "tcp:127.0.0.1:5760", system_id: 1, board_id: "3A0027000F51333130383838"}
  pol-2: {link: "tcp:127.0.0.1:5770", system_id: 2}
"""
    )
    assert aircraft["pol-1"].board_id == "3a0027000f51333130383838"
    assert aircraft["pol-2"].board_id is None  # the file need not say
    error = refusal(
        """
aircraft:
  pol-1: {link: "tcp:127.0.0.1:5760", system_id: 1, board_id: "3a0027"}
  pol-2: {link: "tcp:127.0.0.1:5770", system_id: 2, board_id: "3A0027"}
"""
    )
    assert (error.item, error.field) == ("aircraft.pol-2", "board_id")
    assert "pol-1's already" in error.reason


@pytest.mark.parametrize(
    ("uid", "uid2", "expected"),
    [
        # ArduPilot: uid 0, the processor's id in uid2 (zero-padded to 18 bytes).
        (0, list(bytes.fromhex("3a0027000f513331") + bytes(10)), "3a0027000f513331"),
        # PX4 fills both: uid2 is the fuller id.
        (
            0x0027000F51333130,
            list(bytes.fromhex("00010027000f5133313038383800") + bytes(4)),
            "00010027000f51333130383838",
        ),
        (0x4D415653494D0001, [0] * 18, "4d415653494d0001"),  # uid alone
        (0, [0] * 18, None),  # no id at all
    ],
)
def test_the_board_id_is_what_the_autopilot_version_carries(
    uid: int, uid2: list[int], expected: str | None
) -> None:
    assert board_id(uid, uid2) == expected
