"""指挥大屏 The command wall: camera mosaic, KPIs, event heatmap, newest events, live alerts.

URL parameters: ``kiosk=1`` (no header, no menus: for the video wall), ``group=NAME`` (a
camera group of ``relay.groups``; default the first), ``tour=30`` (rotate the groups every
30 s), ``heat=24h|7d``, ``camera=CODE`` (put one camera's main stream on the wall, from the
map's 上墙 link).

Live: the session subscribes to the server's :class:`~command_center.app.live.EventListener`;
each notification refreshes the KPIs and the list (a few indexed queries, no table scan) and,
when the event is urgent/critical or red, puts its nearest cameras in the alert strip. The
mosaic itself is one ``<img>`` of the relay's composed wall (one stream per screen).
"""

from __future__ import annotations

import datetime as dt
import html
import time
from typing import Any
from zoneinfo import ZoneInfo

import panel as pn
import sqlalchemy as sa

from command_center.app.context import AppContext, session_arg, start_session, subscribe_live
from command_center.app.event_panel import (
    LIGHT_COLORS,
    PANEL_CSS,
    camera_tile,
    load_event,
    warm_cameras,
)
from command_center.app.figures import add_glyph, add_layer, find_layer, map_figure, urban_bbox
from command_center.app.i18n import t
from command_center.app.layout import DARK_BG, chrome, guard, message_page
from command_center.app.state import SessionState
from command_center.app.wall_data import (
    URGENT_PRIORITIES,
    focus_event,
    needs_cameras,
    newest_events,
    wall_kpis,
)
from gis.catalog import CATEGORY_BY_CODE, EVENT_PRIORITY_LABELS, EVENT_STATUS_LABELS, label
from gis.db import session_scope
from gis.queries import heat_bins
from gis.scrub import scrub
from layers.build import bin_size_for, bins_glyph

HEAT_PERIODS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}
REFRESH_MS = 30_000  # lights turn yellow/red with time alone: re-read the numbers now and then
HEAT_MIN_INTERVAL_S = 10.0

# Sizes in vw/vh so the same wall fills 1920×1080 and 3840×2160; nothing scrolls.
WALL_CSS = """
.cc-wall { color:#e6edf7; font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
  font-size:clamp(12px,0.8vw,40px); box-sizing:border-box; overflow:hidden; }
.cc-top { display:flex; align-items:baseline; gap:1.2vw; padding:0.5vh 1vw;
  background:#13223a; height:4.5vh; box-sizing:border-box; overflow:hidden; }
.cc-top .t { font-size:1.6em; font-weight:600; } .cc-top .g { color:#7fb0ff; font-size:1.2em; }
.cc-top .s { flex:1; } .cc-top .u { color:#9fb3cf; }
.cc-mosaic { position:relative; width:100%; height:100%; background:#000; overflow:hidden; }
.cc-mosaic img { width:100%; height:100%; object-fit:contain; display:block; }
.cc-mosaic .dead { position:absolute; inset:0; display:none; align-items:center;
  justify-content:center; color:#f85149; font-size:2em; background:#111; }
.cc-mosaic .cap { position:absolute; right:0.6vw; top:0.6vh; background:rgba(0,0,0,.55);
  padding:0.2em 0.6em; border-radius:4px; }
.cc-kpis { display:grid; grid-template-columns:repeat(3,1fr); gap:0.5vw; }
.cc-kpi { background:#13223a; border-radius:6px; padding:0.6vh 0.6vw; overflow:hidden; }
.cc-kpi .v { font-size:2.3em; font-weight:700; line-height:1.15; }
.cc-kpi .k { color:#9fb3cf; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.cc-feed { list-style:none; margin:0; padding:0; overflow:hidden; height:100%; }
.cc-feed li { display:flex; gap:0.5vw; padding:0.35vh 0.3vw; border-bottom:1px solid #22385a;
  white-space:nowrap; overflow:hidden; }
.cc-feed li.fresh { background:#3b2a10; }
.cc-feed .c { flex:1; overflow:hidden; text-overflow:ellipsis; } .cc-feed .m { color:#9fb3cf; }
.cc-dot { display:inline-block; width:0.7em; height:0.7em; border-radius:50%;
  margin-top:0.35em; flex:none; }
.cc-h { font-weight:600; margin:0.3vh 0; color:#9fb3cf; }
.cc-alert { height:100%; overflow:hidden; }
.cc-alert .cc-cams { grid-template-columns:repeat(4,1fr); margin-top:0.3vh; }
.cc-alert .cc-cam .pic { aspect-ratio:auto; height:14vh; }
.cc-alert h3 { margin:0; font-size:1.1em; color:#f85149; white-space:nowrap; overflow:hidden;
  text-overflow:ellipsis; }
"""


