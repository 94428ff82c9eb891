"""Events in a bounding box and time window, as a GeoDataFrame for maps and reports.

The filter is shared with the heat bins, so a heat map and the event list beside it always
count the same events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import CATEGORY_BY_CODE, EVENT_STATUSES
from gis.queries.errors import QueryError

BBox = tuple[float, float, float, float]

EVENT_COLUMNS = ("id", "code", "category_code", "source_channel", "priority", "status",
                 "grid_id", "department_id", "address", "reported_at", "accepted_at",
                 "deadline_at", "closed_at")


@dataclass(frozen=True)
class EventFilter:
    """A validated event filter rendered as a SQL condition on the alias ``e``.

    ``bbox`` is (min lon, min lat, max lon, max lat) in WGS84; the period is half-open,
    ``start <= reported_at < end``.
    """

    bbox: BBox | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: Sequence[str] | None = None
    categories: Sequence[str] | None = None
    params: dict[str, object] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.bbox is not None:
            if len(self.bbox) != 4:
                raise QueryError("范围框需要 4 个数：最小经度、最小纬度、最大经度、最大纬度",
                                 "a bbox needs 4 numbers: min lon, min lat, max lon, max lat")
            x0, y0, x1, y1 = (float(v) for v in self.bbox)
            if not (x0 < x1 and y0 < y1 and x0 >= -180 and x1 <= 180 and y0 >= -90
                    and y1 <= 90):
                raise QueryError(f"范围框无效：{self.bbox}", f"invalid bbox: {self.bbox}")
            self.params.update(x0=x0, y0=y0, x1=x1, y1=y1)
        for value in (self.start, self.end):
            if value is not None and value.tzinfo is None:
                raise QueryError("时间必须带时区（例如 +08:00）",
                                 "times must carry a time zone (e.g. +08:00)")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise QueryError("开始时间必须早于结束时间", "start must be before end")
        bad = sorted(set(self.statuses or ()) - set(EVENT_STATUSES))
        if bad:
            raise QueryError(f"未知的事件状态：{', '.join(bad)}",
                             f"unknown event status(es): {', '.join(bad)}")
        bad = sorted(set(self.categories or ()) - set(CATEGORY_BY_CODE))
        if bad:
            raise QueryError(f"未知的事件类别：{', '.join(bad)}",
                             f"unknown event category(ies): {', '.join(bad)}")
        if self.start is not None:
            self.params["start"] = self.start
        if self.end is not None:
            self.params["end"] = self.end
        if self.statuses is not None:
            self.params["statuses"] = list(self.statuses)
        if self.categories is not None:
            self.params["categories"] = list(self.categories)

    def where(self) -> str:
        """The condition (``true`` when nothing is filtered); bind :attr:`params` with it."""
        parts = []
        if self.bbox is not None:
            # && on the stored point uses idx_event_geom; the box is in the storage CRS.
            parts.append("e.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
        if self.start is not None:
            parts.append("e.reported_at >= :start")
        if self.end is not None:
            parts.append("e.reported_at < :end")
        if self.statuses is not None:
            parts.append("e.status = ANY(:statuses)")
        if self.categories is not None:
            parts.append("e.category_code = ANY(:categories)")
        return " AND ".join(parts) or "true"


def events_frame(session: Session, *, bbox: BBox | None = None,
                 start: dt.datetime | None = None, end: dt.datetime | None = None,
                 statuses: Sequence[str] | None = None,
                 categories: Sequence[str] | None = None,
                 limit: int | None = None) -> gpd.GeoDataFrame:
    """Events matching the filter, newest first, as a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    session
        An open session.
    bbox
        (min lon, min lat, max lon, max lat), WGS84 degrees.
    start, end
        Half-open period on ``reported_at`` (``start <= reported_at < end``), time-zone aware.
    statuses, categories
        Only these status / category codes (see :mod:`gis.catalog`).
    limit
        At most this many rows (the newest).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`EVENT_COLUMNS` plus ``geometry`` (points), CRS EPSG:4326.

    Examples
    --------
    >>> frame = events_frame(session, statuses=["reported"], limit=100)  # doctest: +SKIP
    >>> frame.crs.to_epsg()  # doctest: +SKIP
    4326
    """
    flt = EventFilter(bbox, start, end, statuses, categories)
    if limit is not None and limit < 0:
        raise QueryError(f"行数上限不能为负（{limit}）", f"limit cannot be negative ({limit})")
    columns = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
    sql = (f"SELECT {columns}, ST_AsBinary(e.geom) AS wkb FROM event e WHERE {flt.where()} "
           "ORDER BY e.reported_at DESC, e.id DESC")
    params = dict(flt.params)
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    rows = session.execute(sa.text(sql), params).all()
    frame = pd.DataFrame.from_records(rows, columns=[*EVENT_COLUMNS, "wkb"])
    geometry = shapely.from_wkb([bytes(w) for w in frame.pop("wkb")])
    for col in ("reported_at", "accepted_at", "deadline_at", "closed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")
