"""Benchmark the app in headless Chromium: map and wall drawn, click to first camera frame.

Run with ``.venv/bin/python benchmarks/app.py [--quick] [--runs 5]``. It starts its own
PostgreSQL cluster in a temporary folder (destroyed at the end), seeds the demo district in
one database and the demo plus 1M synthetic events (set-based SQL, ``--quick``: 100k) in a
second, starts four simulated cameras and a relay for the cameras nearest a test event, and
an app server per database. Then, per database, median over ``--runs`` page loads:

* baseline: the login page (plain HTML, no Bokeh) loaded in the same browser;
* map drawn: navigation start → every layer's data in the Bokeh document and the document
  idle (every view painted);
* wall drawn: the same for ``/wall?kiosk=1`` plus the mosaic's first frame;
* click to first frame: a click on the test event on the map → the first nearest-camera
  ``<img>`` has a picture. Every click opens the cameras cold: the relay lingers 0 s and the
  benchmark waits, before each click, until the relay decodes none of the four cameras. Runs
  alternate between warm-ups on (the app asks the relay to open the event's cameras when the
  event is selected, ``relay.warm_s``) and off (the relay ignores them), so both columns see
  the same machine load. Each click is broken down: click → warm-up request at the relay →
  MJPEG request at the relay; the relay's reader start, probe, FFmpeg open and first decoded
  frame; first picture painted (all relative to the click, medians).

``--databases demo`` skips the 1M-event database (its seeding takes minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a checkout without install
    sys.path.insert(0, str(ROOT))

from command_center.app.auth import DEMO_PASSWORD, DEMO_USERNAME, ensure_demo_user  # noqa: E402
from command_center.app.server import build_server, make_context  # noqa: E402
from config.settings import CameraGroup, RelaySettings, WallLayout, load_settings  # noqa: E402
from gis import migrate  # noqa: E402
from gis.db import dispose_engines, get_engine  # noqa: E402
from gis.demo import seed_demo  # noqa: E402
from gis.localdb import LocalCluster  # noqa: E402
from gis.queries import nearest_cameras  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update"]
TARGETS = {"map": (3.0, 5.0), "wall": (3.0, 5.0), "click": (1.5, 1.5)}
rows: list[tuple[str, str, str, str]] = []

_DRAWN = """(names) => {
  const doc = window.Bokeh && window.Bokeh.documents[0];
  if (!doc || !doc.is_idle) return false;
  const models = [...doc._all_models.values()];
  return names.every(n => models.some(m => m.name === n && m.data !== undefined)); }"""


def add_events(engine: sa.Engine, n: int) -> None:
    """``n`` events over two years in the urban core, 1 % still open (set-based SQL)."""
    with engine.begin() as conn:
        # One notification per row would flood the queue nobody reads during a bulk load.
        conn.execute(sa.text("ALTER TABLE event DISABLE TRIGGER event_notify"))
        conn.execute(sa.text("""
            INSERT INTO event (code, category_code, source_channel, priority, status,
                               description, geom, reported_at, accepted_at, deadline_at,
                               closed_at, version)
            SELECT 'BIG' || n, (SELECT array_agg(code ORDER BY code) FROM event_category)
                   [1 + n % 10], 'grid_patrol', 'normal',
                   CASE WHEN n % 100 = 0 THEN 'dispatched' ELSE 'closed' END, '', p.geom, t, t,
                   t + interval '48 hours',
                   CASE WHEN n % 100 = 0 THEN NULL ELSE t + interval '20 hours' END, 1
            FROM (SELECT ST_Union(geom) AS g FROM courtyard) u,
                 LATERAL (SELECT row_number() OVER () AS n, x.geom
                          FROM ST_Dump(ST_GeneratePoints(ST_Intersection(
                                 ST_ConvexHull(u.g), (SELECT geom FROM district)), :n, 11)) x) p,
                 LATERAL (SELECT now() - (n % 63072000) * interval '1 second' AS t) tt"""),
            {"n": n})
        conn.execute(sa.text("ALTER TABLE event ENABLE TRIGGER event_notify"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE event"))


def test_spot(engine: sa.Engine) -> tuple[int, list[str]]:
    """A fresh event next to four cameras, away from other open events; its camera codes."""
    with engine.begin() as conn:
        lon, lat = conn.execute(sa.text("""
            SELECT ST_X(c.geom), ST_Y(c.geom) FROM camera c
            WHERE (SELECT count(*) FROM camera o
                   WHERE ST_DWithin(o.geom::geography, c.geom::geography, 250)) >= 4
              AND NOT EXISTS (SELECT 1 FROM event e WHERE e.status NOT IN ('closed','rejected')
                   AND ST_DWithin(e.geom::geography, c.geom::geography, 250))
            ORDER BY c.id LIMIT 1""")).one()
        now = dt.datetime.now(dt.UTC)
        event_id = conn.execute(sa.text(
            "INSERT INTO event (code, category_code, source_channel, priority, status, geom, "
            "reported_at, deadline_at) VALUES ('BENCH-1', 'dispute', 'video', 'urgent', "
            "'reported', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :now, :d) RETURNING id"),
            {"lon": lon + 5e-5, "lat": lat, "now": now,
             "d": now + dt.timedelta(hours=12)}).scalar_one()
    with Session(engine) as session:
        codes = [c.code for c in nearest_cameras(session, lon, lat, n=4, radius_m=300)]
    return event_id, codes


def start_server(settings: Any, engine: sa.Engine) -> tuple[int, Any]:
    """The app server in a thread; returns its port and a stop function."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready, holder = threading.Event(), {}
    context = make_context(settings, engine, cookie_secret="bench" * 8)

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        srv = build_server(context, port=port)
        srv.start()
        holder["srv"] = srv
        ready.set()
        srv.io_loop.start()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(30)

    def stop() -> None:
        context.live.stop()
        srv = holder["srv"]
        srv.io_loop.add_callback(srv.stop)
        srv.io_loop.add_callback(srv.io_loop.stop)
    return port, stop


