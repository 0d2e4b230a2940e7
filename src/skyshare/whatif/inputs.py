"""What a command reads before it asks its question: the world, the calls and, for the
commands that work on the grid of cells, the study."""

from __future__ import annotations

from collections.abc import Sequence

from skyshare.planning.study import Study
from skyshare.whatif.calls import CallOptions, Calls, load_calls
from skyshare.whatif.parsing import parse_start
from skyshare.whatif.world import World, WorldFiles, load_world

# The load that simulate, fleet and compare assume when neither --incidents nor --rate is given.
DEFAULT_RATE = "200/week"


def read_study_inputs(
    files: WorldFiles, options: CallOptions, cell_m: float
) -> tuple[World, Calls | None, Study]:
    """For coverage and optimize: calls only when asked for (they then weigh the cells)."""
    world = load_world(files)
    calls = load_calls(world, list(world.network.agencies), options)
    return world, calls, study_for(world, calls, options, cell_m)


def read_simulation_inputs(files: WorldFiles, options: CallOptions) -> tuple[World, Calls]:
    """For simulate and fleet: always calls, at the default rate unless told otherwise."""
    world = load_world(files)
    return world, simulated_calls(world, list(world.network.agencies), options)


def simulated_calls(world: World, agencies: Sequence[str], options: CallOptions) -> Calls:
    calls = load_calls(world, agencies, options, default_rate=DEFAULT_RATE)
    assert calls is not None  # a default rate always yields calls
    return calls


def study_for(world: World, calls: Calls | None, options: CallOptions, cell_m: float) -> Study:
    """The grid study at the calls' start (or --start), weighted by the calls if any."""
    return Study(
        world.area,
        world.airspace,
        at=calls.start if calls else parse_start(options.start),
        cell_m=cell_m,
        incidents=calls.incidents if calls else (),
    )
