"""Nearest cameras to a point, by true (ellipsoidal) distance in metres.

The search is a KNN scan of ``camera_geog_idx`` (GIST on ``geom::geography``):
``ORDER BY geom::geography <-> point LIMIT k`` reads only the index entries nearest the point,
so it costs about the same at 10k cameras as at 1M. The ``<->`` operator on geography measures
on the sphere, while the distance we report is on the WGS84 spheroid (``ST_Distance(…, true)``);
the two differ by up to ~0.5 %, so the index hands us spare candidates and the final order
comes from the exact distance. When the spares are not enough to be sure (many cameras at
almost the same distance), the search widens itself.

Stream URLs are never selected here: the relay reads them on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import CAMERA_SOURCES
from gis.queries.errors import QueryError

# Sphere vs spheroid: the relative difference is below 0.5 % everywhere (< 0.4 % in
# Sichuan); a candidate whose spherical distance exceeds the n-th exact distance by more than
# this factor cannot belong in the top n.
_SPHERE_SLACK = 1.01

# The radius is applied to the KNN candidates, not inside the scan: with ST_DWithin in the WHERE
# the planner (which underestimates how many cameras lie within it) swaps the ordered index
# scan for a bitmap scan plus sort. Filters on source/health stay inside the scan; because a
# selective filter could make a KNN scan walk far, the radius then bounds the scan as well.
# The query point written out where it is used: taken from a CTE or a join it is no longer a
# constant for the scan, and the planner falls back to a sequential scan plus sort.
_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"
_RADIUS_COND = f"ST_DWithin(c.geom::geography, {_POINT}, :radius * :slack, false)"
_SOURCES_COND = "c.source = ANY(:sources)"
_ONLINE_COND = "c.health_status = 'online'"

_NEAREST_SQL = """
SELECT knn.id, knn.code, knn.name_zh, knn.source, knn.vendor, knn.health_status,
       knn.azimuth_deg, knn.fov_deg, knn.range_m, knn.grid_id,
       ST_X(knn.geom) AS lon, ST_Y(knn.geom) AS lat, knn.sphere_m,
       ST_Distance(knn.geom::geography, {point}, true) AS distance_m
FROM (
  SELECT c.id, c.code, c.name_zh, c.source, c.vendor, c.health_status, c.azimuth_deg,
         c.fov_deg, c.range_m, c.grid_id, c.geom,
         c.geom::geography <-> {point} AS sphere_m
  FROM camera c
  WHERE {where}
  ORDER BY c.geom::geography <-> {point}
  LIMIT :k
) knn
"""


@dataclass(frozen=True, slots=True)
class NearbyCamera:
    """A camera near a point; ``distance_m`` is the geodesic distance on WGS84 in metres."""

    id: int
    code: str
    name_zh: str
    source: str
    vendor: str
    health_status: str
    azimuth_deg: float
    fov_deg: float
    range_m: float
    grid_id: int | None
    lon: float
    lat: float
    distance_m: float


def _check_point(lon: float, lat: float) -> None:
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise QueryError(f"坐标无效：经度 {lon}，纬度 {lat}",
                         f"invalid coordinates: lon {lon}, lat {lat}")


def _query(lon: float, lat: float, radius_m: float | None, sources: Sequence[str] | None,
           online_only: bool) -> tuple[str, dict[str, object]]:
    """Validate the arguments; the SQL (with ``:k`` unbound) and its parameters."""
    _check_point(lon, lat)
    if radius_m is not None and radius_m <= 0:
        raise QueryError(f"搜索半径必须大于 0（{radius_m}）",
                         f"search radius must be positive ({radius_m})")
    unknown = sorted(set(sources or ()) - set(CAMERA_SOURCES))
    if unknown:
        raise QueryError(f"未知的监控来源：{', '.join(unknown)}",
                         f"unknown camera source(s): {', '.join(unknown)}")
    conditions: list[str] = []
    params: dict[str, object] = {"lon": lon, "lat": lat, "slack": _SPHERE_SLACK}
    if sources is not None:
        conditions.append(_SOURCES_COND)
        params["sources"] = list(sources)
    if online_only:
        conditions.append(_ONLINE_COND)
    if radius_m is not None:
        params["radius"] = float(radius_m)
        if conditions:
            conditions.append(_RADIUS_COND)
    where = " AND ".join(conditions) or "true"
    return _NEAREST_SQL.format(where=where, point=_POINT), params


def nearest_cameras(session: Session, lon: float, lat: float, n: int = 4,
                    radius_m: float | None = 300.0, *, sources: Sequence[str] | None = None,
                    online_only: bool = False) -> list[NearbyCamera]:
    """The ``n`` cameras nearest to (``lon``, ``lat``), nearest first.

    Parameters
    ----------
    session
        An open session.
    lon, lat
        The point, WGS84 degrees.
    n
        How many cameras at most.
    radius_m
        Only cameras within this geodesic distance (metres); ``None`` for no limit.
    sources
        Only these camera sources (``skynet``, ``community``, ``courtyard``); ``None`` for all.
    online_only
        Only cameras whose last health check said ``online``.

    Returns
    -------
    list of NearbyCamera
        Ordered by ``distance_m`` (geodesic metres on the WGS84 spheroid), ties by id.
        Rows carry no stream URLs.

    Examples
    --------
    >>> cams = nearest_cameras(session, 105.058, 29.585, n=4, radius_m=300)  # doctest: +SKIP
    >>> [round(c.distance_m) for c in cams]  # doctest: +SKIP
    [12, 48, 95, 230]
    """
    sql, params = _query(lon, lat, radius_m, sources, online_only)
    if n < 1:
        return []
    k = 2 * n + 8
    while True:
        rows = session.execute(sa.text(sql), {**params, "k": k}).mappings().all()
        exact = sorted((r for r in rows if radius_m is None or r["distance_m"] <= radius_m),
                       key=lambda r: (r["distance_m"], r["id"]))
        # Done when the index ran dry, or when the farthest candidate (on the sphere) is
        # clearly beyond the radius or the n-th exact distance, so no camera outside the
        # candidates can qualify.
        farthest = max((r["sphere_m"] for r in rows), default=0.0)
        if (len(rows) < k
                or (radius_m is not None and farthest > radius_m * _SPHERE_SLACK)
                or (len(exact) >= n and farthest > exact[n - 1]["distance_m"] * _SPHERE_SLACK)):
            break
        k *= 4
    return [NearbyCamera(**{f: r[f] for f in NearbyCamera.__dataclass_fields__})
            for r in exact[:n]]


def explain_nearest(session: Session, lon: float, lat: float, n: int = 10,
                    radius_m: float | None = 300.0, *, sources: Sequence[str] | None = None,
                    online_only: bool = False, analyze: bool = False) -> str:
    """The plan PostgreSQL uses for :func:`nearest_cameras` (its first round), as text.

    For diagnostics and benchmarks: it should show ``Index Scan using camera_geog_idx`` with
    an ``Order By`` (a KNN scan). With ``analyze=True`` the query runs and the text ends with
    the server's execution time.
    """
    sql, params = _query(lon, lat, radius_m, sources, online_only)
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    rows = session.execute(sa.text(prefix + sql), {**params, "k": 2 * n + 8}).all()
    return "\n".join(r[0] for r in rows)