def timed_load(page: Any, url: str, names: list[str], extra: str | None = None) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(_DRAWN, arg=names, timeout=120_000, polling=50)
    if extra:
        img = page.locator(extra).first
        img.wait_for(timeout=60_000)
        while img.evaluate("i => i.naturalWidth") == 0:
            page.wait_for_timeout(20)
    return time.perf_counter() - start


class RelayProbe:
    """Stamps (monotonic, this process) of what the in-process relay does for one click."""

    def __init__(self, relay: Any, codes: list[str]) -> None:
        self.relay, self.codes = relay, codes
        self.holds: list[float] = []
        self.acquires: list[float] = []
        self.readers: list[Any] = []
        sup = relay.supervisor
        hold, acquire, new_reader = sup.hold, sup.acquire, sup._new_reader
        in_hold = threading.local()

        def stamped_hold(code: str, stream: str, seconds: float) -> bool:
            self.holds.append(time.monotonic())
            in_hold.on = True
            try:
                return hold(code, stream, seconds)
            finally:
                in_hold.on = False

        def stamped_acquire(code: str, stream: str) -> None:
            # The panel's tiles play sub streams. (The click also lands on the camera 5 m
            # from the event, whose main-stream view shows for a moment: not counted.)
            if not getattr(in_hold, "on", False) and code in self.codes and stream == "sub":
                self.acquires.append(time.monotonic())  # a viewer (the <img>) arrived
            acquire(code, stream)

        def kept_reader(*args: Any) -> Any:
            reader = new_reader(*args)
            self.readers.append(reader)
            return reader

        sup.hold, sup.acquire, sup._new_reader = stamped_hold, stamped_acquire, kept_reader
        from video import client

        self.warm_calls: list[float] = []
        self.warm_posts: list[float] = []
        pool, post = client._pool, client._post

        class StampedPool:
            def submit(inner, fn: Any, *args: Any) -> Any:  # noqa: N805
                self.warm_calls.append(time.monotonic())  # the app built the panel
                return pool().submit(fn, *args)

        def stamped_post(url: str, body: bytes) -> int:
            self.warm_posts.append(time.monotonic())  # the pool thread sends it
            return post(url, body)

        client._pool, client._post = StampedPool, stamped_post  # type: ignore[assignment]

    def reset(self) -> None:
        self.warm_calls.clear()
        self.warm_posts.clear()
        self.holds.clear()
        self.acquires.clear()
        self.readers.clear()

    def cold(self, timeout: float = 30) -> None:
        """Wait until none of the cameras is decoded (so the next click opens them cold)."""
        sup = self.relay.supervisor
        deadline = time.monotonic() + timeout
        while any(sup.reader(c, "sub") is not None for c in self.codes):
            if time.monotonic() > deadline:
                raise RuntimeError("the relay still decodes the test cameras")
            time.sleep(0.1)


