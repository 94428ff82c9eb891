"""Bulk writing of the demo: one transaction, TRUNCATE, then COPY table by table.

Rows go through PostgreSQL's COPY on the psycopg connection underneath SQLAlchemy's, with
explicit ids (sequences are moved past them afterwards), so ~25,000 rows take seconds. The
database triggers still run on every row: nothing written here escapes the rules about
validity, the district boundary and A/B pairs. Grid membership of cameras and events is then
computed by the database itself (point in polygon), as any later writer would get it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from gis.catalog import DEPARTMENTS, EVENT_CATEGORIES, EVENT_SOURCE_LABELS
from gis.demo.cameras import CameraPlan
from gis.demo.courtyards import CourtyardPlan, SurveyPlan
from gis.demo.divisions import Divisions
from gis.demo.events import EventPlan
from gis.demo.space import ewkb, xy_to_lonlat
from gis.loop.audit import truncate_with_log

#: Every table the demo owns, children first (the district stays).
DEMO_TABLES: tuple[str, ...] = (
    "event_log", "event", "survey_response", "camera", "courtyard", "grid_worker", "grid",
    "community", "street", "event_category", "department",
)
_SERIAL_TABLES = tuple(t for t in DEMO_TABLES if t != "event_category")


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _points(xy: Sequence[tuple[float, float]]) -> list[str]:
    if not xy:
        return []
    lonlat = xy_to_lonlat(np.asarray(xy, dtype=np.float64))
    pts = shapely.set_srid(shapely.points(lonlat), 4326)
    return [str(h) for h in shapely.to_wkb(pts, hex=True, include_srid=True)]


def _copy(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def clear(conn: sa.Connection) -> None:
    """Remove all demo data (not the district) and restart the id sequences.

    ``event_log`` is append-only; :func:`gis.loop.audit.truncate_with_log` lifts that for this
    transaction (as the table owner) and restarts the hash chain the new rows are written into.
    """
    truncate_with_log(conn, DEMO_TABLES)


def write_all(conn: sa.Connection, div: Divisions, courtyards: list[CourtyardPlan],
              surveys: list[SurveyPlan], cameras: list[CameraPlan],
              events: list[EventPlan]) -> None:
    """Replace the demo data with the given plans inside ``conn``'s transaction."""
    clear(conn)
    raw = conn.connection.driver_connection
    assert raw is not None
    dept_id = {d.code: i for i, d in enumerate(DEPARTMENTS, start=1)}
    with raw.cursor() as cur:
        _copy(cur, "department", ("id", "code", "name_zh", "name_en"),
              ((dept_id[d.code], d.code, d.zh, d.en) for d in DEPARTMENTS))
        _copy(cur, "event_category",
              ("code", "name_zh", "name_en", "deadline_hours", "department_code"),
              ((c.code, c.zh, c.en, c.deadline_hours, c.department) for c in EVENT_CATEGORIES))
        _copy(cur, "street", ("id", "code", "name_zh", "name_en", "geom"),
              ((i, s.code, s.name_zh, s.name_en, ewkb(s.shape))
               for i, s in enumerate(div.streets, start=1)))
        _copy(cur, "community", ("id", "code", "street_id", "name_zh", "name_en", "geom"),
              ((i, c.code, c.street + 1, c.name_zh, c.name_en, ewkb(c.shape))
               for i, c in enumerate(div.communities, start=1)))
        _copy(cur, "grid",
              ("id", "code", "community_id", "name_zh", "geom", "households", "population"),
              ((i, g.code, g.community + 1, g.name_zh, ewkb(g.shape), g.households, g.population)
               for i, g in enumerate(div.grids, start=1)))
        _copy(cur, "grid_worker", ("id", "grid_id", "post", "name", "phone"),
              ((i, w.grid + 1, w.post, w.name, w.phone)
               for i, w in enumerate(div.workers, start=1)))
        _copy(cur, "courtyard",
              ("id", "code", "grid_id", "name_zh", "address", "geom", "buildings", "households",
               "built_year", "renovation_status", "renovation_batch", "renovation_completed_on",
               "survey_summary"),
              ((i, c.code, c.grid + 1, c.name_zh, c.address, ewkb(c.shape), c.buildings,
                c.households, c.built_year, c.status, c.batch, c.completed_on, _json(c.summary))
               for i, c in enumerate(courtyards, start=1)))
        _copy(cur, "survey_response", ("id", "courtyard_id", "answered_at", "answers"),
              ((i, s.courtyard + 1, s.answered_at, _json(s.answers))
               for i, s in enumerate(surveys, start=1)))
        cam_geom = _points([c.xy for c in cameras])
        _copy(cur, "camera",
              ("id", "code", "name_zh", "source", "vendor", "geom", "azimuth_deg", "fov_deg",
               "range_m", "main_url", "sub_url", "courtyard_id", "health_status",
               "health_reconnects"),
              ((i, c.code, c.name_zh, c.source, c.vendor, g, round(c.azimuth, 1) % 360.0,
                round(c.fov, 1), round(c.range_m, 1), *c.urls(),
                None if c.courtyard is None else c.courtyard + 1, "unknown", 0)
               for i, (c, g) in enumerate(zip(cameras, cam_geom, strict=True), start=1)))
        ev_geom = _points([e.xy for e in events])
        _copy(cur, "event",
              ("id", "code", "category_code", "source_channel", "priority", "status",
               "description", "address", "geom", "department_id", "reported_at", "accepted_at",
               "deadline_at", "closed_at", "version"),
              ((i, e.code, e.category, e.source, e.priority, e.status, e.description, e.address,
                g, None if e.department is None else dept_id[e.department], e.reported_at,
                e.accepted_at, e.deadline_at, e.closed_at, 1)
               for i, (e, g) in enumerate(zip(events, ev_geom, strict=True), start=1)))
    _finish(conn)


