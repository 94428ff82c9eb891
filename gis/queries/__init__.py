"""Spatial queries: plain functions taking a SQLAlchemy session, returning rows or frames.

* :func:`nearest_cameras`: KNN on the geography index, ordered by geodesic metres.
* :func:`grid_for_point`, :func:`assign_event_grids`: point-in-grid, one point or all events.
* :func:`events_frame`: events in a bbox / period as a GeoDataFrame.
* :func:`heat_bins`: square or hexagonal bins in metres, counted in the database.
* :func:`kpis`: closed-loop KPIs per street, community or grid plus the district total.
"""

from gis.queries.cameras import NearbyCamera, explain_nearest, nearest_cameras
from gis.queries.errors import QueryError
from gis.queries.events import EVENT_COLUMNS, EventFilter, events_frame
from gis.queries.grids import GridInfo, GridWorkerInfo, assign_event_grids, grid_for_point
from gis.queries.heat import heat_bins
from gis.queries.kpi import KpiRow, kpis

__all__ = [
    "EVENT_COLUMNS",
    "EventFilter",
    "GridInfo",
    "GridWorkerInfo",
    "KpiRow",
    "NearbyCamera",
    "QueryError",
    "assign_event_grids",
    "events_frame",
    "explain_nearest",
    "grid_for_point",
    "heat_bins",
    "kpis",
    "nearest_cameras",
]
