"""Shared CLI plumbing: settings loading with a clear message, and the configured engine."""

from __future__ import annotations

import sqlalchemy as sa
import typer

from config.settings import ConfigError, Settings, load_settings


def settings_or_exit() -> Settings:
    """Load settings; on error print every problem by key path and exit 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def engine_or_exit(settings: Settings) -> sa.Engine:
    """The configured database engine, checked to answer; a clear message when it does not."""
    from gis.db import engine_for, unavailable

    engine = engine_for(settings)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise unavailable(exc) from None
    return engine
