"""Assemble a :class:`~gis.reports.model.Report`: every section of one area over one period.

Each section is one or two set-based queries (see the section modules); nothing loops over
events in Python except the coverage test of the period's points, which is one vectorised
call. ``timings`` collects the seconds per section for the benchmark.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.reports import coverage as coverage_mod
from gis.reports import maps, renovation
from gis.reports.area import resolve_area
from gis.reports.errors import ReportError
from gis.reports.kpis import kpi_tables, moment
from gis.reports.model import Period, Report
from gis.reports.period import parse_period

if TYPE_CHECKING:
    from config.settings import Settings

__all__ = ["build_report"]

T = TypeVar("T")

#: Section names in the order they are built (the keys of ``timings``).
SECTIONS = ("kpis", "grids", "density", "red_events", "hotspots", "renovation",
            "before_after", "coverage")


def build_report(session: Session, area_code: str | None, period: Period | str, *,
                 settings: Settings, now: dt.datetime | None = None,
                 density_cell_m: float = 500.0, eps_m: float = maps.DEFAULT_EPS_M,
                 min_points: int | None = None, buffer_m: float = renovation.BUFFER_M,
                 timings: dict[str, float] | None = None) -> Report:
    """Build the report of an area over a period.

    Parameters
    ----------
    session
        An open session (read only).
    area_code
        ``None`` or the district adcode for the whole district, else a street, community or
        grid code (:func:`gis.reports.area.resolve_area`).
    period
        A :class:`Period` or its text (``2026-10``, ``2026-W40``, ``2026-Q3``, ``2026``,
        ``2026-10-01..2026-10-15``), read in ``settings.ui.timezone``.
    settings
        Time zone (``ui.timezone``) and the yellow share (``sla.yellow_share``).
    now
        The moment "open", "overdue" and the lights are judged at; default the database's
        ``now()``, as :func:`gis.queries.kpi.kpis` does.
    density_cell_m
        Side of the density bins, metres.
    eps_m, min_points
        Hot-spot clustering (:func:`gis.reports.maps.hotspots`).
    buffer_m
        Courtyard buffer of the before/after counts (:mod:`gis.reports.renovation`).
    timings
        When given, filled with the seconds each section took (keys :data:`SECTIONS`).

    Returns
    -------
    Report
        Every table of :class:`gis.reports.model.Report`; ``report.empty`` when the area had
        no event reported or closed in the period.

    Raises
    ------
    ReportError
        For an unreadable period, an unknown area code or unusable parameters.

    Examples
    --------
    >>> report = build_report(session, "511002-001", "2026-10", settings=settings)  # doctest: +SKIP
    >>> report.kpis.set_index("measure").loc["on_time_rate", "value"]  # doctest: +SKIP
    0.99
    """
    tz = settings.ui.timezone
    if isinstance(period, str):
        period = parse_period(period, tz)
    if now is None:
        now = session.execute(sa.text("SELECT now()")).scalar_one()
    elif now.tzinfo is None:
        raise ReportError("“now”必须带时区", "'now' must carry a time zone")
    assert now is not None
    area = resolve_area(session, area_code)
    previous = period.previous()
    spent = timings if timings is not None else {}

    def timed(name: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    at = moment(period, now)
    yellow = settings.sla.yellow_share
    k = timed("kpis", lambda: kpi_tables(session, area, period, previous, now, timezone=tz,
                                         yellow_share=yellow))
    grids = timed("grids", lambda: maps.grid_counts(session, area, period))
    density = timed("density", lambda: maps.density_bins(session, area, period,
                                                         density_cell_m))
    red = timed("red_events", lambda: maps.red_events(session, area, at, yellow))
    hot = timed("hotspots", lambda: maps.hotspots(session, area, period, eps_m=eps_m,
                                                  min_points=min_points))
    progress = timed("renovation", lambda: renovation.progress(session, area))
    ba = timed("before_after", lambda: renovation.before_after(session, area, at, timezone=tz,
                                                               buffer_m=buffer_m))
    ba_batch = timed("before_after", lambda: renovation.by_batch(ba))
    cov = timed("coverage", lambda: coverage_mod.camera_coverage(session, area, period))

    report = Report(area=area, period=period, generated_at=now, timezone=tz, kpis=k.kpis,
                    by_category=k.by_category, by_source=k.by_source,
                    by_department=k.by_department, weekly=k.weekly, grids=grids,
                    density=density, red_events=red, hotspots=hot, renovation=progress,
                    before_after=ba, before_after_by_batch=ba_batch, coverage=cov,
                    density_cell_m=float(density_cell_m))
    report.notes.extend(_notes(report, now))
    return report


def _notes(report: Report, now: dt.datetime) -> list[str]:
    """``中文 / English`` remarks the presentations print under the title."""
    notes = []
    if report.empty:
        notes.append("本期无数据：该区域在本期没有上报或办结的事件 / no data: no event was "
                     "reported or closed in this area during the period")
    if report.period.start > now:
        notes.append("统计周期尚未开始 / the period has not started yet")
    elif report.period.end > now:
        stamp = now.astimezone(report.period.start.tzinfo).strftime("%Y-%m-%d %H:%M")
        notes.append(f"统计周期尚未结束，数据截至 {stamp} / the period is not over: figures up "
                     f"to {stamp}")
    wedges = report.coverage.wedges
    if len(wedges) and not wedges["working"].any():
        notes.append(f"视野内 {len(wedges)} 台摄像头均不在线（在线才计入覆盖），覆盖率为 0 / "
                     f"none of the {len(wedges)} cameras near the area is online (only online "
                     "cameras count), so coverage is 0")
    ba = report.before_after
    short = int((ba["window_days"] < 1).sum()) if len(ba) else 0
    if short:
        notes.append(f"{short} 个已完工院落完工前后没有事件数据，未作前后对比 / {short} finished "
                     "courtyard(s) have no event data on one side of completion: no comparison")
    return notes
