"""The relay's HTTP service (tornado): snapshots, MJPEG per camera and per wall, health, metrics.

Every picture URL carries a signed token (:mod:`video.tokens`); a missing, expired, forged or
misdirected token gets the same short 403, so a caller learns nothing about which cameras
exist. No response, log line or error message carries a stream URL, a user name or a
password: camera health is scrubbed at the source and again here, request logs show the path
without its query string, and every logged exception passes through :func:`gis.scrub.scrub`.

Routes::

    GET /snapshot/{camera}.jpg?token=…        one JPEG (decodes briefly if nobody watches)
    GET /mjpeg/{camera}/{main|sub}?token=…    multipart/x-mixed-replace while connected
    GET /wall/{name}.mjpeg?token=…[&w=px]     a composed wall, one encode per tick
    GET /wall/{name}.jpg?token=…[&w=px]       one composed wall picture
    POST /warm?token=…  {"cameras": [...]}    start decoding sub streams ahead of viewers
    GET /health                               JSON per camera, no URLs
    GET /metrics                              Prometheus text format
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import time
from typing import Any

import tornado.web
from tornado.iostream import StreamClosedError

from gis.scrub import log_request_error, scrub
from video.camera import ONLINE, Frame
from video.hub import EncodedFrame
from video.tokens import Claims, TokenError, verify

log = logging.getLogger(__name__)
access_log = logging.getLogger("video.http.access")

BOUNDARY = "relayframe"
FORBIDDEN = "禁止访问：链接无效或已过期 / Forbidden: invalid or expired link\n"
NOT_FOUND = "未找到 / Not found\n"
NO_PICTURE = "暂无画面，请稍后再试 / No picture yet, try again shortly\n"
SERVER_ERROR = "中继内部错误 / Relay internal error\n"
FRAME_POLL_S = 0.5  # how often a streaming handler notices a closed connection at the latest


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado's ``log_function``: method, path (never the query: it holds the token), status."""
    request = handler.request
    access_log.info("%d %s %s %.1fms", handler.get_status(), request.method,
                    scrub(request.path), 1000.0 * request.request_time())


class BaseHandler(tornado.web.RequestHandler):
    """Token checks, short bilingual error bodies, scrubbed exception logging."""

    def initialize(self, services: Any) -> None:
        self.services = services
        self.closed = False

    def on_connection_close(self) -> None:
        self.closed = True

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Tornado's default logs the request repr (with the token) and a traceback that may
        # quote a stream URL from an OpenCV message: log the scrubbed essentials only.
        if isinstance(value, tornado.web.HTTPError):
            return
        log_request_error(log, self.request.method, self.request.path, typ, value)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        body = {403: FORBIDDEN, 404: NOT_FOUND, 503: NO_PICTURE}.get(status_code, SERVER_ERROR)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(body)

    def fail(self, status: int) -> None:
        """End the request with ``status`` and its fixed body."""
        self.set_status(status)
        self.write_error(status)

    def claims(self, kind: str, target: str, stream: str | None = None) -> Claims | None:
        """The verified token's claims, or None after answering 403."""
        try:
            return verify(self.get_query_argument("token", None), kind,  # type: ignore[arg-type]
                          target, self.services.key, stream=stream)
        except TokenError:
            self.fail(403)
            return None

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run a blocking call (supervisor waits, encodes) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.services.executor, fn,
                                                                 *args)

    async def stream_channel(self, channel: Any) -> None:
        """Write the channel's newest JPEGs as multipart parts until the client goes away."""
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.set_header("Cache-Control", "no-store, no-cache, must-revalidate")
        self.set_header("Pragma", "no-cache")
        last = -1
        try:
            # Headers and the first delimiter now: the client knows it is connected.
            self.write(f"--{BOUNDARY}\r\n".encode("ascii"))
            await self.flush()
            while not self.closed:
                frame: EncodedFrame | None = await channel.next(last, FRAME_POLL_S)
                if frame is None:
                    continue
                last = frame.seq
                # Each part is followed at once by the next delimiter: browsers ignore the
                # part's Content-Length and show a part only when the delimiter after it
                # arrives, which would hold every picture back by one frame interval.
                self.write(f"Content-Type: image/jpeg\r\nContent-Length: {len(frame.data)}"
                           "\r\n\r\n".encode("ascii"))
                self.write(frame.data)
                self.write(f"\r\n--{BOUNDARY}\r\n".encode("ascii"))
                await self.flush()
        except StreamClosedError:
            pass

    def send_jpeg(self, data: bytes) -> None:
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "no-store")
        self.finish(data)


