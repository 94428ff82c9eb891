"""CPU of keeping 1,000 registered, unwatched cameras' health fresh with RTSP probes.

Run with ``.venv/bin/python benchmarks/relay_probe.py [--seconds 60] [--cameras 1000]``.

Four simulated cameras (``video.simulator``) stand behind 80 % of 1,000 camera codes; the
other 20 % point at closed ports (connection refused). A helper process keeps each simulator's
main stream playing, so that a ``DESCRIBE`` costs the simulator what it costs a real camera
(the SDP of a running encoder) instead of building a pipeline per probe.

Measured for ``probe_interval_s`` = 60 and 10, over the same window each:

* ours: :class:`video.supervisor.Supervisor` (probes spread evenly over the interval, one
  scheduler thread, non-blocking sockets);
* baseline: the naive way, every interval all probes at once, a fresh thread per probe
  (``video.probe.probe``, blocking).

CPU is ``time.process_time()`` of this process (the relay) over the window, as % of one core.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a checkout without install
    sys.path.insert(0, str(ROOT))

from config.settings import RelaySettings  # noqa: E402
from gis.scrub import SecretUrl  # noqa: E402
from video.camera import CameraSpec  # noqa: E402
from video.probe import ProbeResult, probe  # noqa: E402
from video.simulator import Simulator  # noqa: E402
from video.supervisor import Supervisor  # noqa: E402

KEEP_PLAYING = """
import os, sys, threading
os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp|analyzeduration;0|probesize;32"
import cv2
def play(url):
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    while cap.read()[0]:
        pass
threads = [threading.Thread(target=play, args=(u,), daemon=True) for u in sys.argv[1:]]
[t.start() for t in threads]
sys.stdin.read()
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def registry(sim: Simulator, count: int) -> list[CameraSpec]:
    sims = list(sim.cameras)
    port = closed_port()
    cams = []
    for i in range(count):
        if i % 5 == 4:  # every fifth camera is down: refused on 127.0.1.x
            url = f"rtsp://127.0.1.{i % 250 + 1}:{port}/dead{i}"
        else:
            url = sim.url(sims[i % len(sims)], "main")
        cams.append(CameraSpec(f"C{i:04d}", f"摄像机 {i}", SecretUrl(url)))
    return cams


def measure_ours(cams: list[CameraSpec], interval: float, seconds: float) -> dict[str, float]:
    sup = Supervisor(cams, RelaySettings(probe_interval_s=interval))
    sup.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    stats = sup.stats()
    sup.stop()
    return {"cpu": cpu / wall, "probes": stats["probes_total"],
            "online": stats["cameras_online"], "offline": stats["cameras_offline"],
            "threads": 2.0}


def measure_naive(cams: list[CameraSpec], interval: float, seconds: float) -> dict[str, float]:
    results: dict[str, ProbeResult] = {}
    probes = 0
    burst_s: list[float] = []

    def one(cam: CameraSpec) -> None:
        results[cam.code] = probe(cam.main_url, timeout_s=3.0)

    cpu0, wall0 = time.process_time(), time.monotonic()
    next_round = wall0
    while time.monotonic() - wall0 < seconds:
        start = time.monotonic()
        threads = [threading.Thread(target=one, args=(c,), daemon=True) for c in cams]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        probes += len(threads)
        burst_s.append(time.monotonic() - start)
        next_round += interval
        time.sleep(max(0.0, min(next_round, wall0 + seconds) - time.monotonic()))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    states = [r.state for r in results.values()]
    return {"cpu": cpu / wall, "probes": float(probes), "online": float(states.count("online")),
            "offline": float(states.count("offline")), "threads": float(len(cams)),
            "burst": max(burst_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--intervals", default="60,10", help="probe intervals to measure (s)")
    args = parser.parse_args()
    with Simulator(4, size=(320, 180), fps=5) as sim:
        cams = registry(sim, args.cameras)
        player = subprocess.Popen([sys.executable, "-c", KEEP_PLAYING,
                                   *(sim.url(c, "main") for c in sim.cameras)],
                                  stdin=subprocess.PIPE)
        try:
            time.sleep(2)  # the four encoders are running before anything is measured
            rows = []
            for interval in (float(v) for v in args.intervals.split(",")):
                ours = measure_ours(cams, interval, args.seconds)
                naive = measure_naive(cams, interval, args.seconds)
                rows.append((interval, ours, naive))
        finally:
            player.terminate()
            player.wait()
    print(f"\n{args.cameras} registered unwatched cameras (80 % on 4 simulators, 20 % refused), "
          f"{args.seconds:g} s window, CPU of this process in % of one core")
    head = f"{'interval':>8}  {'variant':<40} {'CPU':>7} {'probes':>7} {'online':>7} " \
           f"{'offline':>7} {'threads':>8}"
    print(head)
    print("-" * len(head))
    for interval, ours, naive in rows:
        for name, row in (("ours: staggered, 1 thread, non-blocking", ours),
                          ("naive: all at once, thread per probe", naive)):
            extra = f"  (burst took {row['burst']:.2f} s)" if "burst" in row else ""
            print(f"{interval:>7g}s  {name:<40} {row['cpu'] * 100:>6.2f}% {row['probes']:>7.0f} "
                  f"{row['online']:>7.0f} {row['offline']:>7.0f} {row['threads']:>8.0f}{extra}")
        ratio = naive["cpu"] / ours["cpu"] if ours["cpu"] else float("inf")
        print(f"{'':>9} naive / ours CPU: {ratio:.1f}x")


if __name__ == "__main__":
    main()