# Widths offered to the browser for the mosaic, and the share of the screen it takes (the
# side column is 30vw): the browser picks the candidate that fits the drawn size.
SRCSET_WIDTHS = (640, 960, 1280, 1440, 1600, 1920, 2560, 3840)
MOSAIC_VW = 70


def wall_groups(settings: Any) -> list[tuple[str, str, str]]:
    """(name, title zh, title en) of the camera groups a wall can show, tour order."""
    relay = settings.relay
    groups = [(name, g.title_zh, g.title_en or g.title_zh) for name, g in relay.groups.items()]
    return groups or [(name, name, name) for name in reversed(list(relay.layouts))][:1]


class WallView:
    """The wall of one session; built without a browser so tests can inspect it."""

    def __init__(self, app: AppContext, state: SessionState, *, kiosk: bool = False,
                 group: str | None = None, tour_s: float | None = None,
                 camera: str | None = None, heat: str = "24h",
                 width: int | None = None) -> None:
        self.app, self.state, self.language = app, state, state.language
        # The pixels the mosaic is shown across (``?w=``): a wall on a smaller screen asks the
        # relay for a smaller mosaic, which is cheaper to compose, encode and send.
        self.width = width
        self.kiosk, self.camera, self.tour_s = kiosk, camera, tour_s
        self.tz = ZoneInfo(app.settings.ui.timezone)
        self.groups = wall_groups(app.settings)
        names = [g[0] for g in self.groups]
        self.group = group if group in names else names[0]
        self.heat_period = heat if heat in HEAT_PERIODS else "24h"
        self.fresh: set[int] = set()
        self.focus_id: int | None = None
        self._heat_at = 0.0
        self.top = pn.pane.HTML("", sizing_mode="stretch_width", margin=0,
                                stylesheets=[WALL_CSS])
        self.mosaic = pn.pane.HTML("", sizing_mode="stretch_both", margin=0,
                                   stylesheets=[WALL_CSS])
        self.alert = pn.pane.HTML("", sizing_mode="stretch_both", margin=0,
                                  stylesheets=[WALL_CSS, PANEL_CSS])
        self.kpi_pane = pn.pane.HTML("", sizing_mode="stretch_width", margin=0,
                                     stylesheets=[WALL_CSS])
        self.feed = pn.pane.HTML("", sizing_mode="stretch_both", margin=0,
                                 stylesheets=[WALL_CSS])
        with session_scope(app.engine) as session:
            self.bbox = urban_bbox(session)
            self.heat_fig = map_figure(self.bbox, name="cc-wall-heat", tools="",
                                       sizing_mode="stretch_both")
            self.heat_fig.toolbar_location = None
            add_layer(self.heat_fig, session, find_layer(app.layers, "streets"), self.language)
            self.heat_source = add_glyph(self.heat_fig, self._heat_glyph(session))
            self.focus_id = focus_event(session)
        self.render_mosaic()
        self.refresh()
        self.show_focus(self.focus_id)

    # -- pieces ----------------------------------------------------------------------------

    def _group_title(self) -> str:
        for name, zh, en in self.groups:
            if name == self.group:
                return en if self.language == "en" else zh
        return self.group

    def render_mosaic(self) -> None:
        """The group mosaic (or the pinned camera) as one MJPEG ``<img>``."""
        lang = self.language
        srcset = ""
        try:
            if self.camera:
                src = self.app.camera_url(self.camera, "main", "mjpeg")
                caption = f'{t("on_wall", lang)} · {html.escape(self.camera)}'
            else:
                src = self._wall_url(self.group)
                srcset = self._wall_srcset(self.group)
                caption = html.escape(self._group_title())
        except Exception as exc:  # relay misconfigured: say so, keep the rest of the wall
            self.app.log.error("wall mosaic: %s", scrub(exc))
            src, caption = "", t("relay_down", lang)
        dead = f"{t('offline', lang)}/{t('no_picture', lang)}"
        sizes = f' srcset="{html.escape(srcset)}" sizes="{MOSAIC_VW}vw"' if srcset else ""
        img = (f'<img alt="mosaic" src="{html.escape(src)}"{sizes} '
               "onerror=\"this.style.display='none';"
               "this.nextElementSibling.style.display='flex'\">" if src else "")
        style = "" if src else ' style="display:flex"'
        group = html.escape(self.group)
        self.mosaic.object = (f'<div class="cc-wall cc-mosaic" data-group="{group}">{img}'
                              f'<div class="dead"{style}>{dead}</div>'
                              f'<div class="cap">{caption}</div></div>')
        self.top.object = self._top_html()

    def _wall_url(self, group: str) -> str:
        if self.app.wall_url is None:
            raise RuntimeError("no relay configured")
        return self.app.wall_url(group, width=self.width)

    def _wall_srcset(self, group: str) -> str:
        """The mosaic at a few widths for the browser to pick from (``srcset``).

        The browser knows how wide the mosaic is drawn and the screen's pixel ratio; it asks
        for the candidate that fits, and the relay composes and encodes only that size (a
        1920-wide mosaic shown 1,344 pixels wide wastes half its pixels). Empty when the page
        was given an explicit width (``?w=``).
        """
        if self.width or self.app.wall_url is None:
            return ""
        return ", ".join(f"{self.app.wall_url(group, width=w)} {w}w" for w in SRCSET_WIDTHS)

    def _top_html(self) -> str:
        lang = self.language
        now = dt.datetime.now(self.tz).strftime("%Y-%m-%d %H:%M")
        tour = f" · {t('tour', lang)} {self.tour_s:g}s" if self.tour_s else ""
        return (f'<div class="cc-wall cc-top"><span class="t">{t("page_wall", lang)}</span>'
                f'<span class="g">{html.escape(self._group_title())}{tour}</span>'
                f'<span class="s"></span><span class="u">{t("updated", lang)} {now}</span></div>')

    def _heat_glyph(self, session: Any) -> Any:
        size = bin_size_for(self.bbox, 36)
        start = dt.datetime.now(dt.UTC) - HEAT_PERIODS[self.heat_period]
        bins = heat_bins(session, size_m=size, shape="hexagon", bbox=self.bbox, start=start)
        spec = find_layer(self.app.layers, "events")
        self._heat_at = time.monotonic()
        return bins_glyph(bins, spec, self.language, None)  # type: ignore[arg-type]

    def refresh_heat(self, force: bool = False) -> None:
        """Recount the heat bins (at most every few seconds unless ``force``)."""
        if not force and time.monotonic() - self._heat_at < HEAT_MIN_INTERVAL_S:
            return
        with session_scope(self.app.engine) as session:
            self.heat_source.data = self._heat_glyph(session).data

    def set_heat_period(self, period: str) -> None:
        """Show the last 24 hours or the last 7 days."""
        self.heat_period = period if period in HEAT_PERIODS else "24h"
        self.refresh_heat(force=True)

    def refresh(self) -> None:
        """Re-read the KPIs and the newest events."""
        with session_scope(self.app.engine) as session:
            k = wall_kpis(session, self.tz)
            items = newest_events(session, 14)
        lang = self.language
        rate = "—" if k.on_time_rate is None else f"{k.on_time_rate:.1%}"
        online = "—" if k.online_share is None else f"{k.online_share:.0%}"
        tiles = [("kpi_today", k.today, "#e6edf7"), ("kpi_open", k.open, "#7fb0ff"),
                 ("kpi_red", k.red, LIGHT_COLORS["red"]),
                 ("kpi_yellow", k.yellow, LIGHT_COLORS["yellow"]),
                 ("kpi_on_time", rate, LIGHT_COLORS["green"]),
                 ("kpi_cameras", online, "#e6edf7")]
        self.kpi_pane.object = '<div class="cc-wall cc-kpis">' + "".join(
            f'<div class="cc-kpi" data-kpi="{key}"><div class="v" style="color:{color}">'
            f'{value}</div><div class="k">{t(key, lang)}</div></div>'
            for key, value, color in tiles) + "</div>"
        self.kpi_values = k
        rows = []
        for item in items:
            cat = CATEGORY_BY_CODE.get(item.category_code)
            name = (cat.en if lang == "en" else cat.zh) if cat else item.category_code
            when = item.reported_at.astimezone(self.tz).strftime("%m-%d %H:%M")
            urgent = (f' <b style="color:#f85149">'
                      f"{label(EVENT_PRIORITY_LABELS, item.priority, lang)}</b>"
                      if item.priority in URGENT_PRIORITIES else "")
            cls = ' class="fresh"' if item.id in self.fresh else ""
            rows.append(
                f'<li{cls} data-event="{item.id}"><span class="cc-dot" style="background:'
                f'{LIGHT_COLORS[item.light]}"></span><span class="m">{when}</span>'
                f'<span class="c">{html.escape(name)}{urgent} · '
                f'{html.escape(item.address or item.grid_code or "")}</span>'
                f'<span class="m">{label(EVENT_STATUS_LABELS, item.status, lang)}</span></li>')
        self.feed.object = (f'<div class="cc-wall" style="height:100%"><div class="cc-h">'
                            f'{t("newest_events", lang)}</div><ul class="cc-feed">'
                            f'{"".join(rows)}</ul></div>')
        self.top.object = self._top_html()

    def show_focus(self, event_id: int | None) -> None:
        """Put ``event_id``'s nearest cameras in the alert strip (a calm note when None)."""
        lang = self.language
        self.focus_id = event_id
        details = None
        if event_id is not None:
            with session_scope(self.app.engine) as session:
                details = load_event(session, event_id)
        if details is None:
            self.alert.object = (f'<div class="cc-wall cc-alert"><div class="cc-h">'
                                 f'{t("no_alert", lang)}</div></div>')
            return
        r = details.row
        cat = CATEGORY_BY_CODE.get(r["category_code"])
        name = (cat.en if lang == "en" else cat.zh) if cat else r["category_code"]
        warm_cameras(self.app.camera_url, details.cameras)  # the relay opens them meanwhile
        cams = "".join(camera_tile(c, self.app.camera_url, lang) for c in details.cameras)
        body = (f'<div class="cc-cams">{cams}</div>' if cams
                else f'<p>{t("no_cameras", lang)}</p>')
        self.alert.object = (
            f'<div class="cc-wall cc-side cc-alert" data-focus="{r["id"]}"><h3>'
            f'{t("alert_cameras", lang)} · {html.escape(r["code"])} · {html.escape(name)} · '
            f'{label(EVENT_PRIORITY_LABELS, r["priority"], lang)} · '
            f'{t("light_" + details.light, lang)} · {html.escape(r["address"] or "")}</h3>'
            f"{body}</div>")

    # -- live and tour ---------------------------------------------------------------------

    def on_event(self, payload: dict[str, Any]) -> None:
        """A notification from the database: refresh, and pull cameras for urgent/red ones."""
        event_id = int(payload["id"])
        try:
            self.fresh.add(event_id)
            self.refresh()
            urgent = payload.get("priority") in URGENT_PRIORITIES
            if urgent or event_id == self.focus_id:
                self.show_focus(event_id)
            else:
                with session_scope(self.app.engine) as session:
                    red = needs_cameras(session, event_id)
                if red:
                    self.show_focus(event_id)
            self.refresh_heat()
        except sa.exc.SQLAlchemyError as exc:
            self.app.log.error("wall live update: %s", scrub(exc))

    def next_group(self) -> None:
        """Tour mode: show the next camera group."""
        names = [g[0] for g in self.groups]
        self.group = names[(names.index(self.group) + 1) % len(names)]
        self.render_mosaic()

    def layout(self) -> pn.viewable.Viewable:
        """Top bar · (mosaic over alert strip | KPIs, heatmap, newest events)."""
        heat_switch: list[Any] = []
        if not self.kiosk:
            switch = pn.widgets.RadioButtonGroup(
                options={t("heat_24h", self.language): "24h", t("heat_7d", self.language): "7d"},
                value=self.heat_period, button_type="primary", margin=(2, 4),
                stylesheets=[":host { font-size: clamp(11px,0.7vw,32px); }"])
            switch.param.watch(lambda e: self.set_heat_period(e.new), "value")
            heat_switch = [switch]
        heat = pn.pane.Bokeh(self.heat_fig, sizing_mode="stretch_both", margin=0)
        left = pn.Column(pn.Column(self.mosaic, sizing_mode="stretch_both", margin=0),
                         pn.Column(self.alert, sizing_mode="stretch_width", margin=0,
                                   styles={"height": "21vh", "flex": "none"}),
                         sizing_mode="stretch_both", margin=0)
        right = pn.Column(
            self.kpi_pane,
            pn.pane.HTML(f'<div class="cc-wall cc-h">{t("heatmap", self.language)}</div>',
                         margin=0, stylesheets=[WALL_CSS]),
            *heat_switch,
            pn.Column(heat, sizing_mode="stretch_width", margin=0,
                      styles={"height": "30vh", "flex": "none"}),
            pn.Column(self.feed, sizing_mode="stretch_both", margin=0),
            sizing_mode="stretch_height", margin=(0, 0, 0, 8),
            styles={"width": f"{100 - MOSAIC_VW}vw", "flex": "none", "overflow": "hidden"})
        body = pn.Row(left, right, sizing_mode="stretch_both", margin=0,
                      styles={"overflow": "hidden"})
        return pn.Column(self.top, body, sizing_mode="stretch_both", margin=0,
                         styles={"background": DARK_BG, "overflow": "hidden"})


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number and number >= 5 else None  # faster than 5 s is not a tour


