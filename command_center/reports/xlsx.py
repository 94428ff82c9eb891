"""The report as an Excel workbook: a cover sheet, then one sheet per table.

Sheet names are the table names of :meth:`Report.tables` (``kpis``, ``by_category`` …); the
cover lists each with its Chinese and English title. On every table sheet row 1 holds the
Chinese column headers (for people), row 2 the column names (for programs), data starts on
row 3 and the two header rows stay frozen: ``pandas.read_excel(path, sheet_name=name,
header=1)`` reads a sheet back as it was written (see :func:`read_xlsx`).

Times are written in the report's time zone without an offset (Excel has none; the cover says
which zone), dates as dates, rates as fractions shown as percentages, geometries as WKT.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from command_center.reports.labels import COLUMNS, KIND, RATES, TABLES, TEXT, missing, tr
from gis.reports.model import Report

COVER = "cover"
#: Excel refuses longer cells; a WKT this long is simplified until it fits.
MAX_CELL = 32_767
#: Excel's last row, less the two header rows: a longer table is cut there (the cover says so).
MAX_ROWS = 1_048_576 - 2
_HEAD_FILL = PatternFill("solid", fgColor="DCE6F2")


def _geometry_text(wkt: str) -> str:
    if len(wkt) <= MAX_CELL:
        return wkt
    geom = shapely.from_wkt(wkt)
    tolerance = 1e-6
    text = shapely.to_wkt(geom, rounding_precision=6)
    while len(text) > MAX_CELL:
        tolerance *= 2
        text = shapely.to_wkt(shapely.simplify(geom, tolerance), rounding_precision=6)
    return text


def cell_value(value: Any, timezone: ZoneInfo) -> Any:
    """A pandas/numpy value as openpyxl writes it (None for missing, local naive times)."""
    if missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dt.datetime):
        return value.astimezone(timezone).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | dict | tuple):
        return str(value)
    return value


def _number_format(column: str, value: Any) -> str | None:
    if column in RATES:
        return "0.0%"
    if isinstance(value, dt.datetime):
        return "yyyy-mm-dd hh:mm"
    if isinstance(value, dt.date):
        return "yyyy-mm-dd"
    return None


def _cell(ws: Any, value: Any, *, font: Font | None = None, fill: PatternFill | None = None,
          number_format: str | None = None) -> Any:
    # The workbook is write-only (streamed, linear in the rows): styled values are cells
    # made up front, plain values stay plain.
    if font is None and fill is None and number_format is None:
        return value
    cell = WriteOnlyCell(ws, value=value)
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _write_table(ws: Any, frame: pd.DataFrame, timezone: ZoneInfo) -> None:
    columns = [str(c) for c in frame.columns]
    ws.freeze_panes = "A3"
    for i, column in enumerate(columns, start=1):
        width = 60 if column == "geometry" else max(10, min(40, 2 * len(tr(COLUMNS, column,
                                                                             "zh")) + 4))
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append([_cell(ws, tr(COLUMNS, c, "zh"), font=Font(bold=True), fill=_HEAD_FILL)
               for c in columns])
    ws.append([_cell(ws, c, font=Font(italic=True, color="7F7F7F")) for c in columns])
    for row in frame.itertuples(index=False, name=None):
        values = []
        for column, raw in zip(columns, row, strict=True):
            value = cell_value(raw, timezone)
            if column == "geometry" and isinstance(value, str):
                value = _geometry_text(value)
            values.append(_cell(ws, value, number_format=_number_format(column, value)))
        ws.append(values)


def _cover(ws: Any, report: Report, tables: dict[str, pd.DataFrame]) -> None:
    tz = ZoneInfo(report.timezone)
    area, period = report.area, report.period
    for letter, width in zip("ABCD", (28, 46, 46, 12), strict=True):
        ws.column_dimensions[letter].width = width
    ws.append([_cell(ws, tr(TEXT, "title", "zh"), font=Font(bold=True, size=14)),
               tr(TEXT, "title", "en")])
    facts: list[tuple[str, Any]] = [
        ("area", f"{area.name_zh} / {area.name_en}"),
        ("area_kind", f"{tr(KIND, area.kind, 'zh')} / {tr(KIND, area.kind, 'en')}"),
        ("area_code", area.code),
        ("period", period.label),
        ("period_start", cell_value(period.start, tz)),
        ("period_end", cell_value(period.end, tz)),
        ("generated", cell_value(report.generated_at, tz)),
        ("timezone", report.timezone),
        ("no_data", f"{tr(TEXT, 'no_data', 'zh')} / {tr(TEXT, 'no_data', 'en')}"
         if report.empty else ""),
    ]
    names = {"area_kind": ("区域类型", "area kind"), "area_code": ("区域编码", "area code"),
             "period_start": ("开始（含）", "start (included)"),
             "period_end": ("结束（不含）", "end (excluded)"), "no_data": ("数据", "data")}
    for key, value in facts:
        zh, en = names.get(key, TEXT.get(key, (key, key)))
        fmt = "yyyy-mm-dd hh:mm" if isinstance(value, dt.datetime) else None
        ws.append([f"{zh} / {en}", _cell(ws, value, number_format=fmt)])
    for note in report.notes:
        ws.append([f"{tr(TEXT, 'notes', 'zh')} / {tr(TEXT, 'notes', 'en')}", note])
    ws.append([])
    ws.append([_cell(ws, text, font=Font(bold=True), fill=_HEAD_FILL)
               for text in ("工作表 / sheet", "中文", "English", "行数 / rows")])
    for name, frame in tables.items():
        rows: Any = len(frame)
        if rows > MAX_ROWS:
            rows = f"{rows}（仅写入前 {MAX_ROWS} 行 / first {MAX_ROWS} written）"
        ws.append([name, tr(TABLES, name, "zh"), tr(TABLES, name, "en"), rows])
    ws.append([])
    ws.append(["表头 / headers", "第 1 行中文表头，第 2 行列名，第 3 行起为数据",
               "row 1: Chinese headers, row 2: column names, data from row 3"])


def write_xlsx(report: Report, path: Path, lang: str = "zh") -> Path:
    """Write the report as a workbook to ``path`` (cover + one sheet per table).

    The workbook is bilingual whatever ``lang`` is (Chinese headers, English column names).
    """
    tables = report.tables()
    tz = ZoneInfo(report.timezone)
    wb = Workbook(write_only=True)
    _cover(wb.create_sheet(COVER), report, tables)
    for name, frame in tables.items():
        _write_table(wb.create_sheet(name[:31]), frame.head(MAX_ROWS), tz)
    wb.save(path)
    return path


def read_xlsx(path: Path) -> dict[str, pd.DataFrame]:
    """Every table sheet of a workbook written by :func:`write_xlsx`, by sheet name.

    Examples
    --------
    >>> tables = read_xlsx(Path("report.xlsx"))  # doctest: +SKIP
    >>> tables["kpis"].columns[:3].tolist()  # doctest: +SKIP
    ['measure', 'label_zh', 'label_en']
    """
    sheets = pd.read_excel(path, sheet_name=None, header=1)
    return {name: frame for name, frame in sheets.items() if name != COVER}
