"""Schema migrations (Alembic), run programmatically so no alembic.ini has to be found."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> str | None:
    """Bring the schema to ``revision``; returns the revision now current."""
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)
    return current_revision(engine)


def downgrade(engine: sa.Engine, revision: str) -> str | None:
    """Take the schema back to ``revision`` (``base`` removes everything we created)."""
    with engine.begin() as conn:
        command.downgrade(_config(conn), revision)
    return current_revision(engine)


def current_revision(engine: sa.Engine) -> str | None:
    """The schema's revision, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def autogenerate(engine: sa.Engine, message: str) -> None:
    """Write a new revision from the difference between the models and ``engine`` (dev aid)."""
    with engine.begin() as conn:
        command.revision(_config(conn), message=message, autogenerate=True)
