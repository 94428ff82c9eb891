"""The report's maps: grids for the choropleth, density bins, red events and hot spots.

* **Grids**: every grid of the area with its period counts (``reported``, ``closed``,
  ``closed_on_time``, ``on_time_rate``), the same definitions and SQL fragments as the KPIs,
  so a grid's row equals :func:`gis.queries.kpi.kpis` at grid level.
* **Density**: square bins of ``cell_m`` metres on the EPSG:4544 plane over the events
  reported in the period, counted in the database with :mod:`gis.queries.heat`'s arithmetic
  on ``event.geom_m`` (restricted to the area, which ``heat_bins`` cannot do).
* **Red events**: events of the area open and red at ``T = min(period end, now)`` (the light
  rule of :mod:`gis.reports.kpis`), so their number is the KPI ``red``.
* **Hot spots**: DBSCAN in metres (EPSG:4544) over the events reported in the period, run on
  events counted per ``eps/5`` lattice cell (:mod:`gis.reports.clusters`; ``ST_ClusterDBSCAN``
  point by point takes minutes on a million events): a place with at least ``min_points``
  events within ``eps_m`` metres is a core; clusters are numbered by size (1 = largest).
  ``min_points`` defaults to :func:`default_min_points` of the period's length, because a
  fixed value finds nothing in a month and one district-wide chain in a year. Geometry: the
  convex hull of the cluster's cells buffered by :data:`HULL_PAD_M`.
"""

from __future__ import annotations

import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import CATEGORY_BY_CODE, OPEN_STATUSES, label
from gis.coords import STORAGE_CRS
from gis.loop.sla import CLOSED_IN_PERIOD_SQL, ON_TIME_SQL
from gis.queries import heat
from gis.reports.area import AREA_JOIN, area_condition, area_params
from gis.reports.clusters import lattice_dbscan
from gis.reports.errors import ReportError
from gis.reports.frames import column_frame, geo_frame, hash_grouping, to_wgs84
from gis.reports.kpis import light_at, open_at
from gis.reports.model import Area, Period

__all__ = ["DEFAULT_EPS_M", "DEFAULT_MIN_POINTS", "default_min_points", "density_bins",
           "grid_counts", "hotspots", "red_events"]

#: DBSCAN radius: half an urban block (~230 m in the demo's core).
DEFAULT_EPS_M = 100.0
#: Core-point size for a quarter (91 days); see :func:`default_min_points` for other lengths.
DEFAULT_MIN_POINTS = 8
#: Buffer around a cluster's convex hull, metres.
HULL_PAD_M = 15.0

GRID_COLUMNS = ["code", "name_zh", "street_zh", "community_zh", "reported", "closed",
                "closed_on_time", "on_time_rate"]
_PERIOD = "(e.reported_at >= :start AND e.reported_at < :end)"

_GRIDS = f"""
SELECT g.code, g.name_zh, s.name_zh, c.name_zh,
       COALESCE(a.reported, 0), COALESCE(a.closed, 0), COALESCE(a.closed_on_time, 0),
       ST_AsBinary(g.geom)
FROM grid g
LEFT JOIN community c ON c.id = g.community_id
LEFT JOIN street s ON s.id = c.street_id
LEFT JOIN (
  SELECT e.grid_id, count(*) FILTER (WHERE {_PERIOD}) AS reported,
         count(*) FILTER (WHERE {CLOSED_IN_PERIOD_SQL}) AS closed,
         count(*) FILTER (WHERE {CLOSED_IN_PERIOD_SQL} AND {ON_TIME_SQL}) AS closed_on_time
  FROM event e
  WHERE e.grid_id IS NOT NULL
    AND ({_PERIOD} OR (e.closed_at >= :start AND e.closed_at < :end))
  GROUP BY e.grid_id
) a ON a.grid_id = g.id
WHERE {{area}}
ORDER BY g.code
"""


