"""报表 The report page: built directly on the demo, then in a real browser with no network.

The view tests build :class:`ReportsView` without a browser (an empty period says 本期无数据,
a bad period says why, the download callback writes the chosen format). The browser tests run
the real server with the login in front and Chromium with every non-loopback request aborted:
a leader sees the sections and the Leaflet maps draw inside their frames, a planner may open the
page, staff may not. Saves ``docs/screenshots/reports.png``.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest
from browser_support import SHOTS, chromium, new_context
from browser_support import login as log_in
from openpyxl import load_workbook
from sqlalchemy.orm import Session
from test_app_server import PASSWORD
from test_app_server import app as app
from test_app_server import demo as demo
from test_app_server import server as server

from command_center.app.auth import UserInfo, add_user
from command_center.app.pages.reports import ReportsView, default_period
from command_center.app.state import SessionState
from command_center.reports.labels import SECTIONS

TITLES = [zh for zh, _ in SECTIONS.values()]


def _view(app, role: str = "leader", language: str = "zh") -> ReportsView:
    return ReportsView(app, SessionState(user=UserInfo("u", "u", role), language=language))


def _tab_html(view: ReportsView, i: int) -> str:
    return view.tabs[i].object


@pytest.mark.db
def test_the_view_shows_every_section_for_the_district(app):
    view = _view(app)
    assert view.report is not None and not view.report.empty
    assert [view.tabs._names[i] for i in range(len(view.tabs))] == TITLES
    assert 'data-kpi="on_time_rate"' in _tab_html(view, 0)
    maps = _tab_html(view, 1)
    assert maps.count("<iframe") == 3 and "srcdoc=" in maps
    assert "本期无数据" not in maps


@pytest.mark.db
def test_an_empty_period_says_no_data_and_a_bad_one_says_why(app):
    view = _view(app)
    view.kind.value = "street"
    assert view.area.value and view.area.value.count("-") == 1  # a street code
    view.period.value = "2019-01"
    view.refresh()
    assert view.report.empty and view.report.area.kind == "street"
    assert "本期无数据" in _tab_html(view, 0) and "本期无数据" in _tab_html(view, 1)
    view.period.value = "2026-13"
    view.refresh()
    assert "无法识别的统计周期" in view.message.object
    assert view.report.period.label == "2019-01", "the last good report stays on screen"


@pytest.mark.db
def test_english_and_the_download_in_each_format(app):
    view = _view(app, language="en")
    assert view.tabs._names[0] == SECTIONS["kpis"][1]
    view.kind.value = "community"
    view.refresh()
    view.format.value = "xlsx"
    assert view.download.filename.endswith(".xlsx") and view.report.area.code in \
        view.download.filename
    data = view._download_file().getvalue()
    assert "kpis" in load_workbook(io.BytesIO(data), read_only=True).sheetnames
    view.format.value = "html"
    text = view._download_file().getvalue().decode("utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'lang="en"' in text


def test_the_default_period_is_the_last_whole_month():
    import datetime as dt

    assert default_period("Asia/Shanghai", dt.date(2026, 11, 27)) == "2026-10"
    assert default_period("Asia/Shanghai", dt.date(2027, 1, 1)) == "2026-12"


# --- in the browser -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def users(demo):
    with Session(demo) as session:
        add_user(session, "leader1", PASSWORD, "leader", "王领导")
        add_user(session, "staff1", PASSWORD, "staff")
        session.commit()
    return {"leader": "leader1", "planner": "planner1", "staff": "staff1"}


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_as(browser, server, users):
    """Log a role in, in a browser context of its own; every outside request is aborted."""
    contexts = []
    base = f"http://127.0.0.1:{server}"

    def login(role: str):
        context = new_context(browser, also=("about:", "data:"),
                              viewport={"width": 1600, "height": 1000}, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        log_in(page, base, users[role], PASSWORD, "/reports")
        return page

    yield login
    for context in contexts:
        context.close()


@pytest.mark.browser
@pytest.mark.db
def test_a_leader_sees_the_sections_and_the_maps_draw_offline(open_as):
    page = open_as("leader")
    page.wait_for_selector(".cc-paper", timeout=60_000)
    assert page.locator(".cc-header a.active").inner_text() == "报表"
    tabs = page.locator(".bk-tab")
    assert [tabs.nth(i).inner_text() for i in range(tabs.count())] == TITLES
    assert page.locator('[data-kpi="reported"]').count() == 1
    tabs.nth(1).click()
    page.wait_for_timeout(500)
    frames = [f for f in page.frames if f.url == "about:srcdoc"]
    assert len(frames) >= 3
    for frame in frames:
        frame.wait_for_selector(".leaflet-container", timeout=30_000)
        assert frame.locator(".leaflet-overlay-pane path").count() > 0
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "reports.png"))
    page.locator(".bk-tab").nth(3).click()
    page.wait_for_selector('[data-section-pane="renovation"] svg', timeout=15_000)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_text("下载").click()
    target = Path(tempfile.mkdtemp(prefix="cc-dl-")) / "r.html"
    try:
        download.value.save_as(target)
        assert download.value.suggested_filename.startswith("report-511002-")
        assert "核心指标" in target.read_text(encoding="utf-8")
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)
    assert page.context.outside == [], page.context.outside[:5]


@pytest.mark.browser
@pytest.mark.db
def test_a_planner_may_open_the_page_and_staff_may_not(open_as):
    planner = open_as("planner")
    planner.wait_for_selector(".cc-paper", timeout=60_000)
    assert planner.locator(".cc-header a", has_text="报表").count() == 1
    staff = open_as("staff")
    staff.wait_for_url("**/map*", timeout=60_000)  # the login sends staff to their home page
    staff.goto(staff.url.split("/map")[0] + "/reports")
    staff.wait_for_selector("text=您的角色无权访问此页面", timeout=60_000)
    assert staff.locator(".cc-paper").count() == 0
    assert staff.locator(".cc-header a", has_text="报表").count() == 0


def test_a_failed_pdf_export_says_why_instead_of_a_traceback(app, monkeypatch, tmp_path):
    # A machine without Chromium: the PDF cannot be printed.
    monkeypatch.setenv("CC_CHROMIUM", str(tmp_path / "no-chromium"))
    view = _view(app)
    view.format.value = "pdf"
    body = view._download_file().getvalue().decode("utf-8")
    assert "CC_CHROMIUM" in body and "不存在" in body
    assert view.download.filename == "报表导出失败.txt"
    assert "CC_CHROMIUM" in view.message.object and "#f85149" in view.message.object
    view.format.value = "html"  # the next download is named for its format again
    assert view.download.filename.endswith(".html")
