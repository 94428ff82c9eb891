"""The database itself holds every writer to the rules: valid, inside the district, A/B pairs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, Polygon, box
from sqlalchemy import exc
from sqlalchemy.orm import Session

from gis.models import Camera, Grid, GridWorker

URBAN = box(105.040, 29.575, 105.045, 29.579)  # a block in the urban core


def _grid(code: str, shape: Polygon = URBAN, posts: tuple[str, ...] = ("A", "B")) -> Grid:
    grid = Grid(code=code, name_zh=f"测试网格{code}", geom=from_shape(MultiPolygon([shape]), 4326))
    grid.workers = [GridWorker(post=p, name=f"网格员{p}", phone="13900000000") for p in posts]
    return grid


def _commit_fails(engine: sa.Engine, *objects: object) -> str:
    with Session(engine) as s:
        s.add_all(objects)
        with pytest.raises((exc.IntegrityError, exc.InternalError)) as info:
            s.commit()
        return str(info.value)


def _count(engine: sa.Engine, model: type) -> int:
    with Session(engine) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def test_grid_with_a_and_b_is_accepted(engine):
    with Session(engine) as s:
        s.add(_grid("T-OK"))
        s.commit()
        assert s.scalar(sa.select(sa.func.count()).select_from(GridWorker)
                        .join(Grid).where(Grid.code == "T-OK")) == 2


@pytest.mark.parametrize("posts", [(), ("A",), ("B",)])
def test_grid_without_its_pair_is_refused_at_commit(engine, posts):
    before = _count(engine, Grid)
    message = _commit_fails(engine, _grid(f"T-P{len(posts)}{''.join(posts)}", posts=posts))
    assert "exactly one A and one B" in message
    assert _count(engine, Grid) == before


def test_two_a_workers_refused(engine):
    assert "grid_worker_one_per_post" in _commit_fails(engine, _grid("T-AA", posts=("A", "A", "B")))


def test_removing_a_worker_is_refused(engine):
    with Session(engine) as s:
        s.add(_grid("T-DEL"))
        s.commit()
    with Session(engine) as s:
        worker = s.scalar(sa.select(GridWorker).join(Grid).where(Grid.code == "T-DEL",
                                                                 GridWorker.post == "B"))
        s.delete(worker)
        with pytest.raises(exc.IntegrityError, match="exactly one A and one B"):
            s.commit()


def test_bow_tie_polygon_refused_by_database(engine):
    bow_tie = Polygon([(105.04, 29.57), (105.05, 29.58), (105.05, 29.57), (105.04, 29.58)])
    assert not bow_tie.is_valid
    message = _commit_fails(engine, _grid("T-BOW", shape=bow_tie))
    assert "grid_geom_valid" in message


def test_geometry_outside_district_refused(engine):
    chengdu = box(104.06, 30.65, 104.07, 30.66)
    message = _commit_fails(engine, _grid("T-OUT", shape=chengdu))
    assert "outside the district" in message and "T-OUT" in message


def test_point_outside_district_refused_even_by_raw_sql(engine):
    with engine.connect() as conn, pytest.raises(exc.IntegrityError, match="outside the district"):
        conn.execute(sa.text(
            "INSERT INTO camera (code, name_zh, source, vendor, geom, azimuth_deg, fov_deg, "
            "range_m, health_status, health_reconnects) VALUES ('C-OUT', '成都', 'skynet', "
            "'generic', ST_SetSRID(ST_MakePoint(104.06, 30.65), 4326), 0, 90, 50, 'unknown', 0)"))


def test_camera_inside_accepted_and_ranges_checked(engine):
    ok = Camera(code="C-IN", name_zh="测试天网", source="skynet",
                geom=from_shape(Point(105.042, 29.577), 4326))
    with Session(engine) as s:
        s.add(ok)
        s.commit()
    bad = Camera(code="C-FOV", name_zh="坏视场", source="skynet", fov_deg=400,
                 geom=from_shape(Point(105.042, 29.577), 4326))
    assert "camera_fov" in _commit_fails(engine, bad)
    wrong_source = Camera(code="C-SRC", name_zh="坏来源", source="satellite",
                          geom=from_shape(Point(105.042, 29.577), 4326))
    with Session(engine) as s:
        s.add(wrong_source)
        with pytest.raises((exc.IntegrityError, LookupError, exc.StatementError)):
            s.commit()


def test_nothing_is_written_before_the_district_exists(empty_engine):
    message = _commit_fails(empty_engine, _grid("T-NODIST"))
    assert "no district boundary" in message


def test_spatial_index_on_every_geometry(engine):
    with engine.connect() as conn:
        geometry_columns = conn.execute(sa.text(
            "SELECT f_table_name, f_geometry_column FROM geometry_columns "
            "WHERE f_table_schema = 'public'")).all()
        indexed = {row[0] for row in conn.execute(sa.text(
            "SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'"))}
    assert geometry_columns
    missing = {t for t, _ in geometry_columns} - indexed
    assert not missing, f"geometry without GIST index: {missing}"
