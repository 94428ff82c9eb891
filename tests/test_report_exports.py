"""Report exports: HTML that works offline, PDF pages, XLSX round trip, the CLI on the demo.

The renderers are first tested on small hand-made reports (``report_factory``), then the
``command-center report`` command runs end to end, as a separate process, on the seeded demo
district: the HTML it writes is opened in headless Chromium with every request that is not a
local file aborted, and its Leaflet maps must draw.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from openpyxl import load_workbook
from report_factory import empty_report, sample_report
from shapely.geometry import box
from sqlalchemy.orm import Session

from command_center.reports import export
from command_center.reports.html import render_html
from command_center.reports.maps import leaflet_assets
from command_center.reports.pdf import write_pdf
from command_center.reports.xlsx import COVER, read_xlsx, write_xlsx
from gis.reports import build_report

CHROMIUM = "/usr/bin/chromium"
SECTION_TITLES = ["一、核心指标", "二、事件地图", "三、周趋势与事件构成", "四、老旧院落改造",
                  "五、监控覆盖"]
EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?!data:)",
                      re.IGNORECASE)


def _pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    # Noto CJK maps some glyphs to Kangxi radicals (⼀ for 一): NFKC folds them back.
    return [unicodedata.normalize("NFKC", p.extract_text() or "")
            for p in PdfReader(path).pages]


def _last_month(tz: str = "Asia/Shanghai") -> str:
    first = dt.datetime.now(ZoneInfo(tz)).date().replace(day=1)
    last = first - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


# --- the renderers on hand-made reports -------------------------------------------------

def test_the_html_links_nothing_from_outside_and_speaks_chinese():
    text = render_html(sample_report())
    assert not EXTERNAL.findall(text), EXTERNAL.findall(text)[:3]
    assert not re.search(r"url\(\s*['\"]?https?:", text), "a stylesheet fetches from outside"
    assert not re.search(r"@import", text)
    assert "cdn." not in text and "jsdelivr" not in text and "cdnjs" not in text
    assert 'lang="zh-CN"' in text
    for title in SECTION_TITLES:
        assert title in text
    assert "玉溪街道" in text and "按期办结率" in text
    assert text.count('class="folium-map"') == 4  # on-time, density, red events, coverage
    assert "L.map(" in text and leaflet_assets()[0][:300] in text  # Leaflet itself is inline
    assert text.count(leaflet_assets()[0][:300]) == 1, "Leaflet once for every map"


def test_english_html_has_english_headings():
    text = render_html(sample_report(), "en")
    assert 'lang="en"' in text
    assert "1. Key figures" in text and "Camera coverage" in text and "Yuxi Subdistrict" in text


def test_a_change_of_rate_is_in_percentage_points_in_the_readers_language():
    report = sample_report()
    row = report.kpis.set_index("measure").loc["on_time_rate"]
    points = f"{float(row['change']) * 100:+.1f}"
    card = re.compile(r'data-kpi="on_time_rate".*?</div></div>', re.S)
    zh, en = card.search(render_html(report)), card.search(render_html(report, "en"))
    assert zh and en
    assert f"{points} 个百分点" in zh.group(0) and "pp" not in zh.group(0)
    assert f"{points} pp" in en.group(0) and "百分点" not in en.group(0)


def test_text_from_the_data_is_escaped():
    report = sample_report()
    evil = "<script>alert(1)</script>"
    report.grids.loc[0, "name_zh"] = evil
    report.red_events.loc[0, "label_zh"] = evil + "&"
    report.notes.append(evil)
    text = render_html(report)
    assert evil not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_the_pdf_has_one_section_per_page_in_order_on_a4(tmp_path):
    path = write_pdf(sample_report(), tmp_path / "r.pdf")
    pages = _pdf_pages(path)
    assert "网格化服务管理 空间分析报告" in pages[0] and "玉溪街道" in pages[0]
    first_page = []
    for title in SECTION_TITLES:
        where = [i for i, text in enumerate(pages) if title in text]
        assert where, f"{title} is on no page"
        first_page.append(where[0])
    assert first_page[0] == 0, "the KPIs share the first page with the header"
    assert first_page == sorted(first_page) and len(set(first_page)) == len(first_page), \
        f"every section starts a new page: {first_page}"
    assert "57" in pages[0] and "93.5%" in pages[0]  # reported and the on-time rate
    from pypdf import PdfReader

    box_ = PdfReader(path).pages[0].mediabox
    assert abs(float(box_.width) - 595.3) < 2 and abs(float(box_.height) - 841.9) < 2  # A4


def _expected(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """What Excel gives back: local times without zone, dates as timestamps, no index."""
    out = frame.reset_index(drop=True).copy()
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[col] = values.dt.tz_convert(tz).dt.tz_localize(None)
        elif values.map(lambda v: isinstance(v, dt.date)).any():
            out[col] = pd.to_datetime(values.map(
                lambda v: v.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
                if isinstance(v, dt.datetime) and v.tzinfo else v))
    return out


def test_the_xlsx_round_trips_every_table(tmp_path):
    report = sample_report()
    path = write_xlsx(report, tmp_path / "r.xlsx")
    back = read_xlsx(path)
    tables = report.tables()
    assert list(back) == list(tables), "one sheet per table, in order"
    for name, frame in tables.items():
        got, want = back[name], _expected(frame, report.timezone)
        assert list(got.columns) == list(want.columns), name
        assert len(got) == len(want), name
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False,
                                      rtol=1e-9, obj=name)
    workbook = load_workbook(path)
    assert workbook.sheetnames[0] == COVER
    cover = [[c for c in row if c is not None] for row in workbook[COVER].iter_rows(
        values_only=True)]
    flat = " ".join(str(c) for row in cover for c in row)
    assert "玉溪街道" in flat and "2026-10" in flat and "Asia/Shanghai" in flat
    kpis = workbook["kpis"]
    assert kpis["A1"].value == "指标代码" and kpis["A2"].value == "measure"  # zh, then code
    assert kpis.freeze_panes == "A3"
    assert isinstance(workbook["weekly"]["A3"].value, dt.datetime)  # a date, not text
    assert workbook["weekly"]["A3"].number_format == "yyyy-mm-dd"


def test_a_geometry_too_long_for_an_excel_cell_is_simplified(tmp_path):
    report = sample_report()
    circle = box(105.0, 29.5, 105.1, 29.6).buffer(0.05, quad_segs=4000)  # ~16,000 vertices
    report.grids.loc[0, "geometry"] = circle
    back = read_xlsx(write_xlsx(report, tmp_path / "big.xlsx"))
    assert len(back["grids"].loc[0, "geometry"]) <= 32_767
    assert back["grids"].loc[0, "geometry"].startswith("POLYGON")


def test_an_empty_report_says_no_data_in_every_format(tmp_path):
    report = empty_report()
    assert report.empty
    text = render_html(report)
    assert "本期无数据" in text and 'data-no-data="1"' in text
    assert 'data-map="ontime"' not in text, "no empty choropleth"
    assert "No data for this period" in render_html(report, "en")
    pages = _pdf_pages(write_pdf(report, tmp_path / "e.pdf"))
    assert "本期无数据" in pages[0]
    path = write_xlsx(report, tmp_path / "e.xlsx")
    cover = " ".join(str(c) for row in load_workbook(path)[COVER].iter_rows(values_only=True)
                     for c in row if c is not None)
    assert "本期无数据" in cover
    back = read_xlsx(path)
    assert len(back["red_events"]) == 0 and "deadline_at" in back["red_events"].columns


# --- the CLI on the demo district -------------------------------------------------------

@pytest.fixture(scope="module")
def demo(engine, settings):
    from gis.demo import seed_demo

    seed_demo(engine, settings)
    return engine


@pytest.fixture(scope="module")
def cli_env(demo):
    env = dict(os.environ)
    env["CC_DATABASE_URL"] = demo.url.render_as_string(hide_password=False)
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "command_center.cli", "report", *args],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def district_html(cli_env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exports") / "district.html"
    done = _cli(cli_env, "--period", _last_month(), "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.db
def test_the_cli_writes_the_district_html_under_5_mb(district_html):
    text = district_html.read_text(encoding="utf-8")
    assert district_html.stat().st_size <= 5 * 1024 * 1024
    assert not EXTERNAL.findall(text)
    assert text.count('class="folium-map"') == 4 and "市中区" in text


@pytest.mark.db
def test_the_cli_pdf_and_xlsx_match_the_report(demo, cli_env, settings, tmp_path):
    period = _last_month()
    pdf, xlsx = tmp_path / "s.pdf", tmp_path / "s.xlsx"
    for fmt, out in (("pdf", pdf), ("xlsx", xlsx)):
        done = _cli(cli_env, "--area", "511002-001", "--period", period, "--format", fmt,
                    "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert "已导出 / written" in done.stdout
    pages = _pdf_pages(pdf)
    assert all(any(t in p for p in pages) for t in SECTION_TITLES)
    with Session(demo) as session:
        report = build_report(session, "511002-001", period, settings=settings)
    back = read_xlsx(xlsx)["kpis"].set_index("measure")
    want = report.kpis.set_index("measure")
    for measure in ("reported", "closed", "closed_on_time"):
        assert back.loc[measure, "value"] == want.loc[measure, "value"], measure
    assert back.loc["reported", "value"] > 0, "the demo has events last month"


@pytest.mark.db
@pytest.mark.parametrize("args, zh, en", [
    (["--period", "2026-13"], "无法识别的统计周期", "cannot read the period"),
    (["--period", "2026-10", "--area", "511002-999"], "没有编码为", "no area has the code"),
    (["--period", "2026-10", "--format", "docx"], "不支持的导出格式", "unknown export format"),
])
def test_bad_input_exits_non_zero_with_a_bilingual_message(cli_env, tmp_path, args, zh, en):
    done = _cli(cli_env, *args, "--out", str(tmp_path / "x.html"))
    assert done.returncode != 0
    assert zh in done.stderr and en in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "x.html").exists()


@pytest.mark.db
def test_an_empty_period_is_a_no_data_report_not_an_error(cli_env, tmp_path):
    out = tmp_path / "empty.html"
    done = _cli(cli_env, "--area", "511002-001", "--period", "2019-01", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "本期无数据" in done.stderr
    assert "本期无数据" in out.read_text(encoding="utf-8")


@pytest.mark.db
def test_export_writes_what_the_suffix_names(demo, settings, tmp_path):
    with Session(demo) as session:
        report = build_report(session, "511002-001", "2019-01", settings=settings)
    path = export(report, "xlsx", tmp_path / "x.xlsx", "en")
    assert load_workbook(path).sheetnames[0] == COVER


# --- the HTML in a browser with no network ----------------------------------------------

@pytest.mark.browser
@pytest.mark.db
def test_the_html_export_draws_its_maps_in_chromium_offline(district_html, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    copy = tmp_path / "报表.html"  # a non-ASCII file name, as users save them
    shutil.copy(district_html, copy)
    outside: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def only_local(route):
                if route.request.url.startswith(("file:", "data:")):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(copy.as_uri())
            page.wait_for_selector(".leaflet-container", timeout=30_000)
            maps = page.locator(".leaflet-container")
            assert maps.count() == 4
            for i in range(4):
                drawn = maps.nth(i).locator(".leaflet-overlay-pane path")
                assert drawn.count() > 0, f"map {i} drew nothing"
            assert page.locator('[data-map="ontime"] .leaflet-overlay-pane path').count() > 300
            assert page.locator('[data-map="red"] .leaflet-interactive').count() > 0
            assert "核心指标" in page.inner_text("body")
            assert page.locator(".kpi").count() >= 8
            assert not errors, errors
        finally:
            browser.close()
    assert outside == [], f"requests to the outside: {outside[:5]}"
