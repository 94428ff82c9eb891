"""Time the district report (``gis.reports.build_report``) on the demo and with 1M events.

Run with ``.venv/bin/python benchmarks/reports.py [--runs 3] [--events 1000000] [--quick]``.
It starts its own cluster in a temporary folder (destroyed at the end), migrates it, seeds the
default demo (two years of events, 300 grids, 586 courtyards, 1,500 cameras), marks four
cameras in five ``online`` (the demo leaves every camera's health ``unknown``, which would make
the coverage section trivially empty), and times:

* the district report over the whole two years of demo events, and over the last full month;
* the same after adding copies of the demo events (jittered by up to ±25 m, shifted by up to
  a day, inside the district) up to ``--events`` in all (1M by default).

Each row is the median of ``--runs`` builds after one warm-up; the baseline, measured in the
same process on the same data and period, is :func:`gis.queries.kpi.kpis` at street level
alone (one scan of the events), so the ratio says what the whole report costs compared with
the one KPI table every page already shows. Per-section medians are printed under the table.
Targets on 2 cores: ≤ 10 s on the demo data, ≤ 30 s with 1M events.

:func:`time_report` is reusable. :func:`measure_exports` adds the HTML, PDF and XLSX export
times of the demo reports (and of the big whole-range report, HTML only) and the HTML file's
size against the 5 MB target; its baseline is the report's tables written as CSV.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a checkout without install
    sys.path.insert(0, str(ROOT))

from benchdb import migrated_database, start_cluster, stop_cluster  # noqa: E402

from config.settings import Settings, load_settings  # noqa: E402
from gis.demo import seed_demo  # noqa: E402
from gis.queries.kpi import kpis  # noqa: E402
from gis.reports import Period, Report, build_report, parse_period  # noqa: E402
from gis.reports.build import SECTIONS  # noqa: E402
from gis.reports.period import period_between  # noqa: E402

Row = tuple[str, str, str, str, str]
rows: list[Row] = []
section_rows: list[tuple[str, dict[str, float]]] = []


@dataclass
class ReportTiming:
    """Medians of repeated builds of one report, and the last report built."""

    label: str
    total: float
    sections: dict[str, float]
    runs: list[float] = field(default_factory=list)
    report: Report | None = None


def time_report(engine: sa.Engine, settings: Settings, *, area_code: str | None = None,
                period: Period | str, runs: int = 3, label: str = "report",
                now: dt.datetime | None = None, warm: bool = True) -> ReportTiming:
    """Build the report ``runs`` times (after one warm-up) and return the medians.

    Parameters
    ----------
    engine, settings
        Where the data is, and the settings ``build_report`` reads.
    area_code, period, now
        Passed to :func:`gis.reports.build_report`.
    runs
        Timed builds; each uses a fresh session, as the report page would.
    label
        Name of the row in the printed table.
    warm
        Build once untimed first (caches, plans).
    """
    totals: list[float] = []
    per_section: dict[str, list[float]] = {name: [] for name in SECTIONS}
    report: Report | None = None
    for k in range(runs + (1 if warm else 0)):
        spent: dict[str, float] = {}
        with Session(engine) as s:
            started = time.perf_counter()
            report = build_report(s, area_code, period, settings=settings, now=now,
                                  timings=spent)
            took = time.perf_counter() - started
        if warm and k == 0:
            continue
        totals.append(took)
        for name in SECTIONS:
            per_section[name].append(spent.get(name, 0.0))
    return ReportTiming(label, statistics.median(totals),
                        {n: statistics.median(v) for n, v in per_section.items()}, totals,
                        report)


def time_baseline(engine: sa.Engine, period: Period, runs: int) -> float:
    """Median of :func:`gis.queries.kpi.kpis` (street level) over ``period``."""
    took = []
    with Session(engine) as s:
        kpis(s, level="street", start=period.start, end=period.end)  # warm
        for _ in range(runs):
            started = time.perf_counter()
            kpis(s, level="street", start=period.start, end=period.end)
            took.append(time.perf_counter() - started)
    return statistics.median(took)


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def measure(engine: sa.Engine, settings: Settings, label: str, period: Period, runs: int,
            target: float | None) -> ReportTiming:
    timing = time_report(engine, settings, period=period, runs=runs, label=label)
    baseline = time_baseline(engine, period, runs)
    ratio = f"{timing.total / baseline:.0f}x the KPI query" if baseline else "-"
    verdict = "-" if target is None else (
        f"<= {fmt(target)} {'met' if timing.total <= target else 'MISSED'}")
    rows.append((label, fmt(timing.total), fmt(baseline), ratio, verdict))
    section_rows.append((label, timing.sections))
    report = timing.report
    assert report is not None
    print(f"  {label}: {fmt(timing.total)} (KPI query {fmt(baseline)}); "
          f"{int(report.kpis.set_index('measure').loc['reported', 'value']):,} events, "
          f"{len(report.hotspots)} hot spots, {len(report.coverage.events_outside):,} "
          "outside every view", flush=True)
    return timing


def whole_range(engine: sa.Engine, settings: Settings) -> Period:
    tz = settings.ui.timezone
    with engine.connect() as conn:
        first, last = conn.execute(sa.text(
            "SELECT (min(reported_at) AT TIME ZONE :tz)::date, "
            "(max(reported_at) AT TIME ZONE :tz)::date FROM event"), {"tz": tz}).one()
    return period_between(first, last, tz)


def last_full_month(period: Period, settings: Settings) -> Period:
    last = period.end.date() - dt.timedelta(days=1)
    month = (last.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    return parse_period(month, settings.ui.timezone)


def add_events(engine: sa.Engine, total: int) -> int:
    """Copies of the demo events, jittered and shifted, until ``total`` events exist."""
    with engine.begin() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()
        copies = max(0, -(-(total - have) // have))
        conn.execute(sa.text("ALTER TABLE event DISABLE TRIGGER event_notify"))
        conn.execute(sa.text("SELECT setseed(0.17)"))
        conn.execute(sa.text("""
            INSERT INTO event (code, category_code, source_channel, priority, status,
                               description, address, geom, grid_id, department_id,
                               reported_at, accepted_at, deadline_at, closed_at, version)
            SELECT 'X' || k || '-' || id, category_code, source_channel, priority, status, '',
                   address, g, grid_id, department_id, reported_at + shift,
                   accepted_at + shift, deadline_at + shift, closed_at + shift, 1
            FROM (
              SELECT e.*, k, ((k * 7919 + e.id) % 1440) * interval '1 minute' AS shift,
                     ST_Transform(ST_Translate(e.geom_m, (random() - 0.5) * 50,
                                               (random() - 0.5) * 50), 4326) AS g
              FROM event e CROSS JOIN generate_series(1, :copies) k
              WHERE e.code NOT LIKE 'X%'
            ) x
            WHERE EXISTS (SELECT 1 FROM district_part p WHERE ST_Intersects(p.geom, x.g))
            LIMIT :n"""), {"copies": copies, "n": total - have})
        conn.execute(sa.text("ALTER TABLE event ENABLE TRIGGER event_notify"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE event"))
        return int(conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one())


def measure_exports(report: Report, runs: int, label: str,
                    formats: tuple[str, ...] = ("html", "pdf", "xlsx")) -> None:
    """Time the exports of ``report`` and size the HTML against the 5 MB target.

    Baseline: every table of :meth:`Report.tables` written as CSV with pandas, the plainest
    export there is, measured here on the same report.
    """
    from command_center.reports import export

    out = Path(tempfile.mkdtemp(prefix="cc-bench-exports-"))

    def median_of(work: object) -> float:
        took = []
        for _ in range(runs):
            started = time.perf_counter()
            work()  # type: ignore[operator]
            took.append(time.perf_counter() - started)
        return statistics.median(took)

    try:
        csv = median_of(lambda: [f.to_csv(out / f"{n}.csv")
                                 for n, f in report.tables().items()])
        for kind in formats:
            took = median_of(lambda kind=kind: export(report, kind, out / f"r.{kind}"))
            target = {"html": 5.0, "pdf": 20.0, "xlsx": 10.0}[kind]
            rows.append((f"{label}: {kind.upper()} export", fmt(took), f"{fmt(csv)} (CSV)",
                         f"{took / csv:.1f}x CSV",
                         f"<= {fmt(target)} {'met' if took <= target else 'MISSED'}"))
        if "html" in formats:
            size = (out / "r.html").stat().st_size
            limit = 5 * 1024 * 1024
            rows.append((f"{label}: HTML size", f"{size / 2**20:.2f} MiB", "-",
                         f"{size / limit:.0%} of 5 MiB",
                         f"<= 5 MiB {'met' if size <= limit else 'MISSED'}"))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def print_tables() -> None:
    header = ("benchmark", "median", "baseline (KPI query)", "ratio", "target (2 cores)")
    widths = [max(len(r[i]) for r in [*rows, header]) for i in range(5)]
    print()
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print()
    names = list(SECTIONS)
    label_w = max(len(label) for label, _ in section_rows)
    print("per section (median)".ljust(label_w) + "  " + "  ".join(n.rjust(12) for n in names))
    for label, sec in section_rows:
        print(label.ljust(label_w) + "  " + "  ".join(fmt(sec[n]).rjust(12) for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed builds per row")
    parser.add_argument("--events", type=int, default=1_000_000, help="events for the big run")
    parser.add_argument("--quick", action="store_true", help="200k events, 2 runs")
    parser.add_argument("--no-exports", action="store_true",
                        help="skip the HTML/PDF/XLSX export timings and the HTML size")
    args = parser.parse_args()
    if args.quick:
        args.events, args.runs = 200_000, 2
    settings = load_settings()
    cluster = start_cluster("cc-bench-reports-")
    try:
        engine = migrated_database(cluster)
        t0 = time.perf_counter()
        summary = seed_demo(engine, settings)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE camera SET health_status = CASE WHEN id % 5 = 0 "
                                 "THEN 'offline' ELSE 'online' END"))
        print(f"demo seeded in {fmt(time.perf_counter() - t0)}: {summary.events:,} events",
              flush=True)
        whole = whole_range(engine, settings)
        month = last_full_month(whole, settings)
        demo_whole = measure(engine, settings, f"district, demo {summary.events:,} events, "
                             f"{whole.label}", whole, args.runs, 10.0)
        demo_month = measure(engine, settings, f"district, demo, {month.label}", month,
                             args.runs, None)
        if not args.no_exports:
            assert demo_month.report is not None and demo_whole.report is not None
            measure_exports(demo_month.report, args.runs, f"demo, {month.label}")
            measure_exports(demo_whole.report, args.runs, "demo, whole range")
        t0 = time.perf_counter()
        n = add_events(engine, args.events)
        print(f"{n:,} events in {fmt(time.perf_counter() - t0)}", flush=True)
        whole = whole_range(engine, settings)
        year = parse_period(str(month.start.year), settings.ui.timezone)
        big = measure(engine, settings, f"district, {n:,} events, {whole.label}", whole,
                      args.runs, 30.0 if n >= 1_000_000 else None)
        if not args.no_exports and big.report is not None:
            measure_exports(big.report, args.runs, f"{n:,} events, whole range", ("html",))
        measure(engine, settings, f"district, {n:,} events, {year.label}", year, args.runs,
                None)
        measure(engine, settings, f"district, {n:,} events, {month.label}", month, args.runs,
                None)
    finally:
        stop_cluster(cluster)
    print_tables()


if __name__ == "__main__":
    main()
