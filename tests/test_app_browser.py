"""The app in a real browser: headless Debian Chromium driven by Playwright.

Real everything: the app server, a relay playing four simulated RTSP cameras (320×180 sub
streams) that stand in for the demo cameras nearest a test event (their rows point at the
simulator), and the seeded demo database. Every request to anything but loopback is aborted,
so the pages must draw from our own server alone. Saves the screenshots in ``docs/screenshots``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from browser_support import ARGS, CHROMIUM, SHOTS, only_loopback
from browser_support import login as _login
from browser_support import wait_model as _wait_model
from helpers import require_simulator
from sqlalchemy.orm import Session
from test_app_server import demo as demo
from test_app_server import server as server

from command_center.app.auth import DEMO_PASSWORD, DEMO_USERNAME, ensure_demo_user
from command_center.app.server import make_context
from config.settings import CameraGroup, RelaySettings, WallLayout
from gis.queries import nearest_cameras

pytestmark = pytest.mark.browser

KEY = "browser-test-signing-key-0123456789"


def _pick_spot(engine: sa.Engine) -> tuple[float, float, list[str]]:
    """A place with four cameras within 300 m and no open event within 250 m (a clean click)."""
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text("""
            SELECT ST_X(c.geom), ST_Y(c.geom) FROM camera c
            WHERE (SELECT count(*) FROM camera o
                   WHERE ST_DWithin(o.geom::geography, c.geom::geography, 250)) >= 4
              AND NOT EXISTS (SELECT 1 FROM event e WHERE e.status NOT IN ('closed','rejected')
                   AND ST_DWithin(e.geom::geography, c.geom::geography, 250))
              AND EXISTS (SELECT 1 FROM grid g WHERE ST_Intersects(g.geom, c.geom))
            ORDER BY c.id LIMIT 1""")).one()
    with Session(engine) as session:
        codes = [c.code for c in nearest_cameras(session, lon, lat, n=4, radius_m=300)]
    return lon, lat, codes


def _insert_event(engine: sa.Engine, lon: float, lat: float, priority: str) -> int:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        return conn.execute(sa.text(
            "INSERT INTO event (code, category_code, source_channel, priority, status, address, "
            "geom, reported_at, deadline_at) VALUES (:code, 'security_hazard', 'video', "
            ":priority, 'reported', '浏览器测试路8号', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),"
            " :now, :deadline) RETURNING id"),
            {"code": f"B-{uuid.uuid4().hex[:10]}", "priority": priority, "lon": lon,
             "lat": lat, "now": now, "deadline": now + dt.timedelta(hours=12)}).scalar_one()


@pytest.fixture(scope="module")
def spot(demo):
    ensure_demo_user(demo)
    lon, lat, codes = _pick_spot(demo)
    event_id = _insert_event(demo, lon + 5e-5, lat, "normal")
    return {"lon": lon, "lat": lat, "codes": codes, "event": event_id}


@pytest.fixture(scope="module")
def sim(spot):
    from video.simulator import CameraSpec as SimCamera
    from video.simulator import Simulator

    require_simulator()
    simulator = Simulator([SimCamera(code, f"测试机{i}") for i, code in enumerate(spot["codes"])],
                          size=(640, 360), sub_size=(320, 180), fps=10)
    with simulator:
        yield simulator


@pytest.fixture(scope="module")
def relay(demo, settings, spot, sim):
    from video.camera import cameras_from_database
    from video.relay import Relay

    with demo.begin() as conn:  # the chosen demo cameras now play the simulator
        for code in spot["codes"]:
            conn.execute(sa.text("UPDATE camera SET main_url = :m, sub_url = :s WHERE code = :c"),
                         {"m": sim.url(code, "main"), "s": sim.url(code, "sub"), "c": code})
    with Session(demo) as session:
        cameras = cameras_from_database(session, spot["codes"])
    relay_settings = RelaySettings(
        signing_key=KEY, linger_s=2.0, wall_fps=8, tile_width=320, token_ttl_s=300,
        layouts={"2x2": WallLayout(rows=2, cols=2), "1x2": WallLayout(rows=1, cols=2)},
        groups={"near": CameraGroup(title_zh="事件周边", cameras=spot["codes"], layout="2x2"),
                "pair": CameraGroup(title_zh="双机", cameras=spot["codes"][:2], layout="1x2")})
    full = settings.model_copy(update={"relay": relay_settings})
    with Relay(full, cameras, host="127.0.0.1", port=0) as running:
        # A just-started simulated camera may answer its first DESCRIBE with 503: wait for
        # every camera's first frame so the pages start from cameras that play.
        sup = running.supervisor
        for code in spot["codes"]:
            sup.acquire(code, "sub")
        try:
            for code in spot["codes"]:
                assert sup.wait_frame(code, "sub", -1, 20) is not None, f"{code} never came up"
        finally:
            for code in spot["codes"]:
                sup.release(code, "sub")
        yield full.model_copy(update={"relay": relay_settings.model_copy(
            update={"public_url": running.base_url})})


@pytest.fixture(scope="module")
def app(demo, relay):
    """Overrides the server module's ``app``: the same server, pointed at the test relay."""
    context = make_context(relay, demo, cookie_secret="b" * 40)
    yield context
    context.live.stop()


@pytest.fixture(scope="module")
def browser_context(server):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="cc-chromium-")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1600, "height": 900}, locale="zh-CN")
        outside: list[str] = []
        context.route("**/*", only_loopback(outside))
        context.outside = outside  # type: ignore[attr-defined]
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def base(server) -> str:
    return f"http://127.0.0.1:{server}"


