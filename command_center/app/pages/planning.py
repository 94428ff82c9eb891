"""规划 The planning page: courtyard renovation overlays and survey results by batch.

The map draws the courtyards of ``layers/courtyards.yaml`` (coloured by renovation status)
over the street outlines; the batch filter swaps the courtyards' data source to the chosen
batch. Beside it, bar charts of the questionnaire answers (``survey_response.answers``):
willingness and satisfaction per batch, and what residents want first for the chosen batch.
All aggregation happens in the database; the browser gets a few dozen numbers.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import sqlalchemy as sa
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure
from sqlalchemy.orm import Session

from command_center.app.context import AppContext, start_session
from command_center.app.figures import TEXT_COLOR, add_glyph, find_layer, map_figure, urban_bbox
from command_center.app.i18n import t
from command_center.app.layout import DARK_BG, PANEL_BG, chrome, guard, message_page
from command_center.app.state import SessionState
from gis.catalog import RENOVATION_LABELS, label
from gis.db import session_scope
from gis.scrub import scrub
from layers.build import build_layer

NO_BATCH = "none"

_BY_BATCH_SQL = sa.text("""
SELECT coalesce(c.renovation_batch::text, 'none') AS batch,
       count(DISTINCT c.id) AS courtyards, count(r.id) AS responses,
       avg(CASE WHEN (r.answers->>'willing')::boolean THEN 1.0 ELSE 0.0 END) AS willing,
       avg((r.answers->>'satisfaction')::numeric) AS satisfaction
FROM courtyard c LEFT JOIN survey_response r ON r.courtyard_id = c.id
GROUP BY 1 ORDER BY 1
""")

_PRIORITIES_SQL = """
SELECT p AS priority, count(*) AS n
FROM survey_response r JOIN courtyard c ON c.id = r.courtyard_id,
     jsonb_array_elements_text(r.answers->'priorities') AS p
