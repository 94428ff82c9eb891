"""The closed loop in a real browser: officers and a department act on events, one board.

Real server on the seeded demo, headless Debian Chromium (only loopback reachable), one
browser for the module and a fresh context (own cookies) per logged-in user. Saves
``docs/screenshots/events.png`` and ``board.png``.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from browser_support import SHOTS, chromium, login, new_context, wait_model
from sqlalchemy.orm import Session
from test_app_server import PASSWORD
from test_app_server import demo as demo
from test_app_server import server as server

from command_center.app.auth import (
    DEMO_DEPARTMENT_USER,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    add_user,
    ensure_demo_user,
)
from command_center.app.server import make_context
from gis.loop.actions import transition
from gis.loop.board import board
from gis.loop.supervision import sweep

pytestmark = pytest.mark.browser

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def app(demo, settings):
    """Overrides the server module's ``app``: demo users, a department user, a 2nd officer."""
    ensure_demo_user(demo)  # also the department user demo.cgj
    with Session(demo) as session:
        add_user(session, "duty2", PASSWORD, "duty_officer", "值班员乙")
        session.commit()
    context = make_context(settings, demo, cookie_secret="l" * 40)
    yield context
    context.live.stop()


@pytest.fixture(scope="module")
def base(server) -> str:
    return f"http://127.0.0.1:{server}"


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as running:
        yield running


def insert_event(engine: sa.Engine, *, address: str = "闭环测试路1号",
                 description: str = "路面垃圾堆积") -> tuple[int, str]:
    """A just-reported sanitation event (default department cgj) inside a grid."""
    code = f"L-{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grid "
            "ORDER BY id LIMIT 1 OFFSET 7")).one()
        event_id = conn.execute(sa.text(
            "INSERT INTO event (code, category_code, source_channel, priority, status, address,"
            " description, geom, grid_id, reported_at) VALUES (:code, 'sanitation', "
            "'grid_patrol', 'normal', 'reported', :address, :description, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), (SELECT id FROM grid WHERE "
            "ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) LIMIT 1), now()) "
            "RETURNING id"),
            {"code": code, "address": address, "description": description, "lon": lon,
             "lat": lat}).scalar_one()
    return int(event_id), code


def status_of(engine: sa.Engine, event_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT status FROM event WHERE id = :i"),
                            {"i": event_id}).scalar_one()


def open_event(page, base: str, user: str, password: str, code: str, event_id: int) -> None:
    """Log in to the events page and select the event's row."""
    login(page, base, user, password, "/events")
    page.wait_for_url("**/events*")
    page.wait_for_selector(".slick-row", timeout=60_000)
    page.locator(".slick-row", has_text=code).first.click()
    page.wait_for_selector(f'.cc-act[data-event="{event_id}"]', timeout=15_000)


def click_action(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def test_officer_accepts_and_dispatches_then_the_department_starts(browser, base, demo):
    event_id, code = insert_event(demo)
    officer = new_context(browser)
    page = officer.new_page()
    open_event(page, base, "duty", PASSWORD, code, event_id)
    click_action(page, "受理")
    page.wait_for_selector(f'.cc-act[data-event="{event_id}"][data-status="accepted"]',
                           timeout=15_000)
    page.wait_for_selector('.cc-tl li[data-action="accept"]', timeout=15_000)
    click_action(page, "派遣")  # the picker's default: the category's department (cgj)
    page.wait_for_selector(f'.cc-act[data-event="{event_id}"][data-status="dispatched"]',
                           timeout=15_000)
    page.wait_for_selector('.cc-tl li[data-action="dispatch"]', timeout=15_000)
    assert "区城市管理局" in page.locator('.cc-tl li[data-action="dispatch"]').inner_text()
    assert status_of(demo, event_id) == "dispatched"
    # the table row itself is redrawn (same row count, new status and department)
    page.locator(".slick-row", has_text=code).filter(has_text="已派遣").first.wait_for(
        timeout=15_000)
    assert "区城市管理局" in page.locator(".slick-row", has_text=code).first.inner_text()
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "events.png"))
    officer.close()

    department = new_context(browser)
    page = department.new_page()
    open_event(page, base, DEMO_DEPARTMENT_USER, DEMO_PASSWORD, code, event_id)
    assert page.get_by_role("button", name="受理", exact=True).count() == 0
    click_action(page, "开始处置")
    page.wait_for_selector(f'.cc-act[data-event="{event_id}"][data-status="handling"]',
                           timeout=15_000)
    page.wait_for_selector('.cc-tl li[data-action="start"]', timeout=15_000)
    assert status_of(demo, event_id) == "handling"
    with demo.connect() as conn:
        actor, role = conn.execute(sa.text(
            "SELECT actor, role FROM event_log WHERE event_id = :i ORDER BY id DESC LIMIT 1"),
            {"i": event_id}).one()
    assert (actor, role) == (DEMO_DEPARTMENT_USER, "department")
    assert not department.outside, department.outside
    department.close()


