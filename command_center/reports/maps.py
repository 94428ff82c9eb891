"""Folium maps of a report that open with no network: Leaflet inlined, no CDN, no basemap.

Folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default. We use only
what plain Leaflet draws (GeoJSON layers, circle markers, tooltips, the layer control), drop
every external link Folium adds, and inline Debian's Leaflet (``libjs-leaflet``) once per
document, with its control images as data URIs. Geometries are simplified in metres and
rounded to six decimals (~0.1 m) before they are written, which keeps the whole district's
report far below 5 MB. Every string that reaches a tooltip is HTML-escaped here, because
Leaflet inserts tooltip content as HTML.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import CssLink, JavascriptLink

from command_center.reports.labels import (
    COLUMNS,
    MAPS,
    OUTSIDE,
    TEXT,
    UNCOVERED,
    WEDGE_BAD,
    WEDGE_OK,
    fmt_number,
    fmt_time,
    missing,
    tr,
)
from gis.errors import SetupError
from gis.reports.model import Report

LEAFLET_DIR = Path("/usr/share/javascript/leaflet")
METRIC_CRS = "EPSG:4544"
#: Folium's default resources; none is needed by the layers we draw.
_FOLIUM_LINKS = {"leaflet", "jquery", "bootstrap", "awesome_markers", "leaflet_css",
                 "bootstrap_css", "glyphicons_css", "awesome_markers_font_css",
                 "awesome_markers_css", "awesome_rotate_css"}

RATE_CLASSES = ((0.99, "#1a9850"), (0.95, "#91cf60"), (0.90, "#fee08b"), (0.80, "#fc8d59"),
                (0.0, "#d73027"))
NO_RATE_COLOR = "#bdbdbd"
DENSITY_COLORS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
RED, HOTSPOT, OUTLINE = "#d7191c", "#7b3294", "#44546a"
#: Above this many events outside every camera view, the maps draw them as counted squares.
MAX_POINTS = 3000
OUTSIDE_CELL_M = 250.0
TILES = {"osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                 "&copy; OpenStreetMap contributors")}


@cache
def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JavaScript and CSS (images inlined), read from ``libjs-leaflet``."""
    js_path, css_path = LEAFLET_DIR / "leaflet.min.js", LEAFLET_DIR / "leaflet.css"
    if not js_path.exists() or not css_path.exists():
        raise SetupError("缺少 Leaflet（请安装 libjs-leaflet：apt-get install libjs-leaflet）",
                         "Leaflet is missing: apt-get install libjs-leaflet")
    js = re.sub(r"//# sourceMappingURL=\S+", "", js_path.read_text(encoding="utf-8"))
    css = re.sub(r"/\*# sourceMappingURL=\S+\s*\*/", "", css_path.read_text(encoding="utf-8"))

    def data_uri(match: re.Match[str]) -> str:
        image = LEAFLET_DIR / match.group(1)
        if not image.exists():
            return "none"
        return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()})"

    return js, re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)


def leaflet_head() -> str:
    """``<style>`` and ``<script>`` with Leaflet, for a document's head."""
    js, css = leaflet_assets()
    return f"<style>{css}</style>\n<script>{js}</script>"


def _prop(value: Any, timezone: str) -> Any:
    if missing(value):
        return None
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return fmt_time(value, timezone)
    if isinstance(value, np.generic):
        value = value.item()
    return html.escape(value) if isinstance(value, str) else value


