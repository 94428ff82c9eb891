"""``command-center relay``: the video relay (snapshots, MJPEG, walls, health, metrics)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer
from rich.console import Console

from command_center.context import settings_or_exit
from gis.scrub import scrub


def _print_urls(console: Console, relay: object, settings: object, codes: list[str]) -> None:
    from video.client import RelayClient

    base = relay.base_url  # type: ignore[attr-defined]
    client = RelayClient(settings)
    client.base_url = base  # the bound port, which may differ from the configured one
    console.print(f"中继已启动 / relay serving on {base}", highlight=False)
    console.print(f"健康 / health: {client.health_url()}", soft_wrap=True, highlight=False)
    console.print(f"指标 / metrics: {client.metrics_url()}", soft_wrap=True, highlight=False)
    if codes:
        layout = "2x2" if len(codes) <= 4 else ("3x3" if len(codes) <= 9 else "4x4")
        console.print(f"电视墙 / wall {layout}: {client.wall_url(layout)}", soft_wrap=True,
                      highlight=False)
        console.print(f"{codes[0]} MJPEG: {client.camera_url(codes[0])}", soft_wrap=True,
                      highlight=False)
        console.print(f"{codes[0]} 快照 / snapshot: "
                      f"{client.camera_url(codes[0], kind='snapshot')}",
                      soft_wrap=True, highlight=False)
        console.print(f"链接 {client.ttl_s} 秒后失效 / links expire after {client.ttl_s} s",
                      highlight=False)
    console.print("Ctrl-C 停止 / to stop", highlight=False)


def relay(
    host: str | None = typer.Option(None, help="Bind address (default: relay.host)."),
    port: int | None = typer.Option(None, min=0, max=65535,
                                    help="Port (default: relay.port; 0 = any free port)."),
    from_simulator: int = typer.Option(
        0, "--from-simulator", min=0, max=64,
        help="Demo without a database: start N simulated cameras and relay them."),
) -> None:
    """Run the video relay: signed snapshot/MJPEG/wall URLs, /health and /metrics."""
    from video.relay import run_relay

    settings = settings_or_exit()
    console = Console()
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    if not from_simulator:
        def ready(r: object) -> None:
            codes = [c.code for c in r.cameras]  # type: ignore[attr-defined]
            _print_urls(console, r, settings, codes)
        run_relay(settings, None, host=host, port=port, on_ready=ready, stop_event=stop)
        return

    from video.camera import CameraSpec
    from video.simulator import Simulator

    console.print(f"启动 {from_simulator} 路模拟摄像机… / starting {from_simulator} "
                  "simulated cameras…", highlight=False)
    with Simulator(from_simulator, timezone=settings.ui.timezone) as sim:
        specs = [CameraSpec(code=cam.spec.code, name=cam.spec.name,
                            main_url=cam.secret_url("main"), sub_url=cam.secret_url("sub"),
                            source="community")
                 for cam in sim.cameras.values()]
        codes = [s.code for s in specs]
        try:
            run_relay(settings, specs, host=host, port=port, stop_event=stop,
                      on_ready=lambda r: _print_urls(console, r, settings, codes))
        except Exception as exc:
            typer.secho(f"中继出错 / relay error: {scrub(exc)}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
    console.print("中继已停止 / relay stopped", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``relay`` to the main CLI."""
    app.command("relay")(relay)
