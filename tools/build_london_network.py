"""Build ``launch_sites/london.yaml`` and ``launch_sites/today.yaml`` from the shared data.

Reads only the data folder (``../shared/data`` next to the repository by default): the
London Fire Brigade station list, the borough polygons and the airspace zones. It never
touches the network. Run it again after changing a table below; ``--check`` fails when
the files on disk differ from what the script would write (useful in CI).

    .venv/bin/python tools/build_london_network.py            # rewrite both files
    .venv/bin/python tools/build_london_network.py --check    # exit 1 if they drifted

How fire stations are chosen: every borough gets the London Fire Brigade station that
minimises the mean straight-line distance from a 500 m grid over the borough (a 1-median);
boroughs over 100 km2 get the best pair (2-median). Stations inside a flight restriction
zone or restricted area are used only where a borough has no other choice, since every
launch from one needs a permission. Police and ambulance sites are hand-placed (the tables
below) and marked illustrative.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import yaml
from shapely.geometry import shape

from skyshare.airspace.service_area import ServiceArea, parse_service_area
from skyshare.geo import Projection, projection

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
GRID_M = 500.0
LARGE_BOROUGH_KM2 = 100.0

LFB_SOURCE = (
    "London Fire Brigade station list, ../shared/data/stations_lfb.csv, MIT licence "
    "(ShitianZhang22/london-fire-station-information)"
)

# Performance figures: see launch_sites/README.md "Drone models" for where each comes from.
# endurance_s is the usable flight time at cruise down to the landing reserve (about 80% of
# the nominal time); battery_wh is the nameplate pack; the powers are average electrical
# draw, so battery_wh / cruise_power_w is the nominal (no-reserve) flight time at cruise.
MODELS: list[dict[str, Any]] = [
    {
        "name": "DJI M30T",
        "cruise_speed_mps": 17.0,
        "climb_rate_mps": 6.0,
        "descent_rate_mps": 5.0,
        "endurance_s": 1800.0,
        "battery_wh": 263.2,
        "hover_power_w": 440.0,
        "cruise_power_w": 415.0,
        "capabilities": ["thermal", "zoom", "spotlight", "loudspeaker"],
        "max_payload_kg": 0.0,
    },
    {
        "name": "DJI M4TD",
        "cruise_speed_mps": 15.0,
        "climb_rate_mps": 6.0,
        "descent_rate_mps": 5.0,
        "endurance_s": 2100.0,
        "battery_wh": 99.0,
        "hover_power_w": 126.0,
        "cruise_power_w": 132.0,
        "capabilities": ["thermal", "zoom"],
        "max_payload_kg": 0.0,
    },
    {
        "name": "AED carrier",
        "cruise_speed_mps": 20.0,
        "climb_rate_mps": 4.0,
        "descent_rate_mps": 3.0,
        "endurance_s": 1200.0,
        "battery_wh": 560.0,
        "hover_power_w": 1450.0,
        "cruise_power_w": 1350.0,
        "capabilities": ["payload"],
        "max_payload_kg": 2.0,
    },
]

AGENCIES: list[dict[str, Any]] = [
    {
        "id": "police",
        "name": "Metropolitan Police Service",
        "auto_launch": ["P1"],
        "provisional_launch": False,
    },
    {
        "id": "fire",
        "name": "London Fire Brigade",
        "auto_launch": ["P1", "P2"],
        "provisional_launch": False,
    },
    {
        "id": "ambulance",
        "name": "London Ambulance Service",
        "auto_launch": [],
        "provisional_launch": True,
    },
]

AGREEMENTS: list[dict[str, Any]] = [
    {"owner": "fire", "users": ["police", "ambulance"], "priorities": ["P1", "P2", "P3", "P4"]},
    {"owner": "police", "users": ["fire", "ambulance"], "priorities": ["P1", "P2"]},
    {"owner": "ambulance", "users": ["fire", "police"], "priorities": ["P1"]},
]


@dataclass(frozen=True)
class PlacedSite:
    """A hand-placed (illustrative) site: where, what it holds, and what it stands for."""

    id: str
    name: str
    lat: float
    lon: float
    owner: str
    shared: bool
    dock_capacity: int
    drones: tuple[str, ...]  # model names, one per drone
    note: str


_MET_NOTE = "approximate position of {} from general knowledge, not surveyed"
_M4 = "DJI M4TD"

# The Met's drone-as-first-responder sites as published (Islington, the West End, Hyde Park;
# nine drones at three sites). Positions and the three-per-site split are assumptions.
MET_DFR_SITES: list[PlacedSite] = [
    PlacedSite(
        id="met-islington",
        name="Met DFR dock, Islington police station",
        lat=51.5338,
        lon=-0.1099,
        owner="police",
        shared=True,
        dock_capacity=4,
        drones=(_M4,) * 3,
        note="Met DFR pilot site since October 2025; "
        + _MET_NOTE.format("Islington police station, Tolpuddle Street"),
    ),
    PlacedSite(
        id="met-west-end",
        name="Met DFR dock, West End (Charing Cross police station)",
        lat=51.5099,
        lon=-0.1244,
        owner="police",
        shared=True,
        dock_capacity=3,
        drones=(_M4,) * 3,
        note="Met DFR site covering the West End; "
        + _MET_NOTE.format("Charing Cross police station, Agar Street"),
    ),
    PlacedSite(
        id="met-hyde-park",
        name="Met DFR dock, Hyde Park police station",
        lat=51.5087,
        lon=-0.1621,
        owner="police",
        shared=False,  # kept for central public-order events (README.md "Sharing")
        dock_capacity=3,
        drones=(_M4,) * 3,
        note="Met DFR site covering Hyde Park; kept police-only for central public-order "
        "events; " + _MET_NOTE.format("Hyde Park police station (Old Police House)"),
    ),
]

# One further dock for each Metropolitan Police Basic Command Unit (BCU) other than those
# of the pilot sites (Central North, Central West), at a police station away from the
# chosen fire stations so that the two add cover rather than duplicate it.
MET_BCU_SITES: list[PlacedSite] = [
    PlacedSite(
        f"met-{slug}",
        f"Met dock, {place} ({bcu} BCU)",
        lat,
        lon,
        "police",
        True,
        3,
        (_M4,) * 2,
        "one dock per Met Basic Command Unit; " + _MET_NOTE.format(station),
    )
    for slug, place, bcu, station, lat, lon in [
        (
            "stoke-newington",
            "Stoke Newington",
            "Central East",
            "Stoke Newington police station",
            51.5617,
            -0.0743,
        ),
        ("walworth", "Walworth", "Central South", "Walworth police station", 51.4873, -0.0967),
        ("colindale", "Colindale", "North West", "Colindale police station", 51.5952, -0.2500),
        ("tottenham", "Tottenham", "North", "Tottenham police station", 51.5936, -0.0695),
        ("chingford", "Chingford", "North East", "Chingford police station", 51.6315, 0.0000),
        ("barking", "Barking", "East", "Barking police station", 51.5390, 0.0810),
        ("sidcup", "Sidcup", "South East", "Sidcup police station", 51.4270, 0.1020),
        ("sutton", "Sutton", "South", "Sutton police station", 51.3635, -0.1925),
        ("kingston", "Kingston", "South West", "Kingston police station", 51.4100, -0.3020),
        ("acton", "Acton", "West", "Acton police station", 51.5080, -0.2700),
    ]
]

_AED = "AED carrier"
LAS_SITES: list[PlacedSite] = [
    PlacedSite(
        f"las-{slug}",
        f"LAS AED drone dock, {place}",
        lat,
        lon,
        "ambulance",
        True,
        2,
        (_AED,) * drones,
        f"AED delivery dock placed near {place} for the model network; not a London "
        "Ambulance Service facility position",
    )
    for slug, place, lat, lon, drones in [
        ("waterloo", "Waterloo", 51.5028, -0.1123, 2),
        ("bow", "Bow", 51.5290, -0.0200, 2),
        ("deptford", "Deptford", 51.4780, -0.0260, 2),
        ("wembley", "Wembley", 51.5560, -0.2860, 2),
        ("edmonton", "Edmonton", 51.6230, -0.0600, 1),
        ("southall", "Southall", 51.5110, -0.3760, 1),
        ("romford", "Romford", 51.5770, 0.1780, 1),
        ("thornton-heath", "Thornton Heath", 51.3990, -0.1020, 1),
        ("beckenham", "Beckenham", 51.4080, -0.0250, 1),
        ("barnet", "Barnet", 51.6510, -0.1990, 1),
    ]
]


@dataclass(frozen=True)
class Station:
    name: str
    listed_borough: str
    lat: float
    lon: float
    postcode: str
    callsign: str
    station_type: str


@dataclass(frozen=True)
class Zone:
    designator: str
    geometry: Any  # projected metres


def read_stations(path: Path) -> list[Station]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Station(
                row["name"],
                row["borough"],
                float(row["lat"]),
                float(row["lon"]),
                row["postcode"],
                row["callsign"],
                row["station_type"],
            )
            for row in csv.DictReader(handle)
        ]


def read_zones(path: Path, proj: Projection) -> list[Zone]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    to_metric = lambda c: np.column_stack(proj.to_metric(c[:, 0], c[:, 1]))  # noqa: E731
    return [
        Zone(f["properties"]["designator"], shapely.transform(shape(f["geometry"]), to_metric))
        for f in doc["features"]
    ]


def zones_at(zones: Sequence[Zone], proj: Projection, lat: float, lon: float) -> list[str]:
    x, y = proj.point(lat, lon)
    return [z.designator for z in zones if shapely.contains_xy(z.geometry, x, y)]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def borough_grid(area: ServiceArea, borough: str) -> np.ndarray:
    """Points on a regular grid inside the borough, in metres (n x 2)."""
    geom = area.geometry_of(borough)
    x0, y0, x1, y1 = geom.bounds
    xs, ys = np.meshgrid(np.arange(x0, x1, GRID_M), np.arange(y0, y1, GRID_M))
    xs, ys = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(geom, xs, ys)
    return np.column_stack([xs[inside], ys[inside]])


def best_stations(
    grid: np.ndarray,
    candidates: Sequence[Station],
    zoned: Sequence[bool],
    k: int,
    proj: Projection,
) -> list[Station]:
    """The k candidates with the fewest inside restricted airspace, then the least mean
    distance from the grid to the nearest chosen one."""
    xy = np.array([proj.point(s.lat, s.lon) for s in candidates])
    dist = np.hypot(grid[:, None, 0] - xy[None, :, 0], grid[:, None, 1] - xy[None, :, 1])
    best = min(
        itertools.combinations(range(len(candidates)), min(k, len(candidates))),
        key=lambda combo: (
            sum(zoned[i] for i in combo),
            float(dist[:, list(combo)].min(axis=1).mean()),
            combo,
        ),
    )
    return [candidates[i] for i in best]


def choose_fire_stations(
    stations: Sequence[Station], area: ServiceArea, zones: Sequence[Zone], proj: Projection
) -> dict[str, list[Station]]:
    """Per borough (polygon truth, not the listed borough), the stations to host docks."""
    by_borough: dict[str, list[Station]] = {name: [] for name in area.names}
    for s in stations:
        if s.station_type != "land":  # the river station shares Lambeth's address
            continue
        by_borough[area.borough_of(s.lat, s.lon) or s.listed_borough].append(s)
    chosen: dict[str, list[Station]] = {}
    for name in area.names:
        pool = by_borough[name]
        if not pool:
            raise SystemExit(f"no London Fire Brigade station lies in {name}")
        k = 2 if area.geometry_of(name).area / 1e6 > LARGE_BOROUGH_KM2 else 1
        zoned = [bool(zones_at(zones, proj, s.lat, s.lon)) for s in pool]
        chosen[name] = best_stations(borough_grid(area, name), pool, zoned, k, proj)
    return chosen


def fire_site(s: Station, borough: str, drone_models: tuple[str, ...]) -> tuple[dict, list]:
    site = {
        "id": f"lfb-{slug(s.name)}",
        "name": f"{s.name} fire station",
        "borough": borough,
        "owner": "fire",
        "shared": True,
        "dock_capacity": 2,
        "lat": s.lat,
        "lon": s.lon,
        "illustrative": False,
        "source": f"{LFB_SOURCE}: station {s.callsign}, {s.postcode}",
    }
    return site, list(drone_models)


def placed_site(p: PlacedSite, area: ServiceArea) -> tuple[dict, list]:
    borough = area.borough_of(p.lat, p.lon)
    if borough is None:
        raise SystemExit(f"{p.id} at {p.lat}, {p.lon} is outside the service area")
    site = {
        "id": p.id,
        "name": p.name,
        "borough": borough,
        "owner": p.owner,
        "shared": p.shared,
        "dock_capacity": p.dock_capacity,
        "lat": p.lat,
        "lon": p.lon,
        "illustrative": True,
        "source": f"illustrative: {p.note}",
    }
    return site, list(p.drones)


def london_sites(
    stations: Sequence[Station], area: ServiceArea, zones: Sequence[Zone], proj: Projection
) -> list[tuple[dict, list]]:
    """Every site of the shared network, with the models of the drones it holds."""
    police = [placed_site(p, area) for p in MET_DFR_SITES + MET_BCU_SITES]
    police_boroughs = {site["borough"] for site, _ in police}
    fire = []
    for borough, chosen in choose_fire_stations(stations, area, zones, proj).items():
        for rank, s in enumerate(chosen):
            # A fast overwatch drone where no police dock is in the borough, shared back.
            extra = (_M4,) if rank == 0 and borough not in police_boroughs else ()
            fire.append(fire_site(s, borough, ("DJI M30T", *extra)))
    ambulance = [placed_site(p, area) for p in LAS_SITES]
    return fire + police + ambulance


def today_sites(area: ServiceArea) -> list[tuple[dict, list]]:
    return [placed_site(p, area) for p in MET_DFR_SITES]


# ---------------------------------------------------------------- YAML with comments


class _Dumper(yaml.SafeDumper):
    """Block style for records, flow style for short lists of words (``[P1, P2]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(v, str | int | float) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def _block(item: dict) -> str:
    text = yaml.dump([item], Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return "".join("  " + line + "\n" for line in text.splitlines())


def _flow(item: dict) -> str:
    return (
        "  - "
        + yaml.safe_dump(item, default_flow_style=True, sort_keys=False, width=1000).strip()
        + "\n"
    )


def render(
    name: str,
    header: str,
    agencies: Iterable[dict],
    models: Iterable[dict],
    sites: Sequence[tuple[dict, list]],
    agreements: Iterable[dict],
    zones: Sequence[Zone],
    proj: Projection,
    permissions: Iterable[dict] = (),
) -> str:
    out = [header, f"name: {yaml.safe_dump(name, default_style=None).splitlines()[0]}\n"]
    out.append("\nagencies:\n")
    out.extend(_block(a) for a in agencies)
    out.append('\n# SI units: m/s, s, Wh, W, kg. See README.md "Drone models".\nmodels:\n')
    out.extend(_block(m) for m in models)
    out.append("\nsites:\n")
    for borough in sorted({s["borough"] for s, _ in sites}):
        out.append(f"  # --- {borough}\n")
        for site, _ in sorted(
            (e for e in sites if e[0]["borough"] == borough), key=lambda e: e[0]["id"]
        ):
            restricted = zones_at(zones, proj, site["lat"], site["lon"])
            if restricted:
                out.append(f"  # inside {', '.join(restricted)}: launches need permission\n")
            out.append(_block(site))
    out.append("\ndrones:\n")
    for site, drone_models in sites:
        for n, model in enumerate(drone_models, start=1):
            out.append(_flow({"id": f"{site['id']}-{n}", "model": model, "site": site["id"]}))
    agreements = list(agreements)
    if agreements:
        out.append('\n# Who may fly whose drones, for which priorities (README.md "Sharing").\n')
        out.append("agreements:\n")
        out.extend(_block(a) for a in agreements)
    permissions = list(permissions)
    if permissions:
        out.append(
            "\n# Recorded standing permissions to enter restricted airspace (README.md\n"
            '# "Airspace permissions"). ILLUSTRATIVE: no such agreement is known to exist.\n'
        )
        out.append("airspace_permissions:\n")
        out.extend(_block(p) for p in permissions)
    return "".join(out)


# The central London restricted areas admit aircraft in the service of the Metropolitan
# Police (AIP remarks). A shared network needs fire and ambulance drones there too, which
# would take a standing agreement; modelled here, marked illustrative.
PERMISSIONS = [
    {
        "agency": agency,
        "zone": zone,
        "authority": "Metropolitan Police Service (illustrative standing agreement)",
        "reference": "illustrative",
    }
    for agency in ("fire", "ambulance")
    for zone in ("EG R157", "EG R158", "EG R159")
]


LONDON_HEADER = """\
# SkyShare: a shared emergency-services drone network for London's 33 local authorities.
# GENERATED by tools/build_london_network.py from ../shared/data; edit the script, not this.
# Fire sites are real London Fire Brigade stations; police and ambulance sites are
# illustrative (see each site's `source`). Attribution and assumptions: README.md.
"""

TODAY_HEADER = """\
# SkyShare anchor scenario: today's London network as the public knows it.
# The Metropolitan Police drone-as-first-responder pilot: three drone sites (Islington,
# the West End, Hyde Park), nine drones, police only. Positions and the split of drones
# between sites are assumptions (README.md "today.yaml: known and assumed").
# GENERATED by tools/build_london_network.py; edit the script, not this file.
"""


def build(data_dir: Path) -> dict[str, str]:
    proj = projection("EPSG:27700")
    area = parse_service_area(
        json.loads((data_dir / "london_boroughs.geojson").read_text(encoding="utf-8")),
        source=str(data_dir / "london_boroughs.geojson"),
        proj=proj,
    )
    zones = read_zones(data_dir / "london_airspace.geojson", proj)
    stations = read_stations(data_dir / "stations_lfb.csv")
    london = render(
        "London shared emergency-services drone network (model)",
        LONDON_HEADER,
        AGENCIES,
        MODELS,
        london_sites(stations, area, zones, proj),
        AGREEMENTS,
        zones,
        proj,
        PERMISSIONS,
    )
    police_only = [
        {**AGENCIES[0], "auto_launch": [], "provisional_launch": False},
    ]
    today = render(
        "Met drone-as-first-responder pilot (today, public knowledge)",
        TODAY_HEADER,
        police_only,
        [m for m in MODELS if m["name"] == _M4],
        today_sites(area),
        [],
        zones,
        proj,
    )
    return {"london.yaml": london, "today.yaml": today}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "launch_sites")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if a file differs from what would be written",
    )
    args = parser.parse_args(argv)
    drifted = []
    for filename, text in build(args.data_dir).items():
        path = args.out_dir / filename
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                drifted.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if drifted:
        print("out of date: " + ", ".join(drifted), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
