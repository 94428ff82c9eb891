"""One-off experiment: would another decoder let a wall cost less than the relay's floor?

Not part of the stack, not run by ``./run bench``: it answers one question for
``docs/relay.md`` (Performance, "the floor"). Each mode is one process over the same RTSP
streams, printing its CPU (cores) and frames a second per stream as one JSON line:

* ``ffmpeg-read``: OpenCV's FFmpeg backend, ``read()`` only (the relay benchmark's baseline);
* ``ffmpeg-wall``: the same plus ``cv2.resize`` into the wall canvas and one JPEG per tick
  (the relay benchmark's floor);
* ``gst-read``, ``gst-wall``: OpenCV's GStreamer backend (Debian's ``python3-opencv``), the
  picture decoded by ``avdec_h264`` and, for the wall, scaled to the tile by ``videoscale``
  before the conversion to BGR;
* ``av-decode``, ``av-bgr``, ``av-wall``: PyAV, decoding only, decoding to a full-size BGR
  array, and decoding then converting straight to a tile-size BGR array with one cached
  ``VideoReformatter`` (one swscale pass instead of convert-then-resize);
* ``av-yuv-wall``: no BGR anywhere: PyAV's frames scaled by swscale to tile-size YUV 4:2:0,
  copied into Y, U and V canvases, and the JPEG encoded from those planes by ``simplejpeg``
  (libjpeg-turbo without its own colour conversion and downsampling).

Setup (outside the project's environment), with the simulator running 16 cameras
(``.venv/bin/command-center cameras simulate --count 16 --size 640x360 --sub-size 640x360``)
and their sub-stream URLs in a JSON list::

    apt-get install python3-opencv gstreamer1.0-libav          # gst-* modes: /usr/bin/python3
    python3 -m venv /tmp/pyav
    /tmp/pyav/bin/pip install av numpy opencv-python-headless simplejpeg
    .venv/bin/python benchmarks/experiments/wall_decoders.py ffmpeg-wall urls.json 30 480
    /usr/bin/python3 benchmarks/experiments/wall_decoders.py gst-wall urls.json 30 480
    /tmp/pyav/bin/python benchmarks/experiments/wall_decoders.py av-wall urls.json 30 480
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;0|"
                      "probesize;32|fflags;nobuffer|flags;low_delay")  # the relay's options
import cv2
import numpy as np

FPS = 15
MODES = ("ffmpeg-read", "ffmpeg-wall", "gst-read", "gst-wall", "av-decode", "av-bgr", "av-wall",
         "av-yuv-wall")


def gst_pipeline(url: str, size: tuple[int, int] | None) -> str:
    caps = f",width={size[0]},height={size[1]}" if size else ""
    return (f"rtspsrc location={url} protocols=tcp latency=0 ! rtph264depay ! h264parse ! "
            f"avdec_h264 max-threads=1 ! videoscale ! video/x-raw{caps} ! videoconvert ! "
            "video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false")


def main() -> None:
    mode, urls = sys.argv[1], json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    seconds, width = float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 480
    if mode not in MODES:
        raise SystemExit(f"mode: one of {', '.join(MODES)}")
    cv2.setNumThreads(1)
    height = round(width * 9 / 16 / 2) * 2
    canvas = np.zeros((height * 4, width * 4, 3), np.uint8)
    planes = (np.zeros((height * 4, width * 4), np.uint8),  # Y, U, V of av-yuv-wall
              np.full((height * 2, width * 2), 128, np.uint8),
              np.full((height * 2, width * 2), 128, np.uint8))
    counts = [0] * len(urls)
    stop = threading.Event()

    def tile(i: int) -> np.ndarray:
        row, col = divmod(i % 16, 4)
        return canvas[row * height:(row + 1) * height, col * width:(col + 1) * width]

    def opencv(i: int, url: str) -> None:
        roi, wall = tile(i), mode.endswith("wall")
        if mode.startswith("ffmpeg"):
            cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        else:
            cap = cv2.VideoCapture(gst_pipeline(url, (width, height) if wall else None),
                                   cv2.CAP_GSTREAMER)
        while not stop.is_set():
            ok, image = cap.read()
            if not ok:
                print(f"stream {i}: read failed", file=sys.stderr)
                return
            if mode == "ffmpeg-wall":
                cv2.resize(image, (width, height), dst=roi, interpolation=cv2.INTER_LINEAR)
            elif mode == "gst-wall":
                roi[:] = image
            counts[i] += 1

    def pyav(i: int, url: str) -> None:
        import av
        from av.video.reformatter import VideoReformatter

        roi, reformatter = tile(i), VideoReformatter()
        container: Any = av.open(url, options={
            "rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay",
            "analyzeduration": "0", "probesize": "32"})
        stream = container.streams.video[0]
        stream.thread_count, stream.thread_type = 1, "NONE"
        for frame in container.decode(stream):
            if stop.is_set():
                return
            if mode == "av-bgr":
                frame.to_ndarray(format="bgr24")
            elif mode == "av-wall":
                roi[:] = reformatter.reformat(frame, width=width, height=height,
                                              format="bgr24",
                                              interpolation="BILINEAR").to_ndarray()
            elif mode == "av-yuv-wall":
                small = reformatter.reformat(frame, width=width, height=height,
                                             format="yuv420p", interpolation="BILINEAR")
                row, col = divmod(i % 16, 4)
                for k, (plane, canvas_plane) in enumerate(zip(small.planes, planes, strict=True)):
                    h, w = (height, width) if k == 0 else (height // 2, width // 2)
                    pixels = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
                    canvas_plane[row * h:(row + 1) * h, col * w:(col + 1) * w] = pixels[:h, :w]
            counts[i] += 1

    def encode() -> None:
        next_tick = time.monotonic()
        while not stop.is_set():
            if mode == "av-yuv-wall":
                import simplejpeg

                simplejpeg.encode_jpeg_yuv_planes(*planes, quality=75)
            else:
                cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 75])
            next_tick += 1 / FPS
            stop.wait(max(0.0, next_tick - time.monotonic()))

    reader = pyav if mode.startswith("av") else opencv
    for i, url in enumerate(urls):
        threading.Thread(target=reader, args=(i, url), daemon=True).start()
    time.sleep(5)  # every stream open and past its first key frame
    if mode.endswith("wall"):
        threading.Thread(target=encode, daemon=True).start()
    cpu0, frames0, t0 = time.process_time(), sum(counts), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    print(json.dumps({"mode": mode, "tile": width,
                      "cores": round((time.process_time() - cpu0) / elapsed, 3),
                      "fps_per_stream": round((sum(counts) - frames0) / elapsed / len(urls), 2)}))
    stop.set()
    os._exit(0)  # decoder threads blocked in a read would hold up a normal exit


if __name__ == "__main__":
    main()
