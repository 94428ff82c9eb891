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
import functools
import importlib.util
import json
import os
import sys
import threading
import time
import zlib
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
    p.add_argument("--profile", choices=PROFILES, default="camera",
                   help="camera: Main profile over a noisy textured scene; light: cheapest.")
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


# What a stream looks like to the decoder. ``camera``: what an IP camera's sub stream is by
# default (Hikvision and Dahua ship H.264 Main profile): CABAC, the in-loop deblocking filter,
# a textured scene with sensor noise, so that every macroblock carries residual, as on a real
# street. ``light``: constrained baseline at ultrafast (CAVLC, no deblocking) over a flat
# gradient, nearly all skipped macroblocks: a third of the decode cost of ``camera`` and half
# its encode cost (docs/simulator.md), for machines that must run many cameras cheaply.
PROFILES = ("camera", "light")
ENCODERS = {
    "camera": "speed-preset=superfast ! video/x-h264,profile=main",
    "light": "speed-preset=ultrafast ! video/x-h264,profile=constrained-baseline",
}
NOISE_FRAMES = 8  # precomputed noise fields, cycled: the encoder references one frame back
NOISE_SIGMA = 3.0  # luma levels: a camera's sensor noise in daylight
NOISE_SHIFT = 7919  # pixels between the noise of consecutive frames: far outside x264's search