def _width(value: str | None) -> int | None:
    try:
        width = int(value) if value else None
    except ValueError:
        return None
    return width if width and 160 <= width <= 7680 else None


def page(app: AppContext) -> pn.viewable.Viewable:
    """The wall page for the current session."""
    state = start_session(app)
    refusal = guard(state, "wall")
    if refusal is not None:
        return refusal
    kiosk = session_arg("kiosk") in ("1", "true", "yes")
    try:
        view = WallView(app, state, kiosk=kiosk, group=session_arg("group"),
                        tour_s=_float(session_arg("tour")), camera=session_arg("camera"),
                        heat=session_arg("heat") or "24h", width=_width(session_arg("w")))
    except sa.exc.OperationalError as exc:
        app.log.error("wall page: %s", scrub(exc))
        return message_page(state, "wall", "db_error")
    state.extras["wall"] = view
    subscribe_live(app, view.on_event)
    pn.state.add_periodic_callback(view.refresh, period=REFRESH_MS)
    if view.tour_s and not view.camera and len(view.groups) > 1:
        pn.state.add_periodic_callback(view.next_group, period=int(view.tour_s * 1000))
    content = view.layout()
    if kiosk:
        return pn.Column(content, sizing_mode="stretch_both", margin=0,
                         styles={"background": DARK_BG, "height": "100vh", "overflow": "hidden"})
    return chrome(state, "wall", content)
