"""Geometry helpers for the generator: metric projection, sampling, clustering, EWKB.

Everything is generated in EPSG:4544 (CGCS2000 Gauss-Krüger, central meridian 105°E), where
distances are metres, and converted to WGS84 only when written. All randomness comes from the
numpy ``Generator`` handed in, so results depend on the seed alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gis.coords import METRIC_CRS, STORAGE_CRS

FloatArray = npt.NDArray[np.float64]

_TO_METRIC = pyproj.Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True)
_TO_WGS84 = pyproj.Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True)

#: The centre of Neijiang's urban core, where grids are smallest and events densest.
CORE_LONLAT = (105.05, 29.58)


def _apply(transformer: pyproj.Transformer, coords: FloatArray) -> FloatArray:
    x, y = transformer.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def to_metric(geom: Any) -> Any:
    """WGS84 geometry (or array of them) → EPSG:4544 metres."""
    return shapely.transform(geom, lambda c: _apply(_TO_METRIC, c))


def to_wgs84(geom: Any) -> Any:
    """EPSG:4544 geometry (or array of them) → WGS84 lon/lat."""
    return shapely.transform(geom, lambda c: _apply(_TO_WGS84, c))


def xy_to_lonlat(xy: FloatArray) -> FloatArray:
    """An ``(n, 2)`` array of metric coordinates → ``(n, 2)`` lon/lat."""
    return _apply(_TO_WGS84, np.asarray(xy, dtype=np.float64).reshape(-1, 2))


def core_xy() -> FloatArray:
    """The urban core in metres."""
    return _apply(_TO_METRIC, np.array([CORE_LONLAT], dtype=np.float64))[0]


def as_multipolygon(geom: BaseGeometry) -> shapely.MultiPolygon:
    """Valid MultiPolygon made of the polygonal parts of ``geom`` (slivers of lines dropped)."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    nested = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(nested)


def ewkb(geom: BaseGeometry) -> str:
    """Hex EWKB with SRID 4326: what PostGIS parses fastest from COPY text."""
    return str(shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True, include_srid=True))


def wgs84_multipolygon(shape_m: BaseGeometry) -> shapely.MultiPolygon:
    """Metric polygon → valid WGS84 MultiPolygon ready to store."""
    return as_multipolygon(to_wgs84(shape_m))


def points_in(polygon: BaseGeometry, n: int, rng: np.random.Generator,
              max_rounds: int = 50) -> FloatArray:
    """``n`` uniform random points inside ``polygon`` (rejection sampling on its bounds)."""
    shapely.prepare(polygon)
    minx, miny, maxx, maxy = polygon.bounds
    out: list[FloatArray] = []
    have = 0
    for _ in range(max_rounds):
        if have >= n:
            break
        ratio = max(polygon.area / max((maxx - minx) * (maxy - miny), 1e-9), 0.01)
        m = int((n - have) / ratio * 1.3) + 8
        cand = np.column_stack([rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)])
        cand = cand[shapely.contains_xy(polygon, cand[:, 0], cand[:, 1])]
        out.append(cand)
        have += len(cand)
    pts = np.concatenate(out) if out else np.empty((0, 2))
    if len(pts) < n:  # a sliver: fall back to a point that is surely inside
        rp = shapely.get_coordinates(polygon.representative_point())
        pts = np.concatenate([pts, np.repeat(rp, n - len(pts), axis=0)])
    return pts[:n]


def kmeans(points: FloatArray, k: int, rng: np.random.Generator,
           iterations: int = 40) -> npt.NDArray[np.int64]:
    """Cluster labels of ``points`` into ``k`` groups (k-means++ start, Lloyd iterations).

    Clusters of Voronoi generator points are unions of neighbouring cells, which is why the
    communities and streets built from them come out contiguous (or nearly so).
    """
    n = len(points)
    k = max(1, min(k, n))
    centres = np.empty((k, 2))
    centres[0] = points[rng.integers(n)]
    d2 = ((points - centres[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
        centres[i] = points[rng.choice(n, p=p)]
        d2 = np.minimum(d2, ((points - centres[i]) ** 2).sum(axis=1))
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        dist = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        # Keep every cluster non-empty: an emptied centre takes the farthest point.
        for j in range(k):
            if not np.any(new == j):
                far = int(dist[np.arange(n), new].argmax())
                new[far] = j
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            centres[j] = points[labels == j].mean(axis=0)
    return labels


def azimuth_deg(dx: FloatArray | float, dy: FloatArray | float) -> FloatArray:
    """Compass bearing (0 = north, clockwise) of the direction ``(dx, dy)``, in [0, 360)."""
    az = np.degrees(np.arctan2(dx, dy)) % 360.0
    return np.where(az >= 360.0, 0.0, az)
