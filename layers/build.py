"""From a layer spec and a database session to Bokeh glyph columns on Web Mercator.

Everything is projected here, in Python, from the stored WGS84 coordinates: optionally shifted
first (``shift``: the basemap's datum, e.g. GCJ-02 for Gaode tiles, see
:mod:`command_center.app.basemaps`), then to Web Mercator metres, so the browser draws plain
numbers and no projection library is needed there.

Large point layers (a spec with ``aggregate``) are counted in the view first; above
``max_points`` the database bins them (:func:`gis.queries.heat_bins`) and only the bins
travel to the browser, so a million events cost a few hundred polygons.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import (
    CAMERA_SOURCE_LABELS,
    CATEGORY_BY_CODE,
    EVENT_SOURCE_LABELS,
    EVENT_STATUS_LABELS,
    HEALTH_LABELS,
    OPEN_STATUSES,
    RENOVATION_LABELS,
    label,
)
from gis.loop.lights import light, light_sql
from gis.loop.sla import DEFAULT_YELLOW_SHARE
from gis.queries import heat_bins
from layers.spec import LayerSpec

Shift = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
BBox = tuple[float, float, float, float]
_R = 6378137.0  # Web Mercator sphere radius
# Simplification tolerance in degrees (~1 m): invisible on screen, halves the vertices.
_SIMPLIFY_DEG = 1e-5
# The share of the allowed time below which an open event turns yellow; the rule itself is
# gis.loop.lights (one definition for the map, the wall, the board and the supervision job).
YELLOW_SHARE = DEFAULT_YELLOW_SHARE

QUERIES: dict[str, str] = {
    "grids_with_workers": """
SELECT g.id, g.code, g.name_zh, g.households, g.population, c.name_zh AS community_name,
       s.name_zh AS street_name, wa.name AS worker_a, wa.phone AS worker_a_phone,
       wb.name AS worker_b, wb.phone AS worker_b_phone, ST_AsBinary(g.geom) AS wkb
FROM grid g
LEFT JOIN community c ON c.id = g.community_id
LEFT JOIN street s ON s.id = c.street_id
LEFT JOIN grid_worker wa ON wa.grid_id = g.id AND wa.post = 'A'
LEFT JOIN grid_worker wb ON wb.grid_id = g.id AND wb.post = 'B'
WHERE {where} ORDER BY g.code""",
    # Never the stream URLs: the relay reads them itself.
    "cameras": """
SELECT c.id, c.code, c.name_zh, c.source, c.vendor, c.health_status, c.azimuth_deg,
       c.fov_deg, c.range_m, ST_AsBinary(c.geom) AS wkb
FROM camera c WHERE {where} ORDER BY c.id""",
    "open_events": """
SELECT e.id, e.code, e.category_code, e.source_channel, e.status, e.priority,
       g.code AS grid_code, e.deadline_at, e.reported_at,
       """ + light_sql() + """ AS light,
       ST_AsBinary(e.geom) AS wkb