def test_two_sessions_on_one_event_the_second_gets_the_conflict(browser, base, demo):
    event_id, code = insert_event(demo)
    first, second = new_context(browser), new_context(browser)
    one, two = first.new_page(), second.new_page()
    open_event(one, base, "duty", PASSWORD, code, event_id)
    open_event(two, base, "duty2", PASSWORD, code, event_id)
    click_action(one, "受理")
    one.wait_for_selector('.cc-act[data-status="accepted"]', timeout=15_000)
    click_action(two, "受理")  # still showing version 1
    two.wait_for_selector('.cc-msg[data-conflict="1"]', timeout=15_000)
    assert "该事件已被其他人更新" in two.locator(".cc-msg").inner_text()
    two.wait_for_selector(f'.cc-act[data-event="{event_id}"][data-status="accepted"]',
                          timeout=15_000)
    assert two.get_by_role("button", name="派遣", exact=True).count() == 1
    with demo.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM event_log WHERE event_id = :i "
                                 "AND action = 'accept'"), {"i": event_id}).scalar_one()
    assert n == 1
    first.close()
    second.close()


def test_the_board_shows_the_loops_counts(browser, base, demo):
    with Session(demo) as session:  # what the API process's sweep does every two minutes
        swept = sweep(session)
        session.commit()
    assert swept.supervised, "the demo has overdue open events"
    context = new_context(browser)
    page = context.new_page()
    login(page, base, "duty", PASSWORD, "/events")
    page.wait_for_selector(".slick-row", timeout=60_000)
    page.locator(".bk-tab", has_text="三灯一牌").click()
    page.get_by_role("button", name="刷新", exact=True).click()
    page.wait_for_timeout(500)
    shown = page.locator(".cc-board tr[data-red]").evaluate_all(
        "rows => rows.map(r => [r.dataset.area, +r.dataset.red, +r.dataset.yellow, "
        "+r.dataset.green, +r.dataset.supervised, +r.dataset.closed])")
    with Session(demo) as session:
        expected = [[r.area_code, r.red, r.yellow, r.green, r.supervised, r.closed]
                    for r in board(session, level="department")]
    assert shown == expected
    assert sum(row[1] + row[2] + row[3] for row in shown[:-1]) > 0
    assert shown[-1][4] >= len(swept.supervised)  # the district total counts them
    page.screenshot(path=str(SHOTS / "board.png"))
    context.close()


def test_script_in_user_text_stays_inert_on_every_page(browser, base, demo):
    event_id, code = insert_event(demo, address=EVIL, description=EVIL)
    with Session(demo) as session:
        transition(session, event_id, "accept", "duty", "duty_officer")
        transition(session, event_id, "dispatch", "duty", "duty_officer", department="zjj",
                   note=EVIL)
        transition(session, event_id, "supervise", "boss", "leader", note=EVIL)
        session.commit()
    context = new_context(browser)
    page = context.new_page()
    open_event(page, base, DEMO_USERNAME, DEMO_PASSWORD, code, event_id)
    page.wait_for_selector('.cc-tl li[data-action="supervise"]', timeout=15_000)
    assert page.locator(".slick-row", has_text="<script>window.__pwned=1</script>").count()
    side = page.locator(".cc-side").get_by_text("<script>window.__pwned=1</script>")
    assert side.count() >= 3  # address, description, the dispatch note (and supervision)
    page.locator(".bk-tab", has_text="督办").click()
    page.wait_for_selector(f'.cc-board li[data-event="{event_id}"]', timeout=15_000)
    assert "<script>window.__pwned=1</script>" in page.locator(
        f'.cc-board li[data-event="{event_id}"]').inner_text()
    assert page.evaluate("window.__pwned") is None
    # the supervised event's code opens it on a fresh events page
    page.locator(f'.cc-board li[data-event="{event_id}"] a.ev').click()
    page.wait_for_url(f"**/events?event={event_id}")
    page.wait_for_selector(f'.cc-act[data-event="{event_id}"]', timeout=30_000)
    page.wait_for_selector('.cc-tl li[data-action="supervise"]', timeout=15_000)
    assert page.evaluate("window.__pwned") is None

    page.goto(f"{base}/map")
    page.wait_for_selector("canvas", timeout=60_000)
    assert wait_model(page, "events", "x") > 0
    # Select the event in the map's data source, as a tap on it does (the tap itself is
    # tested in test_app_browser.py; here several events may share the spot).
    found = page.evaluate("""(id) => {
        const doc = window.Bokeh.documents[0];
        const src = [...doc._all_models.values()].find(
            m => m.name === 'events' && m.data !== undefined);
        const i = Array.from(src.data.id).indexOf(id);
        if (i >= 0) src.selected.indices = [i];
        return i; }""", event_id)
    assert found >= 0
    page.wait_for_selector(f'.cc-side[data-event="{event_id}"]', timeout=15_000)
    page.wait_for_selector(f'.cc-act[data-event="{event_id}"]', timeout=15_000)
    assert page.locator(".cc-side").get_by_text("<script>window.__pwned=1</script>").count()
    assert page.evaluate("window.__pwned") is None

    page.goto(f"{base}/wall?kiosk=1")
    page.wait_for_selector(f'.cc-feed li[data-event="{event_id}"]', timeout=60_000)
    assert "<script>window.__pwned=1</script>" in page.locator(
        f'.cc-feed li[data-event="{event_id}"]').inner_text()
    page.goto(f"{base}/planning")
    page.wait_for_selector("canvas", timeout=60_000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__pwned") is None
    context.close()
