"""The report's closed-loop numbers: KPIs against the previous period, breakdowns, weeks.

Definitions are the closed loop's (``docs/event_loop.md``) and the SQL fragments are the very
ones :func:`gis.queries.kpi.kpis` uses (:data:`gis.loop.sla.CLOSED_IN_PERIOD_SQL`,
:data:`gis.loop.sla.ON_TIME_SQL`), so the report of an area equals the KPI row of that area:

* ``reported``: events reported in the period; ``open``: of those, still open now;
  ``overdue``: of the open ones, past their deadline now;
* ``closed``: status ``closed`` with ``closed_at`` in the period, whenever reported;
  ``closed_on_time``: of those, ``closed_at <= deadline_at``; ``on_time_rate`` their ratio;
* ``red`` / ``yellow``: the lights (:func:`gis.loop.lights.light_sql`) at the moment
  ``T = min(period end, now)`` of the events of the area still open at ``T`` — reported by
  ``T``, and either open now or closed after ``T`` — whenever they were reported. The deadline
  counts only if the event was accepted by ``T``. Rejected events have no rejection time in
  the schema and are left out.

Everything is computed in two statements whatever the size of the data: one scan counting
both periods per (category, source, department, report week, closing week) — a few thousand
rows, one hash aggregate — that pandas rolls up into the totals, breakdowns and weeks
(``GROUPING SETS`` with six sets sorted a million rows six times: 6 s instead of 1 s), and
one for the lights.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import CATEGORY_BY_CODE, DEPARTMENTS, EVENT_SOURCE_LABELS, OPEN_STATUSES
from gis.loop.lights import STARTED_SQL, light_sql
from gis.loop.sla import CLOSED_IN_PERIOD_SQL, ON_TIME_SQL, on_time_rate
from gis.reports.area import AREA_JOIN, area_condition, area_params
from gis.reports.frames import hash_grouping
from gis.reports.model import Area, Period

__all__ = ["BREAKDOWN_COLUMNS", "KPI_COLUMNS", "WEEKLY_COLUMNS", "KpiTables", "kpi_tables"]

KPI_COLUMNS = ["measure", "label_zh", "label_en", "value", "previous", "change"]
BREAKDOWN_COLUMNS = ["code", "label_zh", "label_en", "reported", "closed", "closed_on_time",
                     "on_time_rate", "reported_previous", "change"]
WEEKLY_COLUMNS = ["week_start", "reported", "closed", "closed_on_time", "on_time_rate"]
#: Department code of events not dispatched to any department yet.
UNASSIGNED = "unassigned"

MEASURES: tuple[tuple[str, str, str], ...] = (
    ("reported", "上报事件", "events reported"),
    ("closed", "办结事件", "events closed"),
    ("closed_on_time", "按期办结", "closed on time"),
    ("on_time_rate", "按期办结率", "on-time rate"),
    ("open", "未办结", "still open"),
    ("overdue", "超期未办结", "open and overdue"),
    ("red", "红灯（已超时）", "red light (overdue)"),
    ("yellow", "黄灯（即将超时）", "yellow light (due soon)"),
)

_COUNTS = ("reported", "open", "overdue", "closed", "closed_on_time")
_KEYS = ("cat", "src", "dept", "wk_r", "wk_c")

_SQL = """
WITH ev AS (
  SELECT e.category_code AS cat, e.source_channel AS src, d.code AS dept,
         date_trunc('week', e.reported_at AT TIME ZONE :tz)::date AS wk_r,
         date_trunc('week', e.closed_at AT TIME ZONE :tz)::date AS wk_c,
         (e.reported_at >= :start AND e.reported_at < :end) AS rep,
         (e.reported_at >= :pstart AND e.reported_at < :pend) AS rep_p,
         (e.status = ANY(:open_statuses)) AS is_open,
         (e.deadline_at < CAST(:now AS timestamptz)) AS late_now,
         {closed_in} AS cl, {closed_in_prev} AS cl_p, COALESCE({on_time}, false) AS ot
  FROM event e {join} LEFT JOIN department d ON d.id = e.department_id
  WHERE ({area})
    AND ((e.reported_at >= :pstart AND e.reported_at < :end)
         OR (e.closed_at >= :pstart AND e.closed_at < :end))
)
SELECT cat, src, dept, wk_r, wk_c,
       count(*) FILTER (WHERE rep), count(*) FILTER (WHERE rep AND is_open),
       count(*) FILTER (WHERE rep AND is_open AND late_now),
       count(*) FILTER (WHERE cl), count(*) FILTER (WHERE cl AND ot),
       count(*) FILTER (WHERE rep_p), count(*) FILTER (WHERE rep_p AND is_open),
       count(*) FILTER (WHERE rep_p AND is_open AND late_now),
       count(*) FILTER (WHERE cl_p), count(*) FILTER (WHERE cl_p AND ot)
