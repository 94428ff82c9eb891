"""server defaults

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Defaults in the database, not only in the ORM: raw SQL writers (COPY in the importers and the
demo, a hand-typed INSERT, the relay's health writer) get the same values the models give.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DEFAULTS: list[tuple[str, str, str]] = [
    ("district", "tolerance_m", "10"),
    ("grid", "households", "0"),
    ("grid", "population", "0"),
    ("courtyard", "buildings", "0"),
    ("courtyard", "households", "0"),
    ("courtyard", "renovation_status", "'not_started'"),
    ("camera", "vendor", "'generic'"),
    ("camera", "azimuth_deg", "0"),
    ("camera", "fov_deg", "90"),
    ("camera", "range_m", "60"),
    ("camera", "health_status", "'unknown'"),
    ("camera", "health_reconnects", "0"),
    ("event", "priority", "'normal'"),
    ("event", "status", "'reported'"),
    ("event", "description", "''"),
    ("event", "version", "1"),
]


def upgrade() -> None:
    for table, column, value in DEFAULTS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {value}")


def downgrade() -> None:
    for table, column, _ in DEFAULTS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")
