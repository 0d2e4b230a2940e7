"""The calls a what-if answers: real incidents replayed, or Poisson calls drawn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from simulators.incidents import borough_weights_csv, mix_for, poisson_incidents, replay_csv
from skyshare.domain import InputError
from skyshare.domain.models import Incident
from skyshare.whatif.parsing import parse_rate, parse_start
from skyshare.whatif.world import World


@dataclass(frozen=True)
class CallOptions:
    """The command-line options that say which calls to use."""

    incidents_file: Path | None
    rate: str | None
    weights: Path | None
    in_borough: Sequence[str] | None
    days: float | None
    seed: int
    start: str | None


@dataclass
class Calls:
    incidents: list[Incident]
    start: datetime
    duration_s: float
    description: str


def load_calls(
    world: World,
    agencies: Sequence[str],
    options: CallOptions,
    default_rate: str | None = None,
) -> Calls | None:
    """Replayed or Poisson calls (None when neither is asked for and there is no default)."""
    if options.incidents_file is not None and options.rate is not None:
        raise InputError("incidents", "give --incidents or --rate, not both")
    keep = set(options.in_borough or ())
    unknown = sorted(keep - set(world.area.names))
    if unknown:
        raise InputError("in-borough", f"unknown borough(s): {', '.join(unknown)}")
    seed, start, days = options.seed, options.start, options.days
    if options.incidents_file is not None:
        incidents_file = options.incidents_file
        generated = replay_csv(incidents_file, seed, service_area=world.area)
        if not generated:
            raise InputError(
                "incidents", "the file has no incident with a location", source=str(incidents_file)
            )
        first = generated[0].at
        begin = (
            parse_start(start)
            if start
            else first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
        last = generated[-1].at
        after_last = (last.replace(day=1) + timedelta(days=32)).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )  # the first day of the month after the last record's month
        end = begin + timedelta(days=days) if days else after_last
        generated = [g for g in generated if begin <= g.at < end]
        what = f"{incidents_file.name} replayed (seed {seed})"
    else:
        rate = options.rate or default_rate
        if rate is None:
            return None
        per_week = parse_rate(rate)
        begin = parse_start(start)
        span = days if days is not None else 7.0
        end = begin + timedelta(days=span)
        if options.weights is not None:
            borough_weights = borough_weights_csv(options.weights, world.area.names)
        else:
            borough_weights = {b.name: b.geometry.area for b in world.area.boroughs}
        if keep:
            borough_weights = {b: w for b, w in borough_weights.items() if b in keep}
        mix = mix_for(agencies)
        generated = poisson_incidents(per_week, span, borough_weights, mix, world.area, seed, begin)
        what = f"Poisson {per_week:g}/week (seed {seed})"
    if keep:
        generated = [g for g in generated if g.borough in keep]
    calls = [g.to_incident(f"call-{k:06d}") for k, g in enumerate(generated)]
    duration = (end - begin).total_seconds()
    return Calls(
        calls,
        begin,
        duration,
        f"{len(calls)} calls, {what}, {duration / 86400:g} days from {begin:%Y-%m-%d}",
    )