_PAINT_WATCH = """(id) => {
  window.__cc = {};
  const mark = (k) => { if (!(k in window.__cc)) window.__cc[k] = performance.now(); };
  // Panel renders HTML panes inside shadow roots: search through them.
  const deep = (root, sel) => {
    const found = root.querySelector(sel);
    if (found) return found;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const r = deep(el.shadowRoot, sel); if (r) return r; }
    }
    return null;
  };
  const tick = () => {
    const side = deep(document, `.cc-side[data-event="${id}"]`);
    if (side) mark('panel');
    const img = side && side.querySelector('.cc-cam img');
    if (img && img.naturalWidth > 0) { mark('painted'); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return performance.now(); }"""


def click_to_frame(page: Any, base: str, event_id: int,
                   probe: RelayProbe | None = None) -> tuple[float, dict[str, float]]:
    """Seconds from the click to the first camera picture, and the click's breakdown."""
    page.goto(f"{base}/map?basemap=none", wait_until="commit")
    page.wait_for_function(_DRAWN, arg=["events", "grids"], timeout=120_000)
    x, y = page.evaluate("""(id) => {
        const doc = window.Bokeh.documents[0];
        const models = [...doc._all_models.values()];
        const src = models.find(m => m.name === 'events' && m.data !== undefined);
        const i = Array.from(src.data.id).indexOf(id);
        const view = window.Bokeh.index.get_one(models.find(m => m.name === 'cc-map'));
        return [view.frame.x_scale.compute(src.data.x[i]),
                view.frame.y_scale.compute(src.data.y[i])]; }""", event_id)
    box = page.locator(".bk-Canvas, canvas").first.bounding_box()
    if probe is not None:
        probe.cold()
        probe.reset()
    js0 = page.evaluate(_PAINT_WATCH, event_id)
    start = time.perf_counter()
    mono0 = time.monotonic()
    page.mouse.click(box["x"] + x, box["y"] + y)
    img = page.locator(f'.cc-side[data-event="{event_id}"] .cc-cam img').first
    img.wait_for(timeout=30_000)
    while img.evaluate("i => i.naturalWidth") == 0:
        page.wait_for_timeout(10)
    total = time.perf_counter() - start
    page.wait_for_function("() => 'painted' in window.__cc", timeout=10_000)
    marks = page.evaluate("() => window.__cc")
    # (A "panel in the DOM" mark polled the same way came out later than the relay's MJPEG
    # request, i.e. the poll through the shadow roots lags: only the paint is kept.)
    parts = {"picture painted": (marks["painted"] - js0) / 1000}
    if probe is not None:
        if probe.warm_calls:
            parts["panel built, warm-up sent (app)"] = probe.warm_calls[0] - mono0
        if probe.warm_posts:
            parts["warm-up POST starts (app)"] = probe.warm_posts[0] - mono0
        if probe.holds:
            parts["warm-up at relay"] = probe.holds[0] - mono0
        if probe.acquires:
            parts["MJPEG request at relay"] = probe.acquires[0] - mono0
        # The reader of the camera whose picture came first tells the relay's share.
        lines = [r.timeline for r in probe.readers
                 if "first_frame" in r.timeline and r.stream == "sub"]
        if lines:
            first = min(lines, key=lambda tl: tl["first_frame"])
            parts["reader started"] = first["start"] - mono0
            parts["probe done (DESCRIBE)"] = first["probed"] - mono0
            parts["FFmpeg open done"] = first["opened"] - mono0
            parts["first frame decoded"] = first["first_frame"] - mono0
    return total, parts


def report(label: str, kind: str, values: list[float], baseline: float, big: bool) -> None:
    med = statistics.median(values)
    target = TARGETS[kind][1 if big else 0]
    rows.append((label, f"{med:.2f} s", f"{baseline:.2f} s",
                 f"<= {target:g} s {'met' if med <= target else 'MISSED'}"))
    print(f"  {label}: median {med:.2f} s of {[round(v, 2) for v in values]}", flush=True)


