"""The ``command-center`` command line.

Each concern registers its own sub-commands (``cli_db``, ``cli_import``, ``cli_demo``); this
module only assembles them and turns user-facing errors into a message and an exit code
instead of a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import sqlalchemy as sa
import typer
from typer.core import TyperGroup

from command_center import (
    cli_api,
    cli_audit,
    cli_cameras,
    cli_config,
    cli_db,
    cli_demo,
    cli_import,
    cli_relay,
    cli_report,
    cli_serve,
    cli_up,
)
from gis.errors import CommandCenterError
from gis.scrub import scrub


class _FriendlyGroup(TyperGroup):
    """The root command: user-facing errors become a message and an exit code.

    Handling them here rather than only in :func:`main` means every way of running the CLI
    (the installed script, ``python -m``, a test's ``CliRunner``) gets the same behaviour.
    """

    def invoke(self, ctx: Any) -> object:  # typer vendors click; its Context type is private
        try:
            return super().invoke(ctx)
        except CommandCenterError as exc:
            typer.secho(f"错误 / error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        except sa.exc.DBAPIError as exc:
            # The driver's first line says what the database refused; the SQL and parameters
            # SQLAlchemy appends help nobody at a command line.
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            typer.secho(f"数据库错误 / database error: {scrub(first)}", fg=typer.colors.RED,
                        err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="command-center",
    help="网格化服务管理指挥中心 / Grid governance command center.",
    cls=_FriendlyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (cli_config, cli_db, cli_import, cli_demo, cli_cameras, cli_relay, cli_serve,
               cli_up, cli_audit, cli_api, cli_report):
    module.register(app)


def main() -> None:
    """Entry point: run the CLI; anything unexpected still ends in one scrubbed line."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # last resort: never print a URL with a password in it
        typer.secho(f"内部错误 / internal error: {type(exc).__name__}: {scrub(exc)}",
                    fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
