"""Benchmark the camera simulator: startup, CPU per camera, end-to-end latency.

Run with ``.venv/bin/python benchmarks/simulator.py``. Cameras are 640x360@15 main +
320x180 sub; "watched" means one OpenCV/FFmpeg reader (TCP) on each of main and sub.
CPU is the camera processes' own utime+stime from /proc over a 10 s window (readers excluded).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp|analyzeduration;0|probesize;32"
import cv2  # noqa: E402

from video.pixelcode import decode_timestamp  # noqa: E402
from video.simulator import Simulator  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
WINDOW_S = 10.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def camera_cpu(sim: Simulator, seconds: float) -> float:
    """Mean CPU (% of one core) per camera over ``seconds``."""
    pids = [c.pid for c in sim.cameras.values()]
    before = sum(cpu_seconds(p) for p in pids)
    time.sleep(seconds)
    return 100 * (sum(cpu_seconds(p) for p in pids) - before) / seconds / len(pids)


class Reader(threading.Thread):
    def __init__(self, url: str, threads: int = 0) -> None:
        super().__init__(daemon=True)
        self.url, self.threads = url, threads
        self.latencies: list[float] = []
        self.frames = 0
        self.stop = threading.Event()
        self.opened = threading.Event()

    def run(self) -> None:
        params = [cv2.CAP_PROP_N_THREADS, self.threads] if self.threads else []
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        self.opened.set()
        while not self.stop.is_set():
            ok, frame = cap.read()
            if not ok:
                break
            self.frames += 1
            stamp = decode_timestamp(frame)
            if stamp is not None and self.frames > 15:  # skip the start-up backlog
                self.latencies.append(time.time() * 1000 - stamp)
        cap.release()


def watched(sim: Simulator, threads: int = 0) -> list[Reader]:
    readers = [Reader(c.url(s), threads) for c in sim.cameras.values() for s in ("main", "sub")]
    for r in readers:
        r.start()
    deadline = time.monotonic() + 60
    while any(r.frames == 0 for r in readers) and time.monotonic() < deadline:
        time.sleep(0.01)
    return readers


def stop(readers: list[Reader]) -> None:
    for r in readers:
        r.stop.set()
    for r in readers:
        r.join(10)


def main() -> None:
    print(f"cores: {os.cpu_count()}, load avg at start: {os.getloadavg()[0]:.2f}")
    for count in (4, 16):
        t0 = time.perf_counter()
        with Simulator(count) as sim:
            listening = time.perf_counter() - t0
            idle = camera_cpu(sim, 5)
            t1 = time.perf_counter()
            readers = watched(sim)
            first = time.perf_counter() - t1
            time.sleep(2)
            frames0 = sum(r.frames for r in readers)
            busy = camera_cpu(sim, WINDOW_S)
            fps = (sum(r.frames for r in readers) - frames0) / WINDOW_S / len(readers)
            lat = [v for r in readers for v in r.latencies]
            stop(readers)
        print(f"{count:2d} cameras: listening after {listening:.2f} s, first frame on all "
              f"2x{count} streams {first:.2f} s after opening; "
              f"CPU per camera idle {idle:.1f} %, watched "
              f"(main+sub) {busy:.1f} % of one core; reader fps ~{fps:.1f}; "
              f"latency median {statistics.median(lat):.0f} ms (p90 "
              f"{statistics.quantiles(lat, n=10)[-1]:.0f} ms) with {2 * count} readers")
    with Simulator(1) as sim:
        for threads in (0, 1):
            readers = watched(sim, threads)
            time.sleep(6)
            stop(readers)
            for r in readers:
                label = "default decoder threads" if threads == 0 else "1 decoder thread"
                print(f"1 camera, {r.url.rsplit('/', 1)[-1]}, {label}: latency median "
                      f"{statistics.median(r.latencies):.0f} ms over {len(r.latencies)} frames")


if __name__ == "__main__":
    main()
