"""Terminal output: rich tables and progress on the consoles, JSON or CSV for machines,
and input errors turned into exit code 2."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from skyshare.domain import InputError

out = Console()
err = Console(stderr=True)  # progress and messages, so that --json / --csv stay clean


def fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(2)


@contextmanager
def handled() -> Iterator[None]:
    """Bad input or a missing file: a one-line error and exit code 2, not a traceback."""
    try:
        yield
    except InputError as exc:
        raise fail(exc) from None
    except FileNotFoundError as exc:
        raise fail(exc) from None


def progress_bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=True,
    )


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def secs(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.0f}"


def emit(
    *,
    as_json: bool,
    as_csv: bool,
    payload: dict[str, Any],
    csv_headers: Sequence[str],
    csv_rows: Sequence[Sequence[Any]],
) -> bool:
    """Print JSON or CSV if asked; True when done (no rich tables wanted)."""
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return True
    if as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(csv_headers)
        writer.writerows(csv_rows)
        sys.stdout.write(buffer.getvalue())
        return True
    return False


def rich_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    styles: Sequence[str | None] | None = None,
) -> Table:
    """A rich table; columns of figures are right-aligned, text columns left-aligned."""
    table = Table(title=title)
    for k, header in enumerate(headers):
        figures = all(_looks_numeric(row[k]) for row in rows) and k > 0
        table.add_column(header, justify="right" if figures else "left")
    for k, row in enumerate(rows):
        table.add_row(*(str(v) for v in row), style=(styles[k] if styles else None))
    return table


def _looks_numeric(value: Any) -> bool:
    return isinstance(value, int | float) or bool(re.fullmatch(r"[-+]?[\d.,]*%?|-|", str(value)))
