"""Migrations and models agree, and the whole chain goes down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from geoalchemy2 import alembic_helpers

from gis import migrate
from gis.db import get_engine
from gis.models import Base


def _diff(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": alembic_helpers.include_object, "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def test_head_schema_matches_models_and_round_trips(cluster):
    cluster.ensure_database("t_migrations")
    engine = get_engine(cluster.url("t_migrations"))
    try:
        assert migrate.upgrade(engine) == migrate.head_revision()
        assert _diff(engine) == [], "models and migrations disagree: write a migration"
        assert migrate.downgrade(engine, "base") is None
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names()) - {"spatial_ref_sys",
                                                                "alembic_version"}
        assert not tables, f"downgrade left tables behind: {tables}"
        assert migrate.upgrade(engine) == migrate.head_revision()
    finally:
        engine.dispose()
        cluster.drop_database("t_migrations")
