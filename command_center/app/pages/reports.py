"""报表 The report page: one area over one period, on screen and as a download.

Pick the level (district, street, community, grid), the area and a period (``2026-10``,
``2026-W40``, ``2026-Q3`` …); :func:`gis.reports.build.build_report` fills the report and the
page shows its sections in tabs: KPIs against the previous period, the maps (on-time rate by
grid, event density with hot spots, red events), weekly trend and breakdowns, courtyard
renovation, camera coverage. The sections are the HTML export's own (``variant="page"``): each
Folium map is a document of its own in an ``<iframe srcdoc>`` with Leaflet inlined, so the page
works on a closed network. The download button writes the report being shown as HTML, PDF or
XLSX. A period or area without events shows 本期无数据 instead of empty charts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import io
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import panel as pn
import sqlalchemy as sa
from sqlalchemy.orm import Session

from command_center.app.context import AppContext, start_session
from command_center.app.i18n import t
from command_center.app.layout import DARK_BG, PANEL_BG, TEXT, chrome, guard, message_page
from command_center.app.state import SessionState
from command_center.reports import FORMATS, export, suggested_name
from command_center.reports.html import CSS, no_data_html, sections
from command_center.reports.labels import SECTIONS, tr
from gis.db import session_scope
from gis.errors import CommandCenterError
from gis.reports import Report, build_report
from gis.scrub import scrub

KINDS = ("district", "street", "community", "grid")
_AREAS_SQL = {
    "street": "SELECT code, name_zh FROM street ORDER BY code",
    "community": "SELECT code, name_zh FROM community ORDER BY code",
    "grid": "SELECT code, name_zh FROM grid ORDER BY code",
}
# The report's own stylesheet on a white sheet inside the dark page: it is a document to read.
PAPER_CSS = CSS + """
:host { display:block; } .cc-paper { background:#fff; color:#1f2933; padding:6px 18px 18px;
  border-radius:6px; font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif; font-size:14px; }