FROM ev GROUP BY cat, src, dept, wk_r, wk_c
"""

# Open at T: reported by T and not closed by T (open now, or closed after T).
_OPEN_AT = ("(e.reported_at <= CAST(:{t} AS timestamptz) AND (e.status = ANY(:open_statuses) "
            "OR (e.status = 'closed' AND e.closed_at > CAST(:{t} AS timestamptz))))")


def deadline_at(t: str) -> str:
    """The deadline an event had at the moment bound as ``:t`` (none before acceptance)."""
    return (f"(CASE WHEN e.accepted_at IS NULL OR e.accepted_at <= CAST(:{t} AS timestamptz) "
            "THEN e.deadline_at END)")


def light_at(t: str) -> str:
    """:func:`gis.loop.lights.light_sql` judged at the moment bound as ``:t``."""
    return light_sql(deadline=deadline_at(t), started=STARTED_SQL, now=f":{t}")


def open_at(t: str) -> str:
    """SQL: the event ``e`` was open at the moment bound as ``:t``."""
    return _OPEN_AT.format(t=t)


_LIGHTS_SQL = """
SELECT count(*) FILTER (WHERE {open_t} AND {light_t} = 'red'),
       count(*) FILTER (WHERE {open_t} AND {light_t} = 'yellow'),
       count(*) FILTER (WHERE {open_p} AND {light_p} = 'red'),
       count(*) FILTER (WHERE {open_p} AND {light_p} = 'yellow')
FROM event e {join}
WHERE ({area}) AND e.status <> 'rejected' AND e.reported_at <= CAST(:t AS timestamptz)
  AND (e.status = ANY(:open_statuses) OR e.closed_at > CAST(:tp AS timestamptz))
