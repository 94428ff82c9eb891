"""Camera coverage: fields of view as wedges, what share of each grid and courtyard they see.

Rules (see ``docs/reports.md``):

* A camera's field of view is a circular sector (wedge) on the EPSG:4544 plane: apex at the
  camera, radius ``range_m``, centred on ``azimuth_deg`` (clockwise from north) and ``fov_deg``
  wide; a 360° camera sees a disc. Arcs are drawn with a vertex every :data:`ARC_STEP_DEG`
  degrees. Grid north and true north differ by the meridian convergence, ~0.03° here: ignored.
* A camera is **working** only when ``health_status == 'online'``; every wedge near the area is
  returned with a ``working`` flag, but only working ones cover anything.
* Covered area of a grid or courtyard = area of its intersection with the union of the working
  wedges (overlapping cameras count once); ``share = covered_m2 / area_m2``.
* An event is inside a view when its point (``event.geom_m``) lies in or on a working wedge;
  ``events_outside`` lists the events reported in the period, in the area, that lie in none.

Speed: wedges are built with numpy and shapely in one pass; each grid or courtyard is
intersected only with the union of the few wedges an STRtree finds for it, never with the
union of all of them.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from gis.catalog import CATEGORY_BY_CODE, label
from gis.coords import METRIC_CRS, STORAGE_CRS
from gis.reports.area import AREA_JOIN, area_condition, area_params
from gis.reports.frames import column_frame, geo_frame, to_wgs84
from gis.reports.model import Area, Coverage, Period

__all__ = ["ARC_STEP_DEG", "camera_coverage", "wedge"]

#: Degrees between two vertices of a wedge's arc (≤ 0.4 % area error for a 5° step).
ARC_STEP_DEG = 5.0
WORKING_STATUS = "online"
#: The schema's upper bound of ``camera.range_m`` (CHECK ``camera_range``).
MAX_RANGE_M = 2000.0

_TO_METRIC = pyproj.Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True)
_TO_WGS84 = pyproj.Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True)

_CAMERAS = """
SELECT c.code, c.name_zh, c.source, c.health_status, ST_X(p), ST_Y(p), c.azimuth_deg,
       c.fov_deg, c.range_m
FROM camera c, LATERAL ST_Transform(c.geom, 4544) p
WHERE c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
ORDER BY c.code
"""
_GRIDS = """
SELECT g.code, g.name_zh, ST_AsBinary(ST_Transform(g.geom, 4544))
FROM grid g LEFT JOIN community c ON c.id = g.community_id
WHERE {area} ORDER BY g.code
"""
_COURTYARDS = """
SELECT y.code, y.name_zh, y.households, ST_AsBinary(ST_Transform(y.geom, 4544)),
       ST_AsBinary(y.geom)
FROM courtyard y {join}
WHERE {area} ORDER BY y.code
"""
_EVENTS = """
SELECT e.id, e.category_code AS category, extract(epoch FROM e.reported_at)::float8 AS epoch,
       ST_X(e.geom_m) AS x, ST_Y(e.geom_m) AS y
