"""Grid lookup, grid assignment, event frames, heat bins and KPIs against real PostGIS.

A small hand-built world in the urban core (committed once per module):

    29.595 +----------------------+
          |          G3          |   street S2 / community C2
    29.575 +-----------+----------+---------+
          |    G1     |    G2    | no grid |   street S1 / community C1
    29.555 +-----------+----------+---------+
        105.00     105.02     105.03    105.04
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyproj
import pytest
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box

from gis.catalog import DEPARTMENTS, EVENT_CATEGORIES
from gis.models import Community, Department, EventCategory, Grid, GridWorker, Street
from gis.queries import (
    QueryError,
    assign_event_grids,
    events_frame,
    grid_for_point,
    heat_bins,
    kpis,
)

pytestmark = pytest.mark.db

CST = dt.timezone(dt.timedelta(hours=8))
GRID_BOXES = {
    "G1": (105.00, 29.555, 105.02, 29.575),
    "G2": (105.02, 29.555, 105.03, 29.575),
    "G3": (105.00, 29.575, 105.03, 29.595),
}
N_RANDOM = 1500


def t(month: int, day: int, hour: int = 12, year: int = 2030) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=CST)


# (code, grid, lon, lat, status, reported, deadline, closed) for the KPI period March 2030.
KPI_EVENTS = [
    ("K1", "G1", 105.010, 29.565, "closed", t(3, 2), t(3, 5), t(3, 5)),  # exactly at deadline
    ("K2", "G1", 105.011, 29.566, "closed", t(3, 3), t(3, 4), t(3, 6)),  # late
    ("K3", "G2", 105.025, 29.565, "handling", t(3, 10), t(3, 12), None),  # open, overdue
    ("K4", "G3", 105.010, 29.585, "reported", t(3, 15), t(3, 25), None),  # open, in time
    ("K5", "G3", 105.011, 29.586, "closed", t(2, 20), t(3, 3), t(3, 2)),  # reported before
    ("K6", "G3", 105.012, 29.587, "rejected", t(3, 5), None, t(3, 6)),  # rejected
    ("K7", None, 105.035, 29.565, "reported", t(3, 7), t(3, 8), None),  # outside every grid
    ("K8", "G1", 105.012, 29.567, "closed", t(3, 31, 23), None, t(4, 1, 1)),  # closed after
]
KPI_NOW = t(3, 20)


def _multi(bounds: tuple[float, float, float, float]) -> object:
    return from_shape(MultiPolygon([box(*bounds)]), srid=4326)


@pytest.fixture(scope="module")
def world(engine):
    """Streets, communities, grids with A/B workers, events; committed for the module."""
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        s.add_all(Department(code=d.code, name_zh=d.zh, name_en=d.en) for d in DEPARTMENTS)
        s.flush()
        s.add_all(EventCategory(code=c.code, name_zh=c.zh, name_en=c.en,
                                deadline_hours=c.deadline_hours, department_code=c.department)
                  for c in EVENT_CATEGORIES)
        s1 = Street(code="S1", name_zh="南街", geom=_multi((105.00, 29.555, 105.04, 29.575)))
        s2 = Street(code="S2", name_zh="北街", geom=_multi((105.00, 29.575, 105.03, 29.595)))
        c1 = Community(code="C1", name_zh="南社区", street=s1, geom=s1.geom)
        c2 = Community(code="C2", name_zh="北社区", street=s2, geom=s2.geom)
        grids = {}
        for code, bounds in GRID_BOXES.items():
            grids[code] = Grid(code=code, name_zh=f"网格{code}", geom=_multi(bounds),
                               community=c2 if code == "G3" else c1, workers=[
                                   GridWorker(post="A", name=f"{code}甲", phone="13800000001"),
                                   GridWorker(post="B", name=f"{code}乙", phone="13800000002")])
        s.add_all([s1, s2, c1, c2, *grids.values()])
        s.flush()
        for code, grid, lon, lat, status, reported, deadline, closed in KPI_EVENTS:
            s.execute(sa.text("""
                INSERT INTO event (code, category_code, source_channel, priority, status,
                                   description, geom, grid_id, reported_at, deadline_at,
                                   closed_at, version)
                VALUES (:code, 'sanitation', 'grid_patrol', 'normal', :status, '',
                        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :grid, :reported,
                        :deadline, :closed, 1)"""), {
                "code": code, "status": status, "lon": lon, "lat": lat,
                "grid": grids[grid].id if grid else None, "reported": reported,
                "deadline": deadline, "closed": closed})
        # Random events in 2025 (away from the KPI period), plus one exactly on the G1/G2
        # border; none assigned to a grid yet.
        s.execute(sa.text("SELECT setseed(0.42)"))
        s.execute(sa.text("""
            INSERT INTO event (code, category_code, source_channel, priority, status,
                               description, geom, reported_at, version)
            SELECT 'R' || g, (ARRAY['sanitation','dispute','traffic'])[1 + g % 3],
                   'hotline_12345', 'normal',
                   (ARRAY['reported', 'closed', 'handling'])[1 + g % 3],
                   '', ST_SetSRID(ST_MakePoint(105.00 + random() * 0.04,
                                               29.555 + random() * 0.04), 4326),
                   timestamptz '2025-01-01 00:00+08' + g * interval '1 hour', 1
            FROM generate_series(1, :n) g"""), {"n": N_RANDOM})
        s.execute(sa.text("""
            INSERT INTO event (code, category_code, source_channel, priority, status,
                               description, geom, reported_at, version)
            VALUES ('BORDER', 'sanitation', 'video', 'normal', 'reported', '',
                    ST_SetSRID(ST_MakePoint(105.02, 29.565), 4326), '2025-06-01 00:00+08', 1)"""))
        s.commit()
        return {code: g.id for code, g in grids.items()}


def _event_points(session) -> dict[str, tuple[float, float, int | None]]:
    rows = session.execute(sa.text(
        "SELECT code, ST_X(geom), ST_Y(geom), grid_id FROM event")).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


# -- grid_for_point -------------------------------------------------------------------------

def test_grid_for_point_inside_gives_grid_community_street_and_workers(world, session):
    info = grid_for_point(session, 105.025, 29.565)
    assert info is not None
    assert (info.code, info.community_code, info.street_code) == ("G2", "C1", "S1")
    assert info.worker_a is not None and info.worker_a.name == "G2甲"
    assert info.worker_b is not None and info.worker_b.name == "G2乙"


def test_grid_for_point_on_shared_border_is_the_smaller_code(world, session):
    assert grid_for_point(session, 105.02, 29.565).code == "G1"
    assert grid_for_point(session, 105.01, 29.575).code == "G1"  # G1/G3 edge


def test_grid_for_point_outside_every_grid_is_none(world, session):
    assert grid_for_point(session, 105.035, 29.565) is None
    assert grid_for_point(session, 104.0, 29.0) is None


def test_grid_for_point_rejects_impossible_coordinates(world, session):
    with pytest.raises(QueryError, match="坐标无效"):
        grid_for_point(session, 29.57, 205.0)


# -- assign_event_grids ---------------------------------------------------------------------

def _expected_grid(world, lon: float, lat: float) -> int | None:
    hits = [world[c] for c, b in GRID_BOXES.items() if box(*b).covers(Point(lon, lat))]
    return min(hits) if hits else None


def test_assign_event_grids_matches_brute_force_point_in_polygon(world, session):
    before = _event_points(session)
    unassigned = sum(1 for *_, g in before.values() if g is None)
    expected = {code: _expected_grid(world, lon, lat) for code, (lon, lat, _) in before.items()}
    newly = sum(1 for code, (*_, g) in before.items() if g is None and expected[code] is not None)

    assert assign_event_grids(session) == newly
    assert newly > 0.6 * unassigned  # most random points fall in a grid
    after = _event_points(session)
    assert {code: g for code, (*_, g) in after.items()} == expected
    assert after["BORDER"][2] == min(world["G1"], world["G2"])
    assert after["K7"][2] is None
    assert assign_event_grids(session) == 0  # nothing left to do, nothing rewritten


def test_assign_event_grids_all_fixes_a_wrong_grid(world, session):
    assign_event_grids(session)
    session.execute(sa.text("UPDATE event SET grid_id = :g WHERE code = 'K3'"),
                    {"g": world["G3"]})
    assert assign_event_grids(session, only_missing=True) == 0  # K3 has a grid: untouched
    assert assign_event_grids(session, only_missing=False) == 1
    assert _event_points(session)["K3"][2] == world["G2"]


# -- events_frame ---------------------------------------------------------------------------

def test_events_frame_filters_bbox_period_status_category(world, session):
    frame = events_frame(session, bbox=(105.005, 29.560, 105.015, 29.5665),
                         start=t(3, 1), end=t(4, 1), statuses=["closed"],
                         categories=["sanitation"])
    assert frame.crs.to_epsg() == 4326
    assert sorted(frame["code"]) == ["K1", "K2"]
    assert frame.geometry.iloc[0].geom_type == "Point"
    everything = events_frame(session)
    assert len(everything) == len(KPI_EVENTS) + N_RANDOM + 1
    assert list(events_frame(session, limit=3)["code"]) == ["K8", "K4", "K3"]  # newest first


def test_events_frame_bad_input_is_a_bilingual_error(world, session):
    with pytest.raises(QueryError, match="invalid bbox"):
        events_frame(session, bbox=(105.1, 29.595, 105.0, 29.495))
    with pytest.raises(QueryError, match="未知的事件状态"):
        events_frame(session, statuses=["lost"])
    with pytest.raises(QueryError, match="time zone"):
        events_frame(session, start=dt.datetime(2030, 1, 1))


# -- heat_bins ------------------------------------------------------------------------------

TO_METRIC = pyproj.Transformer.from_crs(4326, 4544, always_xy=True)


@pytest.mark.parametrize("shape", ["square", "hexagon"])
def test_heat_bins_counts_sum_and_every_event_lies_in_its_bin(world, session, shape):
    frame = events_frame(session, statuses=["reported", "closed"])
    bins = heat_bins(session, size_m=300, shape=shape, statuses=["reported", "closed"])
    assert bins.crs.to_epsg() == 4326
    assert int(bins["count"].sum()) == len(frame)
    # Every bin's count equals the events its polygon holds (checked in shapely).
    tree = shapely.STRtree(bins.geometry.values)
    owner = tree.query(frame.geometry.values, predicate="within")
    assert len(np.unique(owner[0])) == len(frame)  # every event lies in some bin
    first_owner = np.full(len(frame), -1)
    first_owner[owner[0]] = owner[1]
    assert np.bincount(first_owner, minlength=len(bins)).tolist() == bins["count"].tolist()


def test_heat_square_bin_of_a_known_point(world, session):
    lon, lat = 105.025, 29.565  # K3
    x, y = TO_METRIC.transform(lon, lat)
    bins = heat_bins(session, size_m=250, statuses=["handling"], start=t(3, 1), end=t(4, 1))
    assert len(bins) == 1
    row = bins.iloc[0]
    assert (row["i"], row["j"], row["count"]) == (math.floor(x / 250), math.floor(y / 250), 1)
    assert row.geometry.contains(Point(lon, lat))
    # The bin is 250 m square on the ground, not in degrees.
    area = abs(pyproj.Geod(ellps="GRS80").geometry_area_perimeter(row.geometry)[0])
    assert area == pytest.approx(250 * 250, rel=0.01)


def test_heat_hexagon_bin_is_the_nearest_centre(world, session):
    lon, lat = 105.025, 29.565
    x, y = TO_METRIC.transform(lon, lat)
    s = 200.0
    # Brute force over the ST_Hexagon lattice: column i at 1.5 s i, odd columns up half a row.
    h = math.sqrt(3) * s
    centres = [(i, j, 1.5 * s * i, h * j + (h / 2 if i % 2 else 0))
               for i in range(math.floor(x / (1.5 * s)) - 2, math.floor(x / (1.5 * s)) + 3)
               for j in range(math.floor(y / h) - 2, math.floor(y / h) + 3)]
    i, j, *_ = min(centres, key=lambda c: (c[2] - x) ** 2 + (c[3] - y) ** 2)
    bins = heat_bins(session, size_m=s, shape="hexagon", statuses=["handling"],
                     start=t(3, 1), end=t(4, 1))
    assert [(r.i, r.j, r.count) for r in bins.itertuples()] == [(i, j, 1)]
    assert bins.geometry.iloc[0].contains(Point(lon, lat))


def test_heat_bins_reject_degree_sized_or_unknown_shapes(world, session):
    with pytest.raises(QueryError, match="bin size"):
        heat_bins(session, size_m=0.01)
    with pytest.raises(QueryError, match="unknown bin shape"):
        heat_bins(session, size_m=100, shape="triangle")  # type: ignore[arg-type]


# -- kpis -----------------------------------------------------------------------------------

def _kpi_table(rows):
    return {r.area_code: (r.reported, r.open, r.overdue, r.closed, r.closed_on_time,
                          r.on_time_rate) for r in rows}


def test_kpis_per_street_with_district_total(world, session):
    rows = kpis(session, level="street", start=t(3, 1, 0), end=t(4, 1, 0), now=KPI_NOW)
    assert [r.level for r in rows] == ["street", "street", "district"]
    assert rows[-1].area_code == "511002" and rows[-1].area_id is None
    assert _kpi_table(rows) == {
        "S1": (4, 1, 1, 2, 1, 0.5),  # K1 at the deadline is on time, K2 late
        "S2": (2, 1, 0, 1, 1, 1.0),  # K5 reported before the period, closed in it
        "511002": (7, 3, 2, 3, 2, 2 / 3),  # K7 has no grid: only in the total
    }


def test_kpis_per_grid_without_closures_has_no_rate(world, session):
    rows = kpis(session, level="grid", start=t(3, 1, 0), end=t(4, 1, 0), now=KPI_NOW)
    table = _kpi_table(rows)
    assert table["G1"] == (3, 0, 0, 2, 1, 0.5)
    assert table["G2"] == (1, 1, 1, 0, 0, None)
    assert table["G3"] == (2, 1, 0, 1, 1, 1.0)
    community = _kpi_table(kpis(session, level="community", start=t(3, 1, 0),
                                end=t(4, 1, 0), now=KPI_NOW))
    assert community["C1"] == (4, 1, 1, 2, 1, 0.5)


def test_kpis_empty_period_is_all_zero_with_rate_none(world, session):
    rows = kpis(session, level="street", start=t(1, 1, 0, 2031), end=t(2, 1, 0, 2031))
    assert len(rows) == 3
    assert all((r.reported, r.open, r.closed, r.on_time_rate) == (0, 0, 0, None) for r in rows)


def test_kpis_reject_unknown_level_and_reversed_period(world, session):
    with pytest.raises(QueryError, match="unknown level"):
        kpis(session, level="province", start=t(3, 1), end=t(4, 1))  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="start must be before end"):
        kpis(session, start=t(4, 1), end=t(3, 1))
