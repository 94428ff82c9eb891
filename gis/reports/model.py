"""What a spatial report holds: the contract between the analyses and their presentations.

:func:`gis.reports.build.build_report` fills a :class:`Report`; the report page, the HTML, PDF
and XLSX exports and the notebooks only read it. Every table is a pandas or GeoPandas frame
with the columns listed below (geometries in EPSG:4326), so an export writes one sheet per
frame and a map draws a frame without another query. An empty frame keeps its columns.

Numbers follow the closed loop's definitions (``docs/event_loop.md``): "closed" means status
``closed`` with ``closed_at`` in the half-open period, "on time" means ``closed_at <=
deadline_at``, and the on-time rate is ``closed on time / closed`` (``None`` when nothing was
closed). The report's KPIs for an area equal :func:`gis.queries.kpi.kpis` for that area.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import pandas as pd

AreaKind = Literal["district", "street", "community", "grid"]


@dataclass(frozen=True)
class Area:
    """The area a report covers.

    ``code`` is the street, community or grid code, or the district's adcode (``511002``)
    for the whole district. ``geometry`` is a shapely (Multi)Polygon in EPSG:4326.
    """

    kind: AreaKind
    code: str
    name_zh: str
    name_en: str
    geometry: object


@dataclass(frozen=True)
class Period:
    """A half-open reporting period ``[start, end)`` in the district's time zone.

    ``label`` is what the user typed, normalised (``2026-10``, ``2026-W40``, ``2026-Q3``,
    ``2026``, ``2026-10-01..2026-10-15``); :meth:`previous` is the period of the same kind just
    before it (the previous month, week, quarter, year, or range of the same length).
    """

    start: dt.datetime
    end: dt.datetime
    label: str
    kind: Literal["month", "week", "quarter", "year", "range"]

    def previous(self) -> Period:  # implemented in gis.reports.period
        from gis.reports.period import previous_period

        return previous_period(self)


@dataclass
class Coverage:
    """Camera coverage of the area (only cameras whose health is ``online`` count as working).

    * ``wedges``: GeoDataFrame ``camera_code, name_zh, source, health_status, working (bool),
      geometry`` — each camera's field of view (position, azimuth, angle, range).
    * ``grids``: DataFrame ``code, name_zh, area_m2, covered_m2, share`` (share 0..1).
    * ``courtyards``: GeoDataFrame ``code, name_zh, households, area_m2, covered_m2, share,
      geometry``.
    * ``uncovered_courtyards``: the rows of ``courtyards`` with ``share == 0``.
    * ``events_outside``: GeoDataFrame ``id, category, label_zh, reported_at, geometry``:
      events of the period outside every working camera's view.
    * ``share_of_area``: share of the whole area under a working camera (0..1, None if empty).
    """

    wedges: gpd.GeoDataFrame
    grids: pd.DataFrame
    courtyards: gpd.GeoDataFrame
    uncovered_courtyards: gpd.GeoDataFrame
    events_outside: gpd.GeoDataFrame
    share_of_area: float | None


@dataclass
class Report:
    """A spatial report of one area over one period.

    Tables (columns in order):

    * ``kpis``: ``measure, label_zh, label_en, value, previous, change`` with measures
      ``reported, closed, closed_on_time, on_time_rate, open, overdue, red, yellow`` (``change``
      = value − previous; rates as fractions 0..1; ``None``/NaN where undefined).
    * ``by_category``, ``by_source``, ``by_department``: ``code, label_zh, label_en, reported,
      closed, closed_on_time, on_time_rate, reported_previous, change`` (one row per code seen
      in either period).
    * ``weekly``: ``week_start (date, Monday), reported, closed, closed_on_time, on_time_rate``
      over the period (at least the weeks it touches).
    * ``grids``: GeoDataFrame ``code, name_zh, street_zh, community_zh, reported, closed,
      closed_on_time, on_time_rate, geometry`` — every grid in the area (the choropleth).
    * ``density``: GeoDataFrame ``events, geometry`` — square bins (``density_cell_m`` metres)
      of the period's events, computed in the database.
    * ``red_events``: GeoDataFrame ``id, category, label_zh, status, deadline_at, supervised,
      geometry`` — events open and overdue at the end of the period (or now, if earlier).
    * ``hotspots``: GeoDataFrame ``cluster, events, top_category, label_zh, geometry`` —
      spatial clusters (DBSCAN in metres, EPSG:4544) of the period's events; geometry is the
      cluster's convex hull buffered a little so single-line clusters draw.
    * ``renovation``: DataFrame ``batch, status, label_zh, courtyards, households,
      surveyed, willing_share`` — courtyard renovation progress by batch and status with the
      survey's willingness (share 0..1 of respondents willing).
    * ``before_after``: DataFrame ``courtyard_code, name_zh, batch, completed_on, households,
      window_days, events_before, events_after, per100_before, per100_after, change,
      survey_responses, satisfaction`` — finished courtyards: events per 100 households in the
      same length of time before and after completion; then, per category of
      ``gis.catalog.EVENT_CATEGORIES`` in catalog order, ``per100_before_<category>,
      per100_after_<category>`` (rules: :mod:`gis.reports.renovation`).
    * ``before_after_by_batch``: DataFrame ``batch, courtyards, households, per100_before,
      per100_after, change``.
    * ``coverage``: :class:`Coverage`.

    ``empty`` is true when the area had no event in the period and none closed in it: the
    presentations then show a clear "no data" notice (本期无数据) instead of empty charts.
    """

    area: Area
    period: Period
    generated_at: dt.datetime
    timezone: str
    kpis: pd.DataFrame
    by_category: pd.DataFrame
    by_source: pd.DataFrame
    by_department: pd.DataFrame
    weekly: pd.DataFrame
    grids: gpd.GeoDataFrame
    density: gpd.GeoDataFrame
    red_events: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    renovation: pd.DataFrame
    before_after: pd.DataFrame
    before_after_by_batch: pd.DataFrame
    coverage: Coverage
    density_cell_m: float = 500.0
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No event reported in the area during the period and none closed in it."""
        values = self.kpis.set_index("measure")["value"] if len(self.kpis) else pd.Series()
        return not (values.get("reported", 0) or values.get("closed", 0))

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by sheet name (geometry columns as WKT), for XLSX and CSV exports."""
        frames: dict[str, pd.DataFrame] = {
            "kpis": self.kpis, "by_category": self.by_category, "by_source": self.by_source,
            "by_department": self.by_department, "weekly": self.weekly, "grids": self.grids,
            "density": self.density, "red_events": self.red_events, "hotspots": self.hotspots,
            "renovation": self.renovation, "before_after": self.before_after,
            "before_after_by_batch": self.before_after_by_batch,
            "coverage_grids": self.coverage.grids,
            "coverage_courtyards": self.coverage.courtyards,
            "uncovered_courtyards": self.coverage.uncovered_courtyards,
            "events_outside_view": self.coverage.events_outside,
        }
        out: dict[str, pd.DataFrame] = {}
        for name, frame in frames.items():
            if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
                # Leave GeoPandas first: assigning WKT text to the active geometry column of a
                # GeoDataFrame warns (and would try to keep it a geometry).
                wkt = frame.geometry.to_wkt()
                frame = pd.DataFrame(frame).assign(**{frame.geometry.name: wkt})
            out[name] = frame
        return out
