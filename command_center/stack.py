"""The whole command center on one machine: simulated cameras, the relay and the app.

``command-center up`` is what the README's first command ends in. It starts

1. a pool of simulated RTSP cameras (unless ``--no-simulate``), and points the demo's camera
   rows at them: camera *i* gets simulated feed *i mod K*, so every one of the 1,500 demo
   cameras plays a picture while only K encoders exist (they encode only while watched);
2. the relay (``command-center relay``) and the app (``command-center serve``) as child
   processes sharing a fresh signing key, so the app's signed URLs open on the relay;
3. the intake API (``command-center api serve``, Open311, which also runs the supervision
   sweep), with the demo API key of the 12345 hotline ensured and printed;

then waits. Ctrl-C or SIGTERM stops the children by PID (SIGTERM, then SIGKILL after a grace
period) and the simulator; a child that dies takes the stack down with a clear message rather
than leaving a half-working command center.

Why child processes and not threads: the relay decodes video and the app renders documents;
in separate processes a slow one cannot starve the other of the GIL, and each can be restarted
or moved to another machine without code changes.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from config.settings import Settings
from gis.errors import SetupError
from gis.scrub import scrub

if TYPE_CHECKING:
    from video.simulator import StreamProfile

# Demo cameras are recognisable by their URL: the demo seed points them at loopback.
_DEMO_URL_PREFIX = "rtsp://127.0.0.1:"


def _cli() -> list[str]:
    """How to run our own CLI from a child process (the same interpreter and venv)."""
    return [sys.executable, "-m", "command_center.cli"]


def point_demo_cameras_at(engine: sa.Engine, urls: list[tuple[str, str]]) -> int:
    """Give every loopback (demo) camera one of the simulated feeds, round robin.

    Parameters
    ----------
    engine
        The spatial core's database.
    urls
        ``(main, sub)`` URL pairs of the simulated cameras.

    Returns
    -------
    int
        How many camera rows now point at a simulated feed. Cameras with any other URL
        (real cameras) are never touched.
    """
    if not urls:
        return 0
    with engine.begin() as conn:
        codes = [row[0] for row in conn.execute(sa.text(
            "SELECT code FROM camera WHERE main_url LIKE :prefix ORDER BY code"),
            {"prefix": _DEMO_URL_PREFIX + "%"})]
        rows = [{"code": code, "main": urls[i % len(urls)][0], "sub": urls[i % len(urls)][1]}
                for i, code in enumerate(codes)]
        if rows:
            conn.execute(sa.text("UPDATE camera SET main_url = :main, sub_url = :sub "
                                 "WHERE code = :code"), rows)
    return len(rows)


def wait_http(url: str, timeout_s: float, alive: Callable[[], bool]) -> bool:
    """Poll ``url`` until it answers (any HTTP status) or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                return True
        except urllib.error.HTTPError:
            return True  # it answered: a 302 to the login page or a 403 is fine
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.3)
    return False


def reserve_ports(services: dict[str, Any]) -> list[socket.socket]:
    """Bind (without listening) each service's ``host:port``; the sockets hold the ports.

    Raises
    ------
    SetupError
        A port is taken, named with the service and the setting to change.
    """
    held: list[socket.socket] = []
    for name, cfg in services.items():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((cfg.host, int(cfg.port)))
        except OSError as exc:
            sock.close()
            for other in held:
                other.close()
            raise SetupError(
                f"{name} 的端口 {cfg.host}:{cfg.port} 已被占用（改 {name}.port 或 "
                f"CC_{name.upper()}__PORT）",
                f"{name}'s port {cfg.host}:{cfg.port} is taken (set {name}.port or "
                f"CC_{name.upper()}__PORT): {exc.strerror}") from None
        held.append(sock)
    return held


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = 10.0) -> None:
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def tail(self, lines: int = 8) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return scrub("\n".join(text[-lines:]))


