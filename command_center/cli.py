"""The ``command-center`` command line.

Each concern registers its own sub-commands (``cli_db``, ``cli_import``, ``cli_demo``); this
module only assembles them and turns user-facing errors into a message and an exit code
instead of a traceback.
"""

from __future__ import annotations

import sys

import typer

from command_center import (
    cli_cameras,
    cli_config,
    cli_db,
    cli_demo,
    cli_import,
    cli_relay,
    cli_serve,
)
from gis.errors import CommandCenterError
from gis.scrub import scrub

app = typer.Typer(
    name="command-center",
    help="网格化服务管理指挥中心 / Grid governance command center.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (cli_config, cli_db, cli_import, cli_demo, cli_cameras, cli_relay, cli_serve):
    module.register(app)


def main() -> None:
    """Entry point: run the CLI; user-facing errors print a clear message and exit 1."""
    try:
        app()
    except CommandCenterError as exc:
        typer.secho(f"错误 / error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # last resort: never print a URL with a password in it
        typer.secho(f"内部错误 / internal error: {type(exc).__name__}: {scrub(exc)}",
                    fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
