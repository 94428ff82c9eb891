"""Start, break and stop simulated RTSP cameras on 127.0.0.1 (the venv side).

Each camera is its own process (``gst_server.py`` under the system interpreter, which has
Debian's GStreamer bindings), listening on its own port with the paths ``/<code>/main`` and
``/<code>/sub``. One process per camera is what makes fault tests honest: ``kill`` is a real
SIGKILL of that camera only, ``freeze`` a real SIGSTOP, and the port really refuses or really
goes silent afterwards.

Usage in a test::

    with Simulator(2, size=(640, 360)) as sim:
        url = sim.url("sim01", "sub")
        sim.freeze("sim02")

Every process started here is stopped by :meth:`Simulator.stop` (also on ``__exit__``) by its
own PID, and the temporary folder (port files, logs, state) is removed. The children also exit
on their own when this process disappears.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from gis.errors import SetupError
from gis.scrub import SecretUrl, scrub

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "gst_server.py"
FAULT_SCRIPT = HERE / "fault_server.py"
# The Debian packages the camera processes need; scripts/setup.sh installs the same list.
APT_PACKAGES = ("python3-gi", "python3-numpy", "gir1.2-gst-rtsp-server-1.0",
                "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good",
                "gstreamer1.0-plugins-ugly", "gstreamer1.0-x", "gstreamer1.0-tools",
                "fonts-noto-cjk")
HOST = "127.0.0.1"
Stream = Literal["main", "sub"]


def system_python() -> str:
    """The interpreter with GStreamer bindings: ``CC_SIM_PYTHON`` or ``/usr/bin/python3``."""
    return os.environ.get("CC_SIM_PYTHON", "/usr/bin/python3")


def check_setup() -> None:
    """Raise :class:`SetupError` naming the missing Debian packages, if any."""
    packages = " ".join(APT_PACKAGES)
    hint_zh = f"请运行 scripts/setup.sh 或 apt-get install -y {packages}"
    hint_en = f"run scripts/setup.sh or apt-get install -y {packages}"
    try:
        done = subprocess.run([system_python(), str(SERVER_SCRIPT), "--check"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"无法运行系统 Python：{exc}；{hint_zh}",
                         f"cannot run the system Python: {exc}; {hint_en}") from None
    try:
        verdict = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        verdict = {"ok": False, "missing": list(APT_PACKAGES)}
    if not verdict.get("ok"):
        missing = " ".join(verdict.get("missing") or APT_PACKAGES)
        raise SetupError(f"摄像机模拟器缺少系统软件包：{missing}；{hint_zh}",
                         f"the camera simulator lacks system packages: {missing}; {hint_en}")


@dataclass(frozen=True)
class CameraSpec:
    """Who a simulated camera is: its code (in the URL path), its name (in the picture), and
    the credentials it demands (none when ``user`` is None)."""

    code: str
    name: str
    user: str | None = None
    password: str | None = None


def default_cameras(count: int, user: str | None = None,
                    password: str | None = None) -> list[CameraSpec]:
    """``count`` cameras ``sim01``, ``sim02``, … named "模拟摄像机 01" and so on."""
    return [CameraSpec(f"sim{i:02d}", f"模拟摄像机 {i:02d}", user, password)
            for i in range(1, count + 1)]


@dataclass
class _Process:
    """A child we started: its command, its port (kept across restarts) and its state."""

    key: str
    argv: list[str]
    env: dict[str, str]
    port: int = 0
    popen: subprocess.Popen[bytes] | None = None
    state: Literal["running", "frozen", "killed"] = "killed"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None


@dataclass
class SimulatedCamera:
    """A running (or deliberately broken) simulated camera."""

    spec: CameraSpec
    process: _Process = field(repr=False)

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def state(self) -> str:
        return self.process.state

    def url(self, stream: Stream = "main", credentials: bool = True) -> str:
        """``rtsp://[user:password@]127.0.0.1:PORT/<code>/<stream>``. Never log the result."""
        auth = ""
        if credentials and self.spec.user is not None:
            auth = f"{quote(self.spec.user, safe='')}:{quote(self.spec.password or '', safe='')}@"
        return f"rtsp://{auth}{HOST}:{self.port}/{self.spec.code}/{stream}"

    def secret_url(self, stream: Stream = "main") -> SecretUrl:
        """The URL wrapped so that printing it masks the credentials."""
        return SecretUrl(self.url(stream))


