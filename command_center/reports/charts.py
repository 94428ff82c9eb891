"""Charts and static maps of a report as inline SVG (matplotlib, Noto Sans CJK for Chinese).

Text stays text in the SVG (``svg.fonttype = none``): it is small, selectable, and Chromium
prints it into the PDF as real text (so the PDF can be searched). Element ids are prefixed per
chart so that several SVGs can live in one HTML document. The static maps are the PDF's
stand-ins for the Folium maps (a printed page cannot pan).
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # no display: charts are written to strings

import matplotlib.pyplot as plt
import pandas as pd
import shapely
from matplotlib.patches import Patch

from command_center.reports.labels import (
    CHARTS,
    MAPS,
    OUTSIDE,
    TEXT,
    UNCOVERED,
    WEDGE_BAD,
    WEDGE_OK,
    batch_label,
    row_label,
    status_label,
    tr,
)
from command_center.reports.maps import (
    DENSITY_COLORS,
    HOTSPOT,
    MAX_POINTS,
    METRIC_CRS,
    NO_RATE_COLOR,
    OUTLINE,
    OUTSIDE_CELL_M,
    RATE_CLASSES,
    RED,
    bin_points,
    density_color,
    rate_color,
)
from gis.reports.model import Report

CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]
STYLE: dict[str, Any] = {"font.family": "sans-serif", "font.sans-serif": CJK_FONTS, "font.size": 9,
         "svg.fonttype": "none", "svg.hashsalt": "cc-report", "axes.unicode_minus": False,
         "axes.spines.top": False, "axes.spines.right": False}
STATUS_COLORS = {"completed": "#1a9850", "in_progress": "#fdae61", "planned": "#74add1",
                 "not_started": "#bdbdbd"}
_ids = itertools.count(1)


@contextmanager
def style() -> Iterator[None]:
    """Our matplotlib settings, without touching the caller's global ones."""
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def to_svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element, ids unique within the document."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    prefix = f"c{next(_ids)}-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)


def weekly_chart(report: Report, lang: str) -> str:
    """Bars of events reported and closed per week, the on-time rate as a line."""
    weekly = report.weekly
    with style():
        fig, ax = plt.subplots(figsize=(7.2, 2.8))
        x = list(range(len(weekly)))
        labels = [pd.Timestamp(w).strftime("%m-%d") for w in weekly["week_start"]]
        ax.bar([i - 0.2 for i in x], weekly["reported"], width=0.4, color="#4e79a7",
               label=tr(TEXT, "reported", lang))
        ax.bar([i + 0.2 for i in x], weekly["closed"], width=0.4, color="#59a14f",
               label=tr(TEXT, "closed", lang))
        ax.set_xticks(x, labels)
        ax.set_xlabel(tr(TEXT, "week", lang))
        rate_ax = ax.twinx()
        rate_ax.plot(x, pd.to_numeric(weekly["on_time_rate"], errors="coerce") * 100,
                     color="#e15759", marker="o", label=tr(TEXT, "on_time_rate", lang))
        rate_ax.set_ylim(0, 105)
        rate_ax.set_ylabel("%")
        handles = ax.get_legend_handles_labels()[0] + rate_ax.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False, ncols=3,
                  bbox_to_anchor=(0, 1.0))
        ax.set_title(tr(CHARTS, "weekly", lang), loc="left", pad=22)
        return to_svg(fig)


def category_chart(report: Report, lang: str, top: int = 12) -> str:
    """Events per category (the ``top`` largest), previous period as a tick."""
    frame = report.by_category.sort_values("reported", ascending=False).head(top)[::-1]
    with style():
        fig, ax = plt.subplots(figsize=(7.2, 0.6 + 0.28 * max(len(frame), 1)))
        names = [row_label(row, lang) for _, row in frame.iterrows()]
        ax.barh(names, frame["reported"], color="#4e79a7", label=tr(TEXT, "reported", lang))
        ax.scatter(frame["reported_previous"], names, marker="|", s=120, color="#333333",
                   label=tr(TEXT, "previous", lang), zorder=3)
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.set_title(tr(CHARTS, "categories", lang), loc="left")
        return to_svg(fig)


def renovation_chart(report: Report, lang: str) -> str:
    """Courtyards per batch stacked by status, and the survey's willingness per batch."""
    frame = report.renovation.copy()
    frame["batch_key"] = frame["batch"].map(lambda b: batch_label(b, lang))
    table = frame.pivot_table(index="batch_key", columns="status", values="courtyards",
                              aggfunc="sum", fill_value=0, sort=False)
    willing = frame.groupby("batch_key", sort=False).apply(
        lambda g: (g["willing_share"] * g["surveyed"]).sum() / g["surveyed"].sum()
        if g["surveyed"].sum() else math.nan, include_groups=False)
    with style():
        fig, (ax, wax) = plt.subplots(1, 2, figsize=(7.2, 2.8), width_ratios=[3, 2])
        bottom = [0.0] * len(table)
        for status in [s for s in STATUS_COLORS if s in table.columns]:
            ax.bar(table.index, table[status], bottom=bottom, color=STATUS_COLORS[status],
                   label=status_label(status, lang))
            bottom = [b + v for b, v in zip(bottom, table[status], strict=True)]
        ax.legend(fontsize=7, frameon=False)
        ax.set_ylabel(tr(TEXT, "courtyards", lang))
        ax.set_title(tr(CHARTS, "renovation", lang), loc="left")
        wax.bar(willing.index, willing.values * 100, color="#59a14f")
        wax.set_ylim(0, 100)
        wax.set_ylabel("%")
        wax.set_title(tr(CHARTS, "willing", lang), loc="left")
        for axis in (ax, wax):
            axis.tick_params(axis="x", labelrotation=45)
        return to_svg(fig)


