"""``command-center demo …``: build the demo district and show what the database holds."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from command_center.context import engine_or_exit, settings_or_exit
from gis.errors import CommandCenterError
from gis.scrub import scrub

demo_app = typer.Typer(help="演示数据 / demo district: seed and summary.", no_args_is_help=True)


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("项目 / item")
    table.add_column("数值 / value", justify="right")
    for label, value in rows:
        table.add_row(label, value)
    return table


def _schema_error(exc: sa.exc.DBAPIError) -> CommandCenterError:
    first = scrub(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return CommandCenterError(
        f"数据库结构不完整（{first}），请先运行 command-center db up",
        f"the database schema is incomplete ({first}); run: command-center db up first")


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"“{value}”不是有效日期，应为 YYYY-MM-DD / "
                                 f"{value!r} is not a date, expected YYYY-MM-DD") from None


@demo_app.command("seed")
def seed(
    seed: Annotated[int | None, typer.Option(
        "--seed", help="随机种子 / random seed (default: demo.seed in the settings).")] = None,
    end_date: Annotated[dt.date | None, typer.Option(
        "--end-date", parser=_parse_date, metavar="YYYY-MM-DD",
        help="演示的“今天” / the demo's today (default: today, Asia/Shanghai).",
    )] = None,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="只在数据库尚无网格时生成 / only seed when the database has no grids "
        "(keeps data you imported or seeded before).")] = False,
) -> None:
    """Replace the demo data with a freshly generated district (same seed → same data)."""
    from gis.demo import read_summary, seed_demo

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    console = Console()
    if if_empty:
        try:
            present = read_summary(engine)
        except sa.exc.ProgrammingError as exc:
            raise _schema_error(exc) from None
        if present.grids:
            console.print(_table("已有数据，未重新生成 / kept", present.rows()))
            return
    try:
        with console.status("生成演示数据 / generating the demo district") as status:
            summary = seed_demo(engine, settings, seed=seed, progress=status.update,
                                end_date=end_date)
    except (sa.exc.ProgrammingError, sa.exc.NoSuchTableError) as exc:
        raise _schema_error(exc) from None
    console.print(_table("演示数据已生成 / demo district seeded", summary.rows()))


@demo_app.command("summary")
def summary() -> None:
    """Show how many streets, grids, courtyards, cameras and events the database holds."""
    from gis.demo import read_summary

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    try:
        result = read_summary(engine)
    except sa.exc.ProgrammingError as exc:
        raise _schema_error(exc) from None
    Console().print(_table("演示数据概况 / demo data summary", result.rows()))


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.add_typer(demo_app, name="demo")
