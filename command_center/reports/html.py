"""The report as one self-contained HTML file: opens from disk with no network.

Three variants share every section: ``interactive`` (the export) draws the maps with
Folium/Leaflet, inlined once in the head; ``page`` (the report page) puts each map in an
``<iframe srcdoc>`` of its own, since a Panel pane runs no script; ``print`` (the PDF's source)
draws them as static SVG and breaks pages between sections. Charts are inline SVG. Nothing is
linked from outside: no script, stylesheet, font or image URL. Every text from the data is
HTML-escaped.

Tables in HTML are trimmed to their first rows (the worst grids first, the newest events …);
the XLSX export holds them whole.
"""

from __future__ import annotations

import html
import numbers
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from command_center.reports import charts
from command_center.reports.labels import (
    BAD_WHEN_UP,
    COLUMNS,
    KIND,
    MAPS,
    OUTSIDE,
    SECTIONS,
    TABLES,
    TEXT,
    UNCOVERED,
    WEDGE_BAD,
    WEDGE_OK,
    category_label,
    fmt_cell,
    fmt_number,
    fmt_time,
    missing,
    tr,
)
from command_center.reports.maps import (
    DENSITY_COLORS,
    HOTSPOT,
    NO_RATE_COLOR,
    RATE_CLASSES,
    RED,
    build_map,
    leaflet_head,
    render_parts,
    standalone_html,
)
from gis.reports.model import Report

Variant = Literal["interactive", "print", "page"]
ROW_LIMIT = 15

