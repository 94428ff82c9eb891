"""Browser smoke test: log in and see the map drawn, with the internet cut off.

Headless Debian Chromium driven by Playwright (``executable_path``, no browser download).
Every request to anything but our loopback server is aborted; the page must still draw and
no local resource may fail. Saves ``docs/screenshots/map.png``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from test_app_server import PASSWORD, _free_port  # noqa: F401 - shared helpers
from test_app_server import app as app
from test_app_server import demo as demo
from test_app_server import server as server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "map.png"


@pytest.fixture(scope="module")
def browser_context():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="cc-chromium-")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1400, "height": 850}, locale="zh-CN")
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def test_login_and_the_map_draws_offline(server, browser_context):
    base = f"http://127.0.0.1:{server}"
    outside, local_failures = [], []
    page = browser_context.new_page()

    def only_loopback(route):
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("requestfailed", lambda r: local_failures.append(r.url)
            if r.url.startswith(base) else None)
    page.on("response", lambda r: local_failures.append(f"{r.status} {r.url}")
            if r.url.startswith(base) and r.status >= 400 else None)

    page.goto(base + "/map")
    assert "/login" in page.url
    assert page.locator("button[type=submit]").inner_text() == "登录"
    page.fill("#username", "duty")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/map*")
    page.wait_for_selector("canvas", timeout=60_000)
    page.wait_for_selector("text=图层", timeout=30_000)
    page.wait_for_timeout(1500)  # let the glyphs paint before the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert page.locator("text=指挥大屏").count() >= 1  # nav for a duty officer
    assert not local_failures, local_failures
    assert all(not u.endswith((".js", ".css", ".woff", ".woff2", ".ttf")) for u in outside), \
        f"scripts or styles from outside: {outside}"
