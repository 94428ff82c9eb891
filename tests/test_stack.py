"""The first README command's last step: ``command-center up`` runs the whole stack."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import sqlalchemy as sa
from helpers import free_port

from gis.demo import seed_demo


@pytest.fixture(scope="module")
def seeded(engine, settings):
    seed_demo(engine, settings)
    return engine


@pytest.mark.slow
def test_up_starts_cameras_relay_and_app_and_stops_them(seeded, tmp_path):
    url = seeded.url.render_as_string(hide_password=False).replace("+psycopg", "")
    relay_port, app_port, api_port = free_port(), free_port(), free_port()
    env = {**os.environ, "CC_DATABASE_URL": url, "CC_RELAY__PORT": str(relay_port),
           "CC_APP__PORT": str(app_port), "CC_API__PORT": str(api_port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "command_center.cli", "up", "--simulate", "2",
         "--sim-profile", "light", "--log-dir", str(tmp_path)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 150
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(output)
        assert "command center ready" in text, text
        assert "demo login" in text
        assert "department demo:  demo.cgj / " in text, text
        with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/login") as resp:
            assert resp.status == 200
            assert "登录" in resp.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{relay_port}/health") as resp:
            health = json.loads(resp.read())
        body = json.dumps(health)
        assert "rtsp://" not in body
        with urllib.request.urlopen(
                f"http://127.0.0.1:{api_port}/open311/v2/services.json") as resp:
            services = json.loads(resp.read())
        assert any(s["service_name"] for s in services), "the intake API lists categories"
        with seeded.connect() as conn:
            ports = {row[0] for row in conn.execute(sa.text(
                "SELECT DISTINCT substring(main_url from ':(\\d+)/') FROM camera"))}
        assert len(ports) == 2, "demo cameras should share the two simulated feeds"
        cameras = [cmd for cmd in (_cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit())
                   if "gst_server.py" in cmd and f"--parent-pid {proc.pid}" in cmd]
        assert len(cameras) == 2 and all("--profile light" in cmd for cmd in cameras), cameras
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert proc.returncode == 0, "".join(output)
    for port in (relay_port, app_port, api_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still served"


def _cmdline(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:  # gone meanwhile
        return ""


def test_up_refuses_an_unknown_stream_profile_before_starting_anything():
    result = subprocess.run([sys.executable, "-m", "command_center.cli", "up",
                             "--sim-profile", "hd"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COLUMNS": "200"})  # the message on one line
    assert result.returncode == 2
    assert "camera or light" in result.stdout + result.stderr


def test_a_taken_port_is_named_before_anything_starts():
    from types import SimpleNamespace

    from command_center.stack import reserve_ports
    from gis.errors import SetupError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        free = SimpleNamespace(host="127.0.0.1", port=free_port())
        with pytest.raises(SetupError) as err:
            reserve_ports({"relay": free, "app": SimpleNamespace(host="127.0.0.1", port=taken)})
        assert f"127.0.0.1:{taken}" in str(err.value) and "CC_APP__PORT" in str(err.value)
    # nothing stays held after the refusal, and a free set is held until closed
    held = reserve_ports({"relay": free})
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", free.port)) != 0  # held, not listening
        with pytest.raises(OSError):
            probe.bind(("127.0.0.1", free.port))
    for sock in held:
        sock.close()