"""

TAB_CSS = """
.bk-tab { color:#9fb3cf; } .bk-tab.bk-active { color:#fff; background:#1f6feb; }
"""


def default_period(timezone: str, today: dt.date | None = None) -> str:
    """The last whole month before ``today`` (local), e.g. ``2026-10`` in November 2026."""
    day = today or dt.datetime.now(ZoneInfo(timezone)).date()
    last = day.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def area_options(session: Session, kind: str) -> dict[str, str]:
    """``name (code)`` → code for every area of ``kind`` (the district has one, by adcode)."""
    if kind == "district":
        row = session.execute(sa.text("SELECT adcode, name_zh FROM district LIMIT 1")).first()
        return {f"{row[1]} ({row[0]})": row[0]} if row else {}
    return {f"{name} ({code})": code for code, name in session.execute(
        sa.text(_AREAS_SQL[kind]))}


class ReportsView:
    """The report page of one session (built without a browser for tests)."""

    def __init__(self, app: AppContext, state: SessionState) -> None:
        self.app, self.state, self.language = app, state, state.language
        lang = self.language
        self.timezone = app.settings.ui.timezone
        self.report: Report | None = None
        self.kind = pn.widgets.Select(label=t("area_kind", lang), width=130, options={
            t(f"kind_{k}", lang): k for k in KINDS}, value="district")
        self.area = pn.widgets.Select(label=t("area_pick", lang), width=260)
        self.period = pn.widgets.TextInput(label=t("report_period", lang), width=230,
                                           value=default_period(self.timezone))
        self.build_button = pn.widgets.Button(label=t("make_report", lang), color="primary",
                                              width=120, align="end")
        self.format = pn.widgets.Select(label=t("export_format", lang), width=100,
                                        options={f.upper(): f for f in FORMATS}, value="html")
        self.download = pn.widgets.FileDownload(
            callback=self._download, filename="report.html", embed=False,
            label=t("download", lang), color="success", width=140, align="end")
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.tabs = pn.Tabs(sizing_mode="stretch_width", dynamic=False,
                            stylesheets=[TAB_CSS])
        self._fill_areas()
        self.kind.param.watch(lambda e: self._fill_areas(), "value")
        self.format.param.watch(lambda e: self._name_download(), "value")
        self.build_button.on_click(lambda e: self.refresh())
        self.refresh()

    def _fill_areas(self) -> None:
        try:
            with session_scope(self.app.engine) as session:
                options = area_options(session, self.kind.value)
        except (CommandCenterError, sa.exc.SQLAlchemyError) as exc:
            self.app.log.error("reports page areas: %s", scrub(exc))
            self._say(t("db_error", self.language), error=True)
            return
        self.area.options = options
        self.area.value = next(iter(options.values()), None)

    def _name_download(self) -> None:
        if self.report is not None:
            self.download.filename = suggested_name(self.report, self.format.value)

    def _say(self, text: str, error: bool = False) -> None:
        color = "#f85149" if error else TEXT
        self.message.object = (f'<div class="cc-report-msg" style="color:{color};font-size:15px;'
                               f'padding:4px 2px">{html.escape(text)}</div>' if text else "")

    def refresh(self) -> None:
        """Build the report of the chosen area and period and show it (or why it cannot)."""
        lang = self.language
        try:
            with session_scope(self.app.engine) as session:
                report = build_report(session, self.area.value, (self.period.value or "").strip(),
                                      settings=self.app.settings)
        except CommandCenterError as exc:  # bad period or area, database unavailable
            self._say(exc.message(lang), error=True)
            return
        except sa.exc.SQLAlchemyError as exc:
            self.app.log.error("reports page: %s", scrub(exc))
            self._say(t("db_error", lang), error=True)
            return
        self.report = report
        self._say("")
        self._name_download()
        self.tabs[:] = [(tr(SECTIONS, key, lang), pn.pane.HTML(
            f'<div class="cc-paper" data-section-pane="{key}">{body}</div>',
            stylesheets=[PAPER_CSS], sizing_mode="stretch_width"))
            for key, body in zip(SECTIONS, sections(report, lang, "page", None), strict=True)]

    async def _download(self) -> io.BytesIO:
        # The PDF is printed by Chromium (seconds): off the server's event loop, so the other
        # sessions (the wall, the map) keep their updates meanwhile.
        return await asyncio.get_running_loop().run_in_executor(None, self._download_file)

    def _download_file(self) -> io.BytesIO:
        """The report on screen in the chosen format (FileDownload calls this on click).

        When the export fails (no Chromium for the PDF, a print that timed out) the page says
        why and the download is a short text file saying the same, not a broken report.
        """
        if self.report is None:
            return io.BytesIO(no_data_html(self.language).encode("utf-8"))
        fmt = self.format.value
        self._name_download()
        try:
            with tempfile.TemporaryDirectory(prefix="cc-report-dl-") as tmp:
                path = export(self.report, fmt, Path(tmp) / f"report.{fmt}", self.language)
                return io.BytesIO(path.read_bytes())
        except CommandCenterError as exc:
            self.app.log.error("report export %s: %s", fmt, scrub(exc))
            text = exc.message(self.language)
            self._say(text, error=True)
            # FileDownload reads the file name after this callback returns.
            self.download.filename = t("export_failed_file", self.language)
            return io.BytesIO(text.encode("utf-8"))

    def layout(self) -> pn.viewable.Viewable:
        """Controls on top, the report's sections in tabs below."""
        controls = pn.Row(self.kind, self.area, self.period, self.build_button, pn.Spacer(),
                          self.format, self.download, sizing_mode="stretch_width",
                          styles={"background": PANEL_BG, "padding": "4px 8px"})
        return pn.Column(controls, self.message, self.tabs, sizing_mode="stretch_width",
                         styles={"background": DARK_BG, "overflow-y": "auto"})


def page(app: AppContext) -> pn.viewable.Viewable:
    """The report page for the current session."""
    state = start_session(app)
    refusal = guard(state, "reports")
    if refusal is not None:
        return refusal
    try:
        view = ReportsView(app, state)
    except sa.exc.OperationalError as exc:
        app.log.error("reports page: %s", scrub(exc))
        return message_page(state, "reports", "db_error")
    state.extras["reports"] = view
    return chrome(state, "reports", view.layout())
