"""``command-center config …``: inspect and validate settings."""

from __future__ import annotations

import json

import typer

from config.settings import ConfigError, config_files, load_settings

config_app = typer.Typer(help="配置 / settings: validate and show.", no_args_is_help=True)


@config_app.command("validate")
def validate() -> None:
    """Validate config/*.toml and CC_* variables; name every error by key path."""
    try:
        load_settings()
    except ConfigError as exc:
        for key, msg, src in exc.problems:
            typer.secho(f"✗ {key}: {msg}  [{src}]", fg=typer.colors.RED, err=True)
        typer.secho(f"配置无效：{len(exc.problems)} 处错误 / invalid: {len(exc.problems)} "
                    "problem(s)", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    files = ", ".join(f.name for f in config_files()) or "(none)"
    typer.secho(f"✓ 配置有效 / settings valid ({files})", fg=typer.colors.GREEN)


@config_app.command("show")
def show() -> None:
    """Print the effective settings as JSON (secrets masked)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(settings.model_dump(mode="json"), ensure_ascii=False, indent=2))


@config_app.command("docs")
def docs() -> None:
    """Print the configuration reference (docs/configuration.md) as Markdown."""
    from config.reference import render_reference

    typer.echo(render_reference(), nl=False)


def register(app: typer.Typer) -> None:
    """Add ``config`` to ``app``."""
    app.add_typer(config_app, name="config")
