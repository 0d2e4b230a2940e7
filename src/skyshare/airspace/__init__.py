"""SkyShare airspace: zones, conformance, routing, deconfliction and vehicle fences.

Pure and synchronous: callers read files and pass parsed documents in; time is always a
parameter. Computation is in projected metres, positions come and go in WGS84 degrees.
"""

from skyshare.airspace.airspace_map import AirspaceMap, PositionCheck, ZoneBreach
from skyshare.airspace.conformance import (
    Conformance,
    ConformanceReport,
    ConformanceState,
    ExcursionTracker,
    Lookahead,
)
from skyshare.airspace.deconfliction import Deconflictor, FlightPlan, Resolution, Volume4D
from skyshare.airspace.ed269 import zones_from_ed269, zones_to_ed269
from skyshare.airspace.fences import (
    ARDUPILOT,
    COMMON,
    PX4,
    AutopilotLimits,
    FenceError,
    FenceItem,
    FencePlan,
    build_fence,
    validate_fence,
)
from skyshare.airspace.geojson_io import (
    zone_from_feature,
    zone_to_feature,
    zones_from_geojson,
    zones_to_geojson,
)
from skyshare.airspace.loading import load_zones
from skyshare.airspace.restrictions import ActiveFlight, flights_cut, parse_restriction
from skyshare.airspace.routing import NoRoute, Route
from skyshare.airspace.zones import (
    ANY_AGENCY,
    CircleShape,
    DailyPeriod,
    EntryRule,
    Geozone,
    Ground,
    Limit,
    Permissions,
    PolygonShape,
    TimeWindow,
    VerticalRef,
    ZoneKind,
    default_entry,
    permissions_of,
    temporary_zone,
)

__all__ = [
    "ANY_AGENCY",
    "ARDUPILOT",
    "COMMON",
    "PX4",
    "ActiveFlight",
    "AirspaceMap",
    "AutopilotLimits",
    "CircleShape",
    "Conformance",
    "ConformanceReport",
    "ConformanceState",
    "DailyPeriod",
    "Deconflictor",
    "EntryRule",
    "ExcursionTracker",
    "FenceError",
    "FenceItem",
    "FencePlan",
    "FlightPlan",
    "Geozone",
    "Ground",
    "Limit",
    "Lookahead",
    "NoRoute",
    "Permissions",
    "PolygonShape",
    "PositionCheck",
    "Resolution",
    "Route",
    "TimeWindow",
    "VerticalRef",
    "Volume4D",
    "ZoneBreach",
    "ZoneKind",
    "build_fence",
    "default_entry",
    "flights_cut",
    "load_zones",
    "parse_restriction",
    "permissions_of",
    "temporary_zone",
    "validate_fence",
    "zone_from_feature",
    "zone_to_feature",
    "zones_from_ed269",
    "zones_from_geojson",
    "zones_to_ed269",
    "zones_to_geojson",
]
