"""Benchmark the intake API over HTTP and the 三灯一牌 board over 1M events.

Run with ``.venv/bin/python benchmarks/intake.py [--quick] [--seconds 20] [--connections 32]``.
It starts its own PostgreSQL + PostGIS cluster in a temporary folder (destroyed at the end),
migrates it, loads the real district boundary, builds ~2,000 grids (12 streets, 120
communities) and 1M events spread over them (``--quick``: 300 grids, 100k events), then:

* **intake**: the API (``run_api``, in this process) takes form-encoded Open311 POSTs from
  ``wrk`` (a separate C process: the load generator costs little CPU on the same two cores)
  with keep-alive connections, random points in the urban core and random categories. Each
  answer carries its own event code, grid and duplicate list. Ours: group commit
  (``api.batch_max``); baseline, same run and load: one transaction per request
  (``--naive``'s path, ``batch_max = 1``); reference: the HTTP ceiling of a no-op endpoint
  (``/open311/v2/health``). Events/s counts events actually written (the writer's counter).
* **board**: :func:`gis.loop.board.board` per department, street and grid over all events,
  median of 5; baseline: the naive way, every open or recently closed row fetched and its light
  computed in Python (:func:`gis.loop.lights.light`), median of 3.

Needs ``wrk`` (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "benchmarks"):
    if str(extra) not in sys.path:  # allow running from a checkout without install
        sys.path.insert(0, str(extra))

from benchdb import migrated_database, start_cluster, stop_cluster  # noqa: E402
from spatial import build_grids, seed_catalog  # noqa: E402

from command_center.api.keys import add_client  # noqa: E402
from command_center.api.server import ApiServices, run_api  # noqa: E402
from config.settings import load_settings  # noqa: E402
from gis.catalog import OPEN_STATUSES  # noqa: E402
from gis.district import load_district  # noqa: E402
from gis.loop.board import board, month_start  # noqa: E402
from gis.loop.lights import light  # noqa: E402

FULL = {"grids": 2_000, "events": 1_000_000}
QUICK = {"grids": 300, "events": 100_000}
CORE = (105.00, 29.555, 105.04, 29.595)  # urban core, inside the district
Row = tuple[str, str, str, str, str]
rows: list[Row] = []

LUA = """
math.randomseed(%(seed)d)
local cats = {%(cats)s}
request = function()
  local lon = %(x0)f + math.random() * %(dx)f
  local lat = %(y0)f + math.random() * %(dy)f
  local body = string.format(
    "api_key=%(key)s&service_code=%%s&lat=%%.6f&long=%%.6f&description=bench+%%d",
    cats[math.random(#cats)], lat, lon, math.random(1000000))
  return wrk.format("POST", "/open311/v2/requests.json",
                    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%.1f %%.1f %%.1f\\n", summary.requests,
    summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.2f} s"


def add_row(name: str, ours: str, baseline: str, ratio: str, target: str) -> None:
    rows.append((name, ours, baseline, ratio, target))
    print(f"  {name}: {ours} (baseline {baseline})", flush=True)


# -- data -----------------------------------------------------------------------------------

def build_areas(s: Session) -> None:
    """12 streets and 120 communities (geometry: the district; the board joins by id)."""
    s.execute(sa.text("""
        INSERT INTO street (code, name_zh, geom)
        SELECT 'S' || n, '街道' || n, (SELECT geom FROM district) FROM generate_series(1, 12) n"""))
    s.execute(sa.text("""
        INSERT INTO community (code, street_id, name_zh, geom)
        SELECT 'C' || n, (SELECT id FROM street ORDER BY id LIMIT 1 OFFSET n % 12),
               '社区' || n, (SELECT geom FROM district) FROM generate_series(1, 120) n"""))
    s.execute(sa.text("UPDATE grid SET community_id = (SELECT min(id) FROM community) "
                      "+ id % 120"))


def add_events(s: Session, n: int, now: dt.datetime) -> None:
    """``n`` events spread over the grids (points generated inside each grid, so no
    point-in-polygon pass is needed), two years of history, ~8% open in every loop status."""
    n_grids = int(s.execute(sa.text("SELECT count(*) FROM grid")).scalar_one())
    s.execute(sa.text("ALTER TABLE event DISABLE TRIGGER event_notify"))
    s.execute(sa.text("""
        INSERT INTO event (code, category_code, source_channel, priority, status, description,
                           geom, grid_id, department_id, reported_at, accepted_at,
                           deadline_at, closed_at, supervised, version)
        SELECT 'E' || n, c.code, 'grid_patrol', 'normal',
               CASE WHEN k < 8 THEN (ARRAY['reported', 'accepted', 'dispatched', 'handling',
                                           'handled', 'verified', 'returned'])[1 + n % 7]
                    WHEN k < 9 THEN 'rejected' ELSE 'closed' END,
               '', p.geom, p.grid_id, d.id, t, t + interval '10 minutes',
               t + interval '10 minutes' + c.deadline_hours * interval '1 hour',
               CASE WHEN k >= 9 THEN t + (n % 90) * interval '1 hour' END,
               k < 8 AND n % 5 = 0, 1
        FROM (SELECT row_number() OVER () AS n, g.id AS grid_id, x.geom
              FROM grid g, ST_Dump(ST_GeneratePoints(g.geom, :per, 7)) x) p
        CROSS JOIN LATERAL (SELECT p.n % 100 AS k) kk
        JOIN event_category c ON c.code = (SELECT array_agg(code ORDER BY code)
                                           FROM event_category)[1 + p.n % 10]
        JOIN department d ON d.code = c.department_code
        CROSS JOIN LATERAL (SELECT CAST(:now AS timestamptz) - CASE WHEN kk.k < 8
               THEN (p.n % 96) * interval '1 hour'
               ELSE (p.n % 730) * interval '1 day' + interval '4 days' END AS t) tt"""),
        {"per": max(1, n // n_grids), "now": now})
    s.execute(sa.text("UPDATE event SET accepted_at = NULL, deadline_at = NULL "
                      "WHERE status = 'reported'"))
    s.execute(sa.text("ALTER TABLE event ENABLE TRIGGER event_notify"))
    s.commit()
    with s.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE event"))


# -- intake over HTTP -----------------------------------------------------------------------

def wrk(url: str, script: Path | None, seconds: int, connections: int) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:  # the no-op run has no script: read wrk's own summary
        rps = float(next(ln for ln in out.splitlines() if ln.startswith("Requests/sec"))
                    .split()[-1])
        return {"rps": rps}
    req, dur_us, status_err, sock_err, p50, p95, p99 = (float(v) for v in line.split()[1:])
    return {"requests": req, "seconds": dur_us / 1e6, "status_errors": status_err,
            "socket_errors": sock_err, "p50": p50 / 1e6, "p95": p95 / 1e6, "p99": p99 / 1e6}


def run_intake(engine: sa.Engine, key: str, seconds: int, connections: int,
               batch_max: int | None, folder: Path) -> dict[str, float]:
    """Start the API, load it with wrk, stop it; events/s from the writer's counter."""
    settings = load_settings()
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={
        "sweep_interval_s": 0.0})})
    ready: list[ApiServices] = []
    stop = threading.Event()
    thread = threading.Thread(target=run_api, args=(settings, engine), kwargs={
        "host": "127.0.0.1", "port": 0, "stop_event": stop, "on_ready": ready.append,
        "batch_max": batch_max}, daemon=True)
    thread.start()
    while not ready:
        time.sleep(0.05)
    services = ready[0]
    script = folder / "intake.lua"
    cats = ", ".join(f'"{c}"' for c in services._services)
    x0, y0, x1, y1 = CORE
    script.write_text(LUA % {"seed": 42, "cats": cats, "x0": x0, "y0": y0, "dx": x1 - x0,
                             "dy": y1 - y0, "key": key}, encoding="utf-8")
    url = f"{services.base_url}/open311/v2/requests.json"
    wrk(url, script, 2, connections)  # warm-up: caches, prepared plans, connections
    before = (services.writer.stats.written, services.writer.stats.batches,
              services.writer.stats.busy_s)
    cpu0 = os.times()
    result = wrk(url, script, seconds, connections)
    cpu1 = os.times()
    stats = services.writer.stats
    result["writer_busy"] = (stats.busy_s - before[2]) / result["seconds"]
    result["api_cpu"] = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / result[
        "seconds"]
    result["events_per_s"] = (stats.written - before[0]) / result["seconds"]
    result["mean_batch"] = (stats.written - before[0]) / max(1, stats.batches - before[1])
    if batch_max is None:
        result["noop_rps"] = wrk(f"{services.base_url}/open311/v2/health", None,
                                 max(3, seconds // 4), connections)["rps"]
    stop.set()
    thread.join(30)
    return result


def bench_intake(engine: sa.Engine, key: str, seconds: int, connections: int,
                 folder: Path) -> None:
    ours = run_intake(engine, key, seconds, connections, None, folder)
    naive = run_intake(engine, key, seconds, connections, 1, folder)
    for label, r in (("group commit", ours), ("naive", naive)):
        print(f"  {label}: {r['events_per_s']:.0f} events/s, p50 {ms(r['p50'])}, p95 "
              f"{ms(r['p95'])}, p99 {ms(r['p99'])}, mean batch {r['mean_batch']:.1f}, "
              f"non-201 {r['status_errors']:.0f}, socket errors {r['socket_errors']:.0f}, "
              f"writer busy {r['writer_busy']:.0%}, API process CPU {r['api_cpu']:.2f} cores")
    ratio = ours["events_per_s"] / max(naive["events_per_s"], 1e-9)
    met = "met" if ours["events_per_s"] >= 1000 else "MISSED"
    add_row(f"intake over HTTP, {connections} connections", f"{ours['events_per_s']:.0f} ev/s",
            f"{naive['events_per_s']:.0f} ev/s", f"{ratio:.1f}x", f">= 1000 ev/s {met}")
    add_row("intake latency p50", ms(ours["p50"]), ms(naive["p50"]),
            f"{naive['p50'] / max(ours['p50'], 1e-9):.1f}x faster", "-")
    met = "met" if ours["p95"] <= 0.05 else "MISSED"
    add_row("intake latency p95", ms(ours["p95"]), ms(naive["p95"]),
            f"{naive['p95'] / max(ours['p95'], 1e-9):.1f}x faster", f"<= 50 ms {met}")
    add_row("no-op endpoint (HTTP ceiling, reference)", f"{ours['noop_rps']:.0f} req/s", "-",
            "-", "-")


# -- the board ------------------------------------------------------------------------------

_NAIVE = """
SELECT {area}, e.status, e.deadline_at, coalesce(e.accepted_at, e.reported_at), e.closed_at,
       e.supervised
FROM event e LEFT JOIN grid g ON g.id = e.grid_id LEFT JOIN community c ON c.id = g.community_id
WHERE e.status = ANY(:open) OR (e.closed_at >= :start AND e.closed_at < :end)
"""


def naive_board(s: Session, level: str, now: dt.datetime, start: dt.datetime) -> int:
    area = {"department": "e.department_id", "street": "c.street_id", "grid": "e.grid_id"}
    counts: collections.Counter[tuple[object, str]] = collections.Counter()
    for a, status, deadline, started, closed_at, supervised in s.execute(
            sa.text(_NAIVE.format(area=area[level])),
            {"open": list(OPEN_STATUSES), "start": start, "end": now}):
        if status in OPEN_STATUSES:
            counts[(a, light(deadline, started, now))] += 1
            counts[(a, "supervised")] += bool(supervised)
        elif status == "closed":
            counts[(a, "closed")] += 1
            counts[(a, "on_time")] += closed_at <= deadline if deadline else 0
    return len(counts)


def bench_board(engine: sa.Engine, n_events: int, now: dt.datetime) -> None:
    start = month_start(now, "Asia/Shanghai")
    with Session(engine) as s:
        for level in ("department", "street", "grid"):
            board(s, level=level, now=now)  # warm
            ours = statistics.median(_timed(lambda lv=level: board(s, level=lv, now=now))
                                     for _ in range(5))
            base = statistics.median(_timed(lambda lv=level: naive_board(s, lv, now, start))
                                     for _ in range(3))
            met = "met" if ours <= 1.0 else "MISSED"
            add_row(f"board by {level} over {n_events:,} events (median)", ms(ours), ms(base),
                    f"{base / ours:.1f}x faster", f"<= 1.00 s {met}")


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--seconds", type=int, default=20, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive "
                        "connections")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    cfg = QUICK if args.quick else FULL
    cluster = start_cluster("cc-bench-pg-")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        engine = migrated_database(cluster)
        with Session(engine) as s:
            load_district(s, load_settings())
            seed_catalog(s)
            t0 = time.perf_counter()
            n_grids = build_grids(s, cfg["grids"])
            build_areas(s)
            key = add_client(s, "bench", "hotline_12345")
            s.commit()
            print(f"{n_grids:,} grids in {ms(time.perf_counter() - t0)}", flush=True)
            t0 = time.perf_counter()
            add_events(s, cfg["events"], now)
            total = int(s.execute(sa.text("SELECT count(*) FROM event")).scalar_one())
            print(f"{total:,} events in {ms(time.perf_counter() - t0)}", flush=True)
        bench_board(engine, total, now)
        bench_intake(engine, key, args.seconds, args.connections, cluster.base.parent)
    finally:
        stop_cluster(cluster)
    header = ("benchmark", "ours", "baseline", "ratio", "target (2 cores)")
    widths = [max(len(r[i]) for r in [*rows, header]) for i in range(5)]
    print()
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
