"""The answer of ``whatif optimize --every-borough``: the fewest sites that give every
borough a share of cover, as tables, JSON/CSV and a report."""

from __future__ import annotations

from pathlib import Path

from skyshare.planning.placement import EveryBoroughReport
from skyshare.planning.report import Chart, Section, borough_map
from skyshare.planning.report import Table as ReportTable
from skyshare.whatif.output import emit, handled, out, pct, rich_table
from skyshare.whatif.reports import map_layers, new_site_markers, write_report
from skyshare.whatif.world import World


def every_borough_output(
    world: World,
    every: EveryBoroughReport,
    candidates: int,
    as_json: bool,
    as_csv: bool,
    report: Path | None,
) -> None:
    headers = ["borough", "most possible", "today", "greedy", "exact"]
    rows = [
        [b, pct(every.ceiling.get(b)), pct(v[0]), pct(v[1]), pct(v[2])]
        for b, v in every.borough_share.items()
    ]
    styles = ["yellow" if b in every.capped else None for b in every.borough_share]
    payload = every.to_json() | {"candidates": candidates}
    if not emit(
        as_json=as_json, as_csv=as_csv, payload=payload, csv_headers=headers, csv_rows=rows
    ):
        out.print(
            rich_table(
                f"Cover within {every.within_s:g}s, every borough at least "
                f"{every.share * 100:g}% ({candidates} candidate sites)",
                headers,
                rows,
                styles,
            )
        )
        for plan in (every.greedy, every.exact):
            if plan is None:
                continue
            solved = "" if plan.seconds is None else f" in {plan.seconds:.2f} s"
            bound = (
                f"; the solver stopped at its time limit and proved at least {plan.plan.bound:.0f}"
                if plan.plan.bound is not None
                else ""
            )
            out.print(
                f"{plan.plan.method}: {len(plan.sites)} sites{solved} "
                f"({plan.plan.status}{bound}); London covered "
                f"{pct(plan.evaluation.covered_share)}."
            )
        if every.capped:
            out.print(
                "[yellow]Capped by airspace or by the candidates' reach:[/] "
                + ", ".join(every.capped)
            )
    if report is not None and (every.exact or every.greedy) is not None:
        with handled():
            every_borough_report(world, every, headers, rows, report)


def every_borough_report(
    world: World,
    every: EveryBoroughReport,
    headers: list[str],
    rows: list[list[str]],
    directory: Path,
) -> tuple[Path, Path]:
    plan = every.exact or every.greedy
    assert plan is not None  # the caller writes no report without an answer
    png = borough_map(
        world.area,
        {b: v[2] for b, v in every.borough_share.items()},
        title=f"{len(plan.sites)} more sites: every borough's cover within {every.within_s:g}s",
        label="share covered after",
        layers=map_layers(world, world.network, new_site_markers(world, plan.sites)),
    )
    sections = [
        Section(
            "Every borough",
            [f"{len(plan.sites)} sites ({plan.plan.method})."],
            charts=[Chart("map", png)],
            tables=[ReportTable("By borough", headers, rows)],
        )
    ]
    return write_report(
        directory,
        "whatif-every-borough",
        "SkyShare what-if: cover in every borough",
        png,
        sections,
        world,
    )