def _map_axes(report: Report, height: float = 4.2) -> tuple[Any, Any]:
    minx, miny, maxx, maxy = shapely.bounds(report.area.geometry)
    # Equal metres on both axes at this latitude: degrees of longitude are shorter.
    aspect = 1 / math.cos(math.radians((miny + maxy) / 2))
    width = min(7.2, max(3.0, height * (maxx - minx) / max(aspect * (maxy - miny), 1e-9)))
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_aspect(aspect)
    ax.set_axis_off()
    gpd.GeoSeries([report.area.geometry], crs="EPSG:4326").boundary.plot(
        ax=ax, color=OUTLINE, linewidth=1.2)
    return fig, ax


def _simple(frame: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    if not len(frame) or tolerance_m <= 0:
        return frame
    return frame.set_geometry(frame.geometry.to_crs(METRIC_CRS).simplify(tolerance_m)
                              .to_crs("EPSG:4326"))


def static_map(report: Report, which: str, lang: str) -> str:
    """A printable SVG of one map: ``ontime``, ``density``, ``red`` or ``coverage``."""
    with style():
        fig, ax = _map_axes(report)
        grids = _simple(report.grids, 5)
        handles: list[Any] = []
        if which == "ontime":
            if len(grids):
                grids.plot(ax=ax, color=[rate_color(r) for r in grids["on_time_rate"]],
                           edgecolor="white", linewidth=0.3)
            handles = [Patch(color=c, label=f"≥ {b * 100:.0f}%") for b, c in RATE_CLASSES]
            handles.append(Patch(color=NO_RATE_COLOR, label=tr(TEXT, "legend_none", lang)))
        else:
            if len(grids):
                grids.boundary.plot(ax=ax, color="#8797ad", linewidth=0.3)
        if which == "density":
            top = float(report.density["events"].max()) if len(report.density) else 0.0
            if len(report.density):
                report.density.plot(ax=ax, linewidth=0, color=[
                    density_color(n, top) for n in report.density["events"]])
            if len(report.hotspots):
                _simple(report.hotspots, 2).boundary.plot(ax=ax, color=HOTSPOT, linewidth=1.2,
                                                          linestyle="--")
            handles = [Patch(color=DENSITY_COLORS[-1], label=tr(TEXT, "legend_events", lang)),
                       Patch(edgecolor=HOTSPOT, facecolor="none", linestyle="--",
                             label=tr(TEXT, "legend_hotspot", lang))]
        elif which == "red":
            if len(report.red_events):
                report.red_events.plot(ax=ax, color=RED, markersize=14, edgecolor="white",
                                       linewidth=0.4)
            handles = [Patch(color=RED, label=tr(TEXT, "legend_red", lang))]
        elif which == "coverage":
            cov = report.coverage
            if len(cov.wedges):
                wedges = _simple(cov.wedges, 2)
                wedges.plot(ax=ax, color=[WEDGE_OK if w else WEDGE_BAD
                                          for w in wedges["working"]], alpha=0.35, linewidth=0)
            if len(cov.uncovered_courtyards):
                cov.uncovered_courtyards.plot(ax=ax, color=UNCOVERED, linewidth=0)
            if len(cov.events_outside) > MAX_POINTS:
                bins = bin_points(cov.events_outside, OUTSIDE_CELL_M)
                bins.plot(ax=ax, color=OUTSIDE, linewidth=0,
                          alpha=(0.25 + 0.65 * bins["events"] / bins["events"].max()).tolist())
            elif len(cov.events_outside):
                cov.events_outside.plot(ax=ax, color=OUTSIDE, markersize=2)
            handles = [Patch(color=WEDGE_OK, alpha=0.5, label=tr(TEXT, "legend_wedge_ok", lang)),
                       Patch(color=WEDGE_BAD, alpha=0.5,
                             label=tr(TEXT, "legend_wedge_bad", lang)),
                       Patch(color=UNCOVERED, label=tr(TEXT, "legend_uncovered", lang)),
                       Patch(color=OUTSIDE, label=tr(TEXT, "legend_outside", lang))]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7,
                  frameon=False)
        ax.set_title(tr(MAPS, which, lang), loc="left")
        return to_svg(fig)