FROM event e LEFT JOIN grid g ON g.id = e.grid_id
WHERE e.status = ANY(:open) AND {where} ORDER BY e.id""",
}
_ALIAS = {"grids_with_workers": "g", "cameras": "c", "open_events": "e"}


def three_light(deadline: dt.datetime | None, started: dt.datetime, now: dt.datetime) -> str:
    """``green`` / ``yellow`` / ``red`` / ``none``: :func:`gis.loop.lights.light`.

    Examples
    --------
    >>> t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    >>> three_light(t0 + dt.timedelta(hours=10), t0, t0 + dt.timedelta(hours=8))
    'yellow'
    """
    return light(deadline, started, now, YELLOW_SHARE)


def format_time_left(deadline: dt.datetime | None, now: dt.datetime, language: str) -> str:
    """``3小时20分钟`` / ``-1 h 5 min`` style text for the time to ``deadline``."""
    if deadline is None or pd.isna(deadline):
        return "无时限" if language != "en" else "no deadline"
    minutes = int((deadline - now).total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    hours, rest = divmod(minutes, 60)
    if language == "en":
        return f"{sign}{hours} h {rest} min"
    return f"{'超时' if sign else ''}{hours}小时{rest}分钟"


def to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 degrees to Web Mercator (EPSG:3857) metres."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x = np.radians(lon) * _R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _R
    return x, y


def from_mercator(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator metres to WGS84 degrees."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return np.degrees(x / _R), np.degrees(2 * np.arctan(np.exp(y / _R)) - np.pi / 2)


def _where(spec: LayerSpec, bbox: BBox | None, alias: str) -> tuple[str, dict[str, object]]:
    if bbox is None:
        return "true", {}
    x0, y0, x1, y1 = bbox
    return (f"{alias}.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)",
            {"x0": x0, "y0": y0, "x1": x1, "y1": y1})


def fetch(session: Session, spec: LayerSpec, *, bbox: BBox | None = None,
          now: dt.datetime | None = None, language: str = "zh") -> gpd.GeoDataFrame:
    """The rows of ``spec``'s source (in ``bbox`` when given) as a GeoDataFrame in WGS84.

    Label columns of named queries (``category``, ``status_label``, ``time_left`` …) are
    filled in ``language``.
    """
    now = now or dt.datetime.now(dt.UTC)
    if spec.source.query is not None:
        where, params = _where(spec, bbox, _ALIAS[spec.source.query])
        sql = QUERIES[spec.source.query].format(where=where)
        params.update(now=now, yellow=YELLOW_SHARE, open=list(OPEN_STATUSES))
        columns = None
    else:
        where, params = _where(spec, bbox, "t")
        cols = ", ".join(f"t.{c}" for c in ("id", *spec.source.columns))
        sql = (f"SELECT {cols}, ST_AsBinary(t.geom) AS wkb FROM {spec.source.table} t "
               f"WHERE {where} ORDER BY t.id")
        columns = ["id", *spec.source.columns, "wkb"]
    result = session.execute(sa.text(sql), params)
    frame = pd.DataFrame(result.all(), columns=columns or list(result.keys()))
    geometry = shapely.from_wkb([bytes(w) for w in frame.pop("wkb")])
    frame = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")
    return _add_labels(frame, spec, now, language)


def _add_labels(frame: gpd.GeoDataFrame, spec: LayerSpec, now: dt.datetime,
                language: str) -> gpd.GeoDataFrame:
    if "renovation_status" in frame:
        frame["renovation_status_label"] = [label(RENOVATION_LABELS, v, language)
                                            for v in frame["renovation_status"]]
    if spec.source.query == "cameras":
        frame["source_label"] = [label(CAMERA_SOURCE_LABELS, v, language)
                                 for v in frame["source"]]
        frame["health_label"] = [label(HEALTH_LABELS, v, language)
                                 for v in frame["health_status"]]
    if spec.source.query == "open_events":
        cats = [CATEGORY_BY_CODE.get(c) for c in frame["category_code"]]
        frame["category"] = [(c.en if language == "en" else c.zh) if c else code
                             for c, code in zip(cats, frame["category_code"], strict=True)]
        frame["source"] = [label(EVENT_SOURCE_LABELS, v, language)
                           for v in frame["source_channel"]]
        frame["status_label"] = [label(EVENT_STATUS_LABELS, v, language)
                                 for v in frame["status"]]
        classes = spec.style.classes
        frame["light_label"] = [
            (classes[v].en if language == "en" else classes[v].zh) if v in classes else v
            for v in frame["light"]]
        frame["time_left"] = [format_time_left(d if pd.notna(d) else None, now, language)
                              for d in frame["deadline_at"]]
    return frame


def _colors(frame: pd.DataFrame, spec: LayerSpec) -> list[str]:
    style = spec.style
    if not style.by:
        return [style.color] * len(frame)
    return [style.classes[v].color if v in style.classes else style.color
            for v in frame[style.by]]


def _popup_columns(frame: pd.DataFrame, spec: LayerSpec) -> dict[str, list[str]]:
    out = {}
    for item in spec.popup:
        # A status is shown by its label, not its code.
        src = f"{item.field}_label" if f"{item.field}_label" in frame else item.field
        out[item.field] = ["" if v is None or (isinstance(v, float) and math.isnan(v))
                           else str(v) for v in frame[src]]
    return out


def tooltips(spec: LayerSpec, language: str) -> list[tuple[str, str]]:
    """Bokeh hover tooltips listing the spec's popup fields with their labels."""
    tips = [(p.en if language == "en" else p.zh, f"@{{{p.field}}}") for p in spec.popup]
    return tips or [("", spec.label(language))]


