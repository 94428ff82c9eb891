"""``command-center api …``: the event intake API (Open311) and its API keys."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from command_center.context import engine_or_exit, settings_or_exit
from gis.catalog import EVENT_SOURCE_LABELS, EVENT_SOURCES

api_app = typer.Typer(help="事件受理接口 / event intake API (Open311 GeoReport v2).",
                      no_args_is_help=True)
keys_app = typer.Typer(help="接口密钥 / API keys of the systems that submit events.",
                       no_args_is_help=True)
api_app.add_typer(keys_app, name="keys")


@api_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(
        "--host", help="监听地址 / address to bind (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(
        "--port", min=0, max=65535, help="端口 / port (default: api.port).")] = None,
    naive: Annotated[bool, typer.Option(
        "--naive", help="每个请求一个事务（基准对照）/ one transaction per request (the "
        "benchmark's baseline).")] = False,
    reuse_port: Annotated[bool, typer.Option(
        "--reuse-port", help="SO_REUSEPORT：多个进程共用一个端口 / share the port with other "
        "API processes.")] = False,
) -> None:
    """Serve the Open311 intake API and run the supervision sweep every api.sweep_interval_s."""
    from command_center.api.server import ApiServices, run_api

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("command_center.api.access").setLevel(logging.WARNING)
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    def ready(services: ApiServices) -> None:
        every = settings.api.sweep_interval_s
        typer.echo(f"事件受理接口已启动 / intake API at {services.base_url}/open311/v2/  "
                   f"(OpenAPI: {services.base_url}/open311/v2/openapi.json)")
        typer.echo(f"督办巡检每 {every:g} 秒 / supervision sweep every {every:g} s"
                   if every else "督办巡检已关闭 / supervision sweep off")
        typer.echo("Ctrl-C 停止 / stop")

    run_api(settings, engine, host=host, port=port, stop_event=stop, on_ready=ready,
            batch_max=1 if naive else None, reuse_port=reuse_port)
    typer.echo("已停止 / stopped")


@keys_app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="系统名称 / client name, e.g. "
                                      "hotline-12345.")],
    channel: Annotated[str, typer.Option(
        "--channel", help=f"渠道 / channel: {', '.join(EVENT_SOURCES)}.")],
) -> None:
    """Create an API client and print its key once (only a hash is stored)."""
    from command_center.api.keys import add_client
    from gis.db import session_scope

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    with session_scope(engine) as session:
        key = add_client(session, name, channel)
    typer.echo(f"已创建 / created: {name} ({channel})")
    typer.echo(f"密钥（只显示这一次，请妥善保存）/ key (shown once, keep it safe): {key}")


@keys_app.command("list")
def list_cmd() -> None:
    """List API clients: name, channel, disabled, created (never a key)."""
    from command_center.api.keys import list_clients
    from gis.db import session_scope

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    table = Table(title="接口客户端 / API clients")
    for col in ("名称 / name", "渠道 / channel", "停用 / disabled", "创建 / created"):
        table.add_column(col)
    with session_scope(engine) as session:
        for row in list_clients(session):
            lab = EVENT_SOURCE_LABELS.get(row.channel)
            table.add_row(row.name, f"{lab.zh} / {lab.en}" if lab else row.channel,
                          "是 / yes" if row.disabled else "", f"{row.created_at:%Y-%m-%d}")
    Console().print(table)


@keys_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="系统名称 / client name.")],
            enable: Annotated[bool, typer.Option(
                "--enable", help="重新启用 / enable again.")] = False) -> None:
    """Disable a client's key (or enable it again with --enable)."""
    from command_center.api.keys import set_disabled
    from gis.db import session_scope
    from gis.errors import NotFound

    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    with session_scope(engine) as session:
        if not set_disabled(session, name, not enable):
            raise NotFound(f"没有该客户端：{name}", f"no such client: {name}")
    typer.echo(f"{name}: {'已启用 / enabled' if enable else '已停用 / disabled'}")


def register(app: typer.Typer) -> None:
    """Add ``api`` (serve, keys add/list/disable) to ``app``."""
    app.add_typer(api_app, name="api")
