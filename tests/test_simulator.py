"""The camera simulator, against real RTSP servers on 127.0.0.1 read through OpenCV/FFmpeg.

Every server here is a real process started by ``video.simulator``; fixtures stop them by PID
in ``finally``. Without GStreamer's Debian packages the module is skipped locally and fails
under CI (``CI`` set), like the database tests.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import require_simulator

from gis.errors import SetupError
from video.pixelcode import decode_timestamp, encode_timestamp
from video.simulator import CameraSpec, Simulator, check_setup

cv2 = pytest.importorskip("cv2")

MAIN, SUB = (640, 360), (384, 216)
USER, PASSWORD = "admin", "p@ss:w/rd 1"
# TCP interleaved, as the relay reads; no long probing so that each open takes ~0.1 s.
FFMPEG_OPTIONS = "rtsp_transport;tcp|analyzeduration;0|probesize;32"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    require_simulator()
    simulator = Simulator([CameraSpec("cam-a", "测试甲"), CameraSpec("cam-b", "测试乙"),
                           CameraSpec("cam-c", "测试丙"),
                           CameraSpec("locked", "加密", USER, PASSWORD)],
                          size=MAIN, sub_size=SUB, fps=15)
    try:
        simulator.start()
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(autouse=True)
def _ffmpeg_over_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", FFMPEG_OPTIONS)


def open_capture(url: str, read_timeout_ms: int = 3000):
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 3000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_timeout_ms])


def read_frames(url: str, count: int, gap_s: float = 0.0) -> list[np.ndarray]:
    cap = open_capture(url)
    try:
        assert cap.isOpened(), "stream did not open"
        frames = []
        for _ in range(count):
            deadline = time.monotonic() + gap_s
            while True:  # keep reading (never let frames queue up), keep the last one
                ok, frame = cap.read()
                assert ok, "stream stopped"
                if time.monotonic() >= deadline:
                    break
            frames.append(frame)
        return frames
    finally:
        cap.release()


def box_centre(frame: np.ndarray) -> tuple[float, float]:
    # The bouncing box is orange (BGR ~ 54, 159, 255); nothing else in the picture is.
    b, g, r = (frame[:, :, i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r > 200) & (b < 110) & (g > 110) & (g < 210))
    assert len(xs) > 50, "no moving box in the picture"
    return float(xs.mean()), float(ys.mean())


def rtsp_status(port: int, path: str, authorization: str | None = None) -> str:
    """Status line of a raw DESCRIBE, to see the server's exact answer (e.g. 401)."""
    request = (f"DESCRIBE rtsp://127.0.0.1:{port}{path} RTSP/1.0\r\nCSeq: 1\r\n"
               "Accept: application/sdp\r\n")
    if authorization:
        request += f"Authorization: {authorization}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
        conn.sendall((request + "\r\n").encode())
        return conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")