def bench_database(name: str, engine: sa.Engine, settings: Any, event_id: int, runs: int,
                   big: bool, browser: Any, relay: Any = None,
                   codes: list[str] | None = None) -> None:
    port, stop = start_server(settings, engine)
    base = f"http://127.0.0.1:{port}"
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.fill("#username", DEMO_USERNAME)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/wall*")
        logins = []
        for _ in range(runs):
            start = time.perf_counter()
            page.goto(f"{base}/login", wait_until="load")
            logins.append(time.perf_counter() - start)
        baseline = statistics.median(logins)
        layers = ["streets", "grids", "courtyards", "cameras", "events", "events_bins"]
        maps = [timed_load(page, f"{base}/map?basemap=none", layers) for _ in range(runs)]
        report(f"{name}: map drawn", "map", maps, baseline, big)
        walls = [timed_load(page, f"{base}/wall?kiosk=1", ["events_bins"], ".cc-mosaic img")
                 for _ in range(runs)]
        report(f"{name}: wall drawn (+ first mosaic frame)", "wall", walls, baseline, big)
        if big:  # open events are binned here: there is no single event to click
            return
        probe = RelayProbe(relay, codes or [])
        warm_on = relay.services.relay
        warm_off = warm_on.model_copy(update={"warm_s": 0.0})
        results: dict[str, list[tuple[float, dict[str, float]]]] = {"on": [], "off": []}
        for i in range(2 * runs):
            mode = "on" if i % 2 == 0 else "off"
            relay.services.relay = warm_on if mode == "on" else warm_off
            page.goto(f"{base}/login")
            results[mode].append(click_to_frame(page, base, event_id, probe))
        relay.services.relay = warm_on
        for mode, label in (("on", "warm-up on"), ("off", "warm-up off")):
            report(f"{name}: click → first camera frame ({label})", "click",
                   [t for t, _ in results[mode]], baseline, big)
            keys = dict.fromkeys(k for _, parts in results[mode] for k in parts)
            stamps = {k: statistics.median(p[k] for _, p in results[mode] if k in p)
                      for k in keys}
            for key, value in sorted(stamps.items(), key=lambda kv: kv[1]):
                print(f"      {value:6.3f} s  {key}", flush=True)
    finally:
        context.close()
        stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k events instead of 1M")
    parser.add_argument("--runs", type=int, default=5, help="page loads per measurement")
    parser.add_argument("--databases", default="demo,big",
                        help="comma-separated: demo, big (the 1M-event one)")
    opts = parser.parse_args()
    wanted = [d for d in opts.databases.split(",") if d]
    n_events = 100_000 if opts.quick else 1_000_000
    from playwright.sync_api import sync_playwright

    from video.camera import cameras_from_database
    from video.relay import Relay
    from video.simulator import CameraSpec as SimCamera
    from video.simulator import Simulator

    base_dir = Path(tempfile.mkdtemp(prefix="cc-bench-app-"))
    os.chmod(base_dir, 0o755)  # the server user must be able to enter it when we are root
    cluster = LocalCluster(base_dir / "pg", shared_buffers_mb=256)
    settings = load_settings()
    try:
        cluster.init()
        cluster.start()
        engines, spots = {}, {}
        print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
        for name in wanted:
            cluster.ensure_database(name)
            engine = get_engine(cluster.url(name), statement_timeout_ms=0)
            migrate.upgrade(engine)
            t0 = time.perf_counter()
            seed_demo(engine, settings)
            ensure_demo_user(engine)
            if name == "big":
                add_events(engine, n_events)
            print(f"{name}: seeded in {time.perf_counter() - t0:.1f} s", flush=True)
            engines[name], spots[name] = engine, test_spot(engine)
        # The demo seed is deterministic: both databases share the same cameras.
        codes = spots[wanted[0]][1]
        with Simulator([SimCamera(c, f"测试机{i}") for i, c in enumerate(codes)],
                       size=(640, 360), sub_size=(320, 180), fps=15) as sim:
            for engine in engines.values():
                with engine.begin() as conn:
                    for c in codes:
                        conn.execute(sa.text(
                            "UPDATE camera SET main_url = :m, sub_url = :s WHERE code = :c"),
                            {"m": sim.url(c, "main"), "s": sim.url(c, "sub"), "c": c})
            with Session(engines[wanted[0]]) as session:
                cameras = cameras_from_database(session, codes)
            relay_settings = RelaySettings(
                signing_key="bench-signing-key-0123456789abcdef", linger_s=0, wall_fps=10,
                tile_width=480, layouts={"2x2": WallLayout(rows=2, cols=2)},
                groups={"near": CameraGroup(title_zh="事件周边", cameras=codes, layout="2x2")})
            full = settings.model_copy(update={"relay": relay_settings})
            with Relay(full, cameras, host="127.0.0.1", port=0) as relay:
                app_settings = full.model_copy(update={"relay": relay_settings.model_copy(
                    update={"public_url": relay.base_url})})
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                args=ARGS)
                    for name, label in (("demo", "demo"), ("big", f"{n_events:,} events")):
                        if name in wanted:
                            bench_database(label, engines[name], app_settings, spots[name][0],
                                           opts.runs, name == "big", browser, relay, codes)
                    browser.close()
    finally:
        dispose_engines()
        cluster.destroy()
        shutil.rmtree(base_dir, ignore_errors=True)
    header = ("measurement (median)", "ours", "baseline: login page", "target")
    widths = [max(len(r[i]) for r in [*rows, header]) for i in range(4)]
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
