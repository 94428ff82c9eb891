"""Spatial reports: numbers equal the KPI queries, coverage and before/after are right by hand.

Two databases:

* the module's ``engine`` with the demo district (seeded once): report KPIs against
  :func:`gis.queries.kpi.kpis` and the board for the district, a street, a community and a
  grid, current and previous period; breakdown and weekly sums; empty periods;
* a small hand-built world in its own database (``world``), all in EPSG:4544 metres from an
  origin ``(X0, Y0)`` in the urban core, where every coverage share, uncovered courtyard,
  event outside the views and per-100 number is worked out below::

      y=200 +---------------------+---------------------+
            |        G1           |   Y2 (uncovered)    |
            |    +--Y1--+         |                     |
            |    |  K1  | disc    |      K2 (offline)   |
            |    +------+ r=50    |                     |
            |       Y3 / K5 half  |                 K3 (corner wedge)
        y=0 +---------------------+---------------------+
           x=0                  x=200                 x=400
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis import migrate
from gis.catalog import DEPARTMENTS, EVENT_CATEGORIES
from gis.db import get_engine
from gis.loop.board import board
from gis.queries.kpi import kpis
from gis.reports import ReportError, build_report, parse_period, resolve_area
from gis.reports.coverage import wedge
from gis.reports.period import period_between, previous_period

pytestmark = pytest.mark.db

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)
DEMO_END = dt.date(2026, 11, 26)
DEMO_NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=SHANGHAI)
COUNTS = ("reported", "open", "overdue", "closed", "closed_on_time")


# -- period parsing (no database) -----------------------------------------------------------

@pytest.mark.parametrize(("text", "start", "end", "label", "kind"), [
    ("2026-10", (2026, 10, 1), (2026, 11, 1), "2026-10", "month"),
    ("2026-12", (2026, 12, 1), (2027, 1, 1), "2026-12", "month"),
    ("2026-W40", (2026, 9, 28), (2026, 10, 5), "2026-W40", "week"),
    ("2026-w01", (2025, 12, 29), (2026, 1, 5), "2026-W01", "week"),  # starts the year before
    ("2020-W53", (2020, 12, 28), (2021, 1, 4), "2020-W53", "week"),  # a 53-week year
    ("2026-Q3", (2026, 7, 1), (2026, 10, 1), "2026-Q3", "quarter"),
    ("2026-Q4", (2026, 10, 1), (2027, 1, 1), "2026-Q4", "quarter"),
    ("2026", (2026, 1, 1), (2027, 1, 1), "2026", "year"),
    ("2026-10-01..2026-10-15", (2026, 10, 1), (2026, 10, 16), "2026-10-01..2026-10-15",
     "range"),
    (" 2026-2-1..2026-2-28 ", (2026, 2, 1), (2026, 3, 1), "2026-02-01..2026-02-28", "range"),
    ("2026-03-05", (2026, 3, 5), (2026, 3, 6), "2026-03-05..2026-03-05", "range"),
])
def test_parse_period_gives_local_midnights(text, start, end, label, kind):
    p = parse_period(text, TZ)
    assert p.start == dt.datetime(*start, tzinfo=SHANGHAI)
    assert p.end == dt.datetime(*end, tzinfo=SHANGHAI)
    assert (p.label, p.kind) == (label, kind)


def test_period_bounds_are_shanghai_midnight_not_utc_midnight():
    p = parse_period("2026-W01", TZ)
    assert p.start.utcoffset() == dt.timedelta(hours=8)
    # Monday 29 Dec 2025 00:00 in Shanghai is Sunday 28 Dec 16:00 UTC.
    assert p.start.astimezone(dt.UTC) == dt.datetime(2025, 12, 28, 16, tzinfo=dt.UTC)
    # An event at 23:59:59 UTC+8 on Sunday 4 Jan belongs to W01, one at 00:00 Monday not.
    assert p.start <= dt.datetime(2026, 1, 4, 23, 59, 59, tzinfo=SHANGHAI) < p.end
    assert not dt.datetime(2026, 1, 5, 0, 0, tzinfo=SHANGHAI) < p.end


@pytest.mark.parametrize(("text", "previous"), [
    ("2026-01", "2025-12"), ("2026-W01", "2025-W52"), ("2021-W01", "2020-W53"),
    ("2026-Q1", "2025-Q4"), ("2026", "2025"),
    ("2026-03-01..2026-03-10", "2026-02-19..2026-02-28"),
])
def test_previous_period_is_the_same_kind_just_before(text, previous):
    p = parse_period(text, TZ)
    prev = previous_period(p)
    assert prev.label == previous
    assert prev.end == p.start
    assert p.previous() == prev


@pytest.mark.parametrize("text", ["", "abc", "2026-13", "2026-W54", "2021-W53", "2026-Q5",
                                  "2026-02-30", "2026-03-10..2026-03-01", "26-10", "2026/10",
                                  "3026"])
def test_bad_period_text_is_a_clear_bilingual_error(text):
    with pytest.raises(ReportError) as err:
        parse_period(text, TZ)
    assert "统计周期" in err.value.zh and "period" in err.value.en
    assert "2026-W40" in err.value.zh and "2026-W40" in err.value.en  # says what works
    assert err.value.http_status == 400


def test_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ReportError, match="时区"):
        parse_period("2026", "Mars/Olympus")


def test_wedge_geometry_follows_azimuth_clockwise_from_north():
    east = wedge(0, 0, 90, 10, 100)
    assert east.bounds[0] == 0 and east.bounds[2] == pytest.approx(100)
    assert abs(east.bounds[1]) < 10 and abs(east.bounds[3]) < 10
    north = wedge(0, 0, 0, 10, 100)
    assert north.bounds[3] == pytest.approx(100) and north.bounds[1] == 0
    west_of_north = wedge(0, 0, 315, 90, 100)  # from north-west round to north
    assert west_of_north.bounds == pytest.approx((-100, 0, 0, 100))
    assert wedge(0, 0, 0, 360, 50).area == pytest.approx(_ngon(50, 72))


def _ngon(r: float, n: int) -> float:
    """Area of a regular n-gon inscribed in a circle of radius r (n triangles)."""
    return 0.5 * n * r * r * math.sin(2 * math.pi / n)


# -- the demo district: report numbers equal the KPI queries --------------------------------

@pytest.fixture(scope="module")
def demo(engine, settings):
    from gis.demo import seed_demo

    seed_demo(engine, settings, seed=11, end_date=DEMO_END)
    return engine


@pytest.fixture(scope="module")
def demo_areas(demo) -> dict[str, str]:
    with demo.connect() as conn:
        row = conn.execute(sa.text("""
            SELECT s.code, c.code, g.code FROM grid g JOIN community c ON c.id = g.community_id
            JOIN street s ON s.id = c.street_id
            JOIN event e ON e.grid_id = g.id
            WHERE e.reported_at >= '2026-10-01 00:00+08' AND e.reported_at < '2026-11-01 00:00+08'
            GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 3 LIMIT 1""")).one()
        adcode = conn.execute(sa.text("SELECT adcode FROM district")).scalar_one()
    return {"district": adcode, "street": row[0], "community": row[1], "grid": row[2]}


def _kpi_row(session, kind: str, code: str, start, end):
    level = "street" if kind == "district" else kind
    rows = kpis(session, level=level, start=start, end=end, now=DEMO_NOW)
    if kind == "district":
        return rows[-1]
    return next(r for r in rows if r.area_code == code)


@pytest.mark.parametrize("kind", ["district", "street", "community", "grid"])
@pytest.mark.parametrize("period", ["2026-10", "2026-W40", "2026-Q3"])
def test_report_kpis_equal_the_kpi_query(demo, demo_areas, settings, kind, period):
    code = demo_areas[kind]
    with Session(demo) as s:
        report = build_report(s, None if kind == "district" else code, period,
                              settings=settings, now=DEMO_NOW)
        assert report.area.kind == kind
        table = report.kpis.set_index("measure")
        for which, p in (("value", report.period), ("previous", report.period.previous())):
            row = _kpi_row(s, kind, code, p.start, p.end)
            for measure in COUNTS:
                assert table.loc[measure, which] == getattr(row, measure), (which, measure)
            assert table.loc["on_time_rate", which] == row.on_time_rate
        # Not a comparison of zeros (a grid may see no event in one week).
        assert table.loc["reported", "value"] > 0 or (kind, period) == ("grid", "2026-W40")
        assert report.empty == (table.loc["reported", "value"] + table.loc["closed", "value"]
                                == 0)
        change = table.loc["reported", "value"] - table.loc["reported", "previous"]
        assert table.loc["reported", "change"] == change


@pytest.mark.parametrize("kind", ["district", "street"])
def test_breakdowns_and_weeks_sum_to_the_totals(demo, demo_areas, settings, kind):
    with Session(demo) as s:
        report = build_report(s, demo_areas[kind], "2026-Q3", settings=settings,
                              now=DEMO_NOW)
    total = report.kpis.set_index("measure")["value"]
    previous = report.kpis.set_index("measure")["previous"]
    for frame in (report.by_category, report.by_source, report.by_department):
        for c in ("reported", "closed", "closed_on_time"):
            assert frame[c].sum() == total[c], c
        assert frame["reported_previous"].sum() == previous["reported"]
        assert (frame["change"] == frame["reported"] - frame["reported_previous"]).all()
    assert len(report.by_category) >= 8  # most categories occur in a quarter
    weekly = report.weekly
    assert weekly["week_start"].iloc[0] == dt.date(2026, 6, 29)  # the Monday before 1 July
    assert weekly["week_start"].iloc[-1] == dt.date(2026, 9, 28)
    assert all(d.weekday() == 0 for d in weekly["week_start"])
    for c in ("reported", "closed", "closed_on_time"):
        assert weekly[c].sum() == total[c], c


def test_grid_choropleth_equals_the_grid_kpis(demo, demo_areas, settings):
    with Session(demo) as s:
        report = build_report(s, demo_areas["street"], "2026-10", settings=settings,
                              now=DEMO_NOW)
        rows = {r.area_code: r for r in kpis(s, level="grid", start=report.period.start,
                                               end=report.period.end, now=DEMO_NOW)}
        n_grids = s.execute(sa.text("""
            SELECT count(*) FROM grid g JOIN community c ON c.id = g.community_id
            JOIN street s ON s.id = c.street_id WHERE s.code = :c"""),
                            {"c": demo_areas["street"]}).scalar_one()
    assert len(report.grids) == n_grids
    assert report.grids.crs.to_epsg() == 4326
    for g in report.grids.itertuples():
        row = rows[g.code]
        assert (g.reported, g.closed, g.closed_on_time) == (
            row.reported, row.closed, row.closed_on_time)
    assert report.grids["reported"].sum() == report.kpis.set_index("measure").loc[
        "reported", "value"]
    assert report.density["events"].sum() == report.grids["reported"].sum()


def test_lights_equal_the_board_when_the_period_contains_now(demo, demo_areas, settings):
    now = DEMO_NOW  # after the last demo event: "open at now" is "open" for the board too
    with Session(demo) as s:
        district = build_report(s, None, "2026-11", settings=settings, now=now)
        street = build_report(s, demo_areas["street"], "2026-11", settings=settings, now=now)
        rows = board(s, level="street", now=now)
    total = rows[-1]
    by_code = {r.area_code: r for r in rows}
    for report, row in ((district, total), (street, by_code[demo_areas["street"]])):
        table = report.kpis.set_index("measure")
        assert table.loc["red", "value"] == row.red
        assert table.loc["yellow", "value"] == row.yellow
        assert len(report.red_events) == row.red
    assert total.red > 0  # the demo has stuck events: the comparison is not 0 == 0
    assert any("尚未结束" in n for n in district.notes)


def test_hotspots_and_density_cover_the_period(demo, settings):
    with Session(demo) as s:
        report = build_report(s, None, "2026-Q3", settings=settings, now=DEMO_NOW)
    assert len(report.hotspots) > 0
    assert list(report.hotspots["cluster"]) == list(range(1, len(report.hotspots) + 1))
    assert report.hotspots["events"].is_monotonic_decreasing
    # 8 = min points for a quarter; as in DBSCAN, a border shared by two clusters goes to one,
    # so a small cluster may end with fewer events than that.
    assert report.hotspots["events"].median() >= 8
    assert report.hotspots["events"].sum() <= report.kpis.set_index("measure").loc[
        "reported", "value"]
    assert report.hotspots.geometry.is_valid.all()
    assert report.density["events"].sum() == report.kpis.set_index("measure").loc[
        "reported", "value"]


def test_empty_period_gives_a_no_data_report(demo, demo_areas, settings):
    with Session(demo) as s:
        for code in (None, demo_areas["grid"]):
            report = build_report(s, code, "2030-01", settings=settings, now=DEMO_NOW)
            assert report.empty
            assert any("本期无数据" in n for n in report.notes)
            assert report.by_category.empty and list(report.by_category.columns)[:3] == [
                "code", "label_zh", "label_en"]
            assert report.density.empty and report.hotspots.empty
            assert report.coverage.events_outside.empty
            assert len(report.weekly) == 5 and report.weekly["reported"].sum() == 0
            for name, frame in report.tables().items():
                assert len(frame.columns) > 0, name


def test_unknown_area_is_a_clear_error_listing_the_kinds(demo, demo_areas):
    with Session(demo) as s, pytest.raises(ReportError) as err:
        resolve_area(s, "511002-999")
    assert "511002-999" in err.value.zh
    for word in ("街道", "社区", "网格", demo_areas["district"]):
        assert word in err.value.zh
    for word in ("street", "community", "grid"):
        assert word in err.value.en


def test_area_names_and_the_district_default(demo, demo_areas):
    with Session(demo) as s:
        district = resolve_area(s, None)
        assert district == resolve_area(s, demo_areas["district"])
        assert (district.kind, district.name_zh) == ("district", "市中区")
        grid = resolve_area(s, demo_areas["grid"])
        assert grid.name_en == f"grid {demo_areas['grid']}"
        street = resolve_area(s, demo_areas["street"])
        assert street.name_en.endswith("Subdistrict")
        assert shapely.contains(district.geometry.buffer(1e-6), street.geometry)


# -- a hand-built world with known answers --------------------------------------------------

_TO_LONLAT = pyproj.Transformer.from_crs("EPSG:4544", "EPSG:4326", always_xy=True)
_TO_M = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
X0, Y0 = (round(v) for v in _TO_M.transform(105.045, 29.575))


def _ewkt(geom) -> str:
    """A metric geometry (relative to the origin) as EWKT in WGS84."""
    moved = shapely.transform(geom, lambda c: c + np.array([X0, Y0]))
    lonlat = shapely.transform(moved, lambda c: np.column_stack(
        _TO_LONLAT.transform(c[:, 0], c[:, 1])))
    return f"SRID=4326;{lonlat.wkt}"


def _box(x0, y0, x1, y1):
    return shapely.MultiPolygon([shapely.box(x0, y0, x1, y1)])


def _t(month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2030, month, day, hour, tzinfo=SHANGHAI)


# name, x, y, category, reported
WORLD_EVENTS = [
    ("E0", 390, 190, "dispute", _t(1, 1, 0)),           # the first event: data start D
    ("E1", 100, 100, "sanitation", _t(3, 15)),         # G1 centre, in K1's disc, in Y1
    ("E2", 230, 170, "dispute", _t(3, 5)),             # in Y2: no camera
    ("E3", 150, 15, "traffic", _t(3, 6)),              # Y3's lower half: below K5's view
    ("E4", 150, 25, "traffic", _t(3, 7)),              # Y3's upper half: in K5's view
    ("E5", 300, 100, "sanitation", _t(3, 8)),          # G2 centre: only the offline K2
    ("B1", 100, 100, "sanitation", _t(2, 20)),         # before Y1's completion, inside
    ("B2", 100, 145, "dispute", _t(2, 25)),            # 25 m outside Y1: in the 30 m band
    ("B3", 100, 155, "dispute", _t(2, 25)),            # 35 m outside Y1: not counted
    ("B4", 100, 100, "sanitation", _t(2, 10)),         # before the window starts
    ("A2", 110, 110, "sanitation", _t(3, 31, 23)),     # after, last hour of the window
    ("A4", 90, 90, "sanitation", _t(3, 20)),           # after
    ("A3", 100, 100, "sanitation", _t(4, 2, 8)),       # after the reference day: not counted
]
WORLD_NOW = _t(4, 15)


@pytest.fixture(scope="module")
def world(cluster, settings) -> Iterator[sa.Engine]:
    """Two 200 m grids, three courtyards, four cameras, events; in its own database."""
    from gis.district import load_district

    name = f"t_reports_{uuid.uuid4().hex[:8]}"
    cluster.ensure_database(name)
    eng = get_engine(cluster.url(name))
    migrate.upgrade(eng)
    with Session(eng) as s:
        load_district(s, settings)
        s.execute(sa.text("INSERT INTO department (code, name_zh, name_en) "
                          "VALUES (:c, :z, :e)"),
                  [{"c": d.code, "z": d.zh, "e": d.en} for d in DEPARTMENTS])
        s.execute(sa.text("""INSERT INTO event_category (code, name_zh, name_en, deadline_hours,
                             department_code) VALUES (:c, :z, :e, :h, :d)"""),
                  [{"c": c.code, "z": c.zh, "e": c.en, "h": c.deadline_hours,
                    "d": c.department} for c in EVENT_CATEGORIES])
        whole = _ewkt(_box(0, 0, 400, 200))
        s.execute(sa.text("INSERT INTO street (id, code, name_zh, geom) "
                          "VALUES (1, 'S', '测试街道', ST_GeomFromEWKT(:g))"), {"g": whole})
        s.execute(sa.text("INSERT INTO community (id, code, street_id, name_zh, geom) "
                          "VALUES (1, 'C', 1, '测试社区', ST_GeomFromEWKT(:g))"), {"g": whole})
        for gid, code, bounds in ((1, "G1", (0, 0, 200, 200)), (2, "G2", (200, 0, 400, 200))):
            s.execute(sa.text("INSERT INTO grid (id, code, community_id, name_zh, geom) "
                              "VALUES (:i, :c, 1, :c, ST_GeomFromEWKT(:g))"),
                      {"i": gid, "c": code, "g": _ewkt(_box(*bounds))})
            s.execute(sa.text("INSERT INTO grid_worker (grid_id, post, name, phone) VALUES "
                              "(:i, 'A', 'a', '13800000001'), (:i, 'B', 'b', '13800000002')"),
                      {"i": gid})
        for cid, code, grid, bounds, status, batch, done, households in (
            (1, "Y1", 1, (80, 80, 120, 120), "completed", 2029, dt.date(2030, 3, 10), 50),
            (2, "Y2", 2, (210, 150, 250, 190), "not_started", None, None, 30),
            (3, "Y3", 1, (140, 10, 160, 30), "planned", 2031, None, 20),
        ):
            s.execute(sa.text("""
                INSERT INTO courtyard (id, code, grid_id, name_zh, geom, households,
                                       renovation_status, renovation_batch,
                                       renovation_completed_on)
                VALUES (:i, :c, :g, :c, ST_GeomFromEWKT(:geom), :h, :st, :b, :d)"""),
                      {"i": cid, "c": code, "g": grid, "geom": _ewkt(_box(*bounds)),
                       "h": households, "st": status, "b": batch, "d": done})
        for code, x, y, az, fov, rng, health in (
            ("K1", 100, 100, 0, 360, 50, "online"),
            ("K2", 300, 100, 0, 360, 50, "offline"),
            ("K3", 399.5, 0.5, 315, 90, 100, "online"),
            ("K5", 150, 20, 0, 180, 30, "online"),
        ):
            s.execute(sa.text("""
                INSERT INTO camera (code, name_zh, source, geom, azimuth_deg, fov_deg, range_m,
                                    health_status)
                VALUES (:c, :c, 'community', ST_GeomFromEWKT(:g), :a, :f, :r, :h)"""),
                      {"c": code, "g": _ewkt(shapely.Point(x, y)), "a": az, "f": fov,
                       "r": rng, "h": health})
        for name, x, y, cat, reported in WORLD_EVENTS:
            s.execute(sa.text("""
                INSERT INTO event (code, category_code, source_channel, status, geom,
                                   grid_id, reported_at)
                VALUES (:c, :cat, 'grid_patrol', 'reported', ST_GeomFromEWKT(:g),
                        (SELECT id FROM grid WHERE ST_Intersects(geom, ST_GeomFromEWKT(:g))),
                        :t)"""),
                      {"c": name, "cat": cat, "g": _ewkt(shapely.Point(x, y)), "t": reported})
        answers = [(1, '{"willing": true, "satisfaction": 5}'),
                   (1, '{"willing": true, "satisfaction": 4}'),
                   (1, '{"willing": false, "satisfaction": 3}'),
                   (1, '{"satisfaction": "不知道"}'),
                   (2, '{"willing": "是"}'), (2, '{"willing": "否"}')]
        s.execute(sa.text("INSERT INTO survey_response (courtyard_id, answered_at, answers) "
                          "VALUES (:c, '2030-01-05 10:00+08', CAST(:a AS jsonb))"),
                  [{"c": c, "a": a} for c, a in answers])
        s.commit()
    yield eng
    eng.dispose()
    cluster.drop_database(name)


@pytest.fixture(scope="module")
def world_report(world, settings):
    with Session(world) as s:
        return build_report(s, "C", "2030-03", settings=settings, now=WORLD_NOW)


DISC_50 = _ngon(50, 72)                 # K1: 72-gon of radius 50
CORNER_100 = 0.5 * 18 * 100**2 * math.sin(math.radians(5))  # K3: 18 slices of 5°
HALF_30 = 0.5 * 36 * 30**2 * math.sin(math.radians(5))      # K5: 36 slices of 5°


def test_coverage_shares_by_hand(world_report):
    cov = world_report.coverage
    assert set(cov.wedges["camera_code"]) == {"K1", "K2", "K3", "K5"}
    assert dict(zip(cov.wedges["camera_code"], cov.wedges["working"], strict=True)) == {
        "K1": True, "K2": False, "K3": True, "K5": True}
    grids = cov.grids.set_index("code")
    assert grids.loc["G1", "area_m2"] == pytest.approx(40_000, rel=1e-6)
    assert grids.loc["G1", "covered_m2"] == pytest.approx(DISC_50 + HALF_30, rel=1e-4)
    # K3 stands half a metre inside the corner: its wedge is the quarter disc, shifted.
    assert grids.loc["G2", "covered_m2"] == pytest.approx(CORNER_100, rel=1e-4)
    assert grids.loc["G2", "share"] == pytest.approx(CORNER_100 / 40_000, rel=1e-4)
    assert cov.share_of_area == pytest.approx((DISC_50 + HALF_30 + CORNER_100) / 80_000,
                                              rel=1e-4)
    yards = cov.courtyards.set_index("code")
    assert yards.loc["Y1", "share"] == pytest.approx(1.0)   # 40 m square inside the disc
    assert yards.loc["Y3", "share"] == pytest.approx(0.5, rel=1e-4)  # cut by K5's edge
    assert yards.loc["Y2", "share"] == 0
    assert list(cov.uncovered_courtyards["code"]) == ["Y2"]
    assert cov.courtyards.crs.to_epsg() == 4326


def test_events_outside_every_working_view_by_hand(world, world_report):
    with Session(world) as s:
        names = dict(s.execute(sa.text("SELECT id, code FROM event")).all())
    outside = sorted(names[i] for i in world_report.coverage.events_outside["id"])
    # March events: E1, E4, A2, A4 are seen; E3 is below K5's edge, E5 by the offline K2 only.
    assert outside == ["E2", "E3", "E5"]


def test_before_after_per_100_households_by_hand(world_report):
    ba = world_report.before_after
    assert list(ba["courtyard_code"]) == ["Y1"]  # the only finished courtyard
    row = ba.iloc[0]
    # D = 1 Jan (E0), C = 10 Mar, reference R = 1 Apr (period end, before now):
    # W = min(365, R - C = 22, C - D = 68) = 22 days on each side.
    assert row["window_days"] == 22
    assert row["events_before"] == 2        # B1 inside, B2 in the 30 m band; B4 too early
    assert row["events_after"] == 3         # E1, A4, A2; A3 after the reference day
    assert row["per100_before"] == pytest.approx(100 * 2 / 50)
    assert row["per100_after"] == pytest.approx(100 * 3 / 50)
    assert row["change"] == pytest.approx(2.0)
    assert row["per100_before_sanitation"] == pytest.approx(2.0)
    assert row["per100_before_dispute"] == pytest.approx(2.0)
    assert row["per100_after_sanitation"] == pytest.approx(6.0)
    assert row["per100_after_dispute"] == 0
    assert row["survey_responses"] == 4
    assert row["satisfaction"] == pytest.approx(4.0)   # (5 + 4 + 3) / 3, the text ignored
    by_batch = world_report.before_after_by_batch
    assert list(by_batch["batch"]) == [2029]
    assert by_batch.iloc[0][["courtyards", "households"]].tolist() == [1, 50]
    assert by_batch.iloc[0]["change"] == pytest.approx(2.0)


def test_renovation_progress_and_willingness_by_hand(world_report):
    prog = world_report.renovation
    rows = {(None if pd.isna(r.batch) else int(r.batch), r.status): r
            for r in prog.itertuples()}
    y1 = rows[(2029, "completed")]
    assert (y1.courtyards, y1.households, y1.surveyed) == (1, 50, 4)
    assert y1.willing_share == pytest.approx(2 / 3)   # the answer without "willing" left out
    assert rows[(None, "not_started")].willing_share == pytest.approx(0.5)  # 是 / 否
    y3 = rows[(2031, "planned")]
    assert y3.surveyed == 0 and pd.isna(y3.willing_share)  # nobody was asked
    assert prog["courtyards"].sum() == 3


def test_world_kpis_count_the_period(world, world_report, settings):
    table = world_report.kpis.set_index("measure")
    assert table.loc["reported", "value"] == 7      # E1-E5, A2, A4
    assert table.loc["reported", "previous"] == 4   # B1-B4 in February
    assert table.loc["on_time_rate", "value"] is None  # nothing closed
    assert world_report.by_category["reported"].sum() == 7


def test_an_area_without_events_gives_a_no_data_report(world, settings):
    with Session(world) as s:
        report = build_report(s, "G2", "2030-02", settings=settings, now=WORLD_NOW)
    assert report.empty
    assert report.coverage.grids["code"].tolist() == ["G2"]
    assert report.coverage.events_outside.empty
    assert report.before_after.empty and report.before_after_by_batch.empty


def test_bad_period_or_area_through_build_report(world, settings):
    with Session(world) as s:
        with pytest.raises(ReportError, match="统计周期"):
            build_report(s, "C", "2030-3-", settings=settings, now=WORLD_NOW)
        with pytest.raises(ReportError, match="G9"):
            build_report(s, "G9", "2030-03", settings=settings, now=WORLD_NOW)


def test_period_between_rejects_reversed_ranges():
    with pytest.raises(ReportError):
        period_between(dt.date(2030, 3, 2), dt.date(2030, 3, 1), TZ)


def _brute_dbscan(xy: np.ndarray, eps: float, min_points: int) -> tuple[np.ndarray, list[set]]:
    """Textbook DBSCAN on points: core flags and the clusters as sets of core indices."""
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    near = d <= eps + 1e-9
    core = near.sum(axis=1) >= min_points
    seen: set[int] = set()
    clusters = []
    for start in np.flatnonzero(core):
        if start in seen:
            continue
        todo, members = [int(start)], set()
        while todo:
            k = todo.pop()
            if k in members:
                continue
            members.add(k)
            todo += [int(m) for m in np.flatnonzero(near[k] & core) if m not in members]
        seen |= members
        clusters.append(members)
    return core, clusters


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lattice_dbscan_equals_textbook_dbscan_on_cell_centres(seed):
    from gis.reports.clusters import lattice_dbscan

    rng = np.random.default_rng(seed)
    cells = np.unique(rng.integers(0, 25, size=(160, 2)), axis=0)
    weight = rng.integers(1, 4, size=len(cells))
    labels = lattice_dbscan(cells[:, 0], cells[:, 1], weight, eps_cells=2.0, min_points=9)
    # The same events as points: `weight` copies at each cell centre.
    points = np.repeat(cells, weight, axis=0).astype(float)
    owner = np.repeat(np.arange(len(cells)), weight)
    core, clusters = _brute_dbscan(points, 2.0, 9)
    core_cells = sorted({int(owner[k]) for k in np.flatnonzero(core)})
    expected = sorted(sorted({int(owner[k]) for k in c}) for c in clusters)
    got = sorted(sorted(int(k) for k in core_cells if labels[k] == lab)
                 for lab in set(labels[core_cells].tolist()))
    assert expected == got and len(expected) >= 2
    # Border cells sit next to a core of their cluster; everything else is noise.
    for k in np.flatnonzero(labels >= 0):
        if k in core_cells:
            continue
        mates = [m for m in core_cells if labels[m] == labels[k]]
        assert min(np.hypot(*(cells[mates] - cells[k]).T)) <= 2.0
