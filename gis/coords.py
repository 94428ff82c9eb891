"""Conversions between WGS-84 and the Chinese web-map coordinate systems.

Gaode/Amap, Tencent and Google China use GCJ-02 (the state-mandated
obfuscation of WGS-84) and Baidu uses BD-09 (a further distortion on top of
GCJ-02), so data digitised on those maps is off by hundreds of metres.

Everything here is vectorised with numpy: inputs may be scalars, lists or
arrays (broadcast against each other) and the outputs are float64 arrays of the
broadcast shape (0-d for scalars). Only these systems live here; any other EPSG
code is reprojected with pyproj elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
BBox = tuple[float, float, float, float]
_Forward = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]

#: CGCS2000 / 3-degree Gauss-Kruger CM 105E: Neijiang sits at ~105.06E.
METRIC_CRS = "EPSG:4544"
#: Everything is stored as lon/lat WGS-84 (CGCS2000 differs by centimetres).
STORAGE_CRS = "EPSG:4326"
CHINESE_CRS = frozenset({"gcj02", "bd09"})

# Krasovsky 1940 ellipsoid, which the GCJ-02 formula is built on.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_EARTH_RADIUS_M = 6371008.8  # IUGG mean radius
# Rough rectangle around mainland China used by the public GCJ-02 code; the real
# obfuscation also skips points outside China, so we must not shift them either.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
# 1e-9 deg is ~0.1 mm. Convergence takes 3-4 steps; the cap only guards
# against pathological input.
_TOL_DEG = 1e-9
_MAX_ITER = 10

# Names accepted by to_wgs84 (compared lower-cased) -> canonical system.
_CRS_ALIASES = {
    **dict.fromkeys(("wgs84", "wgs-84", "epsg:4326", "epsg:4490", "cgcs2000"), "wgs84"),
    **dict.fromkeys(("gcj02", "gcj-02"), "gcj02"),
    **dict.fromkeys(("bd09", "bd-09", "bd09ll"), "bd09"),
}


def _pair(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return lon_a, lat_a


def _in_china(lon: FloatArray, lat: FloatArray) -> BoolArray:
    # NaN compares False, so missing coordinates are treated as "outside" and
    # flow through unchanged instead of poisoning the iterations.
    return (
        (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1])
        & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    )  # fmt: skip


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 shift (dlon, dlat) in degrees at WGS-84 (lon, lat), no China test."""
    x = lon - 105.0
    y = lat - 35.0
    # The first periodic term is shared by the latitude and longitude series.
    shared = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + shared
        + (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + shared
        + (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    # The series above are in metres; turn them into degrees on the ellipsoid
    # using the meridian (M) and prime-vertical (N) radii of curvature.
    rad_lat = np.radians(lat)
    w2 = 1.0 - _EE * np.sin(rad_lat) ** 2
    m_radius = _A * (1.0 - _EE) / (w2 * np.sqrt(w2))
    n_radius = _A / np.sqrt(w2)
    return np.degrees(dlon / (n_radius * np.cos(rad_lat))), np.degrees(dlat / m_radius)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Obfuscate WGS-84 lon/lat to GCJ-02 (Gaode/Amap, Tencent).

    Points outside mainland China are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(105.06, 29.58)
    >>> round(float(lon) - 105.06, 4), round(float(lat) - 29.58, 4)
    (0.0032, -0.0026)
    """
    lon_a, lat_a = _pair(lon, lat)
    dlon, dlat = _gcj_delta(lon_a, lat_a)
    inside = _in_china(lon_a, lat_a)
    return np.where(inside, lon_a + dlon, lon_a), np.where(inside, lat_a + dlat, lat_a)


def _invert(
    forward: _Forward, t_lon: FloatArray, t_lat: FloatArray, lon: FloatArray, lat: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Fixed-point iteration x <- x - (forward(x) - target).

    It converges because both forward maps are the identity plus a small, smooth
    perturbation (Jacobian ~1e-3), so each step gains about three digits.
    """
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(lon, lat)
        err_lon = f_lon - t_lon
        err_lat = f_lat - t_lat
        lon = lon - err_lon
        lat = lat - err_lat
        err = np.maximum(np.abs(err_lon), np.abs(err_lat))
        if np.max(err, initial=0.0, where=np.isfinite(err)) < _TOL_DEG:
            break
    return np.asarray(lon), np.asarray(lat)


def _gcj_forward_unmasked(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Recover WGS-84 lon/lat from GCJ-02 by iterating on the forward transform.

    The naive inverse (subtract the shift evaluated at the GCJ-02 point) is
    off by up to ~5 m; 3-4 iterations bring the round trip to sub-millimetre.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(105.06, 29.58))
    >>> round(float(lon), 9), round(float(lat), 9)
    (105.06, 29.58)
    """
    lon_a, lat_a = _pair(lon, lat)
    inside = _in_china(lon_a, lat_a)
    out_lon, out_lat = lon_a.copy(), lat_a.copy()
    if inside.any():
        t_lon, t_lat = lon_a[inside], lat_a[inside]
        dlon, dlat = _gcj_delta(t_lon, t_lat)
        # The China test is decided once on the input; re-testing inside the
        # loop could flip a point near the border and break convergence.
        out_lon[inside], out_lat[inside] = _invert(
            _gcj_forward_unmasked, t_lon, t_lat, t_lon - dlon, t_lat - dlat
        )
    return out_lon, out_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 lon/lat to Baidu's BD-09 (applied everywhere, like Baidu).

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.42703, 39.90245)
    >>> round(float(lon), 4), round(float(lat), 4)
    (116.4335, 39.9085)
    """
    x, y = _pair(lon, lat)
    # BD-09 perturbs the polar form (radius, angle) of the raw degree values.
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return np.asarray(z * np.cos(theta) + 0.0065), np.asarray(z * np.sin(theta) + 0.006)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to GCJ-02.

    The widely used closed-form "inverse" evaluates the perturbation at the
    wrong point and leaves up to ~0.2 m of error, so it only seeds an iteration.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09(105.06, 29.58))
    >>> round(float(lon), 9), round(float(lat), 9)
    (105.06, 29.58)
    """
    bd_lon, bd_lat = _pair(lon, lat)
    x = bd_lon - 0.0065
    y = bd_lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, bd_lon, bd_lat, z * np.cos(theta), z * np.sin(theta))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 lon/lat to BD-09 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(116.42079, 39.90105)
    >>> round(float(lon), 4), round(float(lat), 4)
    (116.4335, 39.9085)
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to WGS-84 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(105.06, 29.58))
    >>> round(float(lon), 9), round(float(lat), 9)
    (105.06, 29.58)
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _normalise_crs(name: str) -> str | None:
    return _CRS_ALIASES.get(str(name).strip().lower())


def is_chinese_crs(name: str) -> bool:
    """True for the Chinese web-map systems ("gcj02", "bd09", any case).

    Examples
    --------
    >>> is_chinese_crs("GCJ02"), is_chinese_crs("EPSG:4326")
    (True, False)
    """
    return _normalise_crs(name) in CHINESE_CRS


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Convert from "wgs84"/"EPSG:4326"/"EPSG:4490", "gcj02" or "bd09" to WGS-84.

    EPSG:4490 (CGCS2000) is treated as WGS-84: the two agree to a few cm.

    Raises
    ------
    ValueError
        For any other name; other EPSG codes belong to pyproj, not here.

    Examples
    --------
    >>> lon, lat = to_wgs84([105.06], [29.58], "EPSG:4490")
    >>> lon.tolist(), lat.tolist()
    ([105.06], [29.58])
    """
    kind = _normalise_crs(crs)
    if kind == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if kind == "bd09":
        return bd09_to_wgs84(lon, lat)
    if kind == "wgs84":
        # Copy: _pair may hand back views of the caller's (or broadcast) arrays.
        lon_a, lat_a = _pair(lon, lat)
        return lon_a.copy(), lat_a.copy()
    raise ValueError(
        f"to_wgs84: unsupported CRS {crs!r}; expected one of 'wgs84', 'EPSG:4326', "
        "'EPSG:4490', 'gcj02' or 'bd09' (case-insensitive). Reproject other EPSG "
        "codes with pyproj."
    )


def haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> FloatArray:
    """Great-circle distance in metres on a sphere of radius 6371008.8 m.

    Good to ~0.5 % (sphere vs ellipsoid); exact metric work is done in PostGIS.

    Examples
    --------
    >>> round(float(haversine_m(105.0, 29.0, 105.0, 30.0)))
    111195
    """
    lo1, la1, lo2, la2 = np.broadcast_arrays(
        *(np.radians(np.asarray(v, dtype=np.float64)) for v in (lon1, lat1, lon2, lat2))
    )
    h = np.sin((la2 - la1) / 2.0) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2.0) ** 2
    # Clip: rounding can push h a hair above 1 for antipodal points.
    return 2.0 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def inside_bbox(lon: ArrayLike, lat: ArrayLike, bbox: BBox) -> BoolArray:
    """Mask of points inside bbox = (minx, miny, maxx, maxy), edges included.

    Examples
    --------
    >>> inside_bbox([105.0, 29.5], [29.5, 105.0], (104.85, 29.40, 105.25, 29.75)).tolist()
    [True, False]
    """
    minx, miny, maxx, maxy = bbox
    lon_a, lat_a = _pair(lon, lat)
    return (lon_a >= minx) & (lon_a <= maxx) & (lat_a >= miny) & (lat_a <= maxy)


def looks_swapped(lon: ArrayLike, lat: ArrayLike, bbox: BBox) -> BoolArray:
    """Mask of points that only land in bbox once lon and lat are exchanged.

    Catches spreadsheets whose "x"/"y" or 经度/纬度 columns were swapped.

    Examples
    --------
    >>> looks_swapped([29.5, 105.0], [105.0, 29.5], (104.85, 29.40, 105.25, 29.75)).tolist()
    [True, False]
    """
    return inside_bbox(lat, lon, bbox) & ~inside_bbox(lon, lat, bbox)


def estimate_offset_m(lon: ArrayLike, lat: ArrayLike) -> FloatArray:
    """Size in metres of the GCJ-02 shift at WGS-84 points (0 outside China).

    Use it to word diagnostics, e.g. "looks like GCJ-02 declared as WGS84,
    shift ~500 m". In China it ranges ~20-700 m; BD-09 adds another ~0.8-1 km.

    Examples
    --------
    >>> 200 < float(estimate_offset_m(105.06, 29.58)) < 600
    True
    """
    lon_a, lat_a = _pair(lon, lat)
    return haversine_m(lon_a, lat_a, *wgs84_to_gcj02(lon_a, lat_a))
