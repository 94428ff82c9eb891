"""``command-center report``: export the spatial report of an area and period to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from command_center.context import engine_or_exit, settings_or_exit


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""

    @app.command("report")
    def report(
        period: Annotated[str, typer.Option(
            "--period", help="统计周期 / period: 2026-10, 2026-W40, 2026-Q3, 2026, "
            "2026-10-01..2026-10-15.")],
        out: Annotated[Path, typer.Option(
            "--out", help="输出文件 / output file.", dir_okay=False)],
        area: Annotated[str | None, typer.Option(
            "--area", help="区域编码 / area code: street, community or grid code; the "
            "district's adcode or nothing for the whole district.")] = None,
        fmt: Annotated[str | None, typer.Option(
            "--format", help="导出格式 / format: html | pdf | xlsx（默认按 --out 的后缀 / "
            "default: from the --out suffix).")] = None,
        lang: Annotated[str, typer.Option(
            "--lang", help="语言 / language: zh | en.")] = "zh",
        tiles: Annotated[str | None, typer.Option(
            "--tiles", help="HTML 底图 / HTML basemap: osm (needs the internet to show); "
            "default none, works offline.")] = None,
    ) -> None:
        """导出空间分析报告 / export the spatial report (HTML, PDF or XLSX)."""
        from sqlalchemy.orm import Session

        from command_center.reports import ExportError, check_format, check_options, export
        from gis.reports import build_report, parse_period

        chosen = check_format((fmt or out.suffix.lstrip(".")).lower())
        check_options(lang, tiles)  # before the queries: a typo costs nothing
        if not out.parent.exists():
            raise ExportError(f"输出目录不存在：{out.parent}",
                              f"the output folder does not exist: {out.parent}")
        settings = settings_or_exit()
        parsed = parse_period(period, settings.ui.timezone)  # a typo fails before any query
        console = Console(stderr=True)
        with console.status("读取数据 / querying the database") as status:
            engine = engine_or_exit(settings)
            with Session(engine) as session:
                built = build_report(session, area, parsed, settings=settings)
            status.update(f"生成 {chosen.upper()} / writing {chosen.upper()}")
            export(built, chosen, out, lang, tiles=tiles)
        size = out.stat().st_size
        name = built.area.name_en if lang == "en" else built.area.name_zh
        if built.empty:
            console.print("[yellow]本期无数据 / no data for this period[/yellow]")
        typer.echo(f"已导出 / written: {out} ({size / 1024:,.0f} KiB; {name}, {parsed.label})")