CSS = """
:root { --ink:#1f2933; --muted:#5f6b7a; --line:#d9dee5; --accent:#1f6feb; }
/* Folium's map header sets html, body to the window's height with no margin: undo it. */
html, html body.cc-report { height:auto; }
html body.cc-report { font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;
  color:var(--ink); margin:0 auto; max-width:1100px; padding:18px 22px; background:#fff;
  font-size:14px; }
h1 { font-size:24px; margin:0 0 8px; } h2 { font-size:19px; border-bottom:2px solid var(--accent);
  padding-bottom:4px; margin:28px 0 12px; } h3 { font-size:15px; margin:18px 0 6px; }
.meta td { padding:2px 14px 2px 0; } .meta td:first-child { color:var(--muted); }
.no-data { border:2px solid #d97706; background:#fff7ed; color:#9a3412; font-size:20px;
  padding:18px; border-radius:6px; margin:16px 0; }
.no-data small { display:block; font-size:14px; color:#7c2d12; margin-top:4px; }
.kpis { display:grid; grid-template-columns:repeat(4,1fr); gap:10px; }
.kpi { border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
.kpi .label { color:var(--muted); font-size:13px; } .kpi .value { font-size:24px; font-weight:600; }
.kpi .prev { color:var(--muted); font-size:12px; }
.good { color:#15803d; } .bad { color:#b91c1c; }
table.data { border-collapse:collapse; width:100%; font-size:12.5px; margin:4px 0 8px; }
table.data th, table.data td { border-bottom:1px solid var(--line); padding:3px 6px;
  text-align:left; }
table.data th { background:#f3f5f8; } table.data td.num { text-align:right; }
.more, .muted { color:var(--muted); font-size:12px; }
.map { border:1px solid var(--line); margin:6px 0 4px; }
.legend { font-size:12px; color:var(--muted); margin-bottom:12px; }
.legend span.sw { display:inline-block; width:12px; height:12px; margin:0 4px -2px 10px;
  border:1px solid #888; }
svg { max-width:100%; height:auto; }
.leaflet-container { background:#f4f6f8; }
footer { margin-top:30px; color:var(--muted); font-size:12px; }
@page { size:A4; margin:12mm 11mm; }
@media print {
  html body.cc-report { max-width:none; padding:0; font-size:12px; }
  section + section { break-before:page; }
  tr, .kpi, svg, h3 { break-inside:avoid; } h2, h3 { break-after:avoid; }
  .kpis { grid-template-columns:repeat(4,1fr); }
}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def no_data_html(lang: str) -> str:
    """The notice for a period or area without events, in both languages."""
    first, second = tr(TEXT, "no_data", lang), tr(TEXT, "no_data", "en" if lang != "en" else "zh")
    return (f'<div class="no-data" data-no-data="1">{_esc(first)} · {_esc(second)}'
            f"<small>{_esc(tr(TEXT, 'no_data_long', lang))}</small></div>")


def table_html(frame: pd.DataFrame, columns: list[str], lang: str, timezone: str, *,
               limit: int | None = ROW_LIMIT, title: str = "") -> str:
    """``columns`` of ``frame`` as an HTML table (headers translated, cells escaped)."""
    head = f"<h3>{_esc(title)}</h3>" if title else ""
    if frame is None or not len(frame):
        return f'{head}<p class="muted">{_esc(tr(TEXT, "no_rows", lang))}</p>'
    shown = frame if limit is None else frame.head(limit)
    code_col = next((c for c in ("category", "top_category") if c in frame.columns), None)
    if lang == "en" and code_col and "label_zh" in frame.columns:
        shown = shown.assign(label_zh=shown[code_col].map(lambda c: category_label(c, "en")))
    cols = [c for c in columns if c in frame.columns]
    header = "".join(f"<th>{_esc(tr(COLUMNS, c, lang))}</th>" for c in cols)
    rows = []
    for _, row in shown.iterrows():
        cells = []
        for c in cols:
            value = row[c]
            numeric = isinstance(value, numbers.Number) and not isinstance(value, bool)
            cells.append(f'<td{" class=num" if numeric else ""}>'
                         f"{_esc(fmt_cell(c, value, timezone, lang))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if limit is not None and len(frame) > limit:
        more = (f'<p class="more">{_esc(tr(TEXT, "more_rows", lang).format(n=len(frame) - limit))}'
                "</p>")
    return (f'{head}<table class="data"><thead><tr>{header}</tr></thead><tbody>'
            f'{"".join(rows)}</tbody></table>{more}')


def _header(report: Report, lang: str) -> str:
    area, period = report.area, report.period
    name = area.name_en if lang == "en" else area.name_zh
    last_day = (period.end - pd.Timedelta(days=1)).date().isoformat()
    rows = [("area", f"{name}（{tr(KIND, area.kind, lang)} {area.code}）" if lang != "en"
             else f"{name} ({tr(KIND, area.kind, lang)} {area.code})"),
            ("period", f"{period.label}  [{period.start.date().isoformat()} – {last_day}]"),
            ("generated", fmt_time(report.generated_at, report.timezone)),
            ("timezone", report.timezone)]
    cells = "".join(f"<tr><td>{_esc(tr(TEXT, k, lang))}</td><td>{_esc(v)}</td></tr>"
                    for k, v in rows)
    return (f'<header><h1>{_esc(tr(TEXT, "title", lang))}</h1>'
            f'<table class="meta">{cells}</table></header>')


def _kpi_cards(report: Report, lang: str) -> str:
    cards = []
    for _, row in report.kpis.iterrows():
        measure = row["measure"]
        rate = measure == "on_time_rate"
        change = row["change"]
        css = ""
        if not missing(change) and float(change) != 0:
            # A rise in open, overdue or red events is bad news, in closed ones good news;
            # more reports are neither.
            css = "good" if (float(change) > 0) != (measure in BAD_WHEN_UP) else "bad"
            css = "" if measure == "reported" else css
        label = row["label_en"] if lang == "en" else row["label_zh"]
        cards.append(
            f'<div class="kpi" data-kpi="{_esc(measure)}"><div class="label">{_esc(label)}</div>'
            f'<div class="value">{_esc(fmt_number(row["value"], rate=rate))}</div>'
            f'<div class="prev">{_esc(tr(TEXT, "previous", lang))} '
            f'{_esc(fmt_number(row["previous"], rate=rate))} · '
            f'<span class="{css}">{_esc(tr(TEXT, "change", lang))} '
            f'{_esc(fmt_number(change, rate=rate, signed=True, lang=lang))}</span></div></div>')
    return f'<div class="kpis">{"".join(cards)}</div>'


def _swatch(color: str, text: str, outline: bool = False) -> str:
    style = f"border-color:{color};background:none" if outline else f"background:{color}"
    return f'<span class="sw" style="{style}"></span>{_esc(text)}'


def legend_html(which: str, report: Report, lang: str) -> str:
    """The legend under a map (Folium's own legends need d3 from a CDN)."""
    if which == "ontime":
        items = [_swatch(c, f"≥ {b * 100:.0f}%") for b, c in RATE_CLASSES]
        items.append(_swatch(NO_RATE_COLOR, tr(TEXT, "legend_none", lang)))
        title = tr(TEXT, "legend_rate", lang)
    elif which == "density":
        top = int(report.density["events"].max()) if len(report.density) else 0
        items = [_swatch(DENSITY_COLORS[0], "1"), _swatch(DENSITY_COLORS[-1], f"{top}"),
                 _swatch(HOTSPOT, tr(TEXT, "legend_hotspot", lang), outline=True)]
        title = tr(TEXT, "legend_events", lang) + " · " + tr(TEXT, "cell", lang).format(
            m=f"{report.density_cell_m:g}")
    elif which == "red":
        items, title = [_swatch(RED, tr(TEXT, "legend_red", lang))], ""
    else:
        items = [_swatch(WEDGE_OK, tr(TEXT, "legend_wedge_ok", lang)),
                 _swatch(WEDGE_BAD, tr(TEXT, "legend_wedge_bad", lang)),
                 _swatch(UNCOVERED, tr(TEXT, "legend_uncovered", lang)),
                 _swatch(OUTSIDE, tr(TEXT, "legend_outside", lang))]
        title = ""
    return f'<div class="legend">{_esc(title)} {"".join(items)}</div>'


def _map_block(report: Report, which: str, lang: str, variant: Variant,
               tiles: str | None) -> str:
    if variant == "print":  # the static map carries its own legend
        return (f'<div class="static-map" data-map="{which}">'
                f"{charts.static_map(report, which, lang)}</div>")
    if variant == "page":  # inside a Panel pane scripts do not run: a document of its own
        doc = standalone_html(build_map(report, which, lang, tiles=tiles, height=440),
                              tr(MAPS, which, lang))
        return (f'<h3>{_esc(tr(MAPS, which, lang))}</h3><iframe class="map" data-map="{which}" '
                f'srcdoc="{_esc(doc)}" style="width:100%;height:446px;border:0"></iframe>'
                f"{legend_html(which, report, lang)}")
    parts = render_parts(build_map(report, which, lang, tiles=tiles, height=440))
    return (f'<h3>{_esc(tr(MAPS, which, lang))}</h3><div class="map" data-map="{which}">'
            f"{parts.head}{parts.div}</div>{parts.script}{legend_html(which, report, lang)}")


def _section(key: str, lang: str, body: str) -> str:
    return (f'<section id="sec-{key}" data-section="{key}"><h2>{_esc(tr(SECTIONS, key, lang))}'
            f"</h2>{body}</section>")


BREAKDOWN_COLS = ["label_zh", "reported", "closed", "closed_on_time", "on_time_rate",
                  "reported_previous", "change"]


def _breakdown(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    if not len(frame):
        return frame
    if lang == "en" and "label_en" in frame:
        frame = frame.assign(label_zh=frame["label_en"].where(frame["label_en"].notna(),
                                                              frame["label_zh"]))
    # Events with no department (or source) yet: say so rather than print a dash.
    frame = frame.assign(label_zh=frame["label_zh"].where(frame["label_zh"].notna(),
                                                          tr(TEXT, "unassigned", lang)))
    return frame.sort_values("reported", ascending=False)


def sections(report: Report, lang: str, variant: Variant, tiles: str | None) -> list[str]:
    """Every section of the report, as HTML, in order."""
    tz = report.timezone
    empty = report.empty
    notice = no_data_html(lang)
    out = [_section("kpis", lang, notice if empty else _kpi_cards(report, lang))]
    if empty:
        out.append(_section("maps", lang, notice))
        out.append(_section("trends", lang, notice))
    else:
        worst = report.grids.sort_values(["on_time_rate", "closed"], ascending=[True, False],
                                         na_position="last")
        red = report.red_events.sort_values("deadline_at") if len(report.red_events) else \
            report.red_events
        out.append(_section("maps", lang, "".join([
            _map_block(report, "ontime", lang, variant, tiles),
            table_html(worst, ["code", "name_zh", "community_zh", "reported", "closed",
                               "closed_on_time", "on_time_rate"], lang, tz,
                       limit=10, title=tr(TEXT, "lowest_first", lang)),
            _map_block(report, "density", lang, variant, tiles),
            table_html(report.hotspots, ["cluster", "events", "label_zh"], lang, tz,
                       title=tr(TABLES, "hotspots", lang)),
            _map_block(report, "red", lang, variant, tiles),
            table_html(red, ["id", "label_zh", "status", "deadline_at", "supervised"], lang,
                       tz, title=tr(TABLES, "red_events", lang))])))
        out.append(_section("trends", lang, "".join([
            charts.weekly_chart(report, lang),
            table_html(report.weekly, ["week_start", "reported", "closed", "closed_on_time",
                                       "on_time_rate"], lang, tz, limit=None),
            charts.category_chart(report, lang) if len(report.by_category) else "",
            table_html(_breakdown(report.by_category, lang), BREAKDOWN_COLS, lang, tz,
                       title=tr(TABLES, "by_category", lang)),
            table_html(_breakdown(report.by_source, lang), BREAKDOWN_COLS, lang, tz,
                       title=tr(TABLES, "by_source", lang)),
            table_html(_breakdown(report.by_department, lang), BREAKDOWN_COLS, lang, tz,
                       title=tr(TABLES, "by_department", lang))])))
    out.append(_section("renovation", lang, _renovation(report, lang)))
    out.append(_section("coverage", lang, _coverage(report, lang, variant, tiles)))
    return out


def _renovation(report: Report, lang: str) -> str:
    tz = report.timezone
    ren = report.renovation
    if lang == "en" and len(ren):
        from command_center.reports.labels import status_label

        ren = ren.assign(label_zh=ren["status"].map(lambda s: status_label(s, "en")))
    return "".join([
        charts.renovation_chart(report, lang) if len(ren) else "",
        table_html(ren, ["batch", "label_zh", "courtyards", "households", "surveyed",
                         "willing_share"], lang, tz, limit=None,
                   title=tr(TABLES, "renovation", lang)),
        table_html(report.before_after_by_batch, ["batch", "courtyards", "households",
                                                  "per100_before", "per100_after", "change"],
                   lang, tz, limit=None, title=tr(TABLES, "before_after_by_batch", lang)),
        table_html(report.before_after.sort_values("change") if len(report.before_after)
                   else report.before_after,
                   ["courtyard_code", "name_zh", "batch", "completed_on", "households",
                    "per100_before", "per100_after", "change", "satisfaction"], lang, tz,
                   title=tr(TABLES, "before_after", lang))])


def _coverage(report: Report, lang: str, variant: Variant, tiles: str | None) -> str:
    cov, tz = report.coverage, report.timezone
    working = int(cov.wedges["working"].sum()) if len(cov.wedges) else 0
    facts = [("share_of_area", fmt_number(cov.share_of_area, rate=True)),
             ("working_cameras", f"{working:,d}"),
             ("broken_cameras", f"{len(cov.wedges) - working:,d}"),
             ("uncovered_n", f"{len(cov.uncovered_courtyards):,d}"),
             ("outside_n", f"{len(cov.events_outside):,d}")]
    cards = "".join(f'<div class="kpi" data-fact="{k}"><div class="label">'
                    f'{_esc(tr(TEXT, k, lang))}</div><div class="value">{_esc(v)}</div></div>'
                    for k, v in facts)
    least = cov.grids.sort_values("share") if len(cov.grids) else cov.grids
    uncovered = cov.uncovered_courtyards.sort_values("households", ascending=False) \
        if len(cov.uncovered_courtyards) else cov.uncovered_courtyards
    return "".join([
        f'<div class="kpis">{cards}</div>',
        _map_block(report, "coverage", lang, variant, tiles),
        table_html(uncovered, ["code", "name_zh", "households", "area_m2"], lang, tz,
                   limit=30, title=tr(TABLES, "uncovered_courtyards", lang)),
        table_html(least, ["code", "name_zh", "area_m2", "covered_m2", "share"], lang, tz,
                   title=tr(TEXT, "least_covered", lang))])


def render_html(report: Report, lang: str = "zh", *, variant: Variant = "interactive",
                tiles: str | None = None) -> str:
    """The whole report as one HTML document.

    Parameters
    ----------
    report
        What :func:`gis.reports.build.build_report` returned.
    lang
        ``zh`` (default) or ``en``.
    variant
        ``interactive`` draws Folium maps (Leaflet inlined); ``print`` draws static SVG maps
        and breaks pages between sections (the PDF's source).
    tiles
        ``osm`` adds an OpenStreetMap basemap to the interactive maps (needs the internet);
        ``None`` (default) draws no basemap, so the file works offline.
    """
    body = "".join(sections(report, lang, variant, tiles))
    notes = ""
    if report.notes:
        notes = (f'<h3>{_esc(tr(TEXT, "notes", lang))}</h3><ul>'
                 + "".join(f"<li>{_esc(n)}</li>" for n in report.notes) + "</ul>")
    head = leaflet_head() if variant == "interactive" else ""
    title = f"{tr(TEXT, 'title', lang)} · {report.area.name_zh} · {report.period.label}"
    top = no_data_html(lang) if report.empty else ""
    return (f'<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head>'
            f'<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            f"<title>{_esc(title)}</title>{head}<style>{CSS}</style></head>"
            '<body class="cc-report">'
            f"{_header(report, lang)}{top}{body}{notes}"
            f'<footer>{_esc(tr(TEXT, "footer", lang))}</footer></body></html>')


def write_html(report: Report, path: Path, lang: str = "zh", *,
               tiles: str | None = None) -> Path:
    """Write the interactive HTML export to ``path``."""
    path.write_text(render_html(report, lang, tiles=tiles), encoding="utf-8")
    return path
