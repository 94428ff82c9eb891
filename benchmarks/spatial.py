"""Benchmark the spatial queries on a throwaway PostGIS with synthetic district-sized data.

Run with ``.venv/bin/python benchmarks/spatial.py [--quick]``. It starts its own cluster in a
temporary folder (destroyed at the end), migrates it, loads the real district boundary, builds
the data with set-based SQL and prints one table: ours vs a baseline measured in the same run.

* nearest-10 cameras (radius 300 m) at two camera counts: median over random query points of
  the client round trip and of the server's ``EXPLAIN ANALYZE`` execution time; baseline: the
  same query with index and bitmap scans disabled (a sequential scan plus top-N sort).
* grid assignment of every event: :func:`assign_event_grids` (serial, subdivided grids) vs a
  plain ``UPDATE … FROM grid`` join; and the point-in-polygon join alone (``SELECT count``) vs
  the same join on the raw grids with a parallel plan (``max_parallel_workers_per_gather=2``).
* square heat bins (250 m) over every event vs binning ``ST_Transform(geom, 4544)`` per query.
* a 100k-row CSV import through ``gis.importers.import_file`` (no baseline).
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a checkout without install
    sys.path.insert(0, str(ROOT))

from benchdb import migrated_database, start_cluster, stop_cluster  # noqa: E402

from config.settings import load_settings  # noqa: E402
from gis.catalog import DEPARTMENTS, EVENT_CATEGORIES  # noqa: E402
from gis.district import load_district  # noqa: E402
from gis.queries import assign_event_grids, explain_nearest, heat_bins, nearest_cameras  # noqa: E402
from gis.queries import grids as grids_module  # noqa: E402
from gis.queries import heat as heat_module  # noqa: E402

FULL = {"cameras": (10_000, 100_000), "events": 1_000_000, "grids": 2_000, "points": 200,
        "baseline_points": 50, "heat_runs": 7, "import_rows": 100_000}
QUICK = {"cameras": (2_000, 10_000), "events": 100_000, "grids": 300, "points": 50,
         "baseline_points": 20, "heat_runs": 3, "import_rows": 5_000}
# Urban core west of the Tuojiang, fully inside the district: where the CSV rows go.
CORE = (105.00, 29.555, 105.04, 29.595)
EXEC_TIME = re.compile(r"Execution Time: ([\d.]+) ms")
Row = tuple[str, str, str, str, str]
rows: list[Row] = []


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(name: str, ours: float, baseline: float | None, target: float | None) -> None:
    if not baseline:
        ratio = "-"
    else:
        ratio = (f"{baseline / ours:.1f}x faster" if baseline >= ours
                 else f"{ours / baseline:.1f}x slower")
    verdict = "-" if target is None else ("met" if ours <= target else "MISSED")
    rows.append((name, ms(ours), ms(baseline) if baseline else "-", ratio,
                 f"<= {ms(target)} {verdict}" if target else "-"))
    print(f"  {name}: {ms(ours)}" + (f" (baseline {ms(baseline)})" if baseline else ""),
          flush=True)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- data -----------------------------------------------------------------------------------

def seed_catalog(s: Session) -> None:
    s.execute(sa.text("INSERT INTO department (code, name_zh, name_en) VALUES (:c, :z, :e)"),
              [{"c": d.code, "z": d.zh, "e": d.en} for d in DEPARTMENTS])
    s.execute(sa.text("""INSERT INTO event_category (code, name_zh, name_en, deadline_hours,
                         department_code) VALUES (:c, :z, :e, :h, :d)"""),
              [{"c": c.code, "z": c.zh, "e": c.en, "h": c.deadline_hours, "d": c.department}
               for c in EVENT_CATEGORIES])


def build_grids(s: Session, n_grids: int) -> int:
    """Square cells on the EPSG:4544 plane clipped to the district, each with an A/B pair."""
    area = s.scalar(sa.text("SELECT ST_Area(ST_Transform(geom, 4544)) FROM district"))
    size = (area / n_grids) ** 0.5
    s.execute(sa.text("""
        INSERT INTO grid (code, name_zh, geom, households, population)
        SELECT 'G' || lpad(n::text, 5, '0'), '网格' || n, g, 0, 0
        FROM (
          SELECT row_number() OVER () AS n, g FROM (
            SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(
                     ST_Intersection(d.geom, ST_Transform(c.geom, 4326))), 3)) AS g
            FROM district d, ST_SquareGrid(:size, ST_Transform(d.geom, 4544)) c
            WHERE ST_Intersects(ST_Transform(d.geom, 4544), c.geom)
          ) x WHERE NOT ST_IsEmpty(g)
        ) y"""), {"size": size})
    # The pair must exist by commit (deferred trigger): same transaction.
    s.execute(sa.text("""
        INSERT INTO grid_worker (grid_id, post, name, phone)
        SELECT g.id, p.post, '网格员' || g.id || p.post, '138' || lpad(g.id::text, 8, '0')
        FROM grid g CROSS JOIN (VALUES ('A'), ('B')) p(post)"""))
    return int(s.scalar(sa.text("SELECT count(*) FROM grid")))


def add_cameras(s: Session, total: int) -> None:
    have = s.scalar(sa.text("SELECT count(*) FROM camera"))
    s.execute(sa.text("""
        INSERT INTO camera (code, name_zh, source, vendor, geom, azimuth_deg, fov_deg, range_m,
                            health_status, health_reconnects)
        SELECT 'C' || (:have + n), '监控' || (:have + n),
               (ARRAY['skynet', 'community', 'courtyard'])[1 + n % 3], 'generic', p.geom,
               0, 90, 60, 'online', 0
        FROM district d, LATERAL (SELECT row_number() OVER () AS n, x.geom
                                  FROM ST_Dump(ST_GeneratePoints(d.geom, :k, :seed)) x) p"""),
              {"have": have, "k": total - have, "seed": 1000 + total})
    s.commit()
    s.execute(sa.text("ANALYZE camera"))


def add_events(s: Session, n: int) -> None:
    s.execute(sa.text("""
        INSERT INTO event (code, category_code, source_channel, priority, status, description,
                           geom, reported_at, deadline_at, closed_at, version)
        SELECT 'E' || n, (SELECT array_agg(code ORDER BY code) FROM event_category)[1 + n % 10],
               'grid_patrol', 'normal', CASE WHEN n % 3 = 0 THEN 'closed' ELSE 'reported' END,
               '', p.geom, t, t + interval '2 days',
               CASE WHEN n % 3 = 0 THEN t + interval '1 day' END, 1
        FROM district d,
             LATERAL (SELECT row_number() OVER () AS n, x.geom
                      FROM ST_Dump(ST_GeneratePoints(d.geom, :n, 7)) x) p,
             LATERAL (SELECT timestamptz '2025-01-01 00:00+08'
                             + (n % 63072000) * interval '1 second' AS t) tt"""), {"n": n})
    s.commit()
    _vacuum(s.get_bind())


def query_points(s: Session, k: int) -> list[tuple[float, float]]:
    return [(r[0], r[1]) for r in s.execute(sa.text("""
        SELECT ST_X(p.geom), ST_Y(p.geom) FROM district d,
               ST_Dump(ST_GeneratePoints(d.geom, :k, 99)) p"""), {"k": k})]


# -- measurements ---------------------------------------------------------------------------

def bench_nearest(engine: sa.Engine, n_cameras: int, points: list[tuple[float, float]],
                  baseline_points: int) -> None:
    with Session(engine) as s:
        for lon, lat in points[:10]:  # warm the cache
            nearest_cameras(s, lon, lat, n=10, radius_m=300)
        client = [timed(lambda p=p: nearest_cameras(s, p[0], p[1], n=10, radius_m=300))
                  for p in points]
        server = [float(EXEC_TIME.findall(explain_nearest(s, lon, lat, n=10, radius_m=300,
                                                          analyze=True))[-1]) / 1000
                  for lon, lat in points]
        plan = explain_nearest(s, *points[0], n=10, radius_m=300)
        assert "Index Scan using camera_geog_idx" in plan, plan
        s.execute(sa.text("SET enable_indexscan = off"))
        s.execute(sa.text("SET enable_bitmapscan = off"))
        few = points[:baseline_points]
        b_client = [timed(lambda p=p: nearest_cameras(s, p[0], p[1], n=10, radius_m=300))
                    for p in few]
        b_server = [float(EXEC_TIME.findall(explain_nearest(s, lon, lat, n=10, radius_m=300,
                                                            analyze=True))[-1]) / 1000
                    for lon, lat in few]
        s.rollback()
    label = f"nearest-10 @ {n_cameras:,} cameras"
    report(f"{label}, in database (median)", statistics.median(server),
           statistics.median(b_server), 0.001 if n_cameras >= 100_000 else None)
    report(f"{label}, client round trip (median)", statistics.median(client),
           statistics.median(b_client), None)


_JOIN_OURS = f"SELECT count(*) FROM cc_grid_piece p JOIN event e ON {grids_module._INSIDE}"
_JOIN_PLAIN = "SELECT count(*) FROM event e JOIN grid g ON ST_Intersects(g.geom, e.geom)"
_UPDATE_PLAIN = """UPDATE event e SET grid_id = g.id FROM grid g
                   WHERE ST_Intersects(g.geom, e.geom) AND e.grid_id IS NULL"""


def _vacuum(engine: sa.Engine | sa.Connection) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE event"))


def bench_assign(engine: sa.Engine, n_events: int) -> None:
    label = f"{n_events:,} events into grids"
    with Session(engine) as s:  # the point-in-polygon join alone
        s.execute(sa.text("SET max_parallel_workers_per_gather = 0"))
        s.execute(sa.text("""CREATE TEMP TABLE cc_grid_piece AS
                             SELECT id AS grid_id, ST_Subdivide(geom, 64) AS geom FROM grid"""))
        s.execute(sa.text("CREATE INDEX ON cc_grid_piece USING gist (geom)"))
        s.execute(sa.text("ANALYZE cc_grid_piece"))
        ours = timed(lambda: s.execute(sa.text(_JOIN_OURS)).scalar())
        serial_plain = timed(lambda: s.execute(sa.text(_JOIN_PLAIN)).scalar())
        s.execute(sa.text("SET max_parallel_workers_per_gather = 2"))
        s.execute(sa.text("SET parallel_setup_cost = 0"))  # make sure the parallel plan runs
        s.execute(sa.text("SET parallel_tuple_cost = 0"))
        s.execute(sa.text("SET min_parallel_table_scan_size = 0"))
        parallel = timed(lambda: s.execute(sa.text(_JOIN_PLAIN)).scalar())
        plan = "\n".join(r[0] for r in s.execute(sa.text("EXPLAIN " + _JOIN_PLAIN)))
        print(f"  baseline plan is {'parallel' if 'Gather' in plan else 'NOT parallel'}")
        s.rollback()
    report(f"{label}: join only (subdivided, serial)", ours, parallel, 2.0)
    print(f"  (plain grids serial: {ms(serial_plain)})")
    with Session(engine) as s:
        assigned = 0

        def run() -> None:
            nonlocal assigned
            assigned = assign_event_grids(s)
            s.commit()
        ours = timed(run)
        print(f"  assigned {assigned:,} of {n_events:,}")
        s.execute(sa.text("UPDATE event SET grid_id = NULL"))
        s.commit()
    _vacuum(engine)
    with Session(engine) as s:
        baseline = timed(lambda: (s.execute(sa.text(_UPDATE_PLAIN)), s.commit()))
    report(f"{label}: UPDATE (assign_event_grids)", ours, baseline, 2.0)
    _vacuum(engine)


def bench_heat(engine: sa.Engine, n_events: int, runs: int) -> None:
    with Session(engine) as s:
        heat_bins(s, size_m=250)  # warm
        ours = statistics.median(timed(lambda: heat_bins(s, size_m=250)) for _ in range(runs))
        hexes = statistics.median(timed(lambda: heat_bins(s, size_m=250, shape="hexagon"))
                                  for _ in range(runs))
        # Baseline: the same query, projecting every point at query time.
        cells = heat_module._SQUARE_CELLS.replace("e.geom_m", "ST_Transform(e.geom, 4544)")
        sql = sa.text(heat_module._BINS.format(shape=heat_module._SQUARE_SHAPE,
                                               cells=cells.format(where="true")))
        baseline = statistics.median(timed(lambda: s.execute(sql, {"s": 250.0}).all())
                                     for _ in range(runs))
    report(f"square heat bins 250 m over {n_events:,} events", ours, baseline, 0.5)
    report(f"hexagon heat bins 250 m over {n_events:,} events", hexes, None, None)


def bench_import(engine: sa.Engine, n_rows: int, folder: Path) -> None:
    name = f"CSV import of {n_rows:,} events"
    try:
        from gis.importers import import_file
    except ImportError as exc:
        rows.append((name, "n/a", "-", "-", f"import_file missing: {exc}"))
        return
    path = folder / "events.csv"
    with Session(engine) as s:
        pts = s.execute(sa.text("""
            SELECT :x0 + random() * (:x1 - :x0), :y0 + random() * (:y1 - :y0)
            FROM generate_series(1, :n)"""),
            dict(zip(("x0", "y0", "x1", "y1"), CORE, strict=True), n=n_rows)).all()
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["code", "category", "source", "status", "reported_at", "lon", "lat"])
        for i, (lon, lat) in enumerate(pts):
            out.writerow([f"IMP{i}", EVENT_CATEGORIES[i % 10].code, "hotline_12345",
                          "reported", f"2026-0{1 + i % 9}-1{i % 10} 08:30:00+08:00",
                          f"{lon:.6f}", f"{lat:.6f}"])
    try:
        with Session(engine) as s:
            start = time.perf_counter()
            result = import_file(s, "events", path, crs="EPSG:4326")
            s.commit()
            took = time.perf_counter() - start
        print(f"  import report: {result.inserted:,} inserted, {result.rejected:,} rejected")
        report(name, took, None, 20.0)
    except Exception as exc:  # the benchmark reports, it does not crash on another module
        rows.append((name, "n/a", "-", "-", f"failed: {type(exc).__name__}: {exc}"[:120]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    cfg = QUICK if parser.parse_args().quick else FULL
    cluster = start_cluster("cc-bench-pg-")
    try:
        engine = migrated_database(cluster)
        with Session(engine) as s:
            load_district(s, load_settings())
            seed_catalog(s)
            s.commit()
            t0 = time.perf_counter()
            n_grids = build_grids(s, cfg["grids"])
            s.commit()
            print(f"{n_grids:,} grids in {ms(time.perf_counter() - t0)}", flush=True)
            points = query_points(s, cfg["points"])
        for n_cameras in cfg["cameras"]:
            with Session(engine) as s:
                t0 = time.perf_counter()
                add_cameras(s, n_cameras)
                s.commit()
            print(f"{n_cameras:,} cameras in {ms(time.perf_counter() - t0)}", flush=True)
            bench_nearest(engine, n_cameras, points, cfg["baseline_points"])
        with Session(engine) as s:
            t0 = time.perf_counter()
            add_events(s, cfg["events"])
        print(f"{cfg['events']:,} events in {ms(time.perf_counter() - t0)}", flush=True)
        bench_assign(engine, cfg["events"])
        bench_heat(engine, cfg["events"], cfg["heat_runs"])
        bench_import(engine, cfg["import_rows"], cluster.base.parent)
    finally:
        stop_cluster(cluster)
    widths = [max(len(r[i]) for r in [*rows, ("benchmark", "ours", "baseline", "ratio",
                                              "target (2 cores)")]) for i in range(5)]
    header = ("benchmark", "ours", "baseline", "ratio", "target (2 cores)")
    print()
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
