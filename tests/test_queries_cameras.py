"""Nearest cameras: KNN on the geography index equals a brute-force geodesic ordering."""

from __future__ import annotations

import pyproj
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.coords import haversine_m
from gis.db import get_engine
from gis.queries import QueryError, explain_nearest, nearest_cameras

pytestmark = pytest.mark.db

N_CAMERAS = 5000
GEOD = pyproj.Geod(ellps="WGS84")
# Inside the district (urban core west of the Tuojiang).
BOX = (105.00, 29.555, 105.04, 29.595)
QUERY_POINTS = [(105.02, 29.575), (105.0012, 29.5561), (105.033, 29.59), (105.017, 29.561)]


@pytest.fixture(scope="module")
def cameras(engine):
    """5,000 cameras with mixed sources and health, committed and ANALYZEd."""
    with Session(engine) as s:
        s.execute(sa.text("SELECT setseed(0.17)"))
        s.execute(sa.text("""
            INSERT INTO camera (code, name_zh, source, vendor, geom, azimuth_deg, fov_deg,
                                range_m, main_url, health_status, health_reconnects)
            SELECT 'CAM' || g, '监控' || g, (ARRAY['skynet', 'community', 'courtyard'])[1 + g % 3],
                   'hikvision', ST_SetSRID(ST_MakePoint(:x0 + random() * (:x1 - :x0),
                                                        :y0 + random() * (:y1 - :y0)), 4326),
                   0, 90, 60, 'rtsp://admin:s3cret@10.0.0.' || (g % 250) || '/ch1',
                   CASE WHEN g % 4 = 0 THEN 'offline' ELSE 'online' END, 0
            FROM generate_series(1, :n) g"""),
            dict(zip(("x0", "y0", "x1", "y1"), BOX, strict=True), n=N_CAMERAS))
        s.commit()
        s.execute(sa.text("ANALYZE camera"))
        s.commit()
        rows = s.execute(sa.text(
            "SELECT id, ST_X(geom), ST_Y(geom), source, health_status FROM camera")).all()
    return rows


def _brute_force(cams, lon, lat, n, radius_m, sources=None, online_only=False):
    cand = [c for c in cams if (sources is None or c[3] in sources)
            and (not online_only or c[4] == "online")]
    dist = GEOD.inv([lon] * len(cand), [lat] * len(cand), [c[1] for c in cand],
                    [c[2] for c in cand])[2]
    ranked = sorted((d, c[0]) for d, c in zip(dist, cand, strict=True)
                    if radius_m is None or d <= radius_m)
    return ranked[:n]


@pytest.mark.parametrize("lon,lat", QUERY_POINTS)
@pytest.mark.parametrize("n,radius_m", [(4, 300.0), (10, 120.0), (25, None), (200, 400.0)])
def test_nearest_equals_brute_force_geodesic_order(cameras, session, lon, lat, n, radius_m):
    got = nearest_cameras(session, lon, lat, n=n, radius_m=radius_m)
    want = _brute_force(cameras, lon, lat, n, radius_m)
    assert [c.id for c in got] == [i for _, i in want]
    for cam, (dist, _) in zip(got, want, strict=True):
        assert cam.distance_m == pytest.approx(dist, abs=0.05)  # spheroid, within 5 cm
        # and the sphere (haversine) agrees to within its known 0.5 % error
        assert float(haversine_m(lon, lat, cam.lon, cam.lat)) == pytest.approx(dist, rel=0.005)
    if radius_m is not None:
        assert all(c.distance_m <= radius_m for c in got)


def test_radius_cuts_off_even_when_fewer_than_n(cameras, session):
    lon, lat = QUERY_POINTS[0]
    want = _brute_force(cameras, lon, lat, 1000, 60.0)
    got = nearest_cameras(session, lon, lat, n=1000, radius_m=60.0)
    assert 0 < len(got) == len(want) < 1000


def test_nearest_filters_sources_and_health(cameras, session):
    lon, lat = QUERY_POINTS[2]
    got = nearest_cameras(session, lon, lat, n=8, radius_m=500, sources=["skynet"],
                          online_only=True)
    want = _brute_force(cameras, lon, lat, 8, 500, sources={"skynet"}, online_only=True)
    assert [c.id for c in got] == [i for _, i in want]
    assert {c.source for c in got} == {"skynet"}
    assert {c.health_status for c in got} == {"online"}


def test_nearest_rows_carry_no_stream_url(cameras, session):
    cam = nearest_cameras(session, *QUERY_POINTS[0], n=1, radius_m=None)[0]
    assert "s3cret" not in repr(cam) and not hasattr(cam, "main_url")


def test_nearest_rejects_bad_input(cameras, session):
    with pytest.raises(QueryError, match="unknown camera source"):
        nearest_cameras(session, 105.02, 29.575, sources=["drone"])
    with pytest.raises(QueryError, match="radius"):
        nearest_cameras(session, 105.02, 29.575, radius_m=0)
    assert nearest_cameras(session, 105.02, 29.575, n=0) == []


@pytest.mark.parametrize("radius_m", [300.0, None])
def test_explain_shows_knn_index_scan_on_camera_geog_idx(cameras, session, radius_m):
    plan = explain_nearest(session, 105.02, 29.575, n=10, radius_m=radius_m)
    assert "Index Scan using camera_geog_idx" in plan
    assert "Order By" in plan  # the index delivers rows nearest first (KNN), no sort
    assert "Sort" not in plan.replace("Order By", "")
    analyzed = explain_nearest(session, 105.02, 29.575, n=10, radius_m=radius_m, analyze=True)
    assert "Execution Time" in analyzed


def test_explain_with_filters_still_uses_the_geography_index(cameras, session):
    # With a source filter the radius bounds the scan; the planner may pick the KNN scan or a
    # bitmap scan of the same index, but never a sequential scan.
    plan = explain_nearest(session, 105.02, 29.575, n=10, sources=["skynet"], online_only=True)
    assert "camera_geog_idx" in plan
    assert "Seq Scan" not in plan


def test_engine_survives_a_database_restart(cameras, engine, cluster):
    # Our own engine (different settings key), so the shared one is not disturbed.
    own = get_engine(cluster.url(engine.url.database), statement_timeout_ms=59_000)
    try:
        with Session(own) as s:
            before = [c.id for c in nearest_cameras(s, *QUERY_POINTS[1], n=5)]
        cluster.restart()
        with Session(own) as s:  # the pooled connection died; pre-ping replaces it
            after = [c.id for c in nearest_cameras(s, *QUERY_POINTS[1], n=5)]
        assert before == after and len(before) == 5
    finally:
        own.dispose()
