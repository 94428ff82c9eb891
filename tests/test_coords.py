"""Tests for gis.coords (WGS-84 / GCJ-02 / BD-09 conversions and sanity checks)."""

from __future__ import annotations

import numpy as np
import pytest

from gis import coords
from gis.coords import (
    CHINESE_CRS,
    METRIC_CRS,
    STORAGE_CRS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    estimate_offset_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    inside_bbox,
    is_chinese_crs,
    looks_swapped,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

SHIZHONG_BBOX = (104.85, 29.40, 105.25, 29.75)
CONVERTERS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


@pytest.fixture(scope="module")
def china_points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240229)
    # Whole GCJ-02 rectangle's interesting part, plus a dense cloud around
    # Neijiang, which sits next to the 105E kink of the sqrt(|lon - 105|) term.
    lon = np.concatenate([rng.uniform(73.0, 135.0, 50_000), rng.uniform(104.8, 105.3, 10_000)])
    lat = np.concatenate([rng.uniform(18.0, 53.5, 50_000), rng.uniform(29.3, 29.8, 10_000)])
    return lon, lat


# --- round trips -------------------------------------------------------------


def test_wgs_gcj_round_trip_is_sub_centimetre(china_points):
    lon, lat = china_points
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert haversine_m(lon, lat, *back).max() < 0.01


def test_gcj_wgs_round_trip_is_sub_centimetre(china_points):
    lon, lat = china_points
    back = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert haversine_m(lon, lat, *back).max() < 0.01


def test_wgs_bd_round_trip_is_sub_centimetre(china_points):
    lon, lat = china_points
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert haversine_m(lon, lat, *back).max() < 0.01


def test_bd_wgs_bd_round_trip_is_sub_centimetre(china_points):
    lon, lat = china_points
    back = wgs84_to_bd09(*bd09_to_wgs84(lon, lat))
    assert haversine_m(lon, lat, *back).max() < 0.01


def test_gcj_bd_round_trip_is_sub_centimetre(china_points):
    lon, lat = china_points
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert haversine_m(lon, lat, *back).max() < 0.01


def test_iteration_beats_the_naive_inverse(china_points):
    # Guards against someone "simplifying" gcj02_to_wgs84 to the one-step
    # inverse: that one is off by metres, which the round-trip test must catch.
    lon, lat = china_points
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    d_lon, d_lat = coords._gcj_delta(g_lon, g_lat)
    naive_err = haversine_m(lon, lat, g_lon - d_lon, g_lat - d_lat)
    assert naive_err.max() > 1.0
    assert haversine_m(lon, lat, *gcj02_to_wgs84(g_lon, g_lat)).max() < naive_err.max() / 1e4


# --- published reference points ---------------------------------------------


def test_beijing_railway_station_matches_geochina_reference():
    # R package geoChina docs (wgs2gcj/gcj2bd): Beijing railway station
    # WGS-84 (116.42079, 39.90105), GCJ-02 (116.42703, 39.90245),
    # BD-09 (116.43351, 39.90851); values printed to 5 decimals, so allow
    # 2e-5 deg (~2 m) for the rounding of both input and output.
    g_lon, g_lat = wgs84_to_gcj02(116.42079, 39.90105)
    assert g_lon == pytest.approx(116.42703, abs=2e-5)
    assert g_lat == pytest.approx(39.90245, abs=2e-5)
    b_lon, b_lat = gcj02_to_bd09(116.42703, 39.90245)
    assert b_lon == pytest.approx(116.43351, abs=2e-5)
    assert b_lat == pytest.approx(39.90851, abs=2e-5)
    w_lon, w_lat = bd09_to_wgs84(116.43351, 39.90851)
    assert w_lon == pytest.approx(116.42079, abs=2e-5)
    assert w_lat == pytest.approx(39.90105, abs=2e-5)


def test_tiananmen_matches_recharts2_reference():
    # R package recharts2 docs (convGCJ2WGS): Tiananmen GCJ-02
    # (116.397131, 39.908746) -> WGS-84 (116.39089, 39.90734) (OSM position).
    w_lon, w_lat = gcj02_to_wgs84(116.397131, 39.908746)
    assert w_lon == pytest.approx(116.39089, abs=1e-5)
    assert w_lat == pytest.approx(39.90734, abs=1e-5)


