"""``skyshare whatif``: the planners' questions, answered by the live decision code.

    skyshare whatif coverage  [--sites FILE] [--within 120s]
    skyshare whatif simulate  [--sites FILE] [--incidents CSV | --rate 200/week] [--days 7]
    skyshare whatif optimize  --add K [--candidates FILE] [--objective coverage|mean|p90]
    skyshare whatif fleet     --target "90% within 120s"
    skyshare whatif compare   A.yaml [B.yaml] [--pooling --target "80% within 180s"]

Every command prints rich tables (progress on stderr), or ``--json`` / ``--csv`` on
stdout for machines, and ``--report DIR`` writes a PNG map and a self-contained HTML
page. Files are read here; the answers come from ``skyshare.planning``, which runs the
same ``Dispatcher`` the control room runs.

Defaults are reproducible: the simulated period starts (and the airspace is read) at a
fixed instant unless ``--start`` says otherwise, and every random draw has a ``--seed``.

One module per command (``coverage``, ``simulate``, ``optimize`` with ``every_borough``,
``fleet``, ``compare`` with ``pooling``); what they share: ``options`` (typer option
types), ``parsing`` (text to values), ``world`` / ``calls`` / ``inputs`` (what a command
reads first), ``candidates`` (candidate sites in, grown networks out), ``output``
(tables, JSON/CSV, progress, errors) and ``reports`` (``--report`` pages).
"""

from __future__ import annotations

import typer

from skyshare.whatif.compare import compare_command
from skyshare.whatif.coverage import coverage_command
from skyshare.whatif.fleet import fleet_command
from skyshare.whatif.optimize import optimize_command
from skyshare.whatif.simulate import simulate_command

__all__ = ["app"]

app = typer.Typer(
    help="What-if planning: borough cover, simulated responses, new sites, fleet size, "
    "scenarios side by side.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.command("coverage")(coverage_command)
app.command("simulate")(simulate_command)
app.command("optimize")(optimize_command)
app.command("fleet")(fleet_command)
app.command("compare")(compare_command)
