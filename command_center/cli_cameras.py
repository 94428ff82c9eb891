"""``command-center cameras …``: simulated RTSP cameras for the demo, tests and benchmarks."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console
from rich.table import Table

from gis.scrub import register_secret, scrub
from video.simulator import CameraSpec, Simulator, check_profile, default_cameras

cameras_app = typer.Typer(help="摄像机 / cameras: add real ones, simulate RTSP cameras.",
                          no_args_is_help=True)


def _parse_size(text: str | None, option: str) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"尺寸应写成 宽x高，例如 640x360 / size must be WxH, e.g. "
                                 f"640x360: {text!r}", param_hint=option) from None
    if not (64 <= width <= 3840 and 64 <= height <= 2160):
        raise typer.BadParameter(f"尺寸超出 64x64…3840x2160 / size outside 64x64…3840x2160: "
                                 f"{text}", param_hint=option)
    return width, height


def _report(sim: Simulator, console: Console, show_urls: bool) -> None:
    table = Table(title="模拟摄像机 / simulated cameras")
    for column in ("编码 / code", "名称 / name", "端口 / port", "PID"):
        table.add_column(column, no_wrap=True)
    for cam in sim.cameras.values():
        table.add_row(cam.spec.code, cam.spec.name, str(cam.port), str(cam.pid))
    for fault in sim.faults:
        label = "不应答 / hangs" if fault.kind == "hang" else "乱码 / garbage"
        table.add_row(fault.kind, label, str(fault.port), str(fault.process.pid))
    console.print(table)
    # URLs on plain lines, never folded by the table, so that they can be copied whole.
    for cam in sim.cameras.values():
        for stream in ("main", "sub"):
            url = cam.url(stream)  # type: ignore[arg-type]
            console.print(f"{cam.spec.code} {stream}: {url if show_urls else scrub(url)}",
                          soft_wrap=True, highlight=False)
    for fault in sim.faults:
        console.print(f"{fault.kind}: {fault.url}", soft_wrap=True, highlight=False)


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    # Turn `kill <pid>` into the same orderly shutdown as Ctrl-C.
    raise KeyboardInterrupt


@cameras_app.command("simulate")
def simulate(
    count: int = typer.Option(4, "--count", "-n", min=1, max=64,
                              help="Number of cameras (sim01, sim02, …)."),
    size: str = typer.Option("640x360", help="Main stream size, WxH."),
    sub_size: str | None = typer.Option(None, help="Sub stream size, WxH (default: half)."),
    fps: int = typer.Option(15, min=1, max=60, help="Frames per second."),
    profile: str = typer.Option("camera", help="camera: H.264 Main profile over a noisy "
                                "textured scene, like a real sub stream; light: cheapest."),
    user: str | None = typer.Option(None, help="Require this user name on every camera."),
    password: str | None = typer.Option(None, envvar="CC_SIM_PASSWORD",
                                        help="Password for --user (or CC_SIM_PASSWORD)."),
    auth: str = typer.Option("basic", help="basic or digest."),
    hang: bool = typer.Option(False, "--hang", help="Also start a server that never answers."),
    garbage: bool = typer.Option(False, "--garbage", help="Also start a garbage server."),
    state_file: str | None = typer.Option(None, help="Write ports, PIDs and URLs as JSON "
                                           "(owner-readable only: it holds passwords)."),
    show_urls: bool = typer.Option(False, "--show-urls",
                                   help="Print URLs with their credentials."),
) -> None:
    """Serve N simulated RTSP cameras on 127.0.0.1 until Ctrl-C (main + sub stream each)."""
    main_size = _parse_size(size, "--size")
    assert main_size is not None
    if auth not in ("basic", "digest"):
        raise typer.BadParameter("只支持 basic 或 digest / only basic or digest",
                                 param_hint="--auth")
    try:
        checked = check_profile(profile)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from None
    if user is not None and not password:
        raise typer.BadParameter("--user 需要 --password 或 CC_SIM_PASSWORD / "
                                 "--user needs --password or CC_SIM_PASSWORD",
                                 param_hint="--password")
    register_secret(password)
    state_path = Path(state_file) if state_file else None
    specs: list[CameraSpec] = default_cameras(count, user, password)
    sim = Simulator(specs, size=main_size, sub_size=_parse_size(sub_size, "--sub-size"),
                    fps=fps, auth=auth, profile=checked)  # type: ignore[arg-type]  # auth
    console = Console()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.monotonic()
    try:
        sim.start()
        if hang:
            sim.start_fault_server("hang")
        if garbage:
            sim.start_fault_server("garbage")
        _report(sim, console, show_urls)
        console.print(f"{len(sim.cameras)} 路摄像机已就绪（{time.monotonic() - started:.1f} 秒）"
                      f" / cameras ready in {time.monotonic() - started:.1f} s; "
                      "Ctrl-C 停止 / to stop")
        if state_path is not None:
            sim.write_state(state_path)
            console.print(f"状态文件 / state file: {state_file}")
        _watch(sim, console)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if state_path is not None:
            state_path.unlink(missing_ok=True)
        console.print("模拟摄像机已停止 / simulated cameras stopped")


def _watch(sim: Simulator, console: Console) -> None:
    # Someone may `kill -9` a camera by hand to try the relay; say so once, keep the rest up.
    reported: set[str] = set()
    while True:
        time.sleep(1)
        for code, cam in sim.cameras.items():
            popen = cam.process.popen
            if popen is not None and popen.poll() is not None and code not in reported:
                reported.add(code)
                console.print(f"摄像机 {code} 已退出 / camera {code} exited "
                              f"(code {popen.returncode})")


def register(app: typer.Typer) -> None:
    """Attach the ``cameras`` group to the main CLI."""
    from command_center.cli_camera_add import add_camera

    cameras_app.command("add")(add_camera)
    app.add_typer(cameras_app, name="cameras")