@dataclass
class Stack:
    """The running parts; :meth:`stop` ends them all, children first."""

    settings: Settings
    log_dir: Path
    simulate: int = 16
    children: list[Child] = field(default_factory=list)
    sim_profile: StreamProfile = "camera"  # the simulated cameras' streams (docs/simulator.md)
    simulator: object | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self, say: Callable[[str], None]) -> None:
        from gis.db import engine_for

        self.log_dir.mkdir(parents=True, exist_ok=True)
        engine = engine_for(self.settings)
        # Hold our three ports while the simulated cameras take ephemeral ones: a camera
        # that got the app's port would answer its readiness check, and the app would then
        # fail to bind while we report it ready. Held ports also fail early and clearly.
        held = reserve_ports({"relay": self.settings.relay, "app": self.settings.app,
                              "api": self.settings.api})
        try:
            self._start_cameras(engine, say)
        finally:
            for sock in held:
                sock.close()
        self._start_services(engine, say)

    def _start_cameras(self, engine: sa.Engine, say: Callable[[str], None]) -> None:
        if self.simulate:
            from video.simulator import Simulator

            say(f"启动 {self.simulate} 路模拟摄像机 / starting {self.simulate} simulated cameras")
            sim = Simulator(self.simulate, timezone=self.settings.ui.timezone,
                            profile=self.sim_profile).start()
            self.simulator = sim
            urls = [(sim.url(c, "main"), sim.url(c, "sub")) for c in sim.cameras]
            n = point_demo_cameras_at(engine, urls)
            say(f"{n} 个演示摄像头接入模拟画面 / {n} demo cameras play simulated feeds")

    def _start_services(self, engine: sa.Engine, say: Callable[[str], None]) -> None:
        # One key for both: the app mints, the relay verifies. Fresh per start on purpose.
        self.env = {**os.environ,
                    "CC_RELAY__SIGNING_KEY": os.environ.get("CC_RELAY__SIGNING_KEY")
                    or secrets.token_urlsafe(32),
                    "CC_APP__COOKIE_SECRET": os.environ.get("CC_APP__COOKIE_SECRET")
                    or secrets.token_urlsafe(32)}
        relay_cfg, app_cfg = self.settings.relay, self.settings.app
        self._spawn("relay", [*_cli(), "relay"])
        self._wait_ready("relay", f"http://{relay_cfg.host}:{relay_cfg.port}/health")
        self._spawn("app", [*_cli(), "serve"])
        self._wait_ready("app", f"http://{app_cfg.host}:{app_cfg.port}/login")
        # The intake API (Open311) also runs the periodic supervision sweep.
        from command_center.api.keys import ensure_demo_client

        client, key = ensure_demo_client(engine)
        api_cfg = self.settings.api
        self._spawn("api", [*_cli(), "api", "serve"])
        self._wait_ready("api", f"http://{api_cfg.host}:{api_cfg.port}/open311/v2/health")
        say(f"事件受理接口 / intake API: http://{api_cfg.host}:{api_cfg.port}/open311/v2/  "
            f"演示密钥 / demo api_key ({client}): {key or '（已更改 / changed）'}")

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=self.env,
                                    stdin=subprocess.DEVNULL)
        self.children.append(Child(name, proc, log))

    def _wait_ready(self, name: str, url: str) -> None:
        child = next(c for c in self.children if c.name == name)
        if not wait_http(url, 90, child.alive):
            detail = child.tail()
            self.stop()
            raise SetupError(f"{name} 未能启动（日志 {child.log}）：\n{detail}",
                             f"{name} did not start (log {child.log}):\n{detail}")

    def watch(self, stop: threading.Event) -> Child | None:
        """Block until ``stop`` is set or a child dies; returns the dead child, if any."""
        while not stop.wait(1.0):
            for child in self.children:
                if not child.alive():
                    return child
        return None

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.simulator is not None:
            self.simulator.stop()  # type: ignore[attr-defined]
            self.simulator = None
