"""Write validated rows: COPY into a temporary table, then one set-based upsert per table.

Row-by-row ORM inserts take minutes for 100k events; COPY plus a single
``INSERT … SELECT … ON CONFLICT (code) DO UPDATE`` takes seconds, and re-importing a file
updates rows instead of duplicating them. grid_id is found in the same statement by a
point-in-polygon lookup on the grid index. Every identifier below is a constant of this module:
nothing a file contains is ever spliced into SQL; values travel through COPY and parameters.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import DEPARTMENTS, EVENT_CATEGORIES

TEMP = "_cc_import"
CHUNK_ROWS = 20_000

# kind -> (table, [(temp/target column, SQL type)]); geom is added to every kind.
LAYOUT: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "grids": ("grid", [
        ("code", "text"), ("name_zh", "text"), ("community_id", "integer"),
        ("households", "integer"), ("population", "integer"),
        ("worker_a_name", "text"), ("worker_a_phone", "text"),
        ("worker_b_name", "text"), ("worker_b_phone", "text")]),
    "courtyards": ("courtyard", [
        ("code", "text"), ("name_zh", "text"), ("address", "text"), ("buildings", "integer"),
        ("households", "integer"), ("built_year", "integer"), ("renovation_status", "text"),
        ("renovation_batch", "integer")]),
    "cameras": ("camera", [
        ("code", "text"), ("name_zh", "text"), ("source", "text"), ("vendor", "text"),
        ("azimuth_deg", "double precision"), ("fov_deg", "double precision"),
        ("range_m", "double precision"), ("main_url", "text"), ("sub_url", "text")]),
    "events": ("event", [
        ("code", "text"), ("category_code", "text"), ("source_channel", "text"),
        ("priority", "text"), ("status", "text"), ("reported_at", "timestamptz"),
        ("accepted_at", "timestamptz"), ("deadline_at", "timestamptz"),
        ("closed_at", "timestamptz"), ("description", "text"), ("address", "text")]),
}
# Temp columns that are not columns of the target table.
NOT_IN_TARGET = {"worker_a_name", "worker_a_phone", "worker_b_name", "worker_b_phone"}

# Where each kind finds its grid: a point itself, a polygon by a point surely inside it.
_GRID_PROBE = {"courtyards": "ST_PointOnSurface(t.geom)", "cameras": "t.geom",
               "events": "t.geom"}


@dataclass
class WriteResult:
    inserted: int
    updated: int


def temp_columns(kind: str) -> list[str]:
    """Column order of the temporary table (and of the COPY data), geometry last."""
    return [c for c, _ in LAYOUT[kind][1]] + ["geom"]


def _create_temp(session: Session, kind: str) -> None:
    cols = ", ".join(f"{c} {t}" for c, t in LAYOUT[kind][1])
    session.execute(sa.text(f"DROP TABLE IF EXISTS pg_temp.{TEMP}"))
    session.execute(sa.text(
        f"CREATE TEMP TABLE {TEMP} ({cols}, geom geometry(Geometry, 4326)) ON COMMIT DROP"))


def copy_rows(session: Session, kind: str, frame: pd.DataFrame,
              progress: Callable[[int], None] | None = None) -> None:
    """COPY ``frame`` (columns in :func:`temp_columns` order) into the temporary table."""
    _create_temp(session, kind)
    columns = temp_columns(kind)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur, cur.copy(
            f"COPY {TEMP} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(frame), CHUNK_ROWS):
            part = frame.iloc[start:start + CHUNK_ROWS]
            buffer = io.StringIO()
            # Missing values become unquoted empty fields, which CSV COPY reads as NULL.
            part.to_csv(buffer, columns=columns, header=False, index=False)
            copy.write(buffer.getvalue())
            if progress is not None:
                progress(len(part))


def ensure_catalog(session: Session) -> None:
    """Make sure departments and event categories from :mod:`gis.catalog` exist.

    Events reference ``event_category``; an import into a fresh database must not fail on
    that. Existing rows are left as they are (an administrator may have renamed them).
    """
    session.execute(
        sa.text("INSERT INTO department (code, name_zh, name_en) VALUES (:code, :zh, :en) "
                "ON CONFLICT (code) DO NOTHING"),
        [{"code": d.code, "zh": d.zh, "en": d.en} for d in DEPARTMENTS])
    session.execute(
        sa.text("INSERT INTO event_category (code, name_zh, name_en, deadline_hours, "
                "department_code) VALUES (:code, :zh, :en, :hours, :dept) "
                "ON CONFLICT (code) DO NOTHING"),
        [{"code": c.code, "zh": c.zh, "en": c.en, "hours": c.deadline_hours,
          "dept": c.department} for c in EVENT_CATEGORIES])


def _upsert_sql(kind: str) -> str:
    table, layout = LAYOUT[kind]
    cols = [c for c, _ in layout if c not in NOT_IN_TARGET] + ["geom"]
    select = [f"t.{c}" for c in cols]
    joins: list[str] = []
    if kind in _GRID_PROBE:
        # ORDER BY id: overlapping grids (a survey error) still give a stable answer.
        joins.append("LEFT JOIN LATERAL (SELECT g.id FROM grid g WHERE ST_Intersects(g.geom, "
                     f"{_GRID_PROBE[kind]}) ORDER BY g.id LIMIT 1) gl ON true")
        cols.append("grid_id")
        select.append("gl.id")
    if kind == "events":
        joins.append("LEFT JOIN event_category c ON c.code = t.category_code "
                     "LEFT JOIN department d ON d.code = c.department_code")
        cols.append("department_id")
        select.append("d.id")
        select[cols.index("description")] = "COALESCE(t.description, '')"
    compared = ", ".join(f"tgt.{c}" for c in cols)
    excluded = ", ".join(f"EXCLUDED.{c}" for c in cols)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    # Columns the ORM fills in Python; a raw INSERT must give them, an update keeps them.
    insert_only = {"cameras": [("health_status", "'unknown'"), ("health_reconnects", "0")],
                   "events": [("version", "1")]}.get(kind, [])
    all_cols = cols + [c for c, _ in insert_only]
    select += [v for _, v in insert_only]
    if kind == "events":
        sets += ", version = tgt.version + 1"  # the app's optimistic lock must see the change
    return (
        f"WITH up AS (INSERT INTO {table} AS tgt ({', '.join(all_cols)}) "
        f"SELECT {', '.join(select)} FROM {TEMP} t {' '.join(joins)} "
        f"ON CONFLICT (code) DO UPDATE SET {sets} "
        f"WHERE ({compared}) IS DISTINCT FROM ({excluded}) "
        "RETURNING tgt.code, (xmax = 0) AS inserted) "
        "SELECT code, inserted FROM up"
    )


def _upsert_workers(session: Session) -> set[str]:
    """Upsert the A and B worker of every imported grid; codes of grids whose pair changed."""
    rows = session.execute(sa.text(
        "WITH up AS (INSERT INTO grid_worker AS w (grid_id, post, name, phone) "
        f"SELECT g.id, p.post, p.name, p.phone FROM {TEMP} t JOIN grid g ON g.code = t.code "
        "CROSS JOIN LATERAL (VALUES ('A', t.worker_a_name, t.worker_a_phone), "
        "('B', t.worker_b_name, t.worker_b_phone)) AS p(post, name, phone) "
        "ON CONFLICT (grid_id, post) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone "
        "WHERE (w.name, w.phone) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.phone) "
        "RETURNING w.grid_id) "
        "SELECT DISTINCT g.code FROM up JOIN grid g ON g.id = up.grid_id")).scalars()
    return set(rows)


def upsert(session: Session, kind: str) -> WriteResult:
    """Move the temporary table into the target table; count inserted and updated rows."""
    # The planner's parallel plan for the point-in-polygon join was measured 5-10x slower here.
    session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
    if kind == "events":
        ensure_catalog(session)
    rows = session.execute(sa.text(_upsert_sql(kind))).all()
    inserted = {code for code, new in rows if new}
    updated = {code for code, new in rows if not new}
    if kind == "grids":
        updated |= _upsert_workers(session) - inserted
    session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather TO DEFAULT"))
    session.execute(sa.text(f"DROP TABLE IF EXISTS pg_temp.{TEMP}"))
    return WriteResult(len(inserted), len(updated))
