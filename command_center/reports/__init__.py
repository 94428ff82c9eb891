"""Presentations of a :class:`gis.reports.model.Report`: HTML, PDF and XLSX exports.

This package only reads reports; :mod:`gis.reports` builds them and never imports from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from gis.errors import CommandCenterError
from gis.reports.model import Report

Format = Literal["html", "pdf", "xlsx"]
FORMATS: tuple[Format, ...] = ("html", "pdf", "xlsx")
MEDIA_TYPES = {"html": "text/html", "pdf": "application/pdf",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ExportError(CommandCenterError):
    """An export was asked for in a way we cannot honour (unknown format or language)."""

    http_status = 400


def check_format(fmt: str) -> Format:
    """``fmt`` if we can write it, else an :class:`ExportError` naming the choices."""
    if fmt not in FORMATS:
        raise ExportError(f"不支持的导出格式“{fmt}”，可选：html、pdf、xlsx",
                          f"unknown export format '{fmt}'; choose html, pdf or xlsx")
    return fmt  # type: ignore[return-value]


def check_options(lang: str, tiles: str | None = None) -> None:
    """Refuse a language or an HTML basemap we cannot write, naming the choices."""
    if lang not in ("zh", "en"):
        raise ExportError(f"不支持的语言“{lang}”，可选：zh、en",
                          f"unknown language '{lang}'; choose zh or en")
    if tiles not in (None, "osm"):
        raise ExportError(f"不支持的底图“{tiles}”，可选：osm",
                          f"unknown basemap '{tiles}'; choose osm")


def export(report: Report, fmt: str, path: Path, lang: str = "zh", *,
           tiles: str | None = None) -> Path:
    """Write ``report`` as ``fmt`` (``html``, ``pdf`` or ``xlsx``) to ``path``.

    Parameters
    ----------
    report
        A built report.
    fmt
        The format.
    path
        Where to write; the folder must exist.
    lang
        ``zh`` (default) or ``en``.
    tiles
        HTML only: ``osm`` to add an OpenStreetMap basemap (needs the internet to show).
    """
    fmt = check_format(fmt)
    check_options(lang, tiles)
    if fmt == "html":
        from command_center.reports.html import write_html

        return write_html(report, path, lang, tiles=tiles)
    if fmt == "pdf":
        from command_center.reports.pdf import write_pdf

        return write_pdf(report, path, lang)
    from command_center.reports.xlsx import write_xlsx

    return write_xlsx(report, path, lang)


def suggested_name(report: Report, fmt: str) -> str:
    """A file name for a download: ``report-511002-001-2026-10.pdf``."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in report.period.label)
    return f"report-{report.area.code}-{safe}.{fmt}"
