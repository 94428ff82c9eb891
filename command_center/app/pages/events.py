"""事件 The events page: filters, a table with Chinese labels, details with the timeline.

Filters: status, three-light state, category, source channel, street and period. The table
shows the newest :data:`MAX_ROWS` matching events (the count of all matches beside it);
clicking a row shows the event's details and nearest cameras (the map's side panel) and its
timeline from ``event_log``. The workflow actions arrive with the event-loop issue.

The light filter reuses the ``open_events`` query of :mod:`layers.build` (one rule for
every page); the displayed light of each row comes from :func:`layers.build.three_light`.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any
from zoneinfo import ZoneInfo

import panel as pn
import sqlalchemy as sa
from bokeh.models import ColumnDataSource, DataTable, HTMLTemplateFormatter, TableColumn
from sqlalchemy.orm import Session

from command_center.app.context import AppContext, start_session, subscribe_live
from command_center.app.event_panel import LIGHT_COLORS, PANEL_CSS, event_html, load_event
from command_center.app.i18n import t
from command_center.app.layout import PANEL_BG, chrome, guard, message_page
from command_center.app.state import SessionState
from gis.catalog import (
    EVENT_CATEGORIES,
    EVENT_PRIORITY_LABELS,
    EVENT_SOURCE_LABELS,
    EVENT_STATUS_LABELS,
    OPEN_STATUSES,
    label,
)
from gis.db import session_scope
from gis.queries import EventFilter
from gis.scrub import scrub
from layers.build import QUERIES, YELLOW_SHARE, three_light

MAX_ROWS = 500
PERIODS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7),
           "30d": dt.timedelta(days=30), "365d": dt.timedelta(days=365), "all": None}
LIGHTS = ("red", "yellow", "green", "none")
ACTION_LABELS = {"report": ("上报", "reported"), "accept": ("受理", "accepted"),
                 "dispatch": ("派遣", "dispatched"), "handle": ("处置", "handled"),
                 "verify": ("核查", "verified"), "close": ("结案", "closed"),
                 "reject": ("不予受理", "rejected"), "return": ("退回", "returned"),
                 "comment": ("备注", "comment")}

# SlickGrid's default light rows, made dark (the table lives in the page's shadow DOM).
TABLE_CSS = """
.slick-row, .slick-row.odd, .slick-row.even { background:#0b1526 !important; color:#e6edf7; }
.slick-row.odd { background:#101d31 !important; }
.slick-row.active, .slick-row.selected, .slick-cell.selected { background:#1f3b63 !important; }
.slick-cell { border-color:#22385a !important; }
.slick-header-column { background:#13223a !important; color:#9fb3cf !important; }
"""

TIMELINE_CSS = """
.cc-tl { list-style:none; margin:6px 0; padding:0 0 0 14px; border-left:2px solid #22385a; }
.cc-tl li { margin:0 0 8px; position:relative; }
.cc-tl li:before { content:""; position:absolute; left:-20px; top:5px; width:10px;
  height:10px; border-radius:50%; background:#1f6feb; }
.cc-tl .m { color:#9fb3cf; font-size:12px; }
"""

_LIST_SQL = """
SELECT e.id, e.code, e.category_code, e.source_channel, e.status, e.priority, e.address,
       e.reported_at, e.accepted_at, e.deadline_at, g.code AS grid_code,
       s.name_zh AS street_name, d.name_zh AS department
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
                 street: str = "", period: str = "30d") -> None:
        self.status, self.light, self.category = status, light, category
        self.source, self.street, self.period = source, street, period

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


def timeline(session: Session, event_id: int) -> list[dict[str, Any]]:
    """The event's log entries, oldest first."""
    return [dict(r) for r in session.execute(sa.text(
        "SELECT at, actor, action, from_status, to_status, note FROM event_log "
        "WHERE event_id = :id ORDER BY at, id"), {"id": event_id}).mappings()]


def timeline_html(entries: list[dict[str, Any]], language: str, tz: Any) -> str:
    """The timeline as a vertical list."""
    if not entries:
        return f"<p>{t('no_log', language)}</p>"
    items = []
    for e in entries:
        action = ACTION_LABELS.get(e["action"])
        name = (action[1] if language == "en" else action[0]) if action else e["action"]
        move = (f" → {label(EVENT_STATUS_LABELS, e['to_status'], language)}"
                if e["to_status"] else "")
        note = f"<div>{html.escape(e['note'])}</div>" if e["note"] else ""
        items.append(f'<li><b>{html.escape(name)}</b>{move}<div class="m">'
                     f'{e["at"].astimezone(tz).strftime("%Y-%m-%d %H:%M")} · '
                     f'{t("actor", language)} {html.escape(e["actor"])}</div>{note}</li>')
    return f'<ul class="cc-tl">{"".join(items)}</ul>'


class EventsView:
    """The events page of one session (built without a browser for tests)."""

    def __init__(self, app: AppContext, state: SessionState) -> None:
        self.app, self.state, self.language = app, state, state.language
        self.tz = ZoneInfo(app.settings.ui.timezone)
        self.filters = EventFilters()
        lang = self.language
        with session_scope(app.engine) as session:
            streets = session.execute(sa.text(
                "SELECT code, name_zh FROM street ORDER BY code")).all()
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
            "period": pn.widgets.Select(label=t("period", lang), value="30d", options={
                t("period_" + k, lang): k for k in PERIODS}),
        }
        for key, widget in self.widgets.items():
            widget.width = 150
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
        self.rows: list[dict[str, Any]] = []
        self.total = 0
        self.reload()

    def _table_columns(self) -> list[TableColumn]:
        lang = self.language
        light = HTMLTemplateFormatter(template=(
            '<span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
            'background:<%= light_color %>"></span> <%= value %>'))
        spec = [("code", "code", 130, None), ("reported_at", "reported_at", 110, None),
                ("category", "category", 90, None), ("source", "source", 90, None),
                ("status", "status", 70, None), ("light", "light", 80, light),
                ("priority", "priority", 60, None), ("street", "street", 80, None),
                ("grid", "grid", 110, None), ("address", "address", 200, None)]
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
        self.source.data = self._columns(self.rows)
        text = t("shown_of", self.language).format(shown=len(self.rows), total=self.total)
        self.count.object = f'<div style="color:#9fb3cf;padding-top:6px">{text}</div>'

    def _on_select(self, _attr: str, _old: list[int], new: list[int]) -> None:
        if new and new[0] < len(self.rows):
            self.show(int(self.rows[new[0]]["id"]))

    def show(self, event_id: int) -> None:
        """Details, nearest cameras and timeline of ``event_id``."""
        self.state.selected_event = event_id
        lang = self.language
        with session_scope(self.app.engine) as session:
            details = load_event(session, event_id)
            entries = timeline(session, event_id)
        if details is None:
            self.details.object = f'<div class="cc-side">{t("not_found", lang)}</div>'
            return
        self.details.object = (event_html(details, self.app.camera_url, lang, self.tz)
                               + f'<div class="cc-side"><h3>{t("timeline", lang)}</h3>'
                               f"{timeline_html(entries, lang, self.tz)}</div>")

    def on_event(self, _payload: dict[str, Any]) -> None:
        """A notification: reload the table so a new or changed event shows at once."""
        self.reload()

    def layout(self) -> pn.viewable.Viewable:
        """Filters on top · table · details."""
        bar = pn.Row(*self.widgets.values(), self.count, sizing_mode="stretch_width",
                     styles={"background": PANEL_BG})
        table = pn.pane.Bokeh(self.table, sizing_mode="stretch_both", min_height=300)
        side = pn.Column(self.details, width=400, sizing_mode="stretch_height",
                         styles={"background": PANEL_BG, "padding": "6px",
                                 "overflow-y": "auto"})
        return pn.Column(bar, pn.Row(table, side, sizing_mode="stretch_both"),
                         sizing_mode="stretch_both")


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
    subscribe_live(app, view.on_event)
    return chrome(state, "events", view.layout())
