"""Reports for planners: a PNG map, charts, and one self-contained HTML page.

Everything here returns bytes or text; writing files is the caller's business. Drawing
uses matplotlib's object API with the Agg canvas (no pyplot, no global backend), so it
runs anywhere, headless, and the same input gives the same image.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from skyshare.airspace.service_area import ServiceArea

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]


@dataclass(frozen=True)
class Chart:
    title: str
    png: bytes


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: Sequence[str] = ()
    tables: Sequence[Table] = ()
    charts: Sequence[Chart] = ()


@dataclass(frozen=True)
class MapSite:
    """A point to mark: projected metres, a label, and its style (``site``, ``new``)."""

    x: float
    y: float
    label: str
    style: str = "site"


@dataclass(frozen=True)
class MapLayers:
    """What a borough map shows besides the shading."""

    zones: Sequence[BaseGeometry] = ()
    sites: Sequence[MapSite] = ()
    cells: tuple[np.ndarray, tuple[float, float, float, float]] | None = field(
        default=None, repr=False
    )  # cells to mark (finite values; rows from the south) and the extent (x0, x1, y0, y1)


def _patch(geom: BaseGeometry, **style) -> PathPatch | None:
    polygons = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    vertices, codes = [], []
    for poly in polygons:
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        for ring in (poly.exterior, *poly.interiors):
            coords = np.asarray(ring.coords)
            vertices.append(coords)
            codes.append(
                [MplPath.MOVETO] + [MplPath.LINETO] * (len(coords) - 2) + [MplPath.CLOSEPOLY]
            )
    if not vertices:
        return None
    return PathPatch(MplPath(np.concatenate(vertices), np.concatenate(codes)), **style)


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def borough_map(
    area: ServiceArea,
    values: Mapping[str, float | None],
    *,
    title: str,
    label: str,
    layers: MapLayers = MapLayers(),
    vmin: float = 0.0,
    vmax: float = 1.0,
    colormap: str = "RdYlGn",
) -> bytes:
    """Boroughs shaded by ``values`` (grey where None), with zones, sites and cells."""
    fig = Figure(figsize=(9.5, 7.5))
    ax = fig.add_subplot()
    norm = Normalize(vmin=vmin, vmax=vmax)
    palette = colormaps[colormap]
    for borough in area.boroughs:
        value = values.get(borough.name)
        face = "#dddddd" if value is None else palette(norm(value))
        patch = _patch(
            borough.geometry.simplify(25.0),
            facecolor=face,
            edgecolor="#555555",
            linewidth=0.6,
            zorder=2,
        )
        if patch is not None:
            ax.add_patch(patch)
    if layers.cells is not None:  # cells with a value are drawn solid, the rest clear
        image, extent = layers.cells
        ax.imshow(
            np.where(np.isfinite(image), 1.0, np.nan),
            origin="lower",
            extent=extent,
            cmap=ListedColormap(["#0b4f1a"]),
            alpha=0.75,
            interpolation="nearest",
            zorder=2.5,
        )
    for zone in layers.zones:
        patch = _patch(
            zone, facecolor="none", edgecolor="#7a1f1f", hatch="////", linewidth=0.8, zorder=3
        )
        if patch is not None:
            ax.add_patch(patch)
    styles = {
        "site": {"marker": "o", "color": "#1f3b7a", "s": 22},
        "new": {"marker": "*", "color": "#000000", "s": 110},
        "other": {"marker": "^", "color": "#7a5c1f", "s": 26},
    }
    for style, spec in styles.items():
        points = [s for s in layers.sites if s.style == style]
        if points:
            ax.scatter(
                [p.x for p in points],
                [p.y for p in points],
                zorder=4,
                edgecolors="white",
                linewidths=0.5,
                label=_legend(style),
                **spec,
            )
    x0, y0, x1, y1 = area.geometry.bounds
    ax.set_xlim(x0 - 1000, x1 + 1000)
    ax.set_ylim(y0 - 1000, y1 + 1000)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=palette), ax=ax, fraction=0.03, pad=0.01)
    bar.set_label(label)
    if layers.sites:
        ax.legend(loc="lower left", fontsize=8, frameon=True)
    return _png(fig)


def _legend(style: str) -> str:
    return {"site": "launch site", "new": "proposed site", "other": "other scenario"}[style]


def bar_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    ylabel: str,
    target: float | None = None,
) -> bytes:
    """Grouped bars, one group per label (boroughs, agencies, scenarios)."""
    fig = Figure(figsize=(max(6.0, 0.32 * len(labels) * max(1, len(series))), 4.2))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(labels))
    for k, (name, values) in enumerate(series.items()):
        heights = [np.nan if v is None else v for v in values]
        ax.bar(positions + k * width - 0.4 + width / 2, heights, width, label=name)
    if target is not None:
        ax.axhline(target, color="black", linestyle="--", linewidth=0.8, label="target")
    ax.set_xticks(positions, labels, rotation=70, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1 or target is not None:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def histogram(
    values: Sequence[float], *, title: str, xlabel: str, marker: float | None = None
) -> bytes:
    fig = Figure(figsize=(7.0, 3.8))
    ax = fig.add_subplot()
    data = np.asarray(values, float)
    if len(data):
        ax.hist(data, bins=min(60, max(10, len(data) // 20)), color="#1f3b7a", alpha=0.8)
    if marker is not None:
        ax.axvline(marker, color="#b22222", linestyle="--", label=f"{marker:g}")
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("calls")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _png(fig)


# --- the HTML page -------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
caption{font-weight:600;text-align:left;padding:4px 0}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
.note{color:#555;font-size:0.9em}
"""


def _cell(value: Cell) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.1f}"
    return html.escape(str(value))


def html_page(title: str, sections: Sequence[Section], note: str = "") -> str:
    """One page, with every chart embedded as a base64 PNG: it can be mailed as it is."""
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if note:
        out.append(f"<p class='note'>{html.escape(note)}</p>")
    for section in sections:
        out.append(f"<h2>{html.escape(section.heading)}</h2>")
        out.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        for chart in section.charts:
            data = base64.b64encode(chart.png).decode("ascii")
            out.append(
                f"<figure><img alt='{html.escape(chart.title)}' "
                f"src='data:image/png;base64,{data}'></figure>"
            )
        for table in section.tables:
            out.append(f"<table><caption>{html.escape(table.title)}</caption><thead><tr>")
            out.extend(f"<th>{html.escape(h)}</th>" for h in table.headers)
            out.append("</tr></thead><tbody>")
            for row in table.rows:
                out.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
            out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out)
