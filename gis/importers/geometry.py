"""Geometry checks before anything is written: shape, validity, and "inside the district".

Invalid polygons are repaired the way ``shapely.make_valid`` (and PostGIS ``ST_MakeValid``)
does, keeping the polygonal part, and every repair is reported with its row. Rows outside the
district are rejected here, with a diagnosis where one is likely: columns swapped, or GCJ-02
(or BD-09) coordinates declared as WGS84. The database triggers check again as a safety net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.coords import bd09_to_wgs84, gcj02_to_wgs84, haversine_m, looks_swapped

#: A single geometry larger than this is refused rather than risking minutes of work.
MAX_VERTICES = 2_000_000
#: Share of the outside rows that must land inside once converted to call it a CRS mix-up.
CRS_HINT_SHARE = 0.9
Problem = tuple[int | None, str | None, str]
GEOM = "几何 / geometry"


@dataclass
class Checked:
    """Geometries ready to write and what was done to them."""

    geoms: np.ndarray
    repairs: list[tuple[int, str]] = field(default_factory=list)
    hint: tuple[str, str] | None = None


def _polygonal(geom: BaseGeometry) -> shapely.MultiPolygon | None:
    parts = [p for p in shapely.get_parts(geom) if not p.is_empty]
    polys: list[shapely.Polygon] = []
    for part in parts:
        if part.geom_type == "Polygon":
            polys.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            sub = _polygonal(part)
            if sub is not None:
                polys.extend(sub.geoms)
    return shapely.MultiPolygon(polys) if polys else None


def _shape_polygons(geoms: np.ndarray, problems: list[Problem],
                    repairs: list[tuple[int, str]]) -> np.ndarray:
    out = geoms.copy()
    kinds = shapely.get_type_id(geoms)  # -1 for missing
    polygonal = np.isin(kinds, (3, 6, 7))  # Polygon, MultiPolygon, GeometryCollection
    for i in np.flatnonzero(~polygonal & (kinds >= 0)):
        problems.append((int(i) + 1, GEOM, f"需要面要素，实际是 {geoms[i].geom_type} / needs a "
                                           f"polygon, got {geoms[i].geom_type}"))
        out[i] = None
    valid = shapely.is_valid(out)
    for i in np.flatnonzero(polygonal & ~valid):
        reason = shapely.is_valid_reason(out[i])
        fixed = _polygonal(shapely.make_valid(out[i]))
        if fixed is None or fixed.is_empty:
            problems.append((int(i) + 1, GEOM, f"几何无效且无法修复（{reason}）/ invalid geometry "
                                               f"that cannot be repaired ({reason})"))
            out[i] = None
            continue
        out[i] = fixed
        repairs.append((int(i) + 1, f"几何无效（{reason}），已修复为 {len(fixed.geoms)} 个面 / "
                                    f"invalid geometry ({reason}) repaired into "
                                    f"{len(fixed.geoms)} polygon(s)"))
    for i in np.flatnonzero(polygonal & valid):
        if out[i].geom_type != "MultiPolygon":
            fixed = _polygonal(out[i])
            if fixed is None:
                problems.append((int(i) + 1, GEOM, "几何中没有面 / no polygon in the geometry"))
            out[i] = fixed
    return out


def _shape_points(geoms: np.ndarray, problems: list[Problem]) -> np.ndarray:
    out = geoms.copy()
    kinds = shapely.get_type_id(geoms)
    multi = np.flatnonzero(kinds == 4)  # MultiPoint with one member is a point in disguise
    for i in multi:
        if shapely.get_num_geometries(geoms[i]) == 1:
            out[i] = shapely.get_geometry(geoms[i], 0)
            kinds[i] = 0
    for i in np.flatnonzero((kinds != 0) & (kinds >= 0)):
        problems.append((int(i) + 1, GEOM, f"需要点要素，实际是 {geoms[i].geom_type} / needs a "
                                           f"point, got {geoms[i].geom_type}"))
        out[i] = None
    return out


def shape_geometries(geoms: np.ndarray, polygons: bool, problems: list[Problem],
                     already_reported: set[int]) -> Checked:
    """Check the type and validity of every geometry; repair invalid polygons.

    Parameters
    ----------
    geoms
        Shapely geometries in WGS84 (``None`` for rows whose geometry could not be read).
    polygons
        The kind stores MultiPolygons (grids, courtyards) rather than points.
    problems
        Row problems are appended here.
    already_reported
        Rows whose missing geometry was already reported by the reader.
    """
    geoms = np.array(geoms, dtype=object)  # a copy: the caller's frame stays as read
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        if int(i) + 1 not in already_reported:
            problems.append((int(i) + 1, GEOM, "缺少几何 / geometry missing"))
    geoms[missing] = None
    vertices = shapely.get_num_coordinates(geoms)
    for i in np.flatnonzero(vertices > MAX_VERTICES):
        problems.append((int(i) + 1, GEOM, f"几何有 {vertices[i]} 个顶点，超过上限 {MAX_VERTICES}，"
                                           f"请先简化 / {vertices[i]} vertices exceed the limit of "
                                           f"{MAX_VERTICES}; simplify it first"))
        geoms[i] = None
    checked = Checked(np.empty(0, object))
    if polygons:
        checked.geoms = _shape_polygons(geoms, problems, checked.repairs)
    else:
        checked.geoms = _shape_points(geoms, problems)
    return checked


def _inside(district: BaseGeometry, geoms: np.ndarray) -> np.ndarray:
    present = ~shapely.is_missing(geoms)
    inside = np.ones(len(geoms), bool)
    if not present.any():
        return inside
    kinds = shapely.get_type_id(geoms)
    points = present & (kinds == 0)
    if points.any():
        inside[points] = shapely.intersects_xy(district, shapely.get_x(geoms[points]),
                                               shapely.get_y(geoms[points]))
    others = present & ~points
    if others.any():
        inside[others] = shapely.covers(district, geoms[others])
    return inside


def _anchor(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The bounding-box centre: cheap for a 100k-vertex polygon, good enough for a diagnosis.
    bounds = shapely.bounds(geoms)
    return (bounds[:, 0] + bounds[:, 2]) / 2.0, (bounds[:, 1] + bounds[:, 3]) / 2.0


def _convert(geoms: np.ndarray, convert: object) -> np.ndarray:
    def shift(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(convert(xy[:, 0], xy[:, 1]))  # type: ignore[operator]

    return shapely.transform(geoms, shift)


def check_location(checked: Checked, district: BaseGeometry, wgs84_source: bool,
                   problems: list[Problem]) -> None:
    """Reject rows outside ``district``, explaining swapped columns or a CRS mix-up.

    Parameters
    ----------
    checked
        Output of :func:`shape_geometries`; ``checked.hint`` is set to a file-level message
        when the outside rows look like GCJ-02/BD-09 coordinates declared as WGS84.
    district
        The district boundary with its tolerance band (:func:`gis.district.district_geometry`).
    wgs84_source
        The file's coordinates were WGS84 as given, so a GCJ-02/BD-09 mix-up is possible.
    """
    shapely.prepare(district)
    geoms = checked.geoms
    outside = ~_inside(district, geoms)
    if not outside.any():
        return
    idx = np.flatnonzero(outside)
    lon, lat = _anchor(geoms[idx])
    minx, miny, maxx, maxy = (float(v) for v in district.bounds)
    swapped = np.zeros(len(idx), bool)
    if wgs84_source:  # swapping only makes sense for degrees
        swapped = looks_swapped(lon, lat, (minx, miny, maxx, maxy))
    for j in np.flatnonzero(swapped):
        problems.append((int(idx[j]) + 1, GEOM,
                         f"经纬度列看起来颠倒了（{lon[j]:.5f}, {lat[j]:.5f}）/ the lon and lat "
                         f"columns look swapped ({lon[j]:.5f}, {lat[j]:.5f})"))
    rest = idx[~swapped]
    if wgs84_source and len(rest):
        checked.hint = _crs_hint(district, geoms[rest])
    for i in rest:
        lo, la = _anchor(geoms[i : i + 1])
        problems.append((int(i) + 1, GEOM, f"位置超出辖区范围（{lo[0]:.5f}, {la[0]:.5f}）/ lies "
                                           f"outside the district ({lo[0]:.5f}, {la[0]:.5f})"))


def _crs_hint(district: BaseGeometry, outside: np.ndarray) -> tuple[str, str] | None:
    """A message when converting the outside rows from GCJ-02 (or BD-09) puts them inside."""
    for name, convert in (("gcj02", gcj02_to_wgs84), ("bd09", bd09_to_wgs84)):
        moved = _convert(outside, convert)
        if _inside(district, moved).mean() < CRS_HINT_SHARE:
            continue
        shift = float(np.median(_shift_m(outside, moved)))
        label = "GCJ-02" if name == "gcj02" else "BD-09"
        return (f"看起来是{label}坐标，请使用 --crs {name}（估计偏移约 {shift:.0f} 米）",
                f"these look like {label} coordinates, use --crs {name} (estimated shift "
                f"about {shift:.0f} m)")
    return None


def _shift_m(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    lon0, lat0 = _anchor(before)
    lon1, lat1 = _anchor(after)
    return haversine_m(lon0, lat0, lon1, lat1)