def geojson(frame: gpd.GeoDataFrame, columns: list[str], *, timezone: str,
            tolerance_m: float = 0.0) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``columns``, simplified by ``tolerance_m`` metres.

    Strings are HTML-escaped (they end up in tooltips), times written in ``timezone``,
    coordinates rounded to 6 decimals; empty geometries are dropped.
    """
    frame = frame[~frame.geometry.isna() & ~frame.geometry.is_empty]
    geoms = frame.geometry
    if tolerance_m > 0 and len(frame):
        geoms = geoms.to_crs(METRIC_CRS).simplify(tolerance_m).to_crs("EPSG:4326")
    rounded = shapely.transform(np.asarray(geoms.values), lambda xy: np.round(xy, 6))
    features = []
    for i, (_, row) in enumerate(frame.iterrows()):
        geom = rounded[i]
        if geom is None or geom.is_empty:
            continue
        features.append({"type": "Feature", "id": str(i), "geometry": shapely.geometry.mapping(
            geom), "properties": {c: _prop(row.get(c), timezone) for c in columns}})
    return {"type": "FeatureCollection", "features": features}


def rate_color(rate: Any) -> str:
    """The choropleth colour of an on-time rate (grey when nothing was closed)."""
    if missing(rate):
        return NO_RATE_COLOR
    return next(color for bound, color in RATE_CLASSES if float(rate) >= bound)


def density_color(events: float, top: float) -> str:
    """Five classes from zero to the busiest cell."""
    k = min(int(len(DENSITY_COLORS) * events / top), len(DENSITY_COLORS) - 1) if top else 0
    return DENSITY_COLORS[k]


def _base(report: Report, tiles: str | None, height: int) -> folium.Map:
    minx, miny, maxx, maxy = shapely.bounds(report.area.geometry)
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=13,
                   tiles=None, control_scale=True, height=f"{height}px")
    if tiles in TILES:
        url, attr = TILES[tiles]
        folium.TileLayer(url, attr=attr, name="OpenStreetMap").add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    outline = gpd.GeoDataFrame({"name": [report.area.name_zh]},
                               geometry=[report.area.geometry], crs="EPSG:4326")
    folium.GeoJson(geojson(outline, [], timezone=report.timezone, tolerance_m=10),
                   name=html.escape(report.area.name_zh), control=False,
                   style_function=lambda f: {"color": OUTLINE, "weight": 2, "fill": False},
                   ).add_to(m)
    return m


def _tooltip(data: dict[str, Any], fields: list[str],
             labels: list[str]) -> folium.GeoJsonTooltip | None:
    # Folium refuses a tooltip whose fields are not in the data: an empty layer has none.
    if not data["features"]:
        return None
    return folium.GeoJsonTooltip(fields=fields, aliases=[html.escape(x) for x in labels])


def add_ontime(m: folium.Map, report: Report, lang: str, *, show: bool = True) -> None:
    """The choropleth of the on-time rate by grid."""
    data = geojson(report.grids, ["code", "name_zh", "community_zh", "closed", "on_time_rate",
                                  "reported"], timezone=report.timezone, tolerance_m=3)
    for feature in data["features"]:
        rate = feature["properties"]["on_time_rate"]
        feature["properties"]["rate_text"] = fmt_number(rate, rate=True)
        feature["properties"]["fill"] = rate_color(rate)
    folium.GeoJson(
        data, name=html.escape(tr(MAPS, "ontime", lang)), show=show,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#ffffff",
                                  "weight": 0.8, "fillOpacity": 0.75},
        tooltip=_tooltip(data, ["code", "name_zh", "reported", "closed", "rate_text"],
                         [tr(TEXT, "layer_grids", lang), "", tr(TEXT, "reported", lang),
                          tr(TEXT, "closed", lang), tr(TEXT, "on_time_rate", lang)]),
    ).add_to(m)


def add_grid_outlines(m: folium.Map, report: Report, lang: str) -> None:
    """Thin grid outlines for orientation (no tooltip, not in the layer list)."""
    data = geojson(report.grids, [], timezone=report.timezone, tolerance_m=3)
    folium.GeoJson(data, name=html.escape(tr(TEXT, "layer_grids", lang)), control=False,
                   style_function=lambda f: {"color": "#8797ad", "weight": 0.6,
                                             "fill": False}).add_to(m)


def add_density(m: folium.Map, report: Report, lang: str, *, show: bool = True) -> None:
    """Square bins of the period's events (counted in the database)."""
    top = float(report.density["events"].max()) if len(report.density) else 0.0
    data = geojson(report.density, ["events"], timezone=report.timezone)
    for feature in data["features"]:
        feature["properties"]["fill"] = density_color(feature["properties"]["events"] or 0, top)
    folium.GeoJson(
        data, name=html.escape(tr(MAPS, "density_only", lang)), show=show,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#b36b00",
                                  "weight": 0.3, "fillOpacity": 0.7},
        tooltip=_tooltip(data, ["events"], [tr(TEXT, "legend_events", lang)]),
    ).add_to(m)


