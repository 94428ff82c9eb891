"""Reporting periods: what a user types (``2026-10``, ``2026-W40`` …) to a half-open interval.

Every period starts and ends at local midnight in the district's time zone (Asia/Shanghai has
no daylight-saving time, but nothing here relies on that: each bound is built as a local wall
time and made aware with :class:`zoneinfo.ZoneInfo`). A date range names its last day
*inclusively*, as people say it ("1 to 15 October"), and becomes ``[first 00:00, last+1 00:00)``.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gis.reports.errors import ReportError
from gis.reports.model import Period

__all__ = ["parse_period", "period_between", "previous_period"]

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_DATE = r"(\d{4}-\d{1,2}-\d{1,2})"
_RANGE = re.compile(rf"^{_DATE}\s*(?:\.\.|/|~)\s*{_DATE}$")
_DAY = re.compile(rf"^{_DATE}$")
#: Longest range accepted: ten years is already more than the event history.
_MAX_RANGE_DAYS = 3660

_HELP_ZH = "可用格式：2026（年）、2026-Q3（季度）、2026-10（月）、2026-W40（ISO 周）、" \
           "2026-10-01..2026-10-15（日期范围，含结束日）"
_HELP_EN = "use 2026 (year), 2026-Q3 (quarter), 2026-10 (month), 2026-W40 (ISO week) or " \
           "2026-10-01..2026-10-15 (date range, end date included)"


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportError(f"未知的时区：{timezone}", f"unknown time zone: {timezone}") from exc


def _bad(text: str, why_zh: str = "", why_en: str = "") -> ReportError:
    zh = f"无法识别的统计周期“{text}”{('：' + why_zh) if why_zh else ''}。{_HELP_ZH}"
    en = f"cannot read the period '{text}'{(': ' + why_en) if why_en else ''}; {_HELP_EN}"
    return ReportError(zh, en)


def _date(text: str, whole: str) -> dt.date:
    try:
        return dt.date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))
    except ValueError as exc:
        raise _bad(whole, f"日期 {text} 不存在", f"{text} is not a date") from exc


def _local(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _add_months(day: dt.date, months: int) -> dt.date:
    k = day.year * 12 + day.month - 1 + months
    return dt.date(k // 12, k % 12 + 1, 1)


def period_between(first: dt.date, last: dt.date, timezone: str) -> Period:
    """The range period from ``first`` to ``last`` (both days included).

    Examples
    --------
    >>> p = period_between(dt.date(2026, 10, 1), dt.date(2026, 10, 15), "Asia/Shanghai")
    >>> p.label, p.end.isoformat()
    ('2026-10-01..2026-10-15', '2026-10-16T00:00:00+08:00')
    """
    tz = _zone(timezone)
    label = f"{first.isoformat()}..{last.isoformat()}"
    if last < first:
        raise _bad(label, "结束日早于开始日", "the end date is before the start date")
    if (last - first).days >= _MAX_RANGE_DAYS:
        raise _bad(label, "范围超过十年", "the range is longer than ten years")
    return Period(_local(first, tz), _local(last + dt.timedelta(days=1), tz), label, "range")


def parse_period(text: str, timezone: str = "Asia/Shanghai") -> Period:
    """Read a period as people write it.

    Parameters
    ----------
    text
        ``2026`` (a year), ``2026-Q3`` (a quarter), ``2026-10`` (a month), ``2026-W40`` (an
        ISO 8601 week, Monday to Sunday, which may start in the previous year), or
        ``2026-10-01..2026-10-15`` (a date range, both days included; ``/`` and ``~`` are
        accepted as separators, and a single date is a one-day range).
    timezone
        The district's time zone (``ui.timezone``): bounds are local midnights.

    Returns
    -------
    Period
        ``[start, end)`` as aware datetimes, a normalised label and the kind.

    Raises
    ------
    ReportError
        For text in none of these forms, or naming a month, week or day that does not exist.

    Examples
    --------
    >>> p = parse_period("2026-W01")
    >>> p.start.isoformat(), p.end.isoformat()
    ('2025-12-29T00:00:00+08:00', '2026-01-05T00:00:00+08:00')
    >>> parse_period("2026-q3").label
    '2026-Q3'
    """
    raw = text
    text = (text or "").strip()
    tz = _zone(timezone)
    if m := _YEAR.match(text):
        year = int(m[1])
        _check_year(year, raw)
        return Period(_local(dt.date(year, 1, 1), tz), _local(dt.date(year + 1, 1, 1), tz),
                      f"{year:04d}", "year")
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        _check_year(year, raw)
        first = dt.date(year, 3 * q - 2, 1)
        return Period(_local(first, tz), _local(_add_months(first, 3), tz), f"{year:04d}-Q{q}",
                      "quarter")
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        _check_year(year, raw)
        if not 1 <= month <= 12:
            raise _bad(raw, f"月份 {month} 不存在", f"there is no month {month}")
        first = dt.date(year, month, 1)
        return Period(_local(first, tz), _local(_add_months(first, 1), tz),
                      f"{year:04d}-{month:02d}", "month")
    if m := _WEEK.match(text):
        year, week = int(m[1]), int(m[2])
        _check_year(year, raw)
        try:
            monday = dt.date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            weeks = dt.date(year, 12, 28).isocalendar().week  # 28 Dec is always in the last week
            raise _bad(raw, f"{year} 年只有 {weeks} 个 ISO 周",
                       f"{year} has {weeks} ISO weeks") from exc
        return Period(_local(monday, tz), _local(monday + dt.timedelta(days=7), tz),
                      f"{year:04d}-W{week:02d}", "week")
    if m := _RANGE.match(text):
        first, last = _date(m[1], raw), _date(m[2], raw)
        _check_year(first.year, raw)
        _check_year(last.year, raw)
        return period_between(first, last, timezone)
    if m := _DAY.match(text):
        day = _date(m[1], raw)
        _check_year(day.year, raw)
        return period_between(day, day, timezone)
    raise _bad(raw)


def _check_year(year: int, raw: str) -> None:
    # Years outside this span are typos (2062 for 2026), not periods with data.
    if not 1990 <= year <= 2200:
        raise _bad(raw, f"年份 {year} 超出范围（1990–2200）", f"year {year} is out of range "
                   "(1990-2200)")


def previous_period(period: Period) -> Period:
    """The period of the same kind just before ``period``.

    The previous month, ISO week, quarter or year; for a range, the range of the same number
    of days that ends where ``period`` starts.

    Examples
    --------
    >>> previous_period(parse_period("2026-W01")).label
    '2025-W52'
    >>> previous_period(parse_period("2026-03-01..2026-03-10")).label
    '2026-02-19..2026-02-28'
    """
    tz = period.start.tzinfo
    assert isinstance(tz, ZoneInfo), "periods are built by parse_period"
    first = period.start.date()
    if period.kind == "month":
        return parse_period(_add_months(first, -1).strftime("%Y-%m"), tz.key)
    if period.kind == "quarter":
        prev = _add_months(first, -3)
        return parse_period(f"{prev.year}-Q{(prev.month - 1) // 3 + 1}", tz.key)
    if period.kind == "year":
        return parse_period(str(first.year - 1), tz.key)
    if period.kind == "week":
        iso = (first - dt.timedelta(days=7)).isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}", tz.key)
    days = (period.end.date() - first).days
    return period_between(first - dt.timedelta(days=days), first - dt.timedelta(days=1), tz.key)
