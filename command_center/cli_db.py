"""``command-center db …``: the embedded local cluster and schema migrations."""

from __future__ import annotations

import typer

from command_center.context import engine_or_exit, settings_or_exit
from gis import migrate
from gis.db import database_url, local_cluster, uses_local_cluster
from gis.scrub import scrub

db_app = typer.Typer(help="数据库 / database: local cluster and migrations.",
                     no_args_is_help=True)


@db_app.command("up")
def up(migrate_schema: bool = typer.Option(True, "--migrate/--no-migrate",
                                           help="Also bring the schema to the newest revision.")
       ) -> None:
    """Create (first time) and start the local PostGIS cluster under var/; idempotent.

    With CC_DATABASE_URL set, only checks that database and migrates it.
    """
    settings = settings_or_exit()
    if uses_local_cluster(settings):
        cluster = local_cluster(settings)
        created = cluster.init()
        was_running = cluster.is_running()
        cluster.start()
        cluster.ensure_database()
        state = "已创建并启动 / created and started" if created else (
            "已在运行 / already running" if was_running else "已启动 / started")
        typer.echo(f"本地数据库 {state}: {cluster.base}")
    else:
        typer.echo(f"使用外部数据库 / using external database: {scrub(database_url(settings))}")
    if migrate_schema:
        rev = migrate.upgrade(engine_or_exit(settings))
        typer.echo(f"数据库结构版本 / schema revision: {rev}")


@db_app.command("down")
def down() -> None:
    """Stop the local cluster (fast shutdown). Data stays under var/."""
    settings = settings_or_exit()
    if not uses_local_cluster(settings):
        typer.echo("外部数据库不由本程序管理 / the external database is not ours to stop")
        return
    cluster = local_cluster(settings)
    cluster.stop()
    typer.echo("本地数据库已停止 / local database stopped")


@db_app.command("status")
def status() -> None:
    """Say whether the database answers and which schema revision it has; exit 1 if down."""
    settings = settings_or_exit()
    if uses_local_cluster(settings):
        cluster = local_cluster(settings)
        if not cluster.is_running():
            typer.echo(f"本地数据库未运行 / local database not running ({cluster.base})")
            raise typer.Exit(1)
        typer.echo(f"本地数据库运行中 / local database running, pid {cluster.pid()}, "
                   f"{cluster.base}")
    engine = engine_or_exit(settings)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    note = "最新 / up to date" if current == head else "需要迁移 / run: command-center db migrate"
    typer.echo(f"结构版本 / schema: {current or '(空 / empty)'} (最新 / head {head}) — {note}")


@db_app.command("migrate")
def migrate_cmd(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply schema migrations up to REVISION (default: head)."""
    settings = settings_or_exit()
    rev = migrate.upgrade(engine_or_exit(settings), revision)
    typer.echo(f"数据库结构版本 / schema revision: {rev}")


@db_app.command("url")
def url() -> None:
    """Print the libpq connection URL, so that psql "$(command-center db url)" works."""
    settings = settings_or_exit()
    # Printing the URL is this command's whole purpose; the local one carries no password.
    typer.echo(database_url(settings))


def register(app: typer.Typer) -> None:
    """Add ``db`` to ``app``."""
    app.add_typer(db_app, name="db")