def test_full_precision_published_pair():
    # Published full-precision output of the standard formula (segmentfault.com
    # q/1010000045445748): this pins the exact coefficients, not just ~1 m.
    g_lon, g_lat = wgs84_to_gcj02(116.21444326466906, 39.90445824169115)
    assert g_lon == pytest.approx(116.22051284252636, abs=1e-9)
    assert g_lat == pytest.approx(39.90569596220289, abs=1e-9)


def test_offset_in_sichuan_is_a_few_hundred_metres():
    lon, lat = np.meshgrid(np.linspace(104.85, 105.25, 30), np.linspace(29.40, 29.75, 30))
    offset = estimate_offset_m(lon, lat)
    assert offset.shape == lon.shape
    assert offset.min() > 200.0
    assert offset.max() < 600.0
    # The BD-09 shift comes on top of GCJ-02 and is larger still.
    assert (haversine_m(lon, lat, *wgs84_to_bd09(lon, lat)) > offset).all()


# --- outside China / special values -----------------------------------------

# Tokyo, London, Sydney, New York, then two points just west / east of the
# GCJ-02 rectangle.
OUTSIDE = (
    np.array([139.767, -0.1276, 151.2093, -74.006, 72.0, 138.0]),
    np.array([35.681, 51.5072, -33.8688, 40.7128, 30.0, 40.0]),
)


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_outside_china_is_unchanged_for_gcj(func):
    lon, lat = func(*OUTSIDE)
    np.testing.assert_array_equal(lon, OUTSIDE[0])
    np.testing.assert_array_equal(lat, OUTSIDE[1])
    assert estimate_offset_m(*OUTSIDE).max() == 0.0


def test_bd09_is_applied_outside_china_but_still_round_trips():
    # Baidu's extra layer has no China test; only the GCJ-02 step is skipped.
    b_lon, b_lat = wgs84_to_bd09(*OUTSIDE)
    assert (haversine_m(*OUTSIDE, b_lon, b_lat) > 100.0).all()
    assert haversine_m(*OUTSIDE, *bd09_to_wgs84(b_lon, b_lat)).max() < 0.01


@pytest.mark.parametrize("func", CONVERTERS)
def test_nan_propagates_without_breaking_other_points(func):
    lon, lat = func([np.nan, 105.06], [29.58, 29.58])
    assert np.isnan(lon[0])
    assert np.isfinite(lon[1]) and np.isfinite(lat[1])
    ref_lon, ref_lat = func(105.06, 29.58)
    assert lon[1] == pytest.approx(float(ref_lon), abs=1e-12)
    assert lat[1] == pytest.approx(float(ref_lat), abs=1e-12)


# --- shapes and dtypes -------------------------------------------------------


@pytest.mark.parametrize("func", CONVERTERS)
def test_scalar_in_gives_0d_float64_out(func):
    lon, lat = func(105, 29)  # ints on purpose
    for out in (lon, lat):
        assert isinstance(out, np.ndarray)
        assert out.shape == ()
        assert out.dtype == np.float64


@pytest.mark.parametrize("func", CONVERTERS)
@pytest.mark.parametrize("shape", [(0,), (5,), (2, 3)])
def test_array_shape_is_preserved(func, shape):
    lon = np.full(shape, 105.06, dtype=np.float32)
    lat = np.full(shape, 29.58, dtype=np.float32)
    out_lon, out_lat = func(lon, lat)
    assert out_lon.shape == shape and out_lat.shape == shape
    assert out_lon.dtype == np.float64 and out_lat.dtype == np.float64


@pytest.mark.parametrize("func", CONVERTERS)
def test_lists_and_broadcasting(func):
    lons = [105.0, 105.1, 105.2]
    lon, lat = func(lons, 29.5)  # a scalar latitude broadcasts against the list
    assert lon.shape == lat.shape == (3,)
    for i, x in enumerate(lons):
        one_lon, one_lat = func(x, 29.5)
        assert lon[i] == pytest.approx(float(one_lon), abs=1e-12)
        assert lat[i] == pytest.approx(float(one_lat), abs=1e-12)


def test_inputs_are_not_modified():
    lon = np.array([105.06, 105.1])
    lat = np.array([29.58, 29.6])
    for func in CONVERTERS:
        func(lon, lat)
    out_lon, _ = to_wgs84(lon, lat, "wgs84")
    out_lon[0] = 0.0
    np.testing.assert_array_equal(lon, [105.06, 105.1])
    np.testing.assert_array_equal(lat, [29.58, 29.6])


# --- plausibility checks -----------------------------------------------------


