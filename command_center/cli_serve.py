"""``command-center serve`` (the web app) and ``command-center users …`` (who may log in)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from command_center.context import engine_or_exit, settings_or_exit
from gis.models import APP_ROLES

users_app = typer.Typer(help="用户管理 / users who may log in to the app.", no_args_is_help=True)


def serve(
    port: Annotated[int | None, typer.Option(
        "--port", help="端口 / port (default: app.port).")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", help="监听地址 / address to bind (default: app.host).")] = None,
) -> None:
    """Serve every page (wall, map, events, planning) on one port, behind the login."""
    from command_center.app.server import make_context
    from command_center.app.server import serve as run

    settings = settings_or_exit()
    host = host or settings.app.host
    port = port or settings.app.port
    engine = engine_or_exit(settings)
    app = make_context(settings, engine)  # an invalid layer file stops here, named
    typer.echo(f"指挥中心已启动 / command center at http://{host}:{port}/  (Ctrl-C 停止 / stop)")
    try:
        run(app, port=port, host=host)
    except KeyboardInterrupt:
        typer.echo("已停止 / stopped")


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="用户名 / user name.")],
    role: Annotated[str, typer.Option("--role", help=f"角色 / role: {', '.join(APP_ROLES)}.")],
    display_name: Annotated[str, typer.Option("--name", help="显示名 / display name.")] = "",
    department: Annotated[str | None, typer.Option(
        "--department", help="部门编码 / department code (role department only, e.g. cgj)."
    )] = None,
) -> None:
    """Add a user; the password comes from CC_NEW_PASSWORD or a hidden prompt."""
    from command_center.app.auth import add_user, check_new_user
    from gis.db import session_scope

    password = os.environ.get("CC_NEW_PASSWORD") or typer.prompt(
        "密码 / password", hide_input=True, confirmation_prompt=True)
    # AuthError (a CommandCenterError) becomes "错误 / error: …" and exit 1 in the root group.
    check_new_user(username, password, role, department)  # before touching the database
    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    with session_scope(engine) as session:
        user = add_user(session, username, password, role, display_name,
                        department=department)
    where = f", {user.department} {user.department_name}" if user.department else ""
    typer.echo(f"已添加用户 / user added: {user.username} ({user.role}{where})")


@users_app.command("list")
def list_cmd() -> None:
    """List users with their role and whether they are disabled (never a password)."""
    from command_center.app.auth import ROLE_LABELS, list_users
    from gis.db import session_scope
    from gis.models import Department

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    table = Table(title="用户 / users")
    for col in ("用户名 / user", "显示名 / name", "角色 / role", "部门 / department",
                "停用 / disabled", "创建 / created"):
        table.add_column(col)
    with session_scope(engine) as session:
        for user in list_users(session):
            zh, en = ROLE_LABELS.get(user.role, (user.role, user.role))
            dept = session.get(Department, user.department_id) if user.department_id else None
            table.add_row(user.username, user.display_name, f"{zh} / {en}",
                          f"{dept.code} {dept.name_zh}" if dept else "",
                          "是 / yes" if user.disabled else "", f"{user.created_at:%Y-%m-%d}")
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``users`` to ``app``."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