@dataclass
class FaultServer:
    """A port that hangs or speaks garbage (see ``fault_server.py``)."""

    kind: Literal["hang", "garbage"]
    process: _Process = field(repr=False)

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def url(self) -> str:
        return f"rtsp://{HOST}:{self.port}/{self.kind}/main"


STREAM_PROFILES = ("camera", "light")  # gst_server.PROFILES, which cannot import this module
StreamProfile = Literal["camera", "light"]


def check_profile(profile: str) -> StreamProfile:
    """``profile`` if the simulator knows it, else a ValueError naming the choices."""
    if profile not in STREAM_PROFILES:
        raise ValueError(f"未知的画面类型“{profile}”，可选 camera 或 light / unknown stream "
                         f"profile '{profile}': camera or light")
    return profile  # type: ignore[return-value]


class Simulator:
    """N simulated cameras, each its own RTSP server process on loopback.

    Parameters
    ----------
    cameras
        A count (cameras ``sim01``…) or explicit :class:`CameraSpec` entries.
    size, sub_size
        Width and height of the main and the sub stream; the sub stream defaults to half the
        main one (at least 160x90).
    fps
        Frames per second of both streams (also the key-frame interval: one per second).
    auth
        ``"basic"`` or ``"digest"`` for cameras that demand credentials.
    workdir
        Folder for port files, logs and the state file; a fresh temporary folder (removed by
        :meth:`stop`) when None.
    timezone
        The zone of the clock a camera burns into its picture (``TZ`` of its process): a real
        camera's OSD shows local time, and the wall's labels are in ``ui.timezone``.
    profile
        ``"camera"`` (default): H.264 Main profile with CABAC and deblocking over a textured
        scene with sensor noise, what a decoder gets from a real camera's sub stream;
        ``"light"``: constrained baseline over a flat picture, a third of the decode and half
        the encode cost (see docs/simulator.md).
    """

    def __init__(self, cameras: int | Sequence[CameraSpec], *, size: tuple[int, int] = (640, 360),
                 sub_size: tuple[int, int] | None = None, fps: int = 15,
                 auth: Literal["basic", "digest"] = "basic", workdir: Path | None = None,
                 start_timeout: float = 30.0, timezone: str = "Asia/Shanghai",
                 profile: StreamProfile = "camera") -> None:
        specs = default_cameras(cameras) if isinstance(cameras, int) else list(cameras)
        if len({s.code for s in specs}) != len(specs):
            raise ValueError("camera codes must be unique")
        self.size = _even(size)
        self.sub_size = _even(sub_size or (max(160, size[0] // 2), max(90, size[1] // 2)))
        self.fps, self.auth, self.start_timeout = fps, auth, start_timeout
        self.timezone = timezone
        self.profile = check_profile(profile)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="cc-camsim-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cameras: dict[str, SimulatedCamera] = {
            s.code: SimulatedCamera(s, self._camera_process(s)) for s in specs}
        self.faults: list[FaultServer] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Start every camera in parallel and wait until each one listens."""
        check_setup()
        procs = [cam.process for cam in self.cameras.values()]
        try:
            for proc in procs:
                self._spawn(proc)
            deadline = time.monotonic() + self.start_timeout
            for proc in procs:
                self._wait_ready(proc, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process we started (by PID) and remove our temporary folder."""
        for proc in [c.process for c in self.cameras.values()] + [f.process for f in self.faults]:
            _terminate(proc)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------
    def camera(self, code: str) -> SimulatedCamera:
        """The camera with this code (KeyError if there is none)."""
        return self.cameras[code]

    def url(self, code: str, stream: Stream = "main", credentials: bool = True) -> str:
        """Stream URL of camera ``code``; see :meth:`SimulatedCamera.url`."""
        return self.cameras[code].url(stream, credentials)

    def kill(self, code: str) -> None:
        """SIGKILL the camera: its port refuses connections until :meth:`restart`."""
        proc = self.cameras[code].process
        if proc.popen is not None and proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.wait()
        proc.state = "killed"

    def freeze(self, code: str) -> None:
        """SIGSTOP the camera: connections stay open, no byte moves, until :meth:`thaw`."""
        proc = self.cameras[code].process
        if proc.popen is not None and proc.popen.poll() is None:
            os.kill(proc.popen.pid, signal.SIGSTOP)
            proc.state = "frozen"

    def thaw(self, code: str) -> None:
        """SIGCONT a frozen camera."""
        proc = self.cameras[code].process
        if proc.popen is not None and proc.popen.poll() is None:
            os.kill(proc.popen.pid, signal.SIGCONT)
            proc.state = "running"

    def restart(self, code: str) -> None:
        """Kill the camera if it runs and start it again on the same port."""
        self.kill(code)
        proc = self.cameras[code].process
        self._spawn(proc)
        self._wait_ready(proc, time.monotonic() + self.start_timeout)

    def start_fault_server(self, kind: Literal["hang", "garbage"]) -> FaultServer:
        """Start a server that accepts TCP and never answers (``hang``) or answers garbage."""
        key = f"{kind}{len(self.faults) + 1}"
        argv = [sys.executable, str(FAULT_SCRIPT), kind, "--parent-pid", str(os.getpid())]
        fault = FaultServer(kind, _Process(key, argv, {}))
        self.faults.append(fault)
        self._spawn(fault.process)
        self._wait_ready(fault.process, time.monotonic() + self.start_timeout)
        return fault

    # -- state -------------------------------------------------------------------------------
    def state(self, credentials: bool = False) -> dict[str, object]:
        """A JSON-able description: cameras with ports, PIDs, states and URLs."""
        return {
            "size": list(self.size), "sub_size": list(self.sub_size), "fps": self.fps,
            "profile": self.profile,
            "cameras": [{"code": c.spec.code, "name": c.spec.name, "port": c.port,
                         "pid": c.pid, "state": c.state,
                         "main": c.url("main", credentials), "sub": c.url("sub", credentials)}
                        for c in self.cameras.values()],
            "faults": [{"kind": f.kind, "port": f.port, "pid": f.process.pid, "url": f.url}
                       for f in self.faults],
        }

    def write_state(self, path: Path, credentials: bool = True) -> Path:
        """Write :meth:`state` as JSON, readable by the owner only (it may hold passwords)."""
        path = Path(path)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.state(credentials), out, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
        return path

    # -- internals ---------------------------------------------------------------------------
    def _camera_process(self, spec: CameraSpec) -> _Process:
        argv = [system_python(), str(SERVER_SCRIPT), "--code", spec.code, "--name", spec.name,
                "--size", "x".join(map(str, self.size)),
                "--sub-size", "x".join(map(str, self.sub_size)),
                "--fps", str(self.fps), "--profile", self.profile, "--auth", self.auth,
                "--parent-pid", str(os.getpid())]
        env: dict[str, str] = {"TZ": self.timezone}
        if spec.user is not None:
            argv += ["--user", spec.user]
            env["CC_SIM_PASSWORD"] = spec.password or ""  # not in argv: `ps` shows argv
        return _Process(spec.code, argv, env)

    def _spawn(self, proc: _Process) -> None:
        port_file = self.workdir / f"{proc.key}.port"
        port_file.unlink(missing_ok=True)
        argv = [*proc.argv, "--port", str(proc.port), "--port-file", str(port_file)]
        with open(self.workdir / f"{proc.key}.log", "ab") as log:
            # A session of its own: Ctrl-C in a terminal reaches the controller only, which
            # then stops the children in order instead of them dying half-way.
            proc.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          env={**os.environ, **proc.env})
        proc.state = "running"

    def _wait_ready(self, proc: _Process, deadline: float) -> None:
        port_file = self.workdir / f"{proc.key}.port"
        assert proc.popen is not None
        while not port_file.exists():
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                _terminate(proc)
                log = (self.workdir / f"{proc.key}.log").read_text("utf-8", "replace")[-800:]
                raise SetupError(f"模拟摄像机 {proc.key} 启动失败：{scrub(log)}",
                                 f"simulated camera {proc.key} failed to start: {scrub(log)}")
            time.sleep(0.02)
        proc.port = int(port_file.read_text(encoding="utf-8"))


def _even(size: tuple[int, int]) -> tuple[int, int]:
    # I420 needs even dimensions; the pixel code needs a few rows and columns.
    width, height = (max(64, int(v)) // 2 * 2 for v in size)
    return width, height


def _terminate(proc: _Process) -> None:
    popen = proc.popen
    if popen is None:
        return
    if popen.poll() is None:
        popen.terminate()
        # A frozen child keeps SIGTERM pending until it runs again.
        os.kill(popen.pid, signal.SIGCONT)
        try:
            popen.wait(timeout=3)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
    proc.state = "killed"