FROM event e {join}
WHERE ({area}) AND e.reported_at >= :start AND e.reported_at < :end
"""


def wedge(x: float, y: float, azimuth_deg: float, fov_deg: float, range_m: float
          ) -> shapely.Polygon:
    """The field of view of a camera at ``(x, y)`` (metres) as a polygon.

    Examples
    --------
    >>> w = wedge(0, 0, 90, 90, 10)          # looking east, 90° wide, 10 m
    >>> round(w.area, 1), w.bounds[0], round(w.bounds[2], 6)
    (78.4, 0.0, 10.0)
    >>> round(wedge(0, 0, 0, 360, 10).area)  # a dome camera: a disc (~π·r²)
    314
    """
    if fov_deg >= 360.0:
        angles = np.radians(np.linspace(0.0, 360.0, int(360 / ARC_STEP_DEG), endpoint=False))
        return shapely.Polygon(np.column_stack([x + range_m * np.sin(angles),
                                                y + range_m * np.cos(angles)]))
    n = max(2, math.ceil(fov_deg / ARC_STEP_DEG) + 1)
    angles = np.radians(np.linspace(azimuth_deg - fov_deg / 2, azimuth_deg + fov_deg / 2, n))
    arc = np.column_stack([x + range_m * np.sin(angles), y + range_m * np.cos(angles)])
    return shapely.Polygon(np.vstack([[x, y], arc]))


def _to_metric(geom: BaseGeometry) -> BaseGeometry:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = _TO_METRIC.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, apply)


def _reach(area_m: BaseGeometry) -> dict[str, float]:
    """A WGS84 box around the area widened by the longest allowed range (2 km)."""
    x0, y0, x1, y1 = area_m.bounds
    box = to_wgs84(shapely.box(x0 - MAX_RANGE_M, y0 - MAX_RANGE_M, x1 + MAX_RANGE_M,
                               y1 + MAX_RANGE_M).segmentize(500.0))
    return dict(zip(("x0", "y0", "x1", "y1"), box.bounds, strict=True))


def _covered(targets: np.ndarray, wedges: np.ndarray) -> np.ndarray:
    """Area of each target under the union of ``wedges`` (all in metres)."""
    covered = np.zeros(len(targets))
    if len(wedges) == 0 or len(targets) == 0:
        return covered
    tree = shapely.STRtree(wedges)
    target_idx, wedge_idx = tree.query(targets, predicate="intersects")
    order = np.argsort(target_idx, kind="stable")
    target_idx, wedge_idx = target_idx[order], wedge_idx[order]
    bounds = np.flatnonzero(np.diff(target_idx)) + 1
    for t_group, w_group in zip(np.split(target_idx, bounds), np.split(wedge_idx, bounds),
                                strict=True):
        if len(t_group) == 0:
            continue
        seen = shapely.union_all(wedges[w_group])
        covered[t_group[0]] = shapely.intersection(targets[t_group[0]], seen).area
    return covered


def camera_coverage(session: Session, area: Area, period: Period) -> Coverage:
    """Camera coverage of ``area`` and the period's events outside every working view.

    Parameters
    ----------
    session
        An open session.
    area, period
        Grids and courtyards of the area (through their grid, like the KPIs); events reported
        in the period in the area.

    Returns
    -------
    Coverage
        See :class:`gis.reports.model.Coverage`. Wedges are those of every camera whose view
        reaches the area, working or not.
    """
    area_m = _to_metric(area.geometry)
    shapely.prepare(area_m)
    cams = session.execute(sa.text(_CAMERAS), _reach(area_m)).all()
    shapes = np.array([wedge(r[4], r[5], r[6], r[7], r[8]) for r in cams], dtype=object)
    near = shapely.intersects(area_m, shapes) if len(shapes) else np.zeros(0, bool)
    cams = [c for c, keep in zip(cams, near, strict=True) if keep]
    shapes = shapes[near]
    working = np.array([c[3] == WORKING_STATUS for c in cams], dtype=bool)
    seeing = shapes[working]
    wedges = gpd.GeoDataFrame(
        pd.DataFrame([(c[0], c[1], c[2], c[3]) for c in cams],
                     columns=["camera_code", "name_zh", "source", "health_status"]
                     ).assign(working=working),
        geometry=gpd.GeoSeries(to_wgs84(shapes) if len(shapes) else [], crs=STORAGE_CRS),
        crs=STORAGE_CRS)

    params = {**area_params(area), "start": period.start, "end": period.end}
    grid_rows = session.execute(sa.text(_GRIDS.format(area=area_condition(area))), params).all()
    grid_geoms = shapely.from_wkb([bytes(r[2]) for r in grid_rows])
    grid_area = shapely.area(grid_geoms) if len(grid_rows) else np.zeros(0)
    grid_cov = _covered(np.asarray(grid_geoms, dtype=object), seeing)
    grids = pd.DataFrame({"code": [r[0] for r in grid_rows],
                          "name_zh": [r[1] for r in grid_rows],
                          "area_m2": grid_area, "covered_m2": grid_cov})
    grids["share"] = _share(grids)

    yard_rows = session.execute(sa.text(_COURTYARDS.format(
        join=AREA_JOIN.format(alias="y"), area=area_condition(area))), params).all()
    yard_geoms = np.asarray(shapely.from_wkb([bytes(r[3]) for r in yard_rows]), dtype=object)
    yards = geo_frame([(r[0], r[1], int(r[2]), r[4]) for r in yard_rows],
                      ["code", "name_zh", "households"])
    yards.insert(3, "area_m2", shapely.area(yard_geoms) if len(yard_rows) else [])
    yards.insert(4, "covered_m2", _covered(yard_geoms, seeing))
    yards.insert(5, "share", _share(yards))
    uncovered = yards[yards["share"] == 0].reset_index(drop=True)

    seen_union = shapely.union_all(seeing) if len(seeing) else shapely.Polygon()
    shapely.prepare(seen_union)
    events_outside = _outside(session, area, period, seen_union)
    total = area_m.area
    share = float(shapely.intersection(area_m, seen_union).area / total) if total else None
    return Coverage(wedges=wedges, grids=grids, courtyards=yards,
                    uncovered_courtyards=uncovered, events_outside=events_outside,
                    share_of_area=share)


def _outside(session: Session, area: Area, period: Period, seen: BaseGeometry
             ) -> gpd.GeoDataFrame:
    """Events of the period in the area lying in no working wedge (``seen``, prepared)."""
    # Plain numbers in one array per column (epoch seconds, metres): a million rows of
    # datetimes and point geometries cost seconds to parse; lon/lat are projected back only
    # for the events that are kept, and the order (by time) is set here, not by a sort of
    # every event in the database.
    frame = column_frame(session, _EVENTS.format(join=AREA_JOIN.format(alias="e"),
                                                 area=area_condition(area)),
                         {**area_params(area), "start": period.start, "end": period.end},
                         ["id", "category", "epoch", "x", "y"])
    frame = frame.sort_values(["epoch", "id"], kind="stable", ignore_index=True)
    if len(frame) and not seen.is_empty:
        hit = shapely.intersects_xy(seen, frame["x"].to_numpy(float),
                                    frame["y"].to_numpy(float))
        frame = frame[~hit].reset_index(drop=True)
    lon, lat = _TO_WGS84.transform(frame["x"].to_numpy(float), frame["y"].to_numpy(float))
    labels = {c: label(CATEGORY_BY_CODE, c) for c in frame["category"].unique()}
    out = pd.DataFrame({
        "id": frame["id"].astype("int64"), "category": frame["category"].astype(object),
        "label_zh": frame["category"].map(labels).astype(object),
        "reported_at": pd.to_datetime(frame["epoch"].astype(float), unit="s", utc=True
                                      ).dt.tz_convert(period.start.tzinfo)})
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat, crs=STORAGE_CRS),
                            crs=STORAGE_CRS)


def _share(frame: pd.DataFrame) -> pd.Series:
    area = frame["area_m2"].astype(float)
    # Rounding noise of the overlay can exceed the area by a few mm²: clip to 1.
    return (frame["covered_m2"].astype(float) / area.where(area > 0)).clip(upper=1.0)
