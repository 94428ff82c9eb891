"""事件 The events page: filters, the table, the actions, the timeline, the board.

Filters: status, three-light state, category, source channel, street, department and period
(a department user starts filtered to their own department). The table shows the newest
:data:`MAX_ROWS` matching events (the count of all matches beside it); clicking a row shows the
actions the user may take on it (:mod:`command_center.app.loop_ui`), its details and nearest
cameras (the map's side panel) and its timeline from ``event_log``
(:mod:`command_center.app.timeline`). Further tabs: the 三灯一牌 board, the supervision list
(leaders, duty officers) and a department's reminders (:mod:`command_center.app.board_view`).

The light filter reuses the ``open_events`` query of :mod:`layers.build` (one rule for
every page); the displayed light of each row comes from :func:`layers.build.three_light`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import panel as pn
import sqlalchemy as sa
from bokeh.models import ColumnDataSource, DataTable, HTMLTemplateFormatter, TableColumn
from sqlalchemy.orm import Session

from command_center.app.board_view import LoopViews
from command_center.app.context import AppContext, session_arg, start_session, subscribe_live
from command_center.app.event_panel import LIGHT_COLORS, PANEL_CSS, event_html, load_event
from command_center.app.i18n import t
from command_center.app.layout import PANEL_BG, chrome, guard, message_page
from command_center.app.loop_ui import departments, panel_for
from command_center.app.state import SessionState
from command_center.app.timeline import TIMELINE_CSS, timeline, timeline_html
from gis.catalog import (
    EVENT_CATEGORIES,
    EVENT_PRIORITY_LABELS,
    EVENT_SOURCE_LABELS,
    EVENT_STATUS_LABELS,
    OPEN_STATUSES,
    label,
)
from gis.db import session_scope
from gis.errors import CommandCenterError
from gis.queries import EventFilter
from gis.scrub import scrub
from layers.build import QUERIES, YELLOW_SHARE, three_light

MAX_ROWS = 500
PERIODS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7),
           "30d": dt.timedelta(days=30), "365d": dt.timedelta(days=365), "all": None}
LIGHTS = ("red", "yellow", "green", "none")
__all__ = ["EventFilters", "EventsView", "page", "query_events", "timeline", "timeline_html"]

# SlickGrid's default light rows, made dark (the table lives in the page's shadow DOM).
TABLE_CSS = """
.slick-row, .slick-row.odd, .slick-row.even { background:#0b1526 !important; color:#e6edf7; }
.slick-row.odd { background:#101d31 !important; }
.slick-row.active, .slick-row.selected, .slick-cell.selected { background:#1f3b63 !important; }
.slick-cell { border-color:#22385a !important; }
.slick-header-column { background:#13223a !important; color:#9fb3cf !important; }
"""

TABS_CSS = """
.bk-header { background:#13223a; }
.bk-tab { color:#9fb3cf; padding:6px 14px; font-size:14px; }
.bk-tab.bk-active { background:#1f6feb; color:#ffffff; border-color:#1f6feb; }
"""

_LIST_SQL = """
SELECT e.id, e.code, e.category_code, e.source_channel, e.status, e.priority, e.address,
       e.reported_at, e.accepted_at, e.deadline_at, g.code AS grid_code,
       s.name_zh AS street_name, d.name_zh AS department, d.name_en AS department_en
FROM event e
LEFT JOIN grid g ON g.id = e.grid_id
LEFT JOIN community c ON c.id = g.community_id
LEFT JOIN street s ON s.id = c.street_id
LEFT JOIN department d ON d.id = e.department_id
WHERE {where}
"""


def _choices(language: str, table: dict[str, Any]) -> dict[str, str]:
    return {t("all", language): "", **{label(table, code, language): code for code in table}}


class EventFilters:
    """The filter values of one session (empty string = no filter)."""

    def __init__(self, status: str = "", light: str = "", category: str = "", source: str = "",
                 street: str = "", period: str = "30d", department: str = "") -> None:
        self.status, self.light, self.category = status, light, category
        self.source, self.street, self.period = source, street, period
        self.department = department

    def sql(self, now: dt.datetime) -> tuple[str, dict[str, Any]]:
        """The WHERE condition and its parameters."""
        delta = PERIODS.get(self.period)
        flt = EventFilter(start=now - delta if delta else None,
                          statuses=[self.status] if self.status else None,
                          categories=[self.category] if self.category else None)
        parts, params = [flt.where()], dict(flt.params)
        if self.source:
            parts.append("e.source_channel = :source")
            params["source"] = self.source
        if self.street:
            parts.append("s.code = :street")
            params["street"] = self.street
        if self.department:
            parts.append("d.code = :department")
            params["department"] = self.department
        if self.light:
            # Only open events have a light; the rule is the map's open_events query.
            parts.append("e.id IN (SELECT id FROM ({}) q WHERE light = :light)".format(
                QUERIES["open_events"].format(where="true")))
            params.update(light=self.light, now=now, yellow=YELLOW_SHARE,
                          open=list(OPEN_STATUSES))
        return " AND ".join(parts), params


def query_events(session: Session, filters: EventFilters, *, limit: int = MAX_ROWS,
                 now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """The newest ``limit`` events matching ``filters`` (with their light) and the total."""
    now = now or dt.datetime.now(dt.UTC)
    where, params = filters.sql(now)
    sql = _LIST_SQL.format(where=where)
    total = session.execute(sa.text(f"SELECT count(*) FROM ({sql}) q"), params).scalar_one()
    rows = [dict(r) for r in session.execute(
        sa.text(sql + " ORDER BY e.reported_at DESC, e.id DESC LIMIT :limit"),
        {**params, "limit": limit}).mappings()]
    for r in rows:
        r["light"] = (three_light(r["deadline_at"], r["accepted_at"] or r["reported_at"], now)
                      if r["status"] in OPEN_STATUSES else "")
    return rows, int(total)


class EventsView:
    """The events page of one session (built without a browser for tests)."""

    def __init__(self, app: AppContext, state: SessionState) -> None:
        self.app, self.state, self.language = app, state, state.language
        self.tz = ZoneInfo(app.settings.ui.timezone)
        user = state.user
        # A department user starts with their own department's events (and may widen it).
        own = user.department if user and user.role == "department" and user.department else ""
        self.filters = EventFilters(department=own)
        lang = self.language
        with session_scope(app.engine) as session:
            streets = session.execute(sa.text(
                "SELECT code, name_zh FROM street ORDER BY code")).all()
            depts = departments(session)
        self.widgets = {
            "status": pn.widgets.Select(label=t("status", lang),
                                        options=_choices(lang, EVENT_STATUS_LABELS)),
            "light": pn.widgets.Select(label=t("light", lang), options={
                t("all", lang): "", **{t("light_" + k, lang): k for k in LIGHTS}}),
            "category": pn.widgets.Select(label=t("category", lang), options={
                t("all", lang): "", **{(c.en if lang == "en" else c.zh): c.code
                                       for c in EVENT_CATEGORIES}}),
            "source": pn.widgets.Select(label=t("source", lang),
                                        options=_choices(lang, EVENT_SOURCE_LABELS)),
            "street": pn.widgets.Select(label=t("street", lang), options={
                t("all", lang): "", **{name: code for code, name in streets}}),
            "department": pn.widgets.Select(label=t("department", lang), value=own, options={
                t("all", lang): "", **{en if lang == "en" else zh: code
                                       for code, zh, en in depts}}),
            "period": pn.widgets.Select(label=t("period", lang), value="30d", options={
                t("period_" + k, lang): k for k in PERIODS}),
        }
        for key, widget in self.widgets.items():
            widget.width = 140
            widget.param.watch(lambda e, k=key: self.set_filter(k, e.new), "value")
        self.source = ColumnDataSource(self._columns([]), name="cc-events-table")
        self.table = DataTable(source=self.source, columns=self._table_columns(),
                               sizing_mode="stretch_both", index_position=None,
                               selectable=True, name="cc-events", stylesheets=[TABLE_CSS])
        self.source.selected.on_change("indices", self._on_select)
        self.count = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 8))
        self.details = pn.pane.HTML(f'<div class="cc-side">{t("pick_event_hint", lang)}</div>',
                                    stylesheets=[PANEL_CSS, TIMELINE_CSS],
                                    sizing_mode="stretch_width")
        self.actions = panel_for(app, state, on_change=self._after_action)
        self.loop = LoopViews(app.engine, app.settings, user, lang, self.tz)
        self.rows: list[dict[str, Any]] = []
        self.total = 0
        self.reload()
        self.loop.refresh()

    def _table_columns(self) -> list[TableColumn]:
        lang = self.language
        light = HTMLTemplateFormatter(template=(
            '<span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
            'background:<%= light_color %>"></span> <%= value %>'))
        spec = [("code", "code", 130, None), ("reported_at", "reported_at", 110, None),
                ("category", "category", 90, None), ("source", "source", 90, None),
                ("status", "status", 70, None), ("light", "light", 80, light),
                ("priority", "priority", 60, None), ("department", "department", 110, None),
                ("street", "street", 80, None), ("grid", "grid", 110, None),
                ("address", "address", 200, None)]
        return [TableColumn(field=field, title=t(key, lang), width=width,
                            **({"formatter": fmt} if fmt else {}))
                for key, field, width, fmt in spec]

    def _columns(self, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
        lang = self.language
        return {
            "id": [r["id"] for r in rows],
            "code": [r["code"] for r in rows],
            "reported_at": [r["reported_at"].astimezone(self.tz).strftime("%m-%d %H:%M")
                            for r in rows],
            "category": [label(_CATEGORY_LABELS, r["category_code"], lang) for r in rows],
            "source": [label(EVENT_SOURCE_LABELS, r["source_channel"], lang) for r in rows],
            "status": [label(EVENT_STATUS_LABELS, r["status"], lang) for r in rows],
            "light": [t("light_" + r["light"], lang) if r["light"] else "—" for r in rows],
            "light_color": [LIGHT_COLORS.get(r["light"], "transparent") for r in rows],
            "priority": [label(EVENT_PRIORITY_LABELS, r["priority"], lang) for r in rows],
            "department": [(r["department_en"] if lang == "en" else r["department"]) or ""
                           for r in rows],
            "street": [r["street_name"] or "" for r in rows],
            "grid": [r["grid_code"] or "" for r in rows],
            "address": [r["address"] or "" for r in rows],
        }

    def set_filter(self, key: str, value: str) -> None:
        """Change one filter and reload the table."""
        setattr(self.filters, key, value or "")
        self.reload()

    def reload(self) -> None:
        """Run the query with the current filters and refill the table."""
        try:
            with session_scope(self.app.engine) as session:
                self.rows, self.total = query_events(session, self.filters)
        except sa.exc.SQLAlchemyError as exc:
            self.app.log.error("events page: %s", scrub(exc))
            self.count.object = f'<span style="color:#f85149">{t("db_error", self.language)}'
            return
        self.source.selected.indices = []
        # Bokeh's DataTable redraws its rows when its view's indices change, which swapping
        # data of the same length does not do (the browser kept the old statuses): empty the
        # source first, so the browser sees the row count change twice and redraws.
        self.source.data = {key: [] for key in self.source.data}
        self.source.data = self._columns(self.rows)
        text = t("shown_of", self.language).format(shown=len(self.rows), total=self.total)
        self.count.object = f'<div style="color:#9fb3cf;padding-top:6px">{text}</div>'

    def _on_select(self, _attr: str, _old: list[int], new: list[int]) -> None:
        if new and new[0] < len(self.rows):
            self.show(int(self.rows[new[0]]["id"]))

    def show(self, event_id: int) -> None:
        """Actions, details, nearest cameras and timeline of ``event_id``."""
        self.state.selected_event = event_id
        self.actions.show(event_id)
        self.show_details(event_id)

    def _after_action(self, event_id: int) -> None:
        # Reload at once rather than wait for the change's live notification: the officer who
        # acted sees the new status in the table with the message.
        self.show_details(event_id)
        self.reload()
        self.loop.refresh()

    def show_details(self, event_id: int) -> None:
        """Details, nearest cameras and timeline of ``event_id`` (not the actions)."""
        lang = self.language
        try:
            with session_scope(self.app.engine) as session:
                details = load_event(session, event_id)
                entries = timeline(session, event_id)
        except (CommandCenterError, sa.exc.SQLAlchemyError) as exc:
            self.app.log.error("event details: %s", scrub(exc))
            self.details.object = f'<div class="cc-side">{t("db_error", lang)}</div>'
            return
        if details is None:
            self.details.object = f'<div class="cc-side">{t("not_found", lang)}</div>'
            return
        self.details.object = event_html(
            details, self.app.camera_url, lang, self.tz,
            middle=f'<h3>{t("timeline", lang)}</h3>{timeline_html(entries, lang, self.tz)}')

    def on_event(self, _payload: dict[str, Any]) -> None:
        """A notification: reload the table so a new or changed event shows at once.

        The action panel is not redrawn here: it keeps the version the user is looking at,
        and acting on it after someone else's change gives the loop's conflict message.
        """
        self.reload()

    def layout(self) -> pn.viewable.Viewable:
        """Tabs: (filters · table · actions and details), board, supervision, reminders."""
        bar = pn.FlexBox(*self.widgets.values(), self.count, sizing_mode="stretch_width",
                         styles={"background": PANEL_BG})
        table = pn.pane.Bokeh(self.table, sizing_mode="stretch_both", min_height=300)
        side = pn.Column(self.actions.view, self.details, width=420,
                         sizing_mode="stretch_height",
                         styles={"background": PANEL_BG, "padding": "6px",
                                 "overflow-y": "auto"})
        events = pn.Column(bar, pn.Row(table, side, sizing_mode="stretch_both"),
                           sizing_mode="stretch_both")
        tabs = pn.Tabs((t("tab_list", self.language), events), *self.loop.tabs(),
                       sizing_mode="stretch_both", dynamic=False, stylesheets=[TABS_CSS])
        return tabs


_CATEGORY_LABELS = {c.code: c for c in EVENT_CATEGORIES}


def page(app: AppContext) -> pn.viewable.Viewable:
    """The events page for the current session."""
    state = start_session(app)
    refusal = guard(state, "events")
    if refusal is not None:
        return refusal
    try:
        view = EventsView(app, state)
    except sa.exc.OperationalError as exc:
        app.log.error("events page: %s", scrub(exc))
        return message_page(state, "events", "db_error")
    state.extras["events"] = view
    opened = session_arg("event")  # a link from the supervision list or a reminder
    if opened and opened.isascii() and opened.isdigit():  # "²".isdigit() is True too
        view.show(int(opened))
    subscribe_live(app, view.on_event)
    return chrome(state, "events", view.layout())
