"""Small helpers shared by the report sections: rows to (Geo)DataFrames, metric projection.

Geometries travel from the database as WKB (``ST_AsBinary``) and become one GeoSeries in a
single vectorised call; every frame keeps its columns when it has no row, so an export still
writes the header of an empty table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.coords import METRIC_CRS, STORAGE_CRS

_TO_WGS84 = pyproj.Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True)


def geo_frame(rows: Sequence[Sequence[Any]], columns: Sequence[str],
              crs: str = STORAGE_CRS) -> gpd.GeoDataFrame:
    """A GeoDataFrame from rows whose *last* value is WKB; ``columns`` excludes geometry."""
    frame = pd.DataFrame([tuple(r[:-1]) for r in rows], columns=list(columns))
    wkb = [bytes(r[-1]) if r[-1] is not None else None for r in rows]
    geometry = shapely.from_wkb(np.array(wkb, dtype=object)) if wkb else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)


def to_wgs84(geoms: Any) -> Any:
    """EPSG:4544 geometries (one or an array) to WGS84 lon/lat."""
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = _TO_WGS84.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)



def column_frame(session: Session, sql: str, params: dict[str, Any],
                 columns: Sequence[str]) -> pd.DataFrame:
    """Run ``sql`` (selecting ``columns`` by those names) and return its rows as a frame.

    The rows travel as one array per column (``array_agg``): for a million events that is
    about half the time of a million result rows, each turned into a Python tuple by the
    driver, a ``Row`` by SQLAlchemy and probed again by pandas. An empty result keeps the
    columns.
    """
    aggs = ", ".join(f"array_agg(q.{c})" for c in columns)
    row = session.execute(sa.text(f"SELECT {aggs} FROM ({sql}) q"), params).one()
    return pd.DataFrame({c: (v if v is not None else []) for c, v in zip(columns, row,
                                                                         strict=True)})


@contextmanager
def hash_grouping(session: Session) -> Iterator[None]:
    """Let ``GROUP BY`` over many events hash instead of sort, within this block only.

    The planner cannot estimate groups of computed keys (a lattice cell, a local week) and
    assumes one per event; it then sorts a million rows by text keys (3 s) instead of hashing
    them into a few thousand groups (1.4 s). ``set_config(…, true)`` is transaction-local and
    the previous value is put back, so the caller's later statements plan as before.
    """
    old = session.execute(sa.text("SELECT current_setting('enable_sort')")).scalar_one()
    session.execute(sa.text("SELECT set_config('enable_sort', 'off', true)"))
    try:
        yield
    finally:
        session.execute(sa.text("SELECT set_config('enable_sort', :v, true)"), {"v": old})
