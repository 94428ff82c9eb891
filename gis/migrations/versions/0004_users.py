"""app users

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

``app_user``: the people who log in to the command center. Only a salted scrypt hash of each
password is stored (see ``command_center/app/auth.py``); the role decides which pages a user
sees and is checked here too, so a hand-typed INSERT cannot invent a role.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROLES = ("staff", "duty_officer", "planner", "leader", "admin")


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False, server_default=""),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("role IN ({})".format(", ".join(f"'{r}'" for r in ROLES)),
                           name="app_user_role"),
        sa.CheckConstraint("username ~ '^[A-Za-z0-9_.@-]{1,64}$'", name="app_user_username"),
    )


def downgrade() -> None:
    op.drop_table("app_user")