"""


@dataclass
class KpiTables:
    """The KPI table, the three breakdowns and the weeks (see :class:`~gis.reports.Report`)."""

    kpis: pd.DataFrame
    by_category: pd.DataFrame
    by_source: pd.DataFrame
    by_department: pd.DataFrame
    weekly: pd.DataFrame


def moment(period: Period, now: dt.datetime) -> dt.datetime:
    """When the lights of ``period`` are judged: its end, or ``now`` if that is earlier."""
    return min(period.end, now)


def kpi_tables(session: Session, area: Area, period: Period, previous: Period,
               now: dt.datetime, *, timezone: str, yellow_share: float) -> KpiTables:
    """KPIs of ``area`` over ``period`` and ``previous``, breakdowns and weekly counts.

    Parameters
    ----------
    session
        An open session.
    area, period, previous
        What to count; ``previous`` must end where ``period`` starts.
    now
        The moment "open" and "overdue" are judged at (aware).
    timezone
        Local zone of the week boundaries (Monday 00:00).
    yellow_share
        ``sla.yellow_share`` for the yellow light.

    Returns
    -------
    KpiTables
        Frames with :data:`KPI_COLUMNS`, :data:`BREAKDOWN_COLUMNS` and :data:`WEEKLY_COLUMNS`.
    """
    params: dict[str, object] = {
        **area_params(area), "start": period.start, "end": period.end,
        "pstart": previous.start, "pend": previous.end, "now": now, "tz": timezone,
        "open_statuses": list(OPEN_STATUSES)}
    sql = _SQL.format(
        closed_in=CLOSED_IN_PERIOD_SQL,
        closed_in_prev=CLOSED_IN_PERIOD_SQL.replace(":start", ":pstart").replace(":end",
                                                                                ":pend"),
        on_time=ON_TIME_SQL, join=AREA_JOIN.format(alias="e"), area=area_condition(area))
    with hash_grouping(session):
        rows = session.execute(sa.text(sql), params).all()
    lights_sql = _LIGHTS_SQL.format(
        open_t=open_at("t"), light_t=light_at("t"), open_p=open_at("tp"),
        light_p=light_at("tp"), join=AREA_JOIN.format(alias="e"), area=area_condition(area))
    lights = session.execute(sa.text(lights_sql), {
        **params, "t": moment(period, now), "tp": moment(previous, now),
        "yellow": yellow_share}).one()

    frame = pd.DataFrame([tuple(r) for r in rows],
                         columns=[*_KEYS, *_COUNTS, *(f"{c}_p" for c in _COUNTS)])
    cur = {c: int(frame[c].sum()) for c in _COUNTS}
    prev = {c: int(frame[f"{c}_p"].sum()) for c in _COUNTS}
    cur.update(red=int(lights[0]), yellow=int(lights[1]))
    prev.update(red=int(lights[2]), yellow=int(lights[3]))
    return KpiTables(
        kpis=_kpi_frame(cur, prev),
        by_category=_breakdown(frame, "cat", lambda c: _label(CATEGORY_BY_CODE, c)),
        by_source=_breakdown(frame, "src", lambda c: _label(EVENT_SOURCE_LABELS, c)),
        by_department=_breakdown(frame, "dept", _department_label),
        weekly=_weekly(frame, period, timezone))


def _kpi_frame(cur: dict[str, int], prev: dict[str, int]) -> pd.DataFrame:
    out = []
    for measure, zh, en in MEASURES:
        if measure == "on_time_rate":
            value = on_time_rate(cur["closed"], cur["closed_on_time"])
            before = on_time_rate(prev["closed"], prev["closed_on_time"])
        else:
            value, before = cur[measure], prev[measure]
        change = None if value is None or before is None else value - before
        out.append((measure, zh, en, value, before, change))
    # object columns keep counts as ints beside the rate (a float) and None where undefined
    return pd.DataFrame(out, columns=KPI_COLUMNS, dtype=object)


def _label(table: dict, code: str) -> tuple[str, str]:
    entry = table.get(code)
    return (entry.zh, entry.en) if entry is not None else (code, code)


_DEPARTMENTS = {d.code: (d.zh, d.en) for d in DEPARTMENTS}


def _department_label(code: str) -> tuple[str, str]:
    if code == UNASSIGNED:
        return "未派遣", "not dispatched"
    return _DEPARTMENTS.get(code, (code, code))


def _breakdown(frame: pd.DataFrame, key: str,
               labeller: Callable[[str], tuple[str, str]]) -> pd.DataFrame:
    sums = frame.assign(**{key: frame[key].fillna(UNASSIGNED)}).groupby(key)[
        ["reported", "closed", "closed_on_time", "reported_p"]].sum()
    # A code seen only as a closure of the previous period has nothing to show.
    sums = sums[(sums[["reported", "closed", "reported_p"]] > 0).any(axis=1)]
    rows = []
    for code, r in sums.iterrows():
        zh, en = labeller(str(code))
        rows.append((str(code), zh, en, int(r["reported"]), int(r["closed"]),
                     int(r["closed_on_time"]), on_time_rate(int(r["closed"]),
                                                            int(r["closed_on_time"])),
                     int(r["reported_p"]), int(r["reported"]) - int(r["reported_p"])))
    out = pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)
    out = out.sort_values(["reported", "code"], ascending=[False, True], ignore_index=True)
    return out.astype({"on_time_rate": float})


def _weekly(frame: pd.DataFrame, period: Period, timezone: str) -> pd.DataFrame:
    first = period.start.date() - dt.timedelta(days=period.start.weekday())
    last_day = (period.end - dt.timedelta(microseconds=1)).date()
    weeks = pd.date_range(first, last_day, freq="7D").date
    out = pd.DataFrame({"week_start": weeks})
    reported = frame.dropna(subset=["wk_r"]).groupby("wk_r")["reported"].sum()
    closed = frame.dropna(subset=["wk_c"]).groupby("wk_c")[["closed", "closed_on_time"]].sum()
    out = out.merge(reported.rename_axis("week_start").reset_index(), on="week_start",
                    how="left")
    out = out.merge(closed.rename_axis("week_start").reset_index(), on="week_start",
                    how="left")
    for c in ("reported", "closed", "closed_on_time"):
        out[c] = out[c].fillna(0).astype("int64")
    out["on_time_rate"] = [on_time_rate(int(c), int(o))
                           for c, o in zip(out["closed"], out["closed_on_time"], strict=True)]
    return out[WEEKLY_COLUMNS].astype({"on_time_rate": float})