def rtsp_describe(port: int, path: str) -> str:
    """The whole answer to a DESCRIBE: status, headers and the SDP.

    Right after another session's teardown the server answers 503 for a moment (the media
    is being unprepared): asked again until it answers otherwise, for up to 5 s.
    """
    deadline = time.monotonic() + 5
    while True:
        answer = _describe_once(port, path)
        if " 503 " not in answer.split("\r\n", 1)[0] or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def _describe_once(port: int, path: str) -> str:
    request = (f"DESCRIBE rtsp://127.0.0.1:{port}{path} RTSP/1.0\r\nCSeq: 1\r\n"
               "Accept: application/sdp\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:  # the status line and headers
            chunk = conn.recv(4096)
            if not chunk:
                return data.decode("latin-1")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0  # an answer without a body (a 503) has no Content-Length
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(4096)
            if not chunk:
                break
            body += chunk
    return (head + b"\r\n\r\n" + body).decode("latin-1")


def first_frame(url: str) -> np.ndarray:
    """One frame, opening again while the camera still answers 503 from a torn-down session."""
    deadline = time.monotonic() + 5
    while True:
        cap = open_capture(url)
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
        finally:
            cap.release()
        if ok:
            return frame
        assert time.monotonic() < deadline, "stream did not open"
        time.sleep(0.2)


def texture(frame: np.ndarray) -> float:
    """Mean luma step between horizontal neighbours above the pixel code: detail and noise."""
    luma = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[: frame.shape[0] * 3 // 4].astype(int)
    return float(np.abs(np.diff(luma, axis=1)).mean())


def connect_errno(port: int) -> int:
    with socket.socket() as conn:
        conn.settimeout(2)
        return conn.connect_ex(("127.0.0.1", port))


# -- the pixel code ----------------------------------------------------------------------------

def test_pixel_code_round_trips_and_rejects_frames_without_a_code():
    frame = np.random.default_rng(7).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    assert decode_timestamp(frame) is None
    encode_timestamp(frame, 1_767_225_600_123)
    assert decode_timestamp(frame) == 1_767_225_600_123
    assert decode_timestamp(cv2.resize(frame, (160, 90), interpolation=cv2.INTER_AREA)) \
        == 1_767_225_600_123
    assert decode_timestamp(np.zeros((360, 640), np.uint8)) is None
    with pytest.raises(ValueError):
        encode_timestamp(frame, -1)


def test_a_damaged_code_reads_as_none_not_as_a_wrong_time():
    frame = np.zeros((180, 320), np.uint8)
    encode_timestamp(frame, 1_767_225_600_123)
    top = frame.shape[0] - frame.shape[0] // 12
    frame[top:, 150:160] = 255 - frame[top:, 150:160]  # flip one data cell in both rows
    assert decode_timestamp(frame) is None


# -- streams -------------------------------------------------------------------------------

@pytest.mark.parametrize(("stream", "size"), [("main", MAIN), ("sub", SUB)])
def test_stream_has_the_asked_size_a_moving_picture_and_the_wall_clock(sim, stream, size):
    frames = read_frames(sim.url("cam-a", stream), 3, gap_s=0.4)
    assert all(f.shape == (size[1], size[0], 3) for f in frames)
    centres = [box_centre(f) for f in frames]
    assert max(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a in centres for b in centres) > 5
    stamp = decode_timestamp(frames[-1])
    assert stamp is not None
    # Proves the stamp is this frame's wall-clock time (not a counter, not stale); the
    # latency itself is measured by the benchmark named in docs/simulator.md.
    assert abs(time.time() * 1000 - stamp) < 2000


def test_pixel_code_survives_h264_and_a_downscale_to_a_tile(sim):
    frame = read_frames(sim.url("cam-a", "main"), 1)[0]
    for tile in [(320, 180), (160, 90)]:
        small = cv2.resize(frame, tile, interpolation=cv2.INTER_AREA)
        assert decode_timestamp(small) == decode_timestamp(frame) is not None


def test_hikvision_paths_serve_the_same_camera(sim):
    port = sim.camera("cam-a").port
    frame = read_frames(f"rtsp://127.0.0.1:{port}/Streaming/Channels/102", 1)[0]
    assert frame.shape == (SUB[1], SUB[0], 3)


# -- faults --------------------------------------------------------------------------------

def test_kill_makes_the_port_refuse_and_restart_brings_the_same_url_back(sim):
    port = sim.camera("cam-b").port
    sim.kill("cam-b")
    assert connect_errno(port) != 0
    assert not open_capture(sim.url("cam-b", "sub")).isOpened()
    sim.restart("cam-b")
    assert sim.camera("cam-b").port == port
    assert decode_timestamp(read_frames(sim.url("cam-b", "sub"), 1)[0]) is not None


def test_frozen_camera_accepts_tcp_but_sends_no_frames_until_thawed(sim):
    cap = open_capture(sim.url("cam-c", "sub"), read_timeout_ms=1000)
    try:
        assert cap.read()[0]
        sim.freeze("cam-c")
        # Frames already in the socket buffer may still come out; then reading must stop.
        ok = True
        for _ in range(60):
            ok, _frame = cap.read()
            if not ok:
                break
        assert not ok
        assert connect_errno(sim.camera("cam-c").port) == 0  # unlike a killed camera
    finally:
        cap.release()
        sim.thaw("cam-c")
    assert read_frames(sim.url("cam-c", "sub"), 2)


def test_credentials_are_required_and_wrong_ones_get_401(sim):
    port = sim.camera("locked").port
    assert rtsp_status(port, "/locked/main").startswith("RTSP/1.0 401")
    wrong = base64.b64encode(f"{USER}:nope".encode()).decode()
    assert rtsp_status(port, "/locked/main", f"Basic {wrong}").startswith("RTSP/1.0 401")
    right = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert rtsp_status(port, "/locked/main", f"Basic {right}").startswith("RTSP/1.0 200")
    assert not open_capture(sim.url("locked", "sub", credentials=False)).isOpened()
    assert read_frames(sim.url("locked", "sub"), 1)  # URL-encoded special characters work


def test_urls_print_without_credentials(sim):
    camera = sim.camera("locked")
    assert PASSWORD not in str(camera.secret_url("main"))
    assert "p%40ss%3Aw%2Frd%201" in camera.url("main")


def test_hang_server_accepts_and_never_answers(sim):
    server = sim.start_fault_server("hang")
    with socket.create_connection(("127.0.0.1", server.port), timeout=0.5) as conn:
        conn.sendall(b"OPTIONS rtsp://127.0.0.1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        with pytest.raises(TimeoutError):
            conn.recv(1)
    cap = cv2.VideoCapture(server.url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 800])
    assert not cap.isOpened()


def test_garbage_server_answers_with_bytes_that_are_not_rtsp(sim):
    server = sim.start_fault_server("garbage")
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
        conn.sendall(b"OPTIONS rtsp://127.0.0.1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        reply = conn.recv(4096)
    assert reply and not reply.startswith(b"RTSP/")
    assert not open_capture(server.url).isOpened()


# -- lifecycle -----------------------------------------------------------------------------

def test_stop_ends_every_process_and_removes_the_folder():
    simulator = Simulator(1).start()
    try:
        simulator.freeze("sim01")  # a frozen child must be stopped too
        simulator.start_fault_server("hang")
        pids = [simulator.camera("sim01").pid, simulator.faults[0].process.pid]
        folder = simulator.workdir
    finally:
        simulator.stop()
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert not folder.exists()


def test_missing_gstreamer_is_a_setup_error_naming_the_packages(monkeypatch):
    monkeypatch.setenv("CC_SIM_PYTHON", "/nonexistent/python3")
    with pytest.raises(SetupError, match=r"gir1\.2-gst-rtsp-server-1\.0"):
        check_setup()


def test_cli_serves_until_sigterm_and_leaves_nothing_behind(tmp_path):
    state = tmp_path / "state.json"
    code = ("import typer; from command_center import cli_cameras; app = typer.Typer();"
            "app.callback()(lambda: None); cli_cameras.register(app); app()")
    proc = subprocess.Popen([sys.executable, "-c", code, "cameras", "simulate", "--count", "1",
                             "--user", USER, "--state-file", str(state)],
                            env={**os.environ, "CC_SIM_PASSWORD": PASSWORD},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        cameras = json.loads(state.read_text(encoding="utf-8"))["cameras"]
        assert oct(state.stat().st_mode & 0o777) == "0o600"
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "rtsp://***@127.0.0.1" in out and PASSWORD not in out
    assert not Path(f"/proc/{cameras[0]['pid']}").exists()
    assert not state.exists()


def test_cli_rejects_a_bad_size_with_a_bilingual_message():
    import typer
    from typer.testing import CliRunner

    from command_center import cli_cameras

    app = typer.Typer()
    app.callback()(lambda: None)
    cli_cameras.register(app)
    result = CliRunner().invoke(app, ["cameras", "simulate", "--size", "640by360"])
    assert result.exit_code == 2
    assert "640x360" in result.output


def test_camera_profile_is_main_profile_over_a_textured_scene_light_is_baseline_and_flat(sim):
    # What the decoder gets decides what the relay's benchmark measures: a real camera's sub
    # stream is Main profile (CABAC, deblocking) over a scene with detail and noise.
    textured = texture(first_frame(sim.url("cam-b", "sub")))
    sdp = rtsp_describe(sim.camera("cam-b").port, "/cam-b/sub")
    assert "profile-level-id=4d" in sdp.lower(), sdp
    with Simulator([CameraSpec("flat", "平面")], size=MAIN, sub_size=SUB,
                   profile="light") as light:
        frame = first_frame(light.url("flat", "sub"))
        flat = texture(frame)
        assert box_centre(frame)  # the same moving box on the flat picture
        sdp = rtsp_describe(light.camera("flat").port, "/flat/sub")
        assert "profile-level-id=42" in sdp.lower(), sdp
    assert textured > 3 * flat, (textured, flat)
    with pytest.raises(ValueError, match="camera or light"):
        Simulator(1, profile="hd")  # type: ignore[arg-type]


def test_digest_auth_lets_the_right_password_in_only(sim):
    with Simulator([CameraSpec("digest", "摘要认证", USER, PASSWORD)], auth="digest") as digest:
        assert read_frames(digest.url("digest", "sub"), 1)
        wrong = digest.url("digest", "sub").replace("w%2Frd", "nope")
        assert not open_capture(wrong).isOpened()


def test_a_camera_burns_in_the_districts_local_time(sim):
    # A real camera's OSD clock shows local time; the wall labels its tiles in ui.timezone.
    pid = sim.camera("cam-a").pid
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"TZ=Asia/Shanghai" in env
