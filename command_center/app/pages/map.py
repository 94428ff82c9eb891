"""地图 The map page: layers from ``layers/*.yaml`` on a basemap, event details on click.

The canvas is a Bokeh figure on Web Mercator (one ColumnDataSource per glyph of each layer,
see :mod:`layers.build`), so toggling a layer flips ``renderer.visible`` and a new view of
the events replaces one source's data: nothing is re-sent that did not change. When a layer
with ``aggregate`` holds more features than ``max_points``, only database bins for the visible
area travel to the browser and they are recomputed when the view changes.
"""

from __future__ import annotations

import html
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import panel as pn
import sqlalchemy as sa
from bokeh.events import RangesUpdate
from bokeh.models import ColumnDataSource, HoverTool, Range1d, WMTSTileSource
from bokeh.plotting import figure

from command_center.app.basemaps import available_basemaps
from command_center.app.context import AppContext, start_session
from command_center.app.event_panel import (
    PANEL_CSS,
    camera_html,
    event_html,
    hint_html,
    load_camera,
    load_event,
)
from command_center.app.i18n import t
from command_center.app.layout import DARK_BG, PANEL_BG, chrome, guard, message_page
from command_center.app.loop_ui import panel_for
from command_center.app.state import SessionState
from gis.coords import gcj02_to_wgs84
from gis.db import session_scope
from gis.scrub import scrub
from layers.build import BBox, BuiltLayer, Glyph, build_layer, from_mercator, project
from layers.spec import LayerSpec

SIDEBAR_CSS = """
.cc-legend { color:#e6edf7; font-size:13px; font-family:"Noto Sans CJK SC",sans-serif; }
.cc-legend .sw { display:inline-block; width:12px; height:12px; border-radius:2px;
  margin-right:6px; vertical-align:middle; }
.cc-legend b { display:block; margin:8px 0 3px; } .cc-legend a { color:#7fb0ff; }
.cc-legend a.on { color:#ffffff; font-weight:600; }
"""


def _empty_like(glyph: Glyph) -> dict[str, list[Any]]:
    return {k: [] for k in glyph.data}


