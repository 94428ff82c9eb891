"""Plumbing shared by the browser tests (no tests here): Chromium, logins, Bokeh models.

Debian's ``chromium`` driven by Playwright, with every request that is not to loopback
aborted (and recorded), so a page that needs the internet fails the test instead of
passing on a developer's connected laptop.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


LOOPBACK = ("http://127.0.0.1:", "ws://127.0.0.1:")


def only_loopback(outside: list[str], also: tuple[str, ...] = ()) -> Any:
    """A Playwright route handler: loopback (and ``also``) passes, anything else is aborted
    and recorded."""
    allowed = LOOPBACK + also

    def route(r: Any) -> None:
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()
    return route


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``); skips when Playwright or it is missing."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Any, also: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """A fresh browser context (own cookies: one logged-in user) limited to loopback and the
    URL prefixes in ``also`` (``about:`` for ``srcdoc`` frames, for instance)."""
    options = {"viewport": {"width": 1600, "height": 900}, "locale": "zh-CN", **kwargs}
    context = browser.new_context(**options)
    context.outside = []
    context.route("**/*", only_loopback(context.outside, also))
    return context


def login(page: Any, base: str, user: str, password: str, target: str = "/map") -> None:
    """Open ``target``, get sent to the login form, and log in (the form sends us back)."""
    page.goto(f"{base}{target}")
    assert "/login" in page.url
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def model_length(page: Any, name: str, column: str) -> int:
    """Length of ``column`` of the Bokeh data source called ``name`` (-1 when absent)."""
    return page.evaluate("""([name, column]) => {
        for (const doc of window.Bokeh.documents) {
            const models = doc._all_models ? [...doc._all_models.values()] : [...doc.all_models];
            // Renderer and data source share the layer's name: take the one with data.
            const m = models.find(m => m.name === name && m.data !== undefined);
            if (m) return m.data[column].length;
        }
        return -1; }""", [name, column])


def wait_model(page: Any, name: str, column: str, timeout: float = 60) -> int:
    """Wait for the data source ``name`` to reach the page; its ``column`` length."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            n = model_length(page, name, column)
        except Exception:
            n = -1
        if n >= 0:
            return n
        page.wait_for_timeout(200)
    raise AssertionError(f"model {name} never arrived")