def _identity(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return lon, lat


def project(lon: np.ndarray, lat: np.ndarray, shift: Shift | None) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Shift (datum of the basemap) then project to Web Mercator."""
    lon2, lat2 = (shift or _identity)(np.asarray(lon, float), np.asarray(lat, float))
    return to_mercator(lon2, lat2)


@dataclass(frozen=True)
class Glyph:
    """Columns for one Bokeh ColumnDataSource and how to draw them.

    ``kind`` is ``"polygons"`` (``xs``/``ys`` in the MultiPolygons layout: feature → polygon
    → ring) or ``"points"`` (``x``/``y``). ``name`` is unique on the map
    (``<layer id>``, ``<layer id>_fov``, ``<layer id>_bins``).
    """

    name: str
    kind: str
    data: dict[str, list[Any]]
    style: dict[str, Any] = field(default_factory=dict)
    tooltips: list[tuple[str, str]] | None = None

    def __len__(self) -> int:
        return len(self.data["xs"] if self.kind == "polygons" else self.data["x"])


def _rings(geom: Any, shift: Shift | None) -> tuple[list[Any], list[Any]]:
    xs, ys = [], []
    for part in getattr(geom, "geoms", [geom]):
        if part.is_empty:
            continue
        px, py = [], []
        for ring in (part.exterior, *part.interiors):
            c = np.asarray(ring.coords)
            x, y = project(c[:, 0], c[:, 1], shift)
            px.append(x.round(1).tolist())
            py.append(y.round(1).tolist())
        xs.append(px)
        ys.append(py)
    return xs, ys


def polygons_glyph(frame: gpd.GeoDataFrame, spec: LayerSpec, language: str,
                   shift: Shift | None) -> Glyph:
    """One row per feature (parts and holes kept), coloured by the style."""
    geoms = shapely.simplify(np.asarray(frame.geometry.values), _SIMPLIFY_DEG,
                             preserve_topology=True)
    xs, ys = [], []
    for geom in geoms:
        gx, gy = _rings(geom, shift)
        xs.append(gx)
        ys.append(gy)
    data = {"xs": xs, "ys": ys, "id": [int(v) for v in frame["id"]],
            "color": _colors(frame, spec), **_popup_columns(frame, spec)}
    style = spec.style
    return Glyph(spec.id, "polygons", data, {
        "fill_color": "color", "line_color": style.line_color, "line_width": style.line_width,
        "fill_alpha": style.fill_alpha, "hover_fill_alpha": min(1.0, style.fill_alpha + 0.25),
        "hover_line_color": "#ffffff"}, tooltips(spec, language))


def points_glyph(frame: gpd.GeoDataFrame, spec: LayerSpec, language: str,
                 shift: Shift | None) -> Glyph:
    """Points coloured by the style, hover with the popup fields."""
    x, y = project(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy(), shift)
    data = {"x": x.round(1).tolist(), "y": y.round(1).tolist(),
            "id": [int(v) for v in frame["id"]], "color": _colors(frame, spec),
            **_popup_columns(frame, spec)}
    style = spec.style
    return Glyph(spec.id, "points", data, {
        "fill_color": "color", "size": style.size, "line_color": style.line_color,
        "fill_alpha": style.fill_alpha}, tooltips(spec, language))


def wedges_glyph(frame: gpd.GeoDataFrame, spec: LayerSpec, shift: Shift | None,
                 steps: int = 8) -> Glyph:
    """Field-of-view wedges: apex at the camera, ``fov_deg`` wide, ``range_m`` long.

    Built in local metres (east/north) and converted to degrees on the spot, exact enough at
    2 km, so a wedge keeps its true size at any zoom.
    """
    n = len(frame)
    lon0 = frame.geometry.x.to_numpy()[:, None]
    lat0 = frame.geometry.y.to_numpy()[:, None]
    az, fov, rng = (frame[c].to_numpy(dtype=float)[:, None]
                    for c in ("azimuth_deg", "fov_deg", "range_m"))
    angles = np.radians(az + fov * (np.linspace(-0.5, 0.5, steps + 1)[None, :]))
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * np.cos(np.radians(lat0))
    lon = np.hstack([lon0, lon0 + rng * np.sin(angles) / m_per_deg_lon, lon0])
    lat = np.hstack([lat0, lat0 + rng * np.cos(angles) / m_per_deg_lat, lat0])
    x, y = project(lon.ravel(), lat.ravel(), shift)
    x, y = x.reshape(n, -1).round(1), y.reshape(n, -1).round(1)
    data = {"xs": [[[row]] for row in x.tolist()], "ys": [[[row]] for row in y.tolist()],
            "id": [int(v) for v in frame["id"]], "color": _colors(frame, spec)}
    return Glyph(f"{spec.id}_fov", "polygons", data,
                 {"fill_color": "color", "line_alpha": 0.0, "fill_alpha": 0.18})


BIN_PALETTE = ("#1d3b53", "#23607a", "#2a8a8c", "#5bb174", "#b8d55a", "#f9d93d", "#fd8d3c",
               "#e6194b")


def bins_glyph(bins: gpd.GeoDataFrame, spec: LayerSpec, language: str,
               shift: Shift | None) -> Glyph:
    """Heat bins as polygons coloured from dark to bright by count (log scale)."""
    counts = [int(n) for n in bins["count"]] if len(bins) else []
    top = max(counts, default=1)
    xs, ys, colors = [], [], []
    for geom, n in zip(bins.geometry.values, counts, strict=True):
        gx, gy = _rings(geom, shift)
        xs.append(gx)
        ys.append(gy)
        level = int((len(BIN_PALETTE) - 1) * math.log1p(n) / math.log1p(max(top, 1)))
        colors.append(BIN_PALETTE[level])
    tips = [("事件数" if language != "en" else "events", "@count")]
    data = {"xs": xs, "ys": ys, "count": counts, "color": colors}
    return Glyph(f"{spec.id}_bins", "polygons", data,
                 {"fill_color": "color", "line_alpha": 0.0, "fill_alpha": 0.65}, tips)


@dataclass(frozen=True)
class BuiltLayer:
    """What one layer puts on the map: its glyphs, how many features, whether binned."""

    spec: LayerSpec
    glyphs: list[Glyph]
    features: int
    binned: bool = False
    bin_size_m: float | None = None


def bin_size_for(bbox: BBox, bins_across: int) -> float:
    """A bin edge (m) giving about ``bins_across`` bins over the bbox width, on a stable ladder
    (25 m · 2^k) so panning does not change it."""
    x0, y0, x1, _ = bbox
    width_m = (x1 - x0) * 111_320.0 * math.cos(math.radians(y0))
    raw = max(width_m / bins_across, 25.0)
    return float(min(20_000.0, 25.0 * 2 ** round(math.log2(raw / 25.0))))


def count_in_view(session: Session, spec: LayerSpec, bbox: BBox | None) -> int:
    """How many features of a query layer fall in ``bbox`` (cheap: an index count)."""
    alias = _ALIAS.get(spec.source.query or "", "t")
    where, params = _where(spec, bbox, alias)
    inner = QUERIES[spec.source.query] if spec.source.query else None
    if inner is None:
        sql = f"SELECT count(*) FROM {spec.source.table} t WHERE {where}"
    else:
        sql = f"SELECT count(*) FROM ({inner.format(where=where)}) q"
    params.update(now=dt.datetime.now(dt.UTC), yellow=YELLOW_SHARE, open=list(OPEN_STATUSES))
    return int(session.execute(sa.text(sql), params).scalar_one())


def build_layer(session: Session, spec: LayerSpec, *, language: str = "zh",
                shift: Shift | None = None, bbox: BBox | None = None,
                now: dt.datetime | None = None) -> BuiltLayer:
    """Turn ``spec`` into Bokeh-ready glyph columns for the current view.

    Parameters
    ----------
    session
        An open session.
    spec
        The layer.
    language
        ``"zh"`` or ``"en"`` for labels and tooltips.
    shift
        Datum shift applied before projecting (GCJ-02 for Gaode tiles), or None.
    bbox
        The visible area (min lon, min lat, max lon, max lat); None for everything.
    now
        The clock for three-light states (now when None).

    Returns
    -------
    BuiltLayer
        For an ``aggregate`` layer with more than ``max_points`` features in view, a single
        bins glyph (``binned=True``); otherwise the features (plus wedges for cameras).
    """
    agg = spec.aggregate
    if agg is not None:
        total = count_in_view(session, spec, bbox)
        if total > agg.max_points:
            view = bbox or _extent(session)
            size = bin_size_for(view, agg.bins_across)
            bins = heat_bins(session, size_m=size, shape=agg.shape, bbox=bbox,
                             statuses=list(OPEN_STATUSES))
            return BuiltLayer(spec, [bins_glyph(bins, spec, language, shift)], total,
                              binned=True, bin_size_m=size)
    frame = fetch(session, spec, bbox=bbox, now=now, language=language)
    if spec.geometry == "point":
        glyphs: list[Glyph] = []
        if spec.fov_wedges:
            glyphs.append(wedges_glyph(frame, spec, shift))
        glyphs.append(points_glyph(frame, spec, language, shift))
        return BuiltLayer(spec, glyphs, len(frame))
    return BuiltLayer(spec, [polygons_glyph(frame, spec, language, shift)], len(frame))


def _extent(session: Session) -> BBox:
    row = session.execute(sa.text(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
        "FROM (SELECT ST_Extent(geom) AS b FROM district) d")).one()
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def glyph_count(glyphs: Sequence[Glyph]) -> int:
    """How many glyphs (points, polygons, bins) the layer sends to the browser."""
    return sum(len(g) for g in glyphs)