def test_looks_swapped_on_shizhong_bbox():
    lon = np.array([105.06, 29.58, 104.90, 29.45, 116.39, 0.0, np.nan])
    lat = np.array([29.58, 105.06, 29.70, 105.20, 39.90, 0.0, 29.58])
    swapped = looks_swapped(lon, lat, SHIZHONG_BBOX)
    inside = inside_bbox(lon, lat, SHIZHONG_BBOX)
    assert swapped.tolist() == [False, True, False, True, False, False, False]
    assert inside.tolist() == [True, False, True, False, False, False, False]
    # Swapping the flagged points back puts them inside.
    assert inside_bbox(lat[swapped], lon[swapped], SHIZHONG_BBOX).all()


def test_inside_bbox_includes_edges_and_keeps_shape():
    lon = np.array([[104.85, 105.25], [104.849999, 105.250001]])
    lat = np.array([[29.40, 29.75], [29.5, 29.5]])
    assert inside_bbox(lon, lat, SHIZHONG_BBOX).tolist() == [[True, True], [False, False]]


def test_haversine_known_distances():
    # One degree of latitude on the IUGG mean sphere is 111.195 km.
    assert float(haversine_m(105.0, 29.0, 105.0, 30.0)) == pytest.approx(111_195.08, abs=0.5)
    # One degree of longitude shrinks with cos(latitude).
    assert float(haversine_m(105.0, 60.0, 106.0, 60.0)) == pytest.approx(55_597.5, rel=1e-3)
    assert float(haversine_m(0.0, 0.0, 180.0, 0.0)) == pytest.approx(np.pi * 6_371_008.8)
    assert float(haversine_m(105.06, 29.58, 105.06, 29.58)) == 0.0


# --- dispatcher and constants -----------------------------------------------


@pytest.mark.parametrize("name", ["wgs84", "WGS84", "EPSG:4326", "epsg:4326", "EPSG:4490"])
def test_to_wgs84_identity_names(name):
    lon, lat = to_wgs84([105.06, 105.1], [29.58, 29.6], name)
    np.testing.assert_array_equal(lon, [105.06, 105.1])
    np.testing.assert_array_equal(lat, [29.58, 29.6])


@pytest.mark.parametrize(
    ("name", "inverse"),
    [("gcj02", gcj02_to_wgs84), ("GCJ02", gcj02_to_wgs84), ("BD09", bd09_to_wgs84)],
)
def test_to_wgs84_dispatches(name, inverse):
    lon, lat = to_wgs84(105.06, 29.58, name)
    exp_lon, exp_lat = inverse(105.06, 29.58)
    assert float(lon) == float(exp_lon) and float(lat) == float(exp_lat)
    assert haversine_m(105.06, 29.58, lon, lat) > 100.0


@pytest.mark.parametrize("name", ["EPSG:4544", "EPSG:3857", "mars", ""])
def test_to_wgs84_rejects_other_crs_with_clear_message(name):
    with pytest.raises(ValueError, match="unsupported CRS") as exc:
        to_wgs84(105.0, 29.5, name)
    message = str(exc.value)
    assert repr(name) in message
    for expected in ("gcj02", "bd09", "EPSG:4490", "pyproj"):
        assert expected in message


def test_is_chinese_crs():
    assert is_chinese_crs("gcj02") and is_chinese_crs("BD09") and is_chinese_crs(" Gcj02 ")
    assert not is_chinese_crs("wgs84")
    assert not is_chinese_crs("EPSG:4326")
    assert not is_chinese_crs("EPSG:4544")
    assert set(CHINESE_CRS) == {"gcj02", "bd09"}


def test_constants():
    assert METRIC_CRS == "EPSG:4544"
    assert STORAGE_CRS == "EPSG:4326"


def test_metric_crs_is_the_105e_gauss_kruger_zone():
    pyproj = pytest.importorskip("pyproj")
    crs = pyproj.CRS.from_user_input(METRIC_CRS)
    assert crs.is_projected
    assert "CGCS2000" in crs.name and "105E" in crs.name


def test_looks_swapped_ignores_points_inside_either_way():
    # In a bbox that straddles the diagonal a point can be inside in both
    # orders; it is then plausible as given and must not be flagged.
    bbox = (0.0, 0.0, 10.0, 20.0)
    assert looks_swapped([5.0, 15.0, 25.0], [6.0, 5.0, 5.0], bbox).tolist() == [False, True, False]