def _finish(conn: sa.Connection) -> None:
    # Grid membership by the database, the same point-in-polygon any later writer gets.
    for table in ("camera", "event"):
        conn.execute(sa.text(
            f"UPDATE {table} t SET grid_id = g.id FROM grid g "
            "WHERE t.grid_id IS NULL AND ST_Intersects(g.geom, t.geom)"))
    # One log row per event for its report: the grid worker who found it (A or B) or the
    # channel it came in by. The full history belongs to the event workflow.
    channel = " ".join(f"WHEN '{code}' THEN '{lab.zh}'" for code, lab in
                       EVENT_SOURCE_LABELS.items())
    conn.execute(sa.text(f"""
        INSERT INTO event_log (event_id, at, actor, action, from_status, to_status)
        SELECT e.id, e.reported_at,
               COALESCE(w.name, CASE e.source_channel {channel} ELSE e.source_channel END),
               'report', NULL, 'reported'
        FROM event e
        LEFT JOIN grid_worker w ON e.source_channel = 'grid_patrol' AND w.grid_id = e.grid_id
             AND w.post = CASE WHEN e.id % 3 = 0 THEN 'B' ELSE 'A' END
        ORDER BY e.id"""))
    for table in _SERIAL_TABLES:
        conn.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"))
    for table in DEMO_TABLES:
        conn.execute(sa.text(f"ANALYZE {table}"))


def digest(conn: sa.Connection) -> str:
    """An MD5 over every demo row in a fixed order: equal digests mean identical data."""
    parts = []
    for table in DEMO_TABLES:
        key = "code" if table == "event_category" else "id"
        parts.append(conn.execute(sa.text(
            f"SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY t.{key}), '')) "
            f"FROM {table} t")).scalar_one())
    return str(conn.execute(sa.text("SELECT md5(:s)"), {"s": ",".join(parts)}).scalar_one())