def add_hotspots(m: folium.Map, report: Report, lang: str, *, show: bool = True) -> None:
    """Cluster hulls of the period's events."""
    data = geojson(report.hotspots, ["cluster", "events", "label_zh"],
                   timezone=report.timezone, tolerance_m=2)
    folium.GeoJson(
        data, name=html.escape(tr(TEXT, "legend_hotspot", lang)), show=show,
        style_function=lambda f: {"color": HOTSPOT, "weight": 2, "fillColor": HOTSPOT,
                                  "fillOpacity": 0.15, "dashArray": "4 3"},
        tooltip=_tooltip(data, ["cluster", "events", "label_zh"],
                         [tr(TEXT, "legend_hotspot", lang), tr(TEXT, "legend_events", lang),
                          ""]),
    ).add_to(m)


def _points(m: folium.Map, frame: gpd.GeoDataFrame, columns: list[str], labels: list[str],
            name: str, color: str, radius: float, timezone: str, show: bool = True) -> None:
    data = geojson(frame, columns, timezone=timezone)
    folium.GeoJson(
        data, name=html.escape(name), show=show,
        marker=folium.CircleMarker(radius=radius, color="#ffffff", weight=1, fill=True,
                                   fill_color=color, fill_opacity=0.9),
        tooltip=_tooltip(data, columns, labels),
    ).add_to(m)


def add_red(m: folium.Map, report: Report, lang: str, *, show: bool = True) -> None:
    """Events open and overdue at the end of the period."""
    columns = ["id", "label_zh", "status", "deadline_at"]
    _points(m, report.red_events, columns, [tr(COLUMNS, c, lang) for c in columns],
            tr(MAPS, "red", lang), RED, 6, report.timezone, show)


def add_coverage(m: folium.Map, report: Report, lang: str) -> None:
    """Camera views (working or not), courtyards without coverage, events outside views."""
    cov = report.coverage
    wedges = cov.wedges.assign(working_text=cov.wedges["working"].map(
        lambda w: tr(TEXT, "legend_wedge_ok" if w else "legend_wedge_bad", lang)))
    data = geojson(wedges, ["camera_code", "name_zh", "working_text", "working"],
                   timezone=report.timezone, tolerance_m=2)
    folium.GeoJson(
        data, name=html.escape(tr(TEXT, "legend_wedge_ok", lang)),
        style_function=lambda f: {
            "color": WEDGE_OK if f["properties"]["working"] else WEDGE_BAD, "weight": 0.5,
            "fillOpacity": 0.25 if f["properties"]["working"] else 0.1},
        tooltip=_tooltip(data, ["camera_code", "name_zh", "working_text"],
                         [tr(COLUMNS, c, lang) for c in ("camera_code", "name_zh", "working")]),
    ).add_to(m)
    courts = geojson(cov.uncovered_courtyards, ["code", "name_zh", "households"],
                     timezone=report.timezone, tolerance_m=1)
    folium.GeoJson(
        courts, name=html.escape(tr(TEXT, "legend_uncovered", lang)),
        style_function=lambda f: {"color": UNCOVERED, "weight": 1.5, "fillColor": UNCOVERED,
                                  "fillOpacity": 0.45},
        tooltip=_tooltip(courts, ["code", "name_zh", "households"],
                         [tr(COLUMNS, c, lang) for c in ("code", "name_zh", "households")]),
    ).add_to(m)
    outside = cov.events_outside
    if len(outside) > MAX_POINTS:  # a year of a busy district: squares, not 100k dots
        bins = bin_points(outside, OUTSIDE_CELL_M)
        top = float(bins["events"].max())
        binned = geojson(bins, ["events"], timezone=report.timezone)
        for feature in binned["features"]:
            share = feature["properties"]["events"] / top
            feature["properties"]["opacity"] = round(0.25 + 0.65 * share, 2)
        folium.GeoJson(
            binned, name=html.escape(tr(TEXT, "legend_outside", lang)),
            style_function=lambda f: {"color": OUTSIDE, "weight": 0, "fillColor": OUTSIDE,
                                      "fillOpacity": f["properties"]["opacity"]},
            tooltip=_tooltip(binned, ["events"], [tr(TEXT, "legend_outside", lang)]),
        ).add_to(m)
        return
    columns = ["id", "label_zh", "reported_at"]
    _points(m, outside, columns, [tr(COLUMNS, c, lang) for c in columns],
            tr(TEXT, "legend_outside", lang), OUTSIDE, 3, report.timezone)