class SnapshotHandler(BaseHandler):
    async def get(self, code: str) -> None:
        claims = self.claims("camera", code)
        if claims is None:
            return
        if code not in self.services.names:
            return self.fail(404)
        stream = "main" if claims.stream == "main" else "sub"
        sup = self.services.supervisor
        frame: Frame | None = sup.latest(code, stream)
        if frame is None or time.time() - frame.captured_at > self.services.relay.stale_after_s:
            frame = await self.run(self._fresh_frame, code, stream)
        if frame is None:
            return self.fail(503)
        encoded = await self.run(self.services.hub.encode, ("camera", code, stream), frame)
        self.send_jpeg(encoded.data)

    def _fresh_frame(self, code: str, stream: str) -> Frame | None:
        # Nobody was watching: decode just long enough for one picture.
        sup = self.services.supervisor
        sup.acquire(code, stream)
        try:
            return sup.wait_frame(code, stream, -1, self.services.relay.snapshot_wait_s)
        finally:
            sup.release(code, stream)


class MjpegHandler(BaseHandler):
    async def get(self, code: str, stream: str) -> None:
        if self.claims("camera", code, stream) is None:
            return
        if code not in self.services.names:
            return self.fail(404)
        sup, hub = self.services.supervisor, self.services.hub
        sup.acquire(code, stream)
        channel = hub.open(("camera", code, stream),
                           lambda after, timeout: sup.wait_frame(code, stream, after, timeout))
        self.services.viewer_joined()
        try:
            await self.stream_channel(channel)
        finally:
            self.services.viewer_left()
            hub.close(channel)
            sup.release(code, stream)


class WallHandler(BaseHandler):
    async def get(self, name: str, kind: str) -> None:
        if self.claims("wall", name) is None:
            return
        walls = self.services.walls
        try:
            # ?w=<pixels>: the width the wall is displayed at (not signed: it only picks one
            # of a few smaller sizes of the same picture).
            width = int(self.get_query_argument("w", "0") or 0)
        except ValueError:
            width = 0
        try:
            wall = walls.get(name, walls.tile_width_for(name, width))
        except KeyError:
            return self.fail(404)
        if kind == "jpg" and wall.running() and wall.channel.newest() is not None:
            return self.send_jpeg(wall.channel.newest().data)
        channel = await self.run(wall.add_viewer)
        self.services.viewer_joined()
        try:
            if kind == "mjpeg":
                await self.stream_channel(channel)
                return
            deadline = time.monotonic() + self.services.relay.snapshot_wait_s
            while not wall.ready() and time.monotonic() < deadline and not self.closed:
                await asyncio.sleep(0.05)
            newest = channel.newest()
            frame = await channel.next(newest.seq if newest else -1, 1.0) or newest
            if frame is None:
                return self.fail(503)
            self.send_jpeg(frame.data)
        finally:
            self.services.viewer_left()
            await self.run(wall.remove_viewer)


class WarmHandler(BaseHandler):
    """The app selected an event: decode its cameras' sub streams before the browser asks.

    The body names the cameras (``{"cameras": ["C1", "C2"]}``); the token (kind ``warm``)
    must name exactly the same codes, joined by newlines, so only the app can warm cameras,
    and only the ones it signed. Each camera is held for ``relay.warm_s`` seconds
    (:meth:`video.supervisor.Supervisor.hold`): the RTSP open and the wait for a key frame
    overlap the page's rendering, and the MJPEG request that follows finds frames ready.
    Answers 202 with how many cameras are warming; unknown codes are skipped silently.
    """

    def post(self) -> None:
        try:
            codes = json.loads(self.request.body or b"{}")["cameras"]
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return self.fail(403)  # as for a bad token: a malformed call learns nothing
        if self.claims("warm", "\n".join(codes), "sub") is None:
            return None
        relay, names = self.services.relay, self.services.names
        known = [c for c in dict.fromkeys(codes) if c in names][: relay.warm_max_cameras]
        if relay.warm_s > 0:
            for code in known:
                self.services.supervisor.hold(code, "sub", relay.warm_s)
        self.set_status(202)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"warming": len(known) if relay.warm_s > 0 else 0}))


