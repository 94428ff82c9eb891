"""Which grid a point lies in, and assigning every event to its grid in one statement.

Point-in-polygon for a million events is a join, not a loop. What makes it fast:

* the grids are cut into small pieces (``ST_Subdivide``, ≤ 64 vertices each) in a temporary
  table, so each point is tested against a small polygon with a tight bounding box instead of
  a many-vertex grid whose box overlaps its neighbours';
* the join walks the pieces and probes the event index (not the other way round), so each
  piece is prepared once by GEOS and reused for the hundreds of points inside it;
* points strictly inside a grid (nearly all) match exactly one piece, so they are written in
  one join without any per-event aggregate; only the few on an edge need a second look;
* only rows whose grid actually changes are written (``IS DISTINCT FROM``), so running it
  again costs a read, not a million row versions.

Parallel query plays no part: PostgreSQL 15 never runs a data-modifying statement (or a query
inside one) with parallel workers, so ``max_parallel_workers_per_gather`` cannot change these
plans. The write itself dominates when many rows change: each changed event gets new entries
in every index of ``event`` and a foreign-key check (see ``benchmarks/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.queries.cameras import _check_point

# Vertices per piece: smaller pieces mean cheaper tests but more index entries; 64 is where
# the curve flattens for grids of a few hundred vertices (the district uses the same value).
_PIECE_VERTICES = 64


@dataclass(frozen=True, slots=True)
class GridWorkerInfo:
    """A grid worker as shown next to the grid (post ``A`` leads, ``B`` assists)."""

    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class GridInfo:
    """A grid with its community, street and A/B workers."""

    id: int
    code: str
    name_zh: str
    community_code: str | None
    community_name: str | None
    street_code: str | None
    street_name: str | None
    worker_a: GridWorkerInfo | None
    worker_b: GridWorkerInfo | None


_GRID_FOR_POINT = sa.text("""
SELECT g.id, g.code, g.name_zh,
       c.code AS community_code, c.name_zh AS community_name,
       s.code AS street_code, s.name_zh AS street_name,
       wa.name AS a_name, wa.phone AS a_phone, wb.name AS b_name, wb.phone AS b_phone
FROM grid g
LEFT JOIN community c ON c.id = g.community_id
LEFT JOIN street s ON s.id = c.street_id
LEFT JOIN grid_worker wa ON wa.grid_id = g.id AND wa.post = 'A'
LEFT JOIN grid_worker wb ON wb.grid_id = g.id AND wb.post = 'B'
WHERE ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
ORDER BY g.code
LIMIT 1
""")


def grid_for_point(session: Session, lon: float, lat: float) -> GridInfo | None:
    """The grid containing (``lon``, ``lat``), or None when no grid covers it.

    A point exactly on the border of two grids belongs to both; the one with the smaller code
    is returned so the answer is stable.

    Parameters
    ----------
    session
        An open session.
    lon, lat
        WGS84 degrees.

    Returns
    -------
    GridInfo or None

    Examples
    --------
    >>> grid_for_point(session, 105.058, 29.585).code  # doctest: +SKIP
    'SZ-0101-03'
    """
    _check_point(lon, lat)
    row = session.execute(_GRID_FOR_POINT, {"lon": lon, "lat": lat}).mappings().first()
    if row is None:
        return None
    a = GridWorkerInfo(row["a_name"], row["a_phone"]) if row["a_name"] is not None else None
    b = GridWorkerInfo(row["b_name"], row["b_phone"]) if row["b_name"] is not None else None
    return GridInfo(row["id"], row["code"], row["name_zh"], row["community_code"],
                    row["community_name"], row["street_code"], row["street_name"], a, b)


_PIECES = [
    "DROP TABLE IF EXISTS cc_grid_piece",
    f"""CREATE TEMP TABLE cc_grid_piece ON COMMIT DROP AS
        SELECT id AS grid_id, ST_Subdivide(geom, {_PIECE_VERTICES}) AS geom FROM grid""",
    "CREATE INDEX ON cc_grid_piece USING gist (geom)",
    "ANALYZE cc_grid_piece",
]

# Pass 1: points strictly inside a piece. Grids do not overlap, so the match is unique and
# the update needs no aggregate. The explicit ``&&`` matters: ST_Contains alone only lets the
# planner probe the pieces' index once per event (1M probes, ~10 s); with it the planner walks
# the ~2,000 pieces and probes the event index, reusing each prepared piece for hundreds of
# points (~1 s).
_INSIDE = "e.geom && p.geom AND ST_Contains(p.geom, e.geom)"
_INTERIOR = f"""
UPDATE event e SET grid_id = p.grid_id
FROM cc_grid_piece p
WHERE {_INSIDE} {{only_missing}}
  AND e.grid_id IS DISTINCT FROM p.grid_id
"""
# Pass 2: the rest (on an edge between pieces or grids, or outside every grid). A point on
# the border of two grids gets the smaller grid id, so the answer does not depend on the plan.
_EDGES = """{with_}
UPDATE event e SET grid_id = m.grid_id
FROM (
  SELECT c.id, (SELECT min(p.grid_id) FROM cc_grid_piece p
                WHERE ST_Intersects(p.geom, c.geom)) AS grid_id
  FROM event c WHERE {candidates}
) m
WHERE e.id = m.id AND e.grid_id IS DISTINCT FROM m.grid_id
"""
_MISSING = "c.grid_id IS NULL"
# Events strictly inside some piece, found piece by piece as in pass 1 (an anti-join probing
# the pieces once per event would be the slow plan again); NOT EXISTS on the materialised
# list becomes a hash anti-join, which spills to disk instead of degrading when it is large.
_INTERIOR_IDS = f"""
WITH interior AS MATERIALIZED (SELECT e.id FROM cc_grid_piece p JOIN event e ON {_INSIDE})"""
_NOT_INTERIOR = "NOT EXISTS (SELECT 1 FROM interior i WHERE i.id = c.id)"


def assign_event_grids(session: Session, *, only_missing: bool = True) -> int:
    """Set ``event.grid_id`` from the grid polygon each event's point lies in.

    Set-based statements in the caller's transaction (commit to keep the result). Grids are
    expected not to overlap; a point on the border of two grids gets the smaller grid id.

    Parameters
    ----------
    session
        An open session.
    only_missing
        True: only events without a grid are looked at. False: every event is recomputed;
        an event no longer inside any grid gets ``grid_id = NULL``.

    Returns
    -------
    int
        The number of events whose ``grid_id`` was written (set, changed or, with
        ``only_missing=False``, cleared). Events already right are not rewritten or counted.

    Notes
    -----
    Finding the grids is fast (~1 s for 1M events into 2,200 grids on 2 cores); writing is
    what costs when many rows change (~30 s for 1M), because every changed row gets new
    entries in each of the event table's indexes and a foreign-key check. New events are
    usually few, so the routine call is quick.
    """
    for statement in _PIECES:
        session.execute(sa.text(statement))
    interior = _INTERIOR.format(only_missing="AND e.grid_id IS NULL" if only_missing else "")
    written = session.execute(sa.text(interior)).rowcount  # type: ignore[attr-defined]
    edges = (_EDGES.format(with_="", candidates=_MISSING) if only_missing
             else _EDGES.format(with_=_INTERIOR_IDS, candidates=_NOT_INTERIOR))
    written += session.execute(sa.text(edges)).rowcount  # type: ignore[attr-defined]
    session.execute(sa.text("DROP TABLE IF EXISTS cc_grid_piece"))
    return int(written)
