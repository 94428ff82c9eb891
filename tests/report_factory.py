"""Small hand-made :class:`gis.reports.model.Report` objects for the renderers' tests.

The numbers are made up but consistent (closed on time <= closed, shares in 0..1) and the
geometries sit in Shizhong District (Neijiang), so the renderers can be tested without a
database. ``empty_report`` keeps every column with no row, as ``build_report`` does for an area
or period without events.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point, Polygon, box

from gis.reports.model import Area, Coverage, Period, Report

TZ = ZoneInfo("Asia/Shanghai")
LON, LAT = 105.058, 29.583  # near the district's government

KPI_MEASURES = [
    ("reported", "上报事件", "events reported"), ("closed", "办结事件", "events closed"),
    ("closed_on_time", "按期办结", "closed on time"),
    ("on_time_rate", "按期办结率", "on-time rate"),
    ("open", "未结事件", "open events"), ("overdue", "超期未结", "open and overdue"),
    ("red", "红灯", "red lights"), ("yellow", "黄灯", "yellow lights"),
]
BREAKDOWN = ["code", "label_zh", "label_en", "reported", "closed", "closed_on_time",
             "on_time_rate", "reported_previous", "change"]


def _cell(i: int, j: int, size: float = 0.004) -> Polygon:
    x, y = LON + i * size, LAT + j * size
    return box(x, y, x + size, y + size)


def _gdf(rows: list[dict], columns: list[str]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def _wedge(lon: float, lat: float, azimuth: float) -> Polygon:
    import math

    pts = [(lon, lat)]
    for k in range(7):
        a = math.radians(azimuth - 30 + k * 10)
        pts.append((lon + 0.0008 * math.sin(a), lat + 0.0007 * math.cos(a)))
    return Polygon(pts)


def period_2026_10() -> Period:
    return Period(dt.datetime(2026, 10, 1, tzinfo=TZ), dt.datetime(2026, 11, 1, tzinfo=TZ),
                  "2026-10", "month")


def street_area() -> Area:
    return Area("street", "511002-001", "玉溪街道", "Yuxi Subdistrict",
                box(LON, LAT, LON + 0.012, LAT + 0.008))


def _kpis(values: dict[str, float | None], previous: dict[str, float | None]) -> pd.DataFrame:
    rows = []
    for measure, zh, en in KPI_MEASURES:
        v, p = values.get(measure), previous.get(measure)
        change = None if v is None or p is None else v - p
        rows.append([measure, zh, en, v, p, change])
    return pd.DataFrame(rows, columns=["measure", "label_zh", "label_en", "value", "previous",
                                       "change"])


def sample_report() -> Report:
    """A street with six grids and a little of everything."""
    grids = _gdf([
        {"code": f"511002-001-001-0{k + 1}", "name_zh": f"第{k + 1}网格",
         "street_zh": "玉溪街道", "community_zh": "玉溪社区" if k < 3 else "桂湖社区",
         "reported": 10 + 3 * k, "closed": 8 + 2 * k, "closed_on_time": 7 + k,
         "on_time_rate": (7 + k) / (8 + 2 * k), "geometry": _cell(k % 3, k // 3)}
        for k in range(6)],
        ["code", "name_zh", "street_zh", "community_zh", "reported", "closed",
         "closed_on_time", "on_time_rate", "geometry"])
    density = _gdf([{"events": n, "geometry": _cell(i, j, 0.002)}
                    for (i, j), n in {(0, 0): 5, (1, 0): 12, (2, 1): 3, (4, 2): 7}.items()],
                   ["events", "geometry"])
    red = _gdf([
        {"id": 101, "category": "road_damage", "label_zh": "道路破损", "status": "dispatched",
         "deadline_at": dt.datetime(2026, 10, 20, 18, tzinfo=TZ), "supervised": True,
         "geometry": Point(LON + 0.003, LAT + 0.002)},
        {"id": 102, "category": "garbage", "label_zh": "垃圾堆放", "status": "handling",
         "deadline_at": dt.datetime(2026, 10, 28, 9, tzinfo=TZ), "supervised": False,
         "geometry": Point(LON + 0.007, LAT + 0.005)}],
        ["id", "category", "label_zh", "status", "deadline_at", "supervised", "geometry"])
    hotspots = _gdf([
        {"cluster": 1, "events": 14, "top_category": "garbage", "label_zh": "垃圾堆放",
         "geometry": Point(LON + 0.004, LAT + 0.003).buffer(0.0008)}],
        ["cluster", "events", "top_category", "label_zh", "geometry"])
    cats = [("garbage", "垃圾堆放", "garbage", 30, 25, 24, 0.96, 28, 2),
            ("road_damage", "道路破损", "road damage", 20, 15, 12, 0.8, 22, -2),
            ("noise", "噪声扰民", "noise", 7, 6, 6, 1.0, 0, 7)]
    by_category = pd.DataFrame(cats, columns=BREAKDOWN)
    by_source = pd.DataFrame([("grid_worker", "网格员巡查", "grid worker", 40, 33, 31, 31 / 33,
                               35, 5), ("hotline", "12345热线", "12345 hotline", 17, 13, 11,
                                        11 / 13, 15, 2)], columns=BREAKDOWN)
    by_department = pd.DataFrame([("cgj", "城管局", "urban management", 37, 31, 30, 30 / 31, 30,
                                   7), ("jtj", "交通局", "transport", 20, 15, 12, 0.8, 20, 0)],
                                 columns=BREAKDOWN)
    weeks = [dt.date(2026, 9, 28) + dt.timedelta(weeks=k) for k in range(5)]
    weekly = pd.DataFrame({"week_start": weeks, "reported": [9, 14, 12, 15, 7],
                           "closed": [8, 12, 11, 10, 5], "closed_on_time": [8, 11, 10, 9, 5]})
    weekly["on_time_rate"] = weekly.closed_on_time / weekly.closed
    renovation = pd.DataFrame([
        (2024, "completed", "已完成", 5, 320, 150, 0.82),
        (2025, "in_progress", "改造中", 4, 260, 120, 0.74),
        (2026, "planned", "已列入计划", 6, 410, 90, 0.66),
        (None, "not_started", "未改造", 9, 700, 40, 0.5)],
        columns=["batch", "status", "label_zh", "courtyards", "households", "surveyed",
                 "willing_share"])
    before_after = pd.DataFrame([
        ("CY-0001", "白马院", 2024, dt.date(2024, 11, 30), 80, 120, 9, 4, 11.25, 5.0, -6.25, 40,
         4.2),
        ("CY-0002", "桂湖院", 2024, dt.date(2024, 12, 15), 60, 120, 5, 5, 8.33, 8.33, 0.0, 25,
         3.9)],
        columns=["courtyard_code", "name_zh", "batch", "completed_on", "households",
                 "window_days", "events_before", "events_after", "per100_before",
                 "per100_after", "change", "survey_responses", "satisfaction"])
    by_batch = pd.DataFrame([(2024, 2, 140, 10.0, 6.43, -3.57)],
                            columns=["batch", "courtyards", "households", "per100_before",
                                     "per100_after", "change"])
    wedges = _gdf([
        {"camera_code": f"CAM-{k:04d}", "name_zh": f"摄像机{k}", "source": "skynet",
         "health_status": "online" if k != 2 else "offline", "working": k != 2,
         "geometry": _wedge(LON + 0.002 + 0.003 * k, LAT + 0.002, 45.0 * k)} for k in range(4)],
        ["camera_code", "name_zh", "source", "health_status", "working", "geometry"])
    cov_grids = pd.DataFrame([(g, n, 160000.0, 160000.0 * s, s) for g, n, s in
                              zip(grids.code, grids.name_zh, [0.3, 0.1, 0.0, 0.05, 0.2, 0.0],
                                  strict=True)],
                             columns=["code", "name_zh", "area_m2", "covered_m2", "share"])
    courtyards = _gdf([
        {"code": f"CY-000{k + 1}", "name_zh": f"院落{k + 1}", "households": 40 + 10 * k,
         "area_m2": 3000.0, "covered_m2": 3000.0 * s, "share": s,
         "geometry": _cell(k, 1, 0.0012)} for k, s in enumerate([0.5, 0.0, 0.0, 1.0])],
        ["code", "name_zh", "households", "area_m2", "covered_m2", "share", "geometry"])
    outside = _gdf([
        {"id": 200 + k, "category": "garbage", "label_zh": "垃圾堆放",
         "reported_at": dt.datetime(2026, 10, 3 + k, 9, 30, tzinfo=TZ),
         "geometry": Point(LON + 0.001 * k, LAT + 0.006)} for k in range(5)],
        ["id", "category", "label_zh", "reported_at", "geometry"])
    coverage = Coverage(wedges=wedges, grids=cov_grids, courtyards=courtyards,
                        uncovered_courtyards=courtyards[courtyards.share == 0],
                        events_outside=outside, share_of_area=0.11)
    return Report(
        area=street_area(), period=period_2026_10(),
        generated_at=dt.datetime(2026, 11, 2, 8, 30, tzinfo=TZ), timezone="Asia/Shanghai",
        kpis=_kpis({"reported": 57, "closed": 46, "closed_on_time": 43,
                    "on_time_rate": 43 / 46, "open": 11, "overdue": 2, "red": 2, "yellow": 1},
                   {"reported": 50, "closed": 45, "closed_on_time": 44, "on_time_rate": 44 / 45,
                    "open": 9, "overdue": 1, "red": 1, "yellow": 3}),
        by_category=by_category, by_source=by_source, by_department=by_department,
        weekly=weekly, grids=grids, density=density, red_events=red, hotspots=hotspots,
        renovation=renovation, before_after=before_after, before_after_by_batch=by_batch,
        coverage=coverage, density_cell_m=200.0, notes=["示例数据 / sample data"])


def empty_report() -> Report:
    """The same street in a period without a single event: every table keeps its columns."""
    full = sample_report()

    def none(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[0:0].copy()

    cov = full.coverage
    return Report(
        area=full.area, period=Period(dt.datetime(2031, 1, 1, tzinfo=TZ),
                                      dt.datetime(2031, 2, 1, tzinfo=TZ), "2031-01", "month"),
        generated_at=full.generated_at, timezone=full.timezone,
        kpis=_kpis({m: 0 for m, _, _ in KPI_MEASURES} | {"on_time_rate": None},
                   {m: 0 for m, _, _ in KPI_MEASURES} | {"on_time_rate": None}),
        by_category=none(full.by_category), by_source=none(full.by_source),
        by_department=none(full.by_department), weekly=none(full.weekly),
        grids=full.grids.assign(reported=0, closed=0, closed_on_time=0, on_time_rate=None),
        density=none(full.density), red_events=none(full.red_events),
        hotspots=none(full.hotspots), renovation=none(full.renovation),
        before_after=none(full.before_after),
        before_after_by_batch=none(full.before_after_by_batch),
        coverage=Coverage(wedges=none(cov.wedges), grids=none(cov.grids),
                          courtyards=none(cov.courtyards),
                          uncovered_courtyards=none(cov.uncovered_courtyards),
                          events_outside=none(cov.events_outside), share_of_area=None))
