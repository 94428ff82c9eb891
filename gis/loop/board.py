"""The 三灯一牌 board: open events by light, supervised ones, and the on-time rate, per area.

One row per department, street or grid (every one of them, zeros included), then a
district-wide total row. The counts:

* ``green``, ``yellow``, ``red``, ``none``: open events (:data:`gis.catalog.OPEN_STATUSES`) by
  their light at ``now`` (:mod:`gis.loop.lights`);
* ``supervised``: open events under supervision (督办);
* ``closed`` and ``closed_on_time`` in the period ``[start, end)``, and ``on_time_rate`` =
  ``closed_on_time / closed``: the definitions of :mod:`gis.loop.sla`, the same as
  :func:`gis.queries.kpi.kpis` (a test holds the two to the same numbers).

Events reach a street or grid through their grid (grid → community → street) and a department
through ``department_id``; events without one count only in the total row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import OPEN_STATUSES
from gis.loop.errors import LoopError
from gis.loop.lights import light_params, light_sql
from gis.loop.sla import CLOSED_IN_PERIOD_SQL, DEFAULT_RULE, ON_TIME_SQL, SlaRule, on_time_rate

BoardLevel = Literal["department", "street", "grid"]

_LEVELS: dict[str, tuple[str, str]] = {
    "department": ("department", "e.department_id"),
    "street": ("street", "c.street_id"),
    "grid": ("grid", "e.grid_id"),
}

_BOARD_SQL = """
WITH ev AS (
  SELECT {area_expr} AS area_id, e.supervised,
         (e.status = ANY(:open)) AS is_open,
         {light} AS light,
         {closed_in} AS closed_in,
         {on_time} AS on_time
  FROM event e
  LEFT JOIN grid g ON g.id = e.grid_id
  LEFT JOIN community c ON c.id = g.community_id
  WHERE e.status = ANY(:open) OR (e.closed_at >= :start AND e.closed_at < :end)
),
agg AS (
  SELECT area_id, GROUPING(area_id) AS is_total,
         count(*) FILTER (WHERE is_open AND light = 'green') AS green,
         count(*) FILTER (WHERE is_open AND light = 'yellow') AS yellow,
         count(*) FILTER (WHERE is_open AND light = 'red') AS red,
         count(*) FILTER (WHERE is_open AND light = 'none') AS none,
         count(*) FILTER (WHERE is_open AND supervised) AS supervised,
         count(*) FILTER (WHERE closed_in) AS closed,
         count(*) FILTER (WHERE closed_in AND on_time) AS closed_on_time
  FROM ev GROUP BY GROUPING SETS ((area_id), ())
)
SELECT a.id, a.code, a.name_zh, 0 AS is_total,
       COALESCE(agg.green, 0), COALESCE(agg.yellow, 0), COALESCE(agg.red, 0),
       COALESCE(agg.none, 0), COALESCE(agg.supervised, 0), COALESCE(agg.closed, 0),
       COALESCE(agg.closed_on_time, 0)
FROM {area_table} a LEFT JOIN agg ON agg.area_id = a.id AND agg.is_total = 0
UNION ALL
SELECT NULL, NULL, NULL, 1, green, yellow, red, none, supervised, closed, closed_on_time
FROM agg WHERE is_total = 1
ORDER BY 4, 2
"""


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One line of the board (``level`` ``"district"`` for the total, ``area_id`` None)."""

    level: str
    area_id: int | None
    area_code: str
    area_name: str
    green: int
    yellow: int
    red: int
    none: int
    supervised: int
    closed: int
    closed_on_time: int

    @property
    def open(self) -> int:
        """All open events of the area."""
        return self.green + self.yellow + self.red + self.none

    @property
    def on_time_rate(self) -> float | None:
        """``closed_on_time / closed`` in the period; None when nothing was closed."""
        return on_time_rate(self.closed, self.closed_on_time)


def month_start(now: dt.datetime, timezone: str) -> dt.datetime:
    """Midnight of the first day of ``now``'s month in ``timezone``."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def board(session: Session, *, level: BoardLevel = "department", now: dt.datetime | None = None,
          start: dt.datetime | None = None, end: dt.datetime | None = None,
          sla: SlaRule = DEFAULT_RULE) -> list[BoardRow]:
    """The three-light board per department, street or grid, plus a total row (last).

    Parameters
    ----------
    session
        An open session.
    level
        ``"department"``, ``"street"`` or ``"grid"``.
    now
        The moment lights are judged at; default the database's ``now()``.
    start, end
        The half-open period of the on-time rate; default from the first day of the month
        (in the rule's time zone) to ``now``.
    sla
        Gives the yellow share and the local time zone.

    Returns
    -------
    list of BoardRow

    Examples
    --------
    >>> rows = board(session, level="street")  # doctest: +SKIP
    >>> rows[-1].red, rows[-1].on_time_rate  # doctest: +SKIP
    (12, 0.993)
    """
    if level not in _LEVELS:
        raise LoopError(f"未知的看板层级：{level}（可选 department、street、grid）",
                        f"unknown board level: {level} (department, street or grid)")
    for value in (now, start, end):
        if value is not None and value.tzinfo is None:
            raise LoopError("时间必须带时区（例如 +08:00）", "times must carry a time zone")
    now = now or session.execute(sa.select(sa.func.now())).scalar_one()
    end = end or now
    start = start or month_start(now, sla.timezone)
    if start >= end:
        raise LoopError("开始时间必须早于结束时间", "start must be before end")
    area_table, area_expr = _LEVELS[level]
    sql = _BOARD_SQL.format(area_table=area_table, area_expr=area_expr, light=light_sql(),
                            closed_in=CLOSED_IN_PERIOD_SQL, on_time=ON_TIME_SQL)
    params = {**light_params(now, sla.yellow_share), "start": start, "end": end,
              "open": list(OPEN_STATUSES)}
    rows = session.execute(sa.text(sql), params).all()
    district = session.execute(sa.text("SELECT adcode, name_zh FROM district LIMIT 1")).first()
    code, name = (district[0], district[1]) if district else ("", "")
    return [BoardRow(level, r[0], r[1], r[2], *r[4:]) if not r[3]
            else BoardRow("district", None, code, name, *r[4:]) for r in rows]
