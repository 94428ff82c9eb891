"""department users

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

A department's handlers (承办部门) log in to start and finish the events dispatched to them.
``app_user`` gains ``department_id`` and the ``department`` role; a department user must name
its department (the loop's scope check uses it), and nobody else carries one, so a role
change cannot leave a stale scope behind.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_ROLES = ("staff", "duty_officer", "planner", "leader", "admin")
ROLES = (*OLD_ROLES, "department")


def _role_check(roles: tuple[str, ...]) -> str:
    return "role IN ({})".format(", ".join(f"'{r}'" for r in roles))


def upgrade() -> None:
    op.add_column("app_user", sa.Column(
        "department_id", sa.Integer, sa.ForeignKey("department.id", ondelete="RESTRICT"),
        nullable=True))
    op.create_index("ix_app_user_department_id", "app_user", ["department_id"])
    op.drop_constraint("app_user_role", "app_user", type_="check")
    op.create_check_constraint("app_user_role", "app_user", _role_check(ROLES))
    op.create_check_constraint(
        "app_user_department_scope", "app_user",
        "(role = 'department') = (department_id IS NOT NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM app_user WHERE role = 'department'")
    op.drop_constraint("app_user_department_scope", "app_user", type_="check")
    op.drop_constraint("app_user_role", "app_user", type_="check")
    op.create_check_constraint("app_user_role", "app_user", _role_check(OLD_ROLES))
    op.drop_index("ix_app_user_department_id", table_name="app_user")
    op.drop_column("app_user", "department_id")
