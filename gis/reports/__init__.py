"""Spatial reports for leaders and planners: KPIs, maps, renovation and camera coverage.

:func:`build_report` fills the :class:`Report` contract of :mod:`gis.reports.model`; the
presentations (report page, HTML/PDF/XLSX exports, notebooks) only read it. Definitions of
every number: ``docs/reports.md``.
"""

from gis.reports.area import resolve_area
from gis.reports.build import build_report
from gis.reports.errors import ReportError
from gis.reports.model import Area, Coverage, Period, Report
from gis.reports.period import parse_period, previous_period

__all__ = ["Area", "Coverage", "Period", "Report", "ReportError", "build_report",
           "parse_period", "previous_period", "resolve_area"]