class MapView:
    """The map of one session: figure, layer renderers, toggles, legend and side panel.

    Built without a browser, so tests can inspect what a session would be sent.
    """

    def __init__(self, app: AppContext, state: SessionState) -> None:
        self.app, self.state = app, state
        self.language = state.language
        self.basemap = available_basemaps(app.settings)[state.basemap]
        self.role = state.user.role if state.user else ""
        self.specs = [s for s in app.layers if self.role in s.roles]
        self.sources: dict[str, ColumnDataSource] = {}
        self.renderers: dict[str, list[Any]] = {}
        self.built: dict[str, BuiltLayer] = {}
        self.figure = self._figure()
        with session_scope(app.engine) as session:
            self._set_view(session)
            for spec in self.specs:
                self._add_layer(session, spec)
        self.side = pn.pane.HTML(hint_html(self.language), stylesheets=[PANEL_CSS],
                                 sizing_mode="stretch_width")
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        # The loop's actions for the clicked event (the same panel as on the events page).
        self.actions = panel_for(app, state, on_change=self._after_action)
        self._update_status()
        self._wire_clicks()
        self.figure.on_event(RangesUpdate, self._on_ranges)

    # -- building ------------------------------------------------------------------------

    def _figure(self) -> Any:
        fig = figure(x_axis_type="mercator", y_axis_type="mercator", sizing_mode="stretch_both",
                     tools="pan,wheel_zoom,box_zoom,reset,tap", active_scroll="wheel_zoom",
                     background_fill_color=DARK_BG, border_fill_color=DARK_BG,
                     outline_line_color=None, min_border=0, name="cc-map")
        fig.axis.visible = False
        fig.grid.visible = False
        fig.toolbar.logo = None
        for url in self.basemap.urls:
            fig.add_tile(WMTSTileSource(url=url, attribution=self.basemap.attribution))
        return fig

    def _set_view(self, session: Any) -> None:
        # Open on the urban core (the grids), not the whole rural district.
        row = session.execute(sa.text(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
            "(SELECT coalesce((SELECT ST_Extent(geom) FROM grid), "
            "(SELECT ST_Extent(geom) FROM district)) AS b) q")).one()
        if row[0] is None:
            lon, lat = np.array([104.9, 105.2]), np.array([29.45, 29.7])
        else:
            lon, lat = np.array([row[0], row[2]]), np.array([row[1], row[3]])
        x, y = project(lon, lat, self.basemap.shift)
        pad_x, pad_y = (x[1] - x[0]) * 0.05, (y[1] - y[0]) * 0.05
        self.figure.x_range = Range1d(float(x[0] - pad_x), float(x[1] + pad_x))
        self.figure.y_range = Range1d(float(y[0] - pad_y), float(y[1] + pad_y))

    def view_bbox(self, x0: float | None = None, x1: float | None = None,
                  y0: float | None = None, y1: float | None = None) -> BBox:
        """The visible area in WGS84 (undoing the basemap's shift)."""
        xr, yr = self.figure.x_range, self.figure.y_range
        xs = np.array([xr.start if x0 is None else x0, xr.end if x1 is None else x1])
        ys = np.array([yr.start if y0 is None else y0, yr.end if y1 is None else y1])
        lon, lat = from_mercator(xs, ys)
        if self.basemap.shift is not None:
            lon, lat = gcj02_to_wgs84(lon, lat)
        return (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))

    def _build(self, session: Any, spec: LayerSpec, bbox: BBox | None) -> BuiltLayer:
        return build_layer(session, spec, language=self.language, shift=self.basemap.shift,
                           bbox=bbox)

    def _add_layer(self, session: Any, spec: LayerSpec) -> None:
        built = self._build(session, spec, self.view_bbox() if spec.aggregate else None)
        self.built[spec.id] = built
        glyphs = list(built.glyphs)
        if spec.aggregate is not None:
            # Both a points and a bins renderer exist from the start (one empty), so a view
            # change only swaps data.
            names = {g.name for g in glyphs}
            if f"{spec.id}_bins" not in names:
                glyphs.insert(0, Glyph(f"{spec.id}_bins", "polygons",
                                       {"xs": [], "ys": [], "count": [], "color": []},
                                       {"fill_color": "color", "line_alpha": 0.0,
                                        "fill_alpha": 0.65},
                                       [("事件数" if self.language != "en" else "events",
                                         "@count")]))
            if spec.id not in names:
                template = self._points_template(spec)
                glyphs.append(template)
        self.renderers[spec.id] = []
        for glyph in glyphs:
            source = ColumnDataSource(glyph.data, name=glyph.name)
            if glyph.kind == "polygons":
                renderer = self.figure.multi_polygons("xs", "ys", source=source, name=glyph.name,
                                                      **glyph.style)
            else:
                renderer = self.figure.scatter("x", "y", source=source, name=glyph.name,
                                               nonselection_fill_alpha=glyph.style.get(
                                                   "fill_alpha", 1.0), **glyph.style)
            renderer.visible = spec.visible
            if glyph.tooltips:
                self.figure.add_tools(HoverTool(renderers=[renderer], tooltips=glyph.tooltips))
            self.sources[glyph.name] = source
            self.renderers[spec.id].append(renderer)

    def _points_template(self, spec: LayerSpec) -> Glyph:
        cols = {"x": [], "y": [], "id": [], "color": [], **{p.field: [] for p in spec.popup}}
        style = spec.style
        return Glyph(spec.id, "points", cols, {
            "fill_color": "color", "size": style.size, "line_color": style.line_color,
            "fill_alpha": style.fill_alpha},
            [(p.en if self.language == "en" else p.zh, f"@{{{p.field}}}") for p in spec.popup])

    # -- interaction ---------------------------------------------------------------------

    def refresh_aggregates(self, bbox: BBox) -> None:
        """Recompute every aggregate layer for ``bbox``: points when few, bins when many."""
        with session_scope(self.app.engine) as session:
            for spec in self.specs:
                if spec.aggregate is None:
                    continue
                built = self._build(session, spec, bbox)
                self.built[spec.id] = built
                fresh = {g.name: g for g in built.glyphs}
                for name in (spec.id, f"{spec.id}_bins"):
                    source = self.sources[name]
                    glyph = fresh.get(name)
                    source.data = glyph.data if glyph else {k: [] for k in source.data}
        self._update_status()

    def _on_ranges(self, event: RangesUpdate) -> None:
        try:
            self.refresh_aggregates(self.view_bbox(event.x0, event.x1, event.y0, event.y1))
        except Exception as exc:  # keep the page alive; say what happened
            self.app.log.error("map refresh: %s", scrub(exc))
            self.status.object = f'<span style="color:#f85149">{t("db_error", self.language)}'

    def _update_status(self) -> None:
        binned = [b for b in self.built.values() if b.binned]
        text = t("events_binned", self.language) if binned else ""
        self.status.object = f'<div style="color:#d29922;font-size:13px">{text}</div>'

    def _wire_clicks(self) -> None:
        for spec in self.specs:
            if spec.source.query == "open_events" and spec.id in self.sources:
                src = self.sources[spec.id]
                src.selected.on_change("indices", self._make_pick(src, self.show_event))
            if spec.source.query == "cameras" and spec.id in self.sources:
                src = self.sources[spec.id]
                src.selected.on_change("indices", self._make_pick(src, self.show_camera_by_id))

    def _make_pick(self, source: ColumnDataSource, show: Any) -> Any:
        def pick(_attr: str, _old: list[int], new: list[int]) -> None:
            if new:
                show(int(source.data["id"][new[0]]))
        return pick

    def _after_action(self, event_id: int) -> None:
        if self.state.selected_event == event_id:
            self.show_event(event_id, actions=False)

    def show_event(self, event_id: int, *, actions: bool = True) -> None:
        """Fill the side panel with ``event_id``'s actions, details and nearest cameras."""
        self.state.selected_event = event_id
        if actions:
            self.actions.show(event_id)
        tz = ZoneInfo(self.app.settings.ui.timezone)
        try:
            with session_scope(self.app.engine) as session:
                details = load_event(session, event_id)
        except Exception as exc:
            self.app.log.error("event panel: %s", scrub(exc))
            self.side.object = f'<div class="cc-side">{t("db_error", self.language)}</div>'
            return
        if details is None:
            self.side.object = f'<div class="cc-side">{t("not_found", self.language)}</div>'
            return
        self.side.object = event_html(details, self.app.camera_url, self.language, tz)

    def show_camera_by_id(self, camera_id: int) -> None:
        """Show one camera's live view (by database id)."""
        with session_scope(self.app.engine) as session:
            code = session.execute(sa.text("SELECT code FROM camera WHERE id = :i"),
                                   {"i": camera_id}).scalar()
            camera = load_camera(session, code) if code else None
        if camera is not None:
            self.state.selected_camera = camera.code
            self.actions.clear()
            self.side.object = camera_html(camera, self.app.camera_url, self.language)

    def set_visible(self, layer_ids: list[str]) -> None:
        """Show exactly the layers in ``layer_ids``."""
        for spec_id, renderers in self.renderers.items():
            for renderer in renderers:
                renderer.visible = spec_id in layer_ids

    # -- widgets -------------------------------------------------------------------------

    def legend_html(self) -> str:
        """Layer legend with class colours, in the session's language."""
        lang, parts = self.language, []
        for spec in self.specs:
            parts.append(f"<b>{html.escape(spec.label(lang))}</b>")
            if spec.style.classes:
                for cls in spec.style.classes.values():
                    parts.append(f'<div><span class="sw" style="background:{cls.color}"></span>'
                                 f"{html.escape(cls.en if lang == 'en' else cls.zh)}</div>")
            else:
                color = spec.style.line_color if spec.style.fill_alpha == 0 else spec.style.color
                parts.append(f'<div><span class="sw" style="background:{color}"></span>'
                             f"{html.escape(spec.label(lang))}</div>")
        return f'<div class="cc-legend">{"".join(parts)}</div>'

    def basemap_html(self) -> str:
        """Links switching the basemap (a new view of the page, same language)."""
        links = []
        for code, bm in available_basemaps(self.app.settings).items():
            cls = ' class="on"' if code == self.basemap.code else ""
            links.append(f'<a{cls} href="/map?basemap={code}&amp;lang={self.language}">'
                         f"{html.escape(bm.label(self.language))}</a>")
        return (f'<div class="cc-legend"><b>{t("basemap", self.language)}</b>'
                f'{" · ".join(links)}</div>')

    def layout(self) -> pn.viewable.Viewable:
        """Sidebar (layers, basemap, legend) · map · side panel."""
        toggles = pn.widgets.CheckBoxGroup(
            options={s.label(self.language): s.id for s in self.specs},
            value=[s.id for s in self.specs if s.visible], inline=False)
        toggles.param.watch(lambda e: self.set_visible(list(e.new)), "value")
        sidebar = pn.Column(
            pn.pane.HTML(f'<div class="cc-legend"><b>{t("layers", self.language)}</b></div>',
                         stylesheets=[SIDEBAR_CSS]),
            toggles, pn.pane.HTML(self.basemap_html(), stylesheets=[SIDEBAR_CSS]),
            pn.pane.HTML(self.legend_html(), stylesheets=[SIDEBAR_CSS]),
            width=210, styles={"background": PANEL_BG, "padding": "6px"},
            sizing_mode="stretch_height")
        side = pn.Column(self.status, self.actions.view, self.side, width=380,
                         sizing_mode="stretch_height",
                         styles={"background": PANEL_BG, "padding": "6px",
                                 "overflow-y": "auto"})
        canvas = pn.pane.Bokeh(self.figure, sizing_mode="stretch_both", min_height=400)
        return pn.Row(sidebar, canvas, side, sizing_mode="stretch_both")


def page(app: AppContext) -> pn.viewable.Viewable:
    """The map page for the current session."""
    state = start_session(app)
    refusal = guard(state, "map")
    if refusal is not None:
        return refusal
    try:
        view = MapView(app, state)
    except sa.exc.OperationalError as exc:
        app.log.error("map page: %s", scrub(exc))
        return message_page(state, "map", "db_error")
    state.extras["map"] = view
    return chrome(state, "map", view.layout())