@functools.lru_cache(maxsize=8)
def backgrounds(width: int, height: int, band_top: int, scene: bool, seed: int) -> tuple:
    """The I420 backgrounds a picture cycles through (made once per size and camera).

    Flat: one gradient. Scene: a street (:func:`street`) with ``NOISE_FRAMES`` variants of
    sensor noise above the pixel-code band, cut from one noise field at different offsets.
    """
    import numpy as np

    cy, cx = np.mgrid[0:height // 2, 0:width // 2]
    if scene:
        luma = street(np.random.default_rng(seed), width, height)
        u = 122 + 12 * cx / (width // 2)  # a faint tint, as a camera's white balance leaves
        v = 132 - 8 * cy / (height // 2)
    else:
        ys, xs = np.mgrid[0:height, 0:width]
        luma = 60 + 100 * (xs / width) * 0.6 + 100 * (ys / height) * 0.4
        u, v = 110 + 40 * cx / (width // 2), 150 - 30 * cy / (height // 2)
    background = np.concatenate([luma.astype(np.uint8).ravel(), u.astype(np.uint8).ravel(),
                                 v.astype(np.uint8).ravel()])
    if not scene:
        background.setflags(write=False)  # shared by every picture of this size: copy first
        return (background,)
    above = width * band_top
    rng = np.random.default_rng(seed + 1)
    grain = rng.normal(0, NOISE_SIGMA, above + NOISE_FRAMES * NOISE_SHIFT).astype(np.float32)
    base = background[:above].astype(np.float32)
    out = []
    for k in range(NOISE_FRAMES):
        noisy = background.copy()
        window = grain[k * NOISE_SHIFT:k * NOISE_SHIFT + above]
        noisy[:above] = np.clip(base + window, 0, 255).astype(np.uint8)
        noisy.setflags(write=False)
        out.append(noisy)
    return tuple(out)


def street(rng, width: int, height: int):  # noqa: ANN001, ANN201  (numpy in and out)
    """Luma of a street seen from a pole: sky, blocks with lit windows, a road, texture."""
    import numpy as np

    def smooth(cell: int):  # value noise: a random grid, bilinearly blown up
        grid = rng.normal(0, 1, (height // cell + 2, width // cell + 2))
        fy, fx = np.arange(height) / cell, np.arange(width) / cell
        iy, ix = fy.astype(int), fx.astype(int)
        ty, tx = (fy - iy)[:, None], (fx - ix)[None, :]
        top = grid[iy][:, ix] * (1 - tx) + grid[iy][:, ix + 1] * tx
        bottom = grid[iy + 1][:, ix] * (1 - tx) + grid[iy + 1][:, ix + 1] * tx
        return top * (1 - ty) + bottom * ty

    ys = np.arange(height)[:, None]
    xs = np.arange(width)[None, :]
    horizon = height * 3 // 5
    luma = np.broadcast_to(170 - 60 * ys / height, (height, width)).astype(np.float32)
    step_y, step_x = max(4, height // 40), max(4, width // 70)
    for _ in range(14):  # buildings, each with a grid of windows, some lit
        x0 = max(0, int(rng.integers(-width // 20, width)))
        x1 = min(width, x0 + int(rng.integers(width // 14, width // 5)))
        top = int(rng.integers(height // 10, horizon - height // 10))
        block = luma[top:horizon, x0:x1]
        block[:] = float(rng.integers(50, 140))
        ry, rx = ys[:horizon - top] - step_y // 2, xs[:, :x1 - x0] - step_x // 2
        lit = rng.integers(30, 90, ((horizon - top) // step_y + 2, (x1 - x0) // step_x + 2))
        lit[rng.random(lit.shape) < 0.4] = 0
        inside = ((ry >= 0) & (ry % step_y < step_y // 2) & (ry < horizon - top - step_y)
                  & (rx >= 0) & (rx % step_x < step_x // 2) & (rx < x1 - x0 - step_x))
        block += np.where(inside, lit[np.maximum(ry, 0) // step_y, np.maximum(rx, 0) // step_x],
                          0)
    luma[horizon:] = 70 + 30 * (ys[:height - horizon] / (height - horizon))
    lane = horizon + (height - horizon) // 3
    for x0 in range(0, width, width // 8):  # lane marks
        luma[lane:lane + max(2, height // 100), x0:x0 + width // 16] = 200
    # Texture at a few scales: weathered walls, foliage, asphalt.
    luma += 14 * smooth(max(2, width // 24)) + 8 * smooth(4)
    luma += rng.normal(0, 5, luma.shape).astype(np.float32)
    return np.clip(luma, 20, 230)


class Picture:
    """Frames of one size: a background, a moving box, the pixel code.

    With ``scene`` the background is a street (:func:`street`) and each frame carries sensor
    noise above the pixel-code band; the noisy backgrounds are made once (:func:`backgrounds`),
    so a frame costs a copy, like the flat one.
    """

    def __init__(self, width: int, height: int, pixelcode, scene: bool = False,  # noqa: ANN001
                 seed: int = 0) -> None:
        self.pixelcode = pixelcode
        self.width, self.height = width, height
        self.box = max(8, height // 6) // 2 * 2
        self.band_top, _ = pixelcode.band_rows(height)
        self.backgrounds = backgrounds(width, height, self.band_top, scene, seed)
        self.count = 0

    def frame(self, now: float) -> bytes:
        """One I420 frame for wall-clock time ``now`` (seconds)."""
        w, h, box = self.width, self.height, self.box
        buf = self.backgrounds[self.count % len(self.backgrounds)].copy()
        self.count += 1
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
    # ~0.15 bit per pixel per frame: 518 kbit/s at 640x360@15, a camera's usual sub stream.
    return max(150, int(width * height * fps * 0.15 / 1000))


def _launch(width: int, height: int, fps: int, profile: str = "camera") -> str:
    font_px = max(11, height // 22)
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
    return (
        f"( appsrc name=src is-live=true do-timestamp=true format=time caps={caps} "
        "max-buffers=2 leaky-type=downstream "
        f"! textoverlay name=label valignment=top halignment=left shaded-background=true "
        f"font-desc=\"Noto Sans CJK SC {font_px}px\" "
        f"! clockoverlay time-format=\"%Y-%m-%d %H:%M:%S\" valignment=top halignment=right "
        f"shaded-background=true font-desc=\"Noto Sans Mono {font_px}px\" "
        f"! x264enc tune=zerolatency threads=1 key-int-max={fps} "
        f"bitrate={_bitrate_kbps(width, height, fps)} {ENCODERS[profile]} "
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
        factory.set_launch(_launch(width, height, self.args.fps, self.args.profile))
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
            self.feeders[key] = (element.get_by_name("src"), self._picture(width, height))
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

    def _picture(self, width: int, height: int) -> Picture:
        # Seeded by the camera's code: each camera its own street, the same after a restart.
        return Picture(width, height, self.pixelcode, scene=self.args.profile == "camera",
                       seed=zlib.crc32(self.args.code.encode()))

    def _prepare(self) -> None:
        for width, height in (self.args.sub_size, self.args.size):
            self._picture(width, height)

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
        # Make the backgrounds now rather than when the first viewer arrives (a scene at
        # 1280x720 takes ~0.1 s: a click would wait for it).
        threading.Thread(target=self._prepare, name="prepare", daemon=True).start()
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
