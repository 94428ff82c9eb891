"""``command-center import {grids|courtyards|cameras|events} FILE``: load planners' files.

Each import runs in one transaction: a progress bar while it works, then a summary table; a
file that fails validation prints every problem with its row number and exits 1, with nothing
written and no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from command_center.context import engine_or_exit, settings_or_exit
from gis.errors import CommandCenterError, ImportValidationError
from gis.importers import KINDS, ImportRejected, ImportReport, import_file
from gis.scrub import scrub

#: Problems shown on screen; a file with thousands of bad rows needs the first ones, not all.
MAX_PROBLEMS_SHOWN = 200

import_app = typer.Typer(
    help="导入数据 / import data: GeoJSON, GeoPackage, Shapefile, KML, CSV, XLSX.",
    no_args_is_help=True)

_STAGES = {"read": "读取 / reading", "validate": "校验 / validating", "write": "写入 / writing",
           "done": "完成 / done"}
_TITLES = {"grids": "网格 / grids", "courtyards": "院落 / courtyards",
           "cameras": "摄像头 / cameras", "events": "事件 / events"}


def _console() -> Console:
    console = Console(highlight=False)
    # Piped or captured output: wide enough that row messages are not chopped into pieces.
    return console if console.is_terminal else Console(highlight=False, width=200)


def _summary(console: Console, report: ImportReport) -> None:
    table = Table(title=f"导入结果 / import summary — {_TITLES[report.kind]} ← {report.path} "
                        f"({report.fmt}, {report.crs})")
    for header in ("读取 / read", "新增 / inserted", "更新 / updated", "未变 / unchanged",
                   "修复 / repaired", "拒绝 / rejected"):
        table.add_column(header, justify="right")
    unchanged = max(report.unchanged, 0) if not report.rejected else 0
    table.add_row(*(str(v) for v in (report.rows_read, report.inserted, report.updated,
                                     unchanged, report.repaired, report.rejected)))
    console.print(table)
    for row, message in report.repairs:
        console.print(Text(f"修复 / repaired: 第 {row} 行 / row {row}: {scrub(message)}"))
    for note in report.notes:
        console.print(Text(f"说明 / note: {scrub(note)}"))
    for warning in report.warnings:
        console.print(Text(f"注意 / warning: {scrub(warning)}", style="yellow"))
    if report.ignored_columns:
        listed = ", ".join(repr(scrub(c)) for c in report.ignored_columns)
        console.print(Text(f"已忽略的列 / ignored columns: {listed}"))


def _problems(console: Console, exc: ImportValidationError) -> None:
    table = Table(title="问题 / problems")
    table.add_column("行 / row", justify="right")
    table.add_column("列 / column")
    table.add_column("问题 / problem")
    for row, column, message in exc.problems[:MAX_PROBLEMS_SHOWN]:
        # Text, not markup: a header like "[red]x" in a file must print as it is.
        table.add_row(Text("—" if row is None else str(row)), Text(scrub(column or "")),
                      Text(scrub(message)))
    console.print(table)
    hidden = len(exc.problems) - MAX_PROBLEMS_SHOWN
    if hidden > 0:
        console.print(Text(f"……另有 {hidden} 个问题未显示 / … {hidden} more problems not shown"))


def _fail(console: Console, message: str) -> None:
    console.print(Text(f"错误 / error: {scrub(message)}", style="red"))
    raise typer.Exit(1)


def run_import(kind: str, file: Path, crs: str | None, layer: str | None) -> None:
    """Import ``file`` as ``kind`` in one transaction and print the outcome."""
    from gis.db import session_scope

    console = _console()
    try:
        engine = engine_or_exit(settings_or_exit())
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(_STAGES["read"], total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=_STAGES.get(stage, stage), completed=done,
                           total=total or None)

            with session_scope(engine) as session:
                report = import_file(session, kind, file, crs=crs, layer=layer,
                                     progress=progress)
    except ImportRejected as exc:
        _summary(console, exc.report)
        _problems(console, exc)
        _fail(console, str(exc))
    except ImportValidationError as exc:
        if exc.problems:
            _problems(console, exc)
        _fail(console, str(exc))
    except CommandCenterError as exc:
        _fail(console, str(exc))
    except sa.exc.DBAPIError as exc:
        # A rule checked at commit (the A/B worker pair). Primary message only: the DETAIL
        # line of PostgreSQL quotes row values, stream URLs among them.
        diag = getattr(exc.orig, "diag", None)
        primary = getattr(diag, "message_primary", None) or type(exc.orig).__name__
        _fail(console, f"数据库拒绝提交，未写入任何数据 / the database refused the commit, "
                       f"nothing was written: {primary}")
    _summary(console, report)


def _command(kind: str) -> object:
    def command(
        file: Annotated[Path, typer.Argument(help="GeoJSON/GeoPackage/Shapefile/KML/CSV/XLSX")],
        crs: Annotated[str | None, typer.Option(
            "--crs", help="坐标系 / CRS: EPSG:xxxx, gcj02 or bd09. Required when the file "
                          "declares none (CSV/XLSX, GeoJSON without a crs member).")] = None,
        layer: Annotated[str | None, typer.Option(
            "--layer", help="图层或工作表 / layer or sheet.")] = None,
    ) -> None:
        run_import(kind, file, crs, layer)

    command.__doc__ = (f"导入{_TITLES[kind].split(' / ')[0]} / import {kind} "
                       "(upsert by code; all-or-nothing).")
    return command


for _kind in KINDS:
    import_app.command(_kind)(_command(_kind))  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Add ``import`` to ``app``."""
    app.add_typer(import_app, name="import")
