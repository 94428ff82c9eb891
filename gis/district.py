"""The district boundary: read from the reference file, stored once, used by every check.

The reference boundary (``../shared/data/neijiang_511000_gcj02.geojson``) is GCJ-02, as web
maps publish it; drawn on WGS84 tiles unconverted it sits a few hundred metres off. It is read
through the importers' reader, so the same CRS rules apply to it as to a planner's file.
"""

from __future__ import annotations

from pathlib import Path

import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from config.settings import Settings
from gis.errors import ImportValidationError
from gis.models import District


def read_boundary(path: Path, adcode: str, crs: str) -> shapely.MultiPolygon:
    """Read the boundary of ``adcode`` from ``path`` and return it in WGS84.

    Parameters
    ----------
    path
        Any vector file the importers read (GeoJSON, GeoPackage, Shapefile, KML).
    adcode
        Six-digit administrative code; matched against an ``adcode`` attribute.
    crs
        The file's coordinate system if it does not declare one (``gcj02`` for web-map data).

    Raises
    ------
    ImportValidationError
        When the file cannot be read or holds no feature with that code.
    """
    from gis.importers.reader import read_table

    table = read_table(path, crs=crs)
    if "adcode" not in table.columns:
        raise ImportValidationError(f"{path.name} 没有 adcode 字段",
                                    f"{path.name} has no adcode column")
    match = table[table["adcode"].astype(str) == str(adcode)]
    if match.empty:
        raise ImportValidationError(f"{path.name} 中没有行政区划代码 {adcode}",
                                    f"{path.name} holds no feature with adcode {adcode}")
    geom = shapely.make_valid(shapely.union_all(match.geometry.values))
    return shapely.MultiPolygon([g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"])


def load_district(session: Session, settings: Settings) -> District:
    """Store (or replace) the configured district's boundary; returns the row."""
    cfg = settings.district
    boundary = read_boundary(settings.path(cfg.boundary_file), cfg.adcode, cfg.boundary_crs)
    row = session.scalar(sa.select(District).where(District.adcode == cfg.adcode))
    if row is None:
        row = District(adcode=cfg.adcode)
        session.add(row)
    row.name_zh = cfg.name_zh
    row.name_en = cfg.name_en
    row.tolerance_m = cfg.tolerance_m
    row.geom = from_shape(boundary, srid=4326)
    session.flush()
    return row


def district_geometry(session: Session) -> BaseGeometry | None:
    """The stored boundary widened by its tolerance (what the database checks against)."""
    geom = session.scalar(sa.select(District.check_geom).limit(1))
    return None if geom is None else to_shape(geom)


def district_boundary(session: Session) -> BaseGeometry | None:
    """The stored boundary itself, in WGS84."""
    geom = session.scalar(sa.select(District.geom).limit(1))
    return None if geom is None else to_shape(geom)
