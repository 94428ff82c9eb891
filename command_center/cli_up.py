"""``command-center up``: the whole command center on this machine, in the foreground."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from command_center.context import engine_or_exit, settings_or_exit


def up(
    simulate: Annotated[int, typer.Option(
        "--simulate", min=0, max=64,
        help="模拟摄像机路数，0 表示不模拟 / simulated camera feeds for the demo cameras "
        "(0: use the cameras' own URLs).")] = 16,
    log_dir: Annotated[Path | None, typer.Option(
        "--log-dir", help="日志目录 / where the relay and app logs go (default: var/log).")]
    = None,
    sim_profile: Annotated[str, typer.Option(
        "--sim-profile",
        help="模拟画面：camera 接近真实摄像机，light 最省 CPU / simulated streams: camera "
        "(decodes like a real camera's) or light (about half the CPU).")] = "camera",
) -> None:
    """Start simulated cameras, the relay and the app; print the URL and the demo login."""
    from sqlalchemy.orm import Session

    from command_center.app.auth import (
        DEMO_DEPARTMENT_USER,
        ensure_demo_department_user,
        ensure_demo_user,
    )
    from command_center.stack import Stack
    from video.simulator import check_profile

    try:
        profile = check_profile(sim_profile)  # before the database: a typo costs nothing
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sim-profile") from None
    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    user, password = ensure_demo_user(engine)
    with Session(engine) as session:
        department_demo = ensure_demo_department_user(session)  # one query: it exists now
    stack = Stack(settings, log_dir or settings.path(Path("var/log")), simulate,
                  sim_profile=profile)
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        stack.start(typer.echo)
        app, relay = settings.app, settings.relay
        typer.secho(f"\n指挥中心已就绪 / command center ready: http://{app.host}:{app.port}/",
                    fg=typer.colors.GREEN, bold=True)
        typer.echo(f"  演示账号 / demo login:  {user} / {password}")
        if password and department_demo:
            # The closed loop needs a second party: the department that handles the events.
            typer.echo(f"  职能部门演示 / department demo:  {DEMO_DEPARTMENT_USER} / {password}"
                       "（区城市管理局 / city management bureau）")
        typer.echo(f"  指挥大屏 / wall:        http://{app.host}:{app.port}/wall?kiosk=1")
        typer.echo(f"  视频中继 / relay:       http://{relay.host}:{relay.port}/health")
        typer.echo(f"  日志 / logs:            {stack.log_dir}")
        typer.echo("  Ctrl-C 停止 / stop")
        dead = stack.watch(stop)
        if dead is not None:
            typer.secho(f"{dead.name} 意外退出 / exited unexpectedly (log {dead.log}):\n"
                        f"{dead.tail()}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)
    finally:
        stack.stop()
        typer.echo("已停止 / stopped")


def register(app: typer.Typer) -> None:
    """Add ``up`` to ``app``."""
    app.command("up")(up)