def grid_counts(session: Session, area: Area, period: Period) -> gpd.GeoDataFrame:
    """Every grid of ``area`` with its period counts and on-time rate (choropleth)."""
    rows = session.execute(sa.text(_GRIDS.format(area=area_condition(area))),
                           {**area_params(area), "start": period.start, "end": period.end}
                           ).all()
    frame = geo_frame(rows, GRID_COLUMNS[:-1])
    for c in ("reported", "closed", "closed_on_time"):
        frame[c] = frame[c].astype("int64")
    rate = frame["closed_on_time"] / frame["closed"].where(frame["closed"] > 0)
    frame.insert(len(GRID_COLUMNS) - 1, "on_time_rate", rate.astype(float))
    return frame


_DENSITY_CELLS = """
SELECT floor(ST_X(e.geom_m) / :s)::bigint AS i, floor(ST_Y(e.geom_m) / :s)::bigint AS j
FROM event e {join} WHERE ({area}) AND {period}
"""


def density_bins(session: Session, area: Area, period: Period, cell_m: float
                 ) -> gpd.GeoDataFrame:
    """Events of the period per square bin of ``cell_m`` metres: ``events, geometry``."""
    if not (heat.MIN_SIZE_M <= cell_m <= heat.MAX_SIZE_M):
        raise ReportError(f"密度格网大小须在 {heat.MIN_SIZE_M:g}–{heat.MAX_SIZE_M:g} 米之间"
                          f"（{cell_m}）", f"density cells must be {heat.MIN_SIZE_M:g}-"
                          f"{heat.MAX_SIZE_M:g} m ({cell_m})")
    cells = _DENSITY_CELLS.format(join=AREA_JOIN.format(alias="e"), area=area_condition(area),
                                  period=_PERIOD)
    sql = heat._BINS.format(shape=heat._SQUARE_SHAPE, cells=cells)
    with hash_grouping(session):
        rows = session.execute(sa.text(sql), {**area_params(area), "start": period.start,
                                              "end": period.end, "s": float(cell_m)}).all()
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    frame = geo_frame([(int(r[2]), r[3]) for r in rows], ["events"])
    frame["events"] = frame["events"].astype("int64")
    return frame


_RED = """
SELECT e.id, e.category_code, e.status, e.deadline_at, e.supervised, ST_AsBinary(e.geom)
FROM event e {join}
WHERE ({area}) AND e.status <> 'rejected' AND {open_t} AND {light_t} = 'red'
ORDER BY e.deadline_at, e.id
"""


def red_events(session: Session, area: Area, at: dt.datetime, yellow_share: float
               ) -> gpd.GeoDataFrame:
    """Events of ``area`` open and overdue (red) at ``at``."""
    sql = _RED.format(join=AREA_JOIN.format(alias="e"), area=area_condition(area),
                      open_t=open_at("t"), light_t=light_at("t"))
    rows = session.execute(sa.text(sql), {
        **area_params(area), "t": at, "yellow": yellow_share,
        "open_statuses": list(OPEN_STATUSES)}).all()
    frame = geo_frame([(r[0], r[1], label(CATEGORY_BY_CODE, r[1]), r[2], r[3], r[4], r[5])
                       for r in rows],
                      ["id", "category", "label_zh", "status", "deadline_at", "supervised"])
    frame["id"] = frame["id"].astype("int64")
    frame["supervised"] = frame["supervised"].astype(bool)
    return frame


#: Lattice cells per ``eps`` for the clustering (cell side = eps / 5; see gis.reports.clusters).
CELLS_PER_EPS = 5

_HOTSPOT_CELLS = """
SELECT floor(ST_X(e.geom_m) / :s)::bigint AS i, floor(ST_Y(e.geom_m) / :s)::bigint AS j,
       e.category_code AS cat, count(*) AS n
FROM event e {join} WHERE ({area}) AND {period}
GROUP BY 1, 2, 3
"""


def default_min_points(period: Period) -> int:
    """``max(5, round(8 × √(days / 91)))``: 5 for a month, 8 for a quarter, 16 for a year.

    Events per spot grow with the period's length, and so does the chance that a dense core
    chains into a single cluster; the square root (how random counts spread) keeps clusters
    at "markedly more than the neighbourhood" for any length, without per-report tuning.

    Examples
    --------
    >>> from gis.reports.period import parse_period
    >>> [default_min_points(parse_period(p)) for p in ("2026-10", "2026-Q3", "2026")]
    [5, 8, 16]
    """
    days = (period.end - period.start).total_seconds() / 86400
    return max(5, round(DEFAULT_MIN_POINTS * math.sqrt(days / 91)))


