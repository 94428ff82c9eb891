"""One simulated camera: a GStreamer RTSP server with a main and a sub stream.

Run by the *system* interpreter (``/usr/bin/python3``), which has Debian's GStreamer bindings
(python3-gi, gir1.2-gst-rtsp-server-1.0) that the project's virtualenv does not. Hence this
script imports nothing from the project except ``video/pixelcode.py``, loaded by file path
(it needs numpy only), so that the pixel code written here is the one the project decodes.

One process per camera, so that a fault test can SIGKILL or SIGSTOP exactly one camera. The
controller (``video.simulator.controller``) starts it and waits for the port file.

Each stream is made on demand when the first client arrives, shared by every later client and
torn down after the last one leaves, like a real camera's encoder sessions cost nothing while
nobody watches. A frame is generated with numpy in I420: a gradient, a bouncing box, the
camera name and the wall-clock time (GStreamer's text and clock overlays), and the pixel code
with the wall-clock milliseconds at which the frame was made.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Elements this script needs, with the Debian package that brings them (for --check).
REQUIRED_ELEMENTS = {
    "appsrc": "gstreamer1.0-plugins-base",
    "textoverlay": "gstreamer1.0-x",
    "clockoverlay": "gstreamer1.0-x",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "rtph264pay": "gstreamer1.0-plugins-good",
}


def _load_pixelcode():  # a module object
    path = Path(__file__).resolve().parent.parent / "pixelcode.py"
    spec = importlib.util.spec_from_file_location("cc_pixelcode", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def _parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="One simulated RTSP camera (main + sub stream).")
    p.add_argument("--check", action="store_true", help="Check the GStreamer setup and exit.")
    p.add_argument("--code", default="cam01")
    p.add_argument("--name", default="模拟摄像机")
    p.add_argument("--port", type=int, default=0, help="0 = any free port")
    p.add_argument("--port-file", help="Written (atomically) with the bound port when ready.")
    p.add_argument("--size", type=_size, default=(640, 360))
    p.add_argument("--sub-size", type=_size, default=(320, 180))
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--user", help="Require this user; the password comes from CC_SIM_PASSWORD.")
    p.add_argument("--auth", choices=("basic", "digest"), default="basic")
    p.add_argument("--parent-pid", type=int, default=0, help="Exit when this process is gone.")
    return p.parse_args(argv)


def _gst():  # the four gi modules
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    return Gst, GstRtsp, GstRtspServer, GLib


def check() -> int:
    """Print a JSON verdict on the setup; exit status 0 when everything is there."""
    missing: list[str] = []
    try:
        gst, _, _, _ = _gst()
        import numpy  # noqa: F401
    except (ImportError, ValueError) as exc:
        print(json.dumps({"ok": False, "error": str(exc),
                          "missing": ["python3-gi", "gir1.2-gst-rtsp-server-1.0",
                                      "python3-numpy"]}))
        return 1
    for element, package in REQUIRED_ELEMENTS.items():
        if gst.ElementFactory.find(element) is None:
            missing.append(package)
    print(json.dumps({"ok": not missing, "missing": sorted(set(missing))}))
    return 0 if not missing else 1


class Picture:
    """Frames of one size: a fixed background, a moving box, the pixel code."""

    def __init__(self, width: int, height: int, pixelcode) -> None:  # noqa: ANN001
        import numpy as np

        self.np, self.pixelcode = np, pixelcode
        self.width, self.height = width, height
        ys, xs = np.mgrid[0:height, 0:width]
        luma = 60 + 100 * (xs / width) * 0.6 + 100 * (ys / height) * 0.4
        cy, cx = np.mgrid[0:height // 2, 0:width // 2]
        self.background = np.concatenate([
            luma.astype(np.uint8).ravel(),
            (110 + 40 * cx / (width // 2)).astype(np.uint8).ravel(),   # U
            (150 - 30 * cy / (height // 2)).astype(np.uint8).ravel(),  # V
        ])
        self.box = max(8, height // 6) // 2 * 2
        self.band_top, _ = pixelcode.band_rows(height)

    def frame(self, now: float) -> bytes:
        """One I420 frame for wall-clock time ``now`` (seconds)."""
        w, h, box = self.width, self.height, self.box
        buf = self.background.copy()
        y = buf[:w * h].reshape(h, w)
        u = buf[w * h:w * h + (w // 2) * (h // 2)].reshape(h // 2, w // 2)
        v = buf[w * h + (w // 2) * (h // 2):].reshape(h // 2, w // 2)
        # The box bounces on a triangle wave of wall-clock time, so main and sub agree and a
        # restarted camera carries on where it would have been.
        span_x, span_y = w - box, self.band_top - box
        px = int(abs((now * 0.35 % 2) - 1) * span_x) // 2 * 2
        py = int(abs((now * 0.23 % 2) - 1) * span_y) // 2 * 2
        y[py:py + box, px:px + box] = 180
        u[py // 2:(py + box) // 2, px // 2:(px + box) // 2] = 60
        v[py // 2:(py + box) // 2, px // 2:(px + box) // 2] = 200
        # Grey under the code: limited-range black/white luma, neutral chroma.
        self.pixelcode.encode_timestamp(y, int(now * 1000), levels=(16, 235))
        u[self.band_top // 2:] = 128
        v[self.band_top // 2:] = 128
        return buf.tobytes()


def _bitrate_kbps(width: int, height: int, fps: int) -> int:
    # ~0.15 bit per pixel per frame is plenty for this simple picture at ultrafast.
    return max(150, int(width * height * fps * 0.15 / 1000))


def _launch(width: int, height: int, fps: int) -> str:
    font_px = max(11, height // 22)
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
    return (
        f"( appsrc name=src is-live=true do-timestamp=true format=time caps={caps} "
        "max-buffers=2 leaky-type=downstream "
        f"! textoverlay name=label valignment=top halignment=left shaded-background=true "
        f"font-desc=\"Noto Sans CJK SC {font_px}px\" "
        f"! clockoverlay time-format=\"%Y-%m-%d %H:%M:%S\" valignment=top halignment=right "
        f"shaded-background=true font-desc=\"Noto Sans Mono {font_px}px\" "
        f"! x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max={fps} "
        f"bitrate={_bitrate_kbps(width, height, fps)} "
        "! video/x-h264,profile=constrained-baseline "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


class Camera:
    """The RTSP server of one camera and the thread that feeds its live streams."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.Gst, self.GstRtsp, self.GstRtspServer, self.GLib = _gst()
        self.args = args
        self.pixelcode = _load_pixelcode()
        self.feeders: dict[int, tuple[Any, Picture]] = {}  # appsrc, picture
        self.lock = threading.Lock()
        self.server = self.GstRtspServer.RTSPServer()
        self.server.set_address("127.0.0.1")
        self.server.set_service(str(args.port))
        mounts = self.server.get_mount_points()
        streams = {"main": args.size, "sub": args.sub_size}
        # Hikvision's paths too, so that vendor URL templates can be tested against us.
        aliases = {"main": "/Streaming/Channels/101", "sub": "/Streaming/Channels/102"}
        for stream, (width, height) in streams.items():
            for path in (f"/{args.code}/{stream}", aliases[stream]):
                mounts.add_factory(path, self._factory(width, height))
        if args.user:
            self._require_credentials(args.user, os.environ.get("CC_SIM_PASSWORD", ""))

    def _factory(self, width: int, height: int):
        factory = self.GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_launch(width, height, self.args.fps))
        factory.set_shared(True)
        factory.connect("media-configure", self._on_media, width, height)
        if self.args.user:
            factory.add_role_from_structure(self.Gst.Structure.from_string(
                "user, media.factory.access=(boolean)true, "
                "media.factory.construct=(boolean)true")[0])
        return factory

    def _require_credentials(self, user: str, password: str) -> None:
        auth = self.GstRtspServer.RTSPAuth()
        token = self.GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        methods = self.GstRtsp.RTSPAuthMethod
        if self.args.auth == "digest":
            auth.set_supported_methods(methods.DIGEST)
            auth.add_digest(user, password, token)
        else:
            auth.set_supported_methods(methods.BASIC)
            auth.add_basic(self.GstRtspServer.RTSPAuth.make_basic(user, password), token)
        self.server.set_auth(auth)

    def _on_media(self, _factory, media, width: int, height: int) -> None:  # noqa: ANN001
        element = media.get_element()
        element.get_by_name("label").set_property("text", f" {self.args.name} ")
        key = id(media)
        with self.lock:
            self.feeders[key] = (element.get_by_name("src"),
                                 Picture(width, height, self.pixelcode))
        media.connect("unprepared", self._on_unprepared, key)

    def _on_unprepared(self, _media, key: int) -> None:  # noqa: ANN001
        with self.lock:
            self.feeders.pop(key, None)

    def _feed(self) -> None:
        period = 1.0 / self.args.fps
        tick = time.monotonic()
        while True:
            tick += period
            delay = tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                tick = time.monotonic()  # fell behind (e.g. after SIGSTOP): do not burst
            with self.lock:
                feeders = list(self.feeders.values())
            now = time.time()
            for appsrc, picture in feeders:
                buffer = self.Gst.Buffer.new_wrapped(picture.frame(now))
                appsrc.emit("push-buffer", buffer)

    def _parent_alive(self) -> bool:
        if self.args.parent_pid and not Path(f"/proc/{self.args.parent_pid}").exists():
            self.loop.quit()
            return False
        return True

    def run(self) -> int:
        """Bind (retrying while the port is still held), announce the port, serve forever."""
        deadline = time.monotonic() + 5
        while self.server.attach(None) == 0:
            if time.monotonic() > deadline:
                print(f"cannot bind 127.0.0.1:{self.args.port}", file=sys.stderr)
                return 3
            time.sleep(0.1)
        port = self.server.get_bound_port()
        if self.args.port_file:
            tmp = f"{self.args.port_file}.tmp"
            Path(tmp).write_text(str(port), encoding="utf-8")
            os.replace(tmp, self.args.port_file)
        threading.Thread(target=self._feed, name="feed", daemon=True).start()
        self.loop = self.GLib.MainLoop()
        self.GLib.timeout_add_seconds(1, self._parent_alive)
        self.loop.run()
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the camera process."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.check:
        return check()
    return Camera(args).run()


if __name__ == "__main__":
    sys.exit(main())
