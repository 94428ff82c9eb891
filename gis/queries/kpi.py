"""Per-area key performance indicators of the closed loop (闭环考核指标).

Definitions (period = ``start <= t < end``; ``now`` defaults to the database's ``now()``):

* ``reported``: events with ``reported_at`` in the period.
* ``open``: of those, events whose status is still open (:data:`gis.catalog.OPEN_STATUSES`,
  i.e. neither ``closed`` nor ``rejected``).
* ``overdue``: of the open ones, those with ``deadline_at < now``.
* ``closed``: events with status ``closed`` and ``closed_at`` in the period, whenever they
  were reported (rejected events are not "closed").
* ``closed_on_time``: of those, events with ``closed_at <= deadline_at`` (closing exactly at
  the deadline is on time; an event without a deadline is not counted on time).
* ``on_time_rate`` = ``closed_on_time / closed``; ``None`` when nothing was closed.

Events are attributed to an area through their grid (grid → community → street). Events with
no grid yet count only in the district-wide total row; areas without any event still get a row
of zeros, so a report lists every street.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import OPEN_STATUSES
from gis.loop.sla import CLOSED_IN_PERIOD_SQL, ON_TIME_SQL, on_time_rate
from gis.queries.errors import QueryError

Level = Literal["street", "community", "grid"]

# area table and the expression giving an event's area id at that level
_LEVELS: dict[str, tuple[str, str]] = {
    "street": ("street", "c.street_id"),
    "community": ("community", "g.community_id"),
    "grid": ("grid", "e.grid_id"),
}

_KPI_SQL = """
WITH ev AS (
  SELECT {area_expr} AS area_id, e.status, e.reported_at, e.deadline_at, e.closed_at,
         (e.reported_at >= :start AND e.reported_at < :end) AS in_period,
         (e.status = ANY(:open_statuses)) AS is_open,
         {closed_in} AS closed_in, {on_time} AS on_time
  FROM event e
  LEFT JOIN grid g ON g.id = e.grid_id
  LEFT JOIN community c ON c.id = g.community_id
  WHERE (e.reported_at >= :start AND e.reported_at < :end)
     OR (e.closed_at >= :start AND e.closed_at < :end)
),
agg AS (
  SELECT area_id, GROUPING(area_id) AS is_total,
         count(*) FILTER (WHERE in_period) AS reported,
         count(*) FILTER (WHERE in_period AND is_open) AS open,
         count(*) FILTER (WHERE in_period AND is_open
                          AND deadline_at < COALESCE(CAST(:now AS timestamptz), now())) AS overdue,
         count(*) FILTER (WHERE closed_in) AS closed,
         count(*) FILTER (WHERE closed_in AND on_time) AS closed_on_time
  FROM ev GROUP BY GROUPING SETS ((area_id), ())
)
SELECT a.id AS area_id, a.code AS area_code, a.name_zh AS area_name,
       COALESCE(agg.reported, 0) AS reported, COALESCE(agg.open, 0) AS open,
       COALESCE(agg.overdue, 0) AS overdue, COALESCE(agg.closed, 0) AS closed,
       COALESCE(agg.closed_on_time, 0) AS closed_on_time, 0 AS is_total
FROM {area_table} a LEFT JOIN agg ON agg.area_id = a.id AND agg.is_total = 0
UNION ALL
-- The total comes from GROUPING SETS' empty set, not from summing the areas, so events
-- outside every grid are included.
SELECT NULL, NULL, NULL, reported, open, overdue, closed, closed_on_time, 1
FROM agg WHERE is_total = 1
ORDER BY is_total, area_code
"""



@dataclass(frozen=True, slots=True)
class KpiRow:
    """KPIs of one area (``level`` ``"district"`` for the total row, whose ``area_id`` is None).

    See the module docstring for the exact definitions.
    """

    level: str
    area_id: int | None
    area_code: str
    area_name: str
    reported: int
    open: int
    overdue: int
    closed: int
    closed_on_time: int

    @property
    def on_time_rate(self) -> float | None:
        """``closed_on_time / closed``, or None when nothing was closed in the period."""
        return on_time_rate(self.closed, self.closed_on_time)


def kpis(session: Session, *, level: Level = "street", start: dt.datetime, end: dt.datetime,
         now: dt.datetime | None = None) -> list[KpiRow]:
    """Closed-loop KPIs per street, community or grid, plus a district-wide total (last row).

    Parameters
    ----------
    session
        An open session.
    level
        ``"street"``, ``"community"`` or ``"grid"``.
    start, end
        The half-open period ``[start, end)``, time-zone aware.
    now
        The moment "overdue" is judged at; default the database's ``now()``.

    Returns
    -------
    list of KpiRow
        One row per area of the level (ordered by code, zeros when it had no events), then the
        district total, which also counts events not yet assigned to a grid.

    Examples
    --------
    >>> rows = kpis(session, level="street", start=jan1, end=feb1)  # doctest: +SKIP
    >>> rows[-1].level, rows[-1].on_time_rate  # doctest: +SKIP
    ('district', 0.93)
    """
    if level not in _LEVELS:
        raise QueryError(f"未知的统计层级：{level}（可选 street、community、grid）",
                         f"unknown level: {level} (street, community or grid)")
    for value in (start, end, now):
        if value is not None and value.tzinfo is None:
            raise QueryError("时间必须带时区（例如 +08:00）",
                             "times must carry a time zone (e.g. +08:00)")
    if start >= end:
        raise QueryError("开始时间必须早于结束时间", "start must be before end")
    area_table, area_expr = _LEVELS[level]
    params = {"start": start, "end": end, "now": now, "open_statuses": list(OPEN_STATUSES)}
    # One definition of "closed in the period" and "on time" for every page (gis.loop.sla).
    sql = _KPI_SQL.format(area_table=area_table, area_expr=area_expr,
                          closed_in=CLOSED_IN_PERIOD_SQL, on_time=ON_TIME_SQL)
    rows = session.execute(sa.text(sql), params).all()
    district = session.execute(sa.text("SELECT adcode, name_zh FROM district LIMIT 1")).first()
    code, name = (district[0], district[1]) if district else ("", "")
    return [KpiRow(level, *r[:8]) if not r[8] else KpiRow("district", None, code, name, *r[3:8])
            for r in rows]