def hotspots(session: Session, area: Area, period: Period, *, eps_m: float = DEFAULT_EPS_M,
             min_points: int | None = None) -> gpd.GeoDataFrame:
    """DBSCAN clusters of the period's events: ``cluster, events, top_category, label_zh``.

    Parameters
    ----------
    eps_m
        Neighbourhood radius in metres (EPSG:4544).
    min_points
        Events within ``eps_m`` (the event itself included) that make a core;
        :func:`default_min_points` when None.

    Notes
    -----
    DBSCAN runs on the events counted per lattice cell of ``eps_m / 5`` metres
    (:func:`gis.reports.clusters.lattice_dbscan`), not point by point: the same clusters up to
    the lattice's position error, in about a second for a million events.
    """
    if min_points is None:
        min_points = default_min_points(period)
    if not (1.0 <= eps_m <= 5000.0) or not (2 <= min_points <= 10_000):
        raise ReportError(f"热点参数无效：半径 {eps_m} 米、最少 {min_points} 件（半径 1–5000 米，"
                          "最少 2–10000 件）", f"invalid hot-spot parameters: eps {eps_m} m, "
                          f"min points {min_points} (eps 1-5000 m, min points 2-10000)")
    cell = float(eps_m) / CELLS_PER_EPS
    sql = _HOTSPOT_CELLS.format(join=AREA_JOIN.format(alias="e"), area=area_condition(area),
                                period=_PERIOD)
    with hash_grouping(session):
        counts = column_frame(session, sql, {**area_params(area), "start": period.start,
                                             "end": period.end, "s": cell},
                              ["i", "j", "cat", "n"])
    columns = ["cluster", "events", "top_category", "label_zh"]
    if counts.empty:
        return geo_frame([], columns)
    cells = counts.groupby(["i", "j"], sort=True, as_index=False)["n"].sum()
    cells["label"] = lattice_dbscan(cells["i"], cells["j"], cells["n"],
                                    eps_cells=CELLS_PER_EPS, min_points=int(min_points))
    cells = cells[cells["label"] >= 0]
    if cells.empty:
        return geo_frame([], columns)
    counts = counts.merge(cells[["i", "j", "label"]], on=["i", "j"])
    by_cat = counts.groupby(["label", "cat"], as_index=False)["n"].sum()
    by_cat = by_cat.sort_values(["label", "n", "cat"], ascending=[True, False, True])
    top = by_cat.drop_duplicates("label").set_index("label")["cat"]
    sizes = cells.groupby("label")["n"].sum().sort_values(ascending=False, kind="stable")
    # Each cluster's cells as one slice of the cells sorted by label (no per-cluster scan).
    cells = cells.sort_values("label", kind="stable")
    labels = cells["label"].to_numpy()
    starts = np.searchsorted(labels, sizes.index.to_numpy(), side="left")
    ends = np.searchsorted(labels, sizes.index.to_numpy(), side="right")
    ci, cj = cells["i"].to_numpy() * cell, cells["j"].to_numpy() * cell
    out = []
    for k, (cluster, events, a, b) in enumerate(zip(sizes.index, sizes.to_numpy(), starts,
                                                    ends, strict=True), start=1):
        x, y = ci[a:b], cj[a:b]
        corners = np.column_stack([np.concatenate([x, x + cell, x, x + cell]),
                                   np.concatenate([y, y, y + cell, y + cell])])
        hull = shapely.convex_hull(shapely.multipoints(corners)).buffer(HULL_PAD_M,
                                                                        quad_segs=4)
        code = str(top[cluster])
        out.append((k, int(events), code, label(CATEGORY_BY_CODE, code), hull))
    frame = gpd.GeoDataFrame(
        pd.DataFrame([r[:4] for r in out], columns=columns),
        geometry=gpd.GeoSeries(to_wgs84(np.array([r[4] for r in out], dtype=object)),
                               crs=STORAGE_CRS), crs=STORAGE_CRS)
    return frame