def bin_points(points: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    """Square bins of ``cell_m`` metres (EPSG:4544) with the number of points in each.

    The maps draw single points up to :data:`MAX_POINTS`; beyond that a file would grow by
    ~100 bytes a point, so the points of the coverage map are counted in squares instead.
    """
    xy = shapely.get_coordinates(points.geometry.to_crs(METRIC_CRS).values)
    cells = pd.DataFrame(np.floor(xy / cell_m).astype(np.int64), columns=["i", "j"])
    counts = cells.value_counts().rename("events").reset_index()
    boxes = shapely.box(counts.i * cell_m, counts.j * cell_m, (counts.i + 1) * cell_m,
                        (counts.j + 1) * cell_m)
    return gpd.GeoDataFrame({"events": counts["events"].to_numpy()}, geometry=boxes,
                            crs=METRIC_CRS).to_crs("EPSG:4326")


def build_map(report: Report, which: str, lang: str = "zh", *, tiles: str | None = None,
              height: int = 460) -> folium.Map:
    """One of the report's maps: ``ontime``, ``density``, ``red``, ``coverage`` or ``events``.

    ``events`` holds every event layer with a layer switch (the report page); the others are
    the export's single-topic maps. ``tiles="osm"`` adds the OpenStreetMap basemap (needs the
    internet); by default there is none, so the map works offline.
    """
    m = _base(report, tiles, height)
    if which == "ontime":
        add_ontime(m, report, lang)
    elif which == "density":
        add_grid_outlines(m, report, lang)
        add_density(m, report, lang)
        add_hotspots(m, report, lang)
    elif which == "red":
        add_grid_outlines(m, report, lang)
        add_red(m, report, lang)
    elif which == "coverage":
        add_grid_outlines(m, report, lang)
        add_coverage(m, report, lang)
    elif which == "events":
        add_ontime(m, report, lang)
        add_density(m, report, lang, show=False)
        add_hotspots(m, report, lang)
        add_red(m, report, lang)
    else:
        raise ValueError(f"unknown map {which!r}")
    if which in ("events", "density", "coverage") or tiles:
        folium.LayerControl(collapsed=False).add_to(m)
    return m


@dataclass(frozen=True)
class MapParts:
    """A rendered map: what goes in the head, the ``<div>`` and its script."""

    head: str
    div: str
    script: str


def render_parts(m: folium.Map) -> MapParts:
    """Render ``m`` without Folium's external resources (Leaflet comes from :func:`leaflet_head`).

    Raises
    ------
    SetupError
        If a layer asks for a script or stylesheet we do not ship (a Folium plugin).
    """
    root: Any = m.get_root()  # a branca Figure: header, html and script parts
    for child in root._children.values():
        child.render()
    for name, child in list(root.header._children.items()):
        if isinstance(child, JavascriptLink | CssLink):
            if name not in _FOLIUM_LINKS:
                raise SetupError(f"地图需要外部资源 {name}，离线报告不支持",
                                 f"the map needs the external resource {name}: not offline")
            del root.header._children[name]
    return MapParts(root.header.render(), root.html.render(),
                    "<script>\n" + root.script.render() + "\n</script>")


def standalone_html(m: folium.Map, title: str = "") -> str:
    """A whole document with one map and Leaflet inlined (for an ``<iframe srcdoc>``)."""
    parts = render_parts(m)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}'
            f"</title>{leaflet_head()}{parts.head}<style>html,body{{margin:0}}</style></head>"
            f"<body>{parts.div}{parts.script}</body></html>")
