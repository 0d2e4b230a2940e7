"""``whatif compare --pooling``: one shared network against separate per-agency ones."""

from __future__ import annotations

from typing import Any

from skyshare.planning.compare import PoolingReport
from skyshare.whatif.output import out, pct, rich_table

POOLING_HEADERS = ["network", "calls", "bases", "drones", "meets target", "note"]


def pooling_rows(report: PoolingReport) -> list[list[Any]]:
    rows = [
        [
            report.shared.name,
            report.shared.calls,
            report.shared.bases,
            report.shared.drones,
            "yes" if report.shared.feasible else "no",
            report.shared.note,
        ]
    ]
    for arm in report.separate:
        rows.append(
            [arm.name, arm.calls, arm.bases, arm.drones, "yes" if arm.feasible else "no", arm.note]
        )
    rows.append(
        [
            "separate, total",
            sum(a.calls for a in report.separate),
            report.separate_bases,
            report.separate_drones,
            "",
            "",
        ]
    )
    return rows


def print_pooling(report: PoolingReport) -> None:
    out.print(
        rich_table(
            f"Shared against separate networks for {report.target} (same airframe: {report.model})",
            POOLING_HEADERS,
            pooling_rows(report),
        )
    )
    if report.feasible:
        out.print(
            f"Sharing needs {pct(report.bases_saving)} fewer bases and "
            f"{pct(report.drones_saving)} fewer drones for the same service level."
        )
    else:
        out.print("[yellow]Some networks cannot meet the target; no saving is claimed.[/]")