class HealthHandler(BaseHandler):
    def get(self) -> None:
        sup, names = self.services.supervisor, self.services.names
        cameras = []
        for code, health in sorted(sup.health_all().items()):
            cameras.append({
                "code": code, "name": names.get(code, code), "status": health.status,
                "fps": None if health.fps is None else round(float(health.fps), 2),
                "reconnects": int(health.reconnects),
                "last_error": scrub(health.last_error) if health.last_error else None,
                "last_seen_at": health.last_seen_at, "watched": bool(health.watched)})
        body = {"generated_at": time.time(), "cameras": cameras,
                "online": sum(c["status"] == ONLINE for c in cameras), "total": len(cameras)}
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(scrub(json.dumps(body, ensure_ascii=False)))


class MetricsHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(scrub(render_metrics(self.services)))


def make_app(services: Any) -> tornado.web.Application:
    """The tornado application serving ``services`` (see :class:`video.relay.Services`)."""
    args = {"services": services}
    camera = r"([^/]{1,160}?)"  # tornado URL-decodes it; codes may hold any character
    return tornado.web.Application(
        [(rf"/snapshot/{camera}\.jpg", SnapshotHandler, args),
         (rf"/mjpeg/{camera}/(main|sub)", MjpegHandler, args),
         (rf"/wall/{camera}\.(mjpeg|jpg)", WallHandler, args),
         (r"/warm", WarmHandler, args),
         (r"/health", HealthHandler, args),
         (r"/metrics", MetricsHandler, args)],
        log_function=log_request, default_handler_class=NotFoundHandler,
        default_handler_args=args, compress_response=False, xheaders=False)


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        self.fail(404)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    # Exact integers for counters and bytes; %g would round 132989952 to 1.32990e+08.
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _process_numbers() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        rss = usage.ru_maxrss * 1024  # peak, not current: better than nothing off Linux
    return cpu, float(rss)


def render_metrics(services: Any) -> str:
    """The relay's counters and gauges in the Prometheus text exposition format."""
    stats = {k: float(v) for k, v in services.supervisor.stats().items()}
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str,
               samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

    decoded = stats.get("frames_decoded_total", stats.get("frames_decoded", 0.0))
    metric("relay_frames_decoded_total", "counter", "Frames decoded from all cameras.",
           [("", decoded)])
    metric("relay_decoders_running", "gauge", "Camera streams being decoded now.",
           [("", stats.get("decoders_running", 0.0))])
    metric("relay_viewers", "gauge", "HTTP viewers connected (MJPEG and walls).",
           [("", float(services.viewers))])
    metric("relay_jpeg_encodes_total", "counter", "JPEG encodes (one per frame and size).",
           [("", float(services.hub.encodes))])
    metric("relay_wall_fps", "gauge", "Measured compose rate of each wall.",
           [(f'{{wall="{_label(w.key)}"}}', w.fps) for w in services.walls.active()])
    metric("relay_camera_up", "gauge", "1 when the camera is online.",
           [(f'{{camera="{_label(code)}"}}', 1.0 if h.status == ONLINE else 0.0)
            for code, h in sorted(services.supervisor.health_all().items())])
    for key, value in sorted(stats.items()):
        if key in ("frames_decoded_total", "frames_decoded", "decoders_running"):
            continue
        name = "relay_supervisor_" + "".join(c if c.isalnum() else "_" for c in key)
        metric(name, "gauge", f"Supervisor counter {key}.", [("", value)])
    cpu, rss = _process_numbers()
    metric("process_cpu_seconds_total", "counter", "CPU time of the relay process.",
           [("", cpu)])
    metric("process_resident_memory_bytes", "gauge", "Resident memory of the relay process.",
           [("", rss)])
    return "\n".join(lines) + "\n"
