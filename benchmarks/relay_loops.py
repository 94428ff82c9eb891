"""The baselines of ``benchmarks/relay.py``: loops that each run in a process of their own, so
that their CPU is read from ``/proc/<pid>/stat`` exactly as the relay's is.

* :func:`bare_decode`: one thread per stream calling ``read()`` (and, with ``resize``,
  ``cv2.resize`` to the tile: the issue's "naive read+resize loop");
* :func:`bare_wall`: the *floor*, the least CPU any server-side wall can cost on OpenCV's
  FFmpeg backend: every frame read and scaled (the relay's :func:`video.scale.scale_into`)
  straight into its place on the wall canvas, and one ``cv2.imencode`` of the canvas per tick
  at the relay's JPEG quality. No supervision, labels, look-back, frame hub or HTTP: the
  relay's CPU above this floor is what its own machinery costs; the floor above ``read`` is
  what any wall of that size costs, whoever writes it.

Both print ``ready`` once every stream has delivered a second's frames, then, after the
measuring window, a JSON line, and exit when the parent closes their standard input (after
it has read their ``/proc`` figures).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

FPS = 15


def _open(url: str) -> cv2.VideoCapture:
    # The relay's open: FFmpeg backend, one decoder thread, bounded timeouts (the FFmpeg
    # options come from OPENCV_FFMPEG_CAPTURE_OPTIONS, set by the importer).
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 4000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 3000,
        cv2.CAP_PROP_N_THREADS, 1])


def _run_streams(urls: list[str], duration: float,
                 handle: Callable[[int, np.ndarray], None],
                 extra: list[threading.Thread] | None = None) -> dict[str, list[float]]:
    """Read every URL on its own thread, ``handle(i, image)`` each frame; measure fps."""
    # The relay runs OpenCV single-threaded (its parallelism is a thread per stream); so do
    # the baselines, or their resizes would pay for OpenCV's spinning worker pool.
    cv2.setNumThreads(1)
    counts = [0] * len(urls)
    window = [0] * len(urls)
    measuring = threading.Event()
    stop = threading.Event()

    def run(i: int, url: str) -> None:
        cap = _open(url)
        while not stop.is_set():
            ok, image = cap.read()
            if not ok:
                break
            handle(i, image)
            counts[i] += 1
            if measuring.is_set():
                window[i] += 1
        cap.release()

    threads = [threading.Thread(target=run, args=(i, u), daemon=True) for i, u in enumerate(urls)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while min(counts) < FPS and time.monotonic() < deadline:
        time.sleep(0.05)
    for t in extra or []:
        t.start()
    print("ready", flush=True)
    measuring.set()
    t0 = time.monotonic()
    time.sleep(duration)
    measuring.clear()
    fps = [w / (time.monotonic() - t0) for w in window]
    print(json.dumps({"fps": fps}), flush=True)
    sys.stdin.read()  # the parent reads our /proc figures, then closes stdin
    stop.set()
    for t in threads:  # a thread still inside FFmpeg at interpreter exit aborts the process
        t.join(5)
    return {"fps": fps}


def bare_decode(urls_file: str, duration: float, resize: tuple[int, int] | None) -> None:
    """``read()`` every stream, optionally ``cv2.resize`` each frame to ``resize``."""
    urls = json.loads(Path(urls_file).read_text())

    def handle(_i: int, image: np.ndarray) -> None:
        if resize is not None:
            cv2.resize(image, resize)

    _run_streams(urls, duration, handle)


def bare_wall(urls_file: str, duration: float, tile_width: int, quality: int) -> None:
    """The floor: streams scaled into 4x4 canvases (16 streams a wall), one JPEG per tick."""
    from video.mosaic import canvas_size, tile_rects
    from video.scale import scale_into

    urls = json.loads(Path(urls_file).read_text())
    walls = -(-len(urls) // 16)  # 16 streams a wall, the last one possibly part-filled
    width, height = canvas_size(4, 4, tile_width)
    canvases = [np.zeros((height, width, 3), np.uint8) for _ in range(walls)]
    rects = tile_rects(4, 4, width, height)
    rois = []
    for i in range(len(urls)):
        r = rects[i % 16]
        rois.append(canvases[i // 16][r.y:r.y + r.h, r.x:r.x + r.w])
    stop = threading.Event()

    def handle(i: int, image: np.ndarray) -> None:
        scale_into(image, rois[i])  # straight into the canvas: not even a tile copy

    def encode(canvas: np.ndarray) -> None:
        period, next_tick = 1.0 / FPS, time.monotonic()
        while not stop.is_set():
            cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, quality])
            next_tick += period
            stop.wait(max(0.0, next_tick - time.monotonic()))

    encoders = [threading.Thread(target=encode, args=(c,), daemon=True) for c in canvases]
    _run_streams(urls, duration, handle, extra=encoders)
    stop.set()