def _img_picture(page, selector: str) -> bytes:
    # Panel draws panes in shadow roots: Playwright's locators pierce them, querySelector not.
    img = page.locator(selector).first
    deadline = time.monotonic() + 20
    while img.evaluate("i => i.naturalWidth") == 0:
        assert time.monotonic() < deadline, f"{selector}: no picture"
        page.wait_for_timeout(100)
    return img.screenshot()


def _no_overflow(page) -> None:
    sizes = page.evaluate("""() => [document.documentElement.scrollWidth, window.innerWidth,
                                    document.documentElement.scrollHeight, window.innerHeight]""")
    assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], sizes


def test_a_wrong_password_is_refused(browser_context, base):
    page = browser_context.new_page()
    _login(page, base, DEMO_USERNAME, "definitely-wrong")
    page.wait_for_selector("text=用户名或密码错误")
    assert "/login" in page.url
    page.close()


def test_every_page_draws_offline_and_a_click_plays_nearby_cameras(browser_context, base, spot):
    page = browser_context.new_page()
    local_failures: list[str] = []
    page.on("response", lambda r: local_failures.append(f"{r.status} {r.url}")
            if r.url.startswith(base) and r.status >= 400 else None)
    _login(page, base, DEMO_USERNAME, DEMO_PASSWORD)
    page.wait_for_url("**/map*")
    page.wait_for_selector("canvas", timeout=60_000)
    assert _wait_model(page, "grids", "xs") == 300
    assert _wait_model(page, "cameras", "x") == 1500
    assert _wait_model(page, "events", "x") > 0
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / "map.png"))

    # Click the test event on the canvas, where Bokeh itself says it is drawn.
    where = page.evaluate("""(id) => {
        const doc = window.Bokeh.documents[0];
        const models = [...doc._all_models.values()];
        const src = models.find(m => m.name === 'events' && m.data !== undefined);
        const i = Array.from(src.data.id).indexOf(id);
        const fig = models.find(m => m.name === 'cc-map');
        const view = window.Bokeh.index.get_one(fig);
        return [src.data.x[i], src.data.y[i], view.frame.x_scale.compute(src.data.x[i]),
                view.frame.y_scale.compute(src.data.y[i])]; }""", spot["event"])
    box = page.locator(".bk-Canvas, canvas").first.bounding_box()
    page.mouse.click(box["x"] + where[2], box["y"] + where[3])
    page.wait_for_selector(f'.cc-side[data-event="{spot["event"]}"]', timeout=15_000)
    img = f'.cc-side[data-event="{spot["event"]}"] .cc-cam img'
    assert page.locator(img).count() == 4
    first = _img_picture(page, img)
    page.wait_for_timeout(1000)
    assert _img_picture(page, img) != first, "the camera picture did not change"

    page.goto(f"{base}/events")
    page.wait_for_selector(".slick-row", timeout=60_000)
    assert _wait_model(page, "cc-events-table", "code") > 0
    page.locator(".slick-row").nth(1).click()  # a demo event, with its report in the log
    page.wait_for_selector("text=办理过程", timeout=15_000)
    page.wait_for_selector(".cc-tl li", timeout=15_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "events.png"))

    page.goto(f"{base}/planning")
    page.wait_for_selector("canvas", timeout=60_000)
    assert _wait_model(page, "courtyards", "xs") == 586
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "planning.png"))
    assert not local_failures, local_failures
    outside = browser_context.outside
    assert all(not u.endswith((".js", ".css", ".woff", ".woff2", ".ttf")) for u in outside), \
        f"scripts or styles from outside: {outside}"
    page.close()


def test_the_wall_fits_shows_mosaic_and_kpis_and_goes_live(browser_context, base, demo, spot):
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{base}/wall?kiosk=1")
    page.wait_for_selector(".cc-kpi", timeout=60_000)
    assert page.locator(".cc-header").count() == 0, "kiosk mode shows no menus"
    first = _img_picture(page, ".cc-mosaic img")
    # The browser picked the mosaic width from srcset for the size it draws it at (~70 % of
    # 1920 = 1,344 px): the relay composes at most that (capped by tile_width 320 here).
    chosen = page.eval_on_selector(".cc-mosaic img", "i => [i.currentSrc, i.naturalWidth]")
    picked = int(chosen[0].rsplit("&w=", 1)[1])
    assert 1280 <= picked <= 1600 and 0 < chosen[1] <= picked, chosen
    assert page.locator('[data-kpi="kpi_today"]').count() == 1
    assert _wait_model(page, "events_bins", "xs") >= 0
    page.wait_for_timeout(1000)
    assert _img_picture(page, ".cc-mosaic img") != first, "the mosaic is not live"
    _no_overflow(page)

    event_id = _insert_event(demo, spot["lon"] - 5e-5, spot["lat"], "urgent")
    started = time.monotonic()
    page.wait_for_selector(f'.cc-feed li[data-event="{event_id}"]', timeout=5_000)
    page.wait_for_selector(f'.cc-alert[data-focus="{event_id}"] img', timeout=5_000)
    assert time.monotonic() - started < 5
    _img_picture(page, f'.cc-alert[data-focus="{event_id}"] .cc-cam img')
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / "wall.png"))

    page.set_viewport_size({"width": 3840, "height": 2160})
    page.wait_for_timeout(800)
    _no_overflow(page)
    page.close()


def test_the_login_page_screenshot(browser_context, base):
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{base}/login")
    page.screenshot(path=str(SHOTS / "login.png"))
    page.close()