WHERE {where} GROUP BY p ORDER BY n DESC, p LIMIT 10
"""

_STATUS_SQL = """
SELECT renovation_status, count(*), coalesce(sum(households), 0) FROM courtyard c
WHERE {where} GROUP BY 1
"""


def _batch_key(value: Any) -> str:
    # Popup columns are strings; a nullable integer column may arrive as "2021.0".
    text = "" if value is None else str(value)
    return text[:-2] if text.endswith(".0") else ("" if text == "nan" else text)


def _batch_where(batch: str) -> tuple[str, dict[str, Any]]:
    if not batch:
        return "true", {}
    if batch == NO_BATCH:
        return "c.renovation_batch IS NULL", {}
    return "c.renovation_batch = :batch", {"batch": int(batch)}


def survey_by_batch(session: Session) -> list[dict[str, Any]]:
    """Per batch (``none`` for courtyards in no batch): courtyards, responses, willingness
    rate (0–1) and mean satisfaction (1–5)."""
    return [dict(r) for r in session.execute(_BY_BATCH_SQL).mappings()]


def top_priorities(session: Session, batch: str = "") -> list[tuple[str, int]]:
    """The ten most named renovation wishes, in the chosen batch (all when empty)."""
    where, params = _batch_where(batch)
    return [(r[0], int(r[1])) for r in session.execute(
        sa.text(_PRIORITIES_SQL.format(where=where)), params)]


def status_counts(session: Session, batch: str = "") -> dict[str, tuple[int, int]]:
    """Renovation status → (courtyards, households) in the chosen batch."""
    where, params = _batch_where(batch)
    return {r[0]: (int(r[1]), int(r[2])) for r in session.execute(
        sa.text(_STATUS_SQL.format(where=where)), params)}


def _bar_figure(title: str, categories: list[str], *, horizontal: bool = False,
                name: str) -> Any:
    common = {"title": title, "toolbar_location": None, "sizing_mode": "stretch_width",
              "height": 230, "background_fill_color": DARK_BG, "border_fill_color": PANEL_BG,
              "outline_line_color": None, "name": name}
    fig = (figure(y_range=list(reversed(categories)), **common) if horizontal
           else figure(x_range=categories, **common))
    fig.title.text_color = TEXT_COLOR
    for axis in (fig.xaxis, fig.yaxis):
        axis.major_label_text_color = TEXT_COLOR
        axis.axis_line_color = "#22385a"
    fig.grid.grid_line_color = "#22385a"
    return fig


class PlanningView:
    """The planning page of one session (built without a browser for tests)."""

    def __init__(self, app: AppContext, state: SessionState) -> None:
        self.app, self.state, self.language = app, state, state.language
        self.batch = ""
        lang = self.language
        spec = find_layer(app.layers, "courtyards")
        with session_scope(app.engine) as session:
            self.bbox = urban_bbox(session)
            self.map = map_figure(self.bbox, name="cc-planning-map",
                                  sizing_mode="stretch_both")
            streets = find_layer(app.layers, "streets")
            if streets is not None:
                for glyph in build_layer(session, streets, language=lang).glyphs:
                    add_glyph(self.map, glyph, hover=False)
            self.courtyards = build_layer(session, spec, language=lang).glyphs[0] \
                if spec is not None else None
            self.by_batch = survey_by_batch(session)
            priorities = top_priorities(session)
            statuses = status_counts(session)
        self.court_source = (add_glyph(self.map, self.courtyards)
                             if self.courtyards is not None else ColumnDataSource({}))
        batches = [b["batch"] for b in self.by_batch]
        names = [self._batch_label(b) for b in batches]
        self.willing_fig = _bar_figure(t("willing_rate", lang), names, name="cc-willing")
        self.willing_fig.vbar(x=names, top=[float(b["willing"] or 0) for b in self.by_batch],
                              width=0.7, color="#57ab5a")
        self.satisfaction_fig = _bar_figure(t("satisfaction", lang), names,
                                            name="cc-satisfaction")
        self.satisfaction_fig.vbar(
            x=names, top=[float(b["satisfaction"] or 0) for b in self.by_batch], width=0.7,
            color="#539bf5")
        for fig, field in ((self.willing_fig, "top"), (self.satisfaction_fig, "top")):
            fig.add_tools(HoverTool(tooltips=[("", f"@x: @{field}{{0.00}}")]))
        self.priority_source = ColumnDataSource(self._priority_data(priorities))
        self.priority_fig = _bar_figure(t("priorities", lang),
                                        self.priority_source.data["priority"],
                                        horizontal=True, name="cc-priorities")
        self.priority_fig.hbar(y="priority", right="n", height=0.7, color="#d4a72c",
                               source=self.priority_source)
        self.summary = pn.pane.HTML(self._summary_html(statuses), sizing_mode="stretch_width")
        self.select = pn.widgets.Select(label=t("batch", lang), options={
            t("all", lang): "", **{self._batch_label(b): b for b in batches}})
        self.select.param.watch(lambda e: self.set_batch(e.new), "value")

    def _batch_label(self, batch: str) -> str:
        if batch == NO_BATCH:
            return t("no_batch", self.language)
        return f"{batch}年" if self.language != "en" else batch

    @staticmethod
    def _priority_data(priorities: list[tuple[str, int]]) -> dict[str, list[Any]]:
        return {"priority": [p for p, _ in priorities], "n": [n for _, n in priorities]}

    def _summary_html(self, statuses: dict[str, tuple[int, int]]) -> str:
        lang = self.language
        rows = "".join(
            f"<tr><td>{label(RENOVATION_LABELS, code, lang)}</td>"
            f"<td>{statuses.get(code, (0, 0))[0]}</td><td>{statuses.get(code, (0, 0))[1]}</td>"
            "</tr>" for code in RENOVATION_LABELS)
        return (f'<table class="cc-sum" style="color:{TEXT_COLOR};width:100%;font-size:13px">'
                f'<tr style="color:#9fb3cf"><td>{t("renovation", lang)}</td>'
                f'<td>{t("courtyards_n", lang)}</td><td>{t("households", lang)}</td></tr>'
                f"{rows}</table>")

    def set_batch(self, batch: str) -> None:
        """Show only the courtyards (and the wishes) of ``batch`` (all when empty)."""
        self.batch = batch or ""
        if self.courtyards is not None:
            data = self.courtyards.data
            wanted = ("" if self.batch == NO_BATCH else self.batch)
            keep = [i for i, b in enumerate(data.get("renovation_batch", []))
                    if not self.batch or _batch_key(b) == wanted]
            self.court_source.data = {k: [v[i] for i in keep] for k, v in data.items()}
        with session_scope(self.app.engine) as session:
            self.priority_source.data = self._priority_data(top_priorities(session, self.batch))
            statuses = status_counts(session, self.batch)
        self.priority_fig.y_range.factors = list(reversed(self.priority_source.data["priority"]))
        self.summary.object = self._summary_html(statuses)

    def shown_courtyards(self) -> int:
        """How many courtyards the map currently draws."""
        return len(self.court_source.data.get("id", []))

    def legend_html(self) -> str:
        """Renovation status colours."""
        spec = find_layer(self.app.layers, "courtyards")
        if spec is None:
            return ""
        items = "".join(
            f'<span style="margin-right:12px"><span style="display:inline-block;width:12px;'
            f'height:12px;background:{c.color};margin-right:4px"></span>'
            f"{html.escape(c.en if self.language == 'en' else c.zh)}</span>"
            for c in spec.style.classes.values())
        return f'<div style="color:{TEXT_COLOR};font-size:13px">{items}</div>'

    def layout(self) -> pn.viewable.Viewable:
        """Map with batch filter and legend · charts."""
        left = pn.Column(pn.Row(self.select, pn.pane.HTML(self.legend_html()),
                                sizing_mode="stretch_width"),
                         pn.pane.Bokeh(self.map, sizing_mode="stretch_both", min_height=400),
                         sizing_mode="stretch_both")
        right = pn.Column(
            pn.pane.HTML(f'<b style="color:{TEXT_COLOR}">{t("survey", self.language)}</b>'),
            self.summary, pn.pane.Bokeh(self.willing_fig, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.satisfaction_fig, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.priority_fig, sizing_mode="stretch_width"),
            width=460, sizing_mode="stretch_height",
            styles={"background": PANEL_BG, "padding": "6px", "overflow-y": "auto"})
        return pn.Row(left, right, sizing_mode="stretch_both")


def page(app: AppContext) -> pn.viewable.Viewable:
    """The planning page for the current session."""
    state = start_session(app)
    refusal = guard(state, "planning")
    if refusal is not None:
        return refusal
    try:
        view = PlanningView(app, state)
    except sa.exc.OperationalError as exc:
        app.log.error("planning page: %s", scrub(exc))
        return message_page(state, "planning", "db_error")
    state.extras["planning"] = view
    return chrome(state, "planning", view.layout())
