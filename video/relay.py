"""The relay process: supervisor + frame hub + walls + HTTP, assembled and run.

:class:`Relay` is the piece tests and the CLI use: give it settings and camera specs, ``start``
it, and it serves on ``relay.base_url`` until ``stop``. :func:`run_relay` is the long-running
entry point behind ``command-center relay``: it loads the cameras from the database when none
are given, writes their health back, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gis.errors import CommandCenterError
from gis.scrub import scrub
from video.camera import CameraSpec, Health
from video.hub import FrameHub
from video.tokens import key_from_settings
from video.walls import WallRegistry, build_walls

log = logging.getLogger(__name__)


class ScrubFilter(logging.Filter):
    """Masks credentials (and ``token=…``) in a record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            # Tracebacks quote exception messages, which may quote a stream URL.
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = scrub(message), None
        return True


def install_log_scrubbing() -> None:
    """Scrub every record that tornado's and our loggers emit, and every root handler's."""
    scrubber = ScrubFilter()
    for name in ("tornado.access", "tornado.application", "tornado.general", "video",
                 "video.http", "video.http.access", "video.hub", "video.walls", "video.relay",
                 "video.supervisor", "video.reader", "video.probe"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(scrubber)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(scrubber)


@dataclass
class Services:
    """What the HTTP handlers need; viewer counts change on the event loop thread only."""

    supervisor: Any
    hub: FrameHub
    walls: WallRegistry
    key: bytes
    relay: Any
    names: dict[str, str]
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(16, thread_name_prefix="relay-http"))
    viewers: int = 0

    def viewer_joined(self) -> None:
        self.viewers += 1

    def viewer_left(self) -> None:
        self.viewers -= 1


class HttpServerThread:
    """A tornado server on its own event loop in a background thread."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        self.services, self.host, self.requested_port = services, host, port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="relay-http", daemon=True)

    def start(self) -> int:
        """Bind, serve in the background, and return the bound port."""
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise CommandCenterError(
                f"中继无法监听 {self.host}:{self.requested_port}：{scrub(self._error)}",
                f"the relay cannot listen on {self.host}:{self.requested_port}: "
                f"{scrub(self._error)}") from None
        return self.port

    def _run(self) -> None:
        from tornado.httpserver import HTTPServer
        from tornado.netutil import bind_sockets

        from video.http import make_app

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            sockets = bind_sockets(self.requested_port, self.host)
            self._server = HTTPServer(make_app(self.services), idle_connection_timeout=60)
            self._server.add_sockets(sockets)
            self.port = sockets[0].getsockname()[1]
        except Exception as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        self._server.stop()
        # Closing the streams ends every MJPEG handler through its normal path, which
        # releases the cameras it held.
        try:
            await asyncio.wait_for(self._server.close_all_connections(), 5)
        except TimeoutError:
            log.warning("relay http: connections still open at shutdown")

    def stop(self) -> None:
        """Close every connection, stop the loop and join the thread."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._server is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(timeout=8)
        except Exception as exc:
            log.warning("relay http shutdown: %s", scrub(exc))
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=5)


def _timezone(settings: Any) -> Any:
    try:
        return ZoneInfo(settings.ui.timezone)
    except (ZoneInfoNotFoundError, AttributeError, ValueError):
        return None


class Relay:
    """Supervisor, hub, walls and HTTP for a list of cameras.

    Parameters
    ----------
    settings
        The deployment's ``Settings`` (``settings.relay`` above all).
    cameras
        The cameras to serve.
    host, port
        Override ``settings.relay.host`` / ``port``; port 0 picks a free one.
    health_sink
        Passed to the supervisor: called with fresh health every few seconds.

    Examples
    --------
    ::

        with Relay(settings, cameras, port=0) as relay:
            print(relay.base_url)
    """

    def __init__(self, settings: Any, cameras: list[CameraSpec], *, host: str | None = None,
                 port: int | None = None,
                 health_sink: Callable[[list[Health]], Any] | None = None) -> None:
        from video.supervisor import Supervisor

        relay = settings.relay
        self.settings, self.cameras = settings, list(cameras)
        self.host = relay.host if host is None else host
        self.supervisor = Supervisor(self.cameras, relay, health_sink=health_sink)
        self.hub = FrameHub(relay.jpeg_quality)
        names = {c.code: c.name for c in self.cameras}
        self.walls = WallRegistry(build_walls(relay, self.cameras), self.supervisor, self.hub,
                                  names, relay, tz=_timezone(settings))
        self.services = Services(self.supervisor, self.hub, self.walls,
                                 key_from_settings(settings), relay, names)
        self.http = HttpServerThread(self.services, self.host,
                                     relay.port if port is None else port)
        self.port = 0

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Relay:
        """Start supervising the cameras and serving HTTP."""
        install_log_scrubbing()
        import cv2

        # Parallelism comes from one thread per stream and per wall; OpenCV's own worker
        # pool on top splits each small resize across threads that then spin and yield
        # (benchmarks/relay.py: ~15 % of the relay's CPU). Process-wide, like the relay.
        cv2.setNumThreads(1)
        self.supervisor.start()
        try:
            self.port = self.http.start()
        except BaseException:
            self.supervisor.stop()
            raise
        log.info("中继已启动 / relay serving %d cameras on %s", len(self.cameras),
                 self.base_url)
        return self

    def stop(self) -> None:
        """Stop HTTP (releasing every viewer), the walls, the hub and the supervisor."""
        self.http.stop()
        self.walls.stop()
        self.hub.stop()
        self.supervisor.stop()
        self.services.executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _database_health_sink(settings: Any) -> Callable[[list[Health]], Any]:
    from gis.db import engine_for
    from video.health_store import HealthStore

    return HealthStore(engine_for(settings))


def run_relay(settings: Any, cameras: list[CameraSpec] | None = None, *,
              host: str | None = None, port: int | None = None,
              on_ready: Callable[[Relay], None] | None = None,
              stop_event: threading.Event | None = None) -> None:
    """Serve until Ctrl-C / SIGTERM (or ``stop_event``), then stop cleanly.

    Parameters
    ----------
    settings
        The deployment's settings.
    cameras
        The cameras to serve; loaded from the database (with health written back) when None.
    host, port
        Override the configured address.
    on_ready
        Called with the running relay (the CLI prints signed example URLs there).
    stop_event
        Set it to stop; a fresh one bound to SIGINT/SIGTERM when None.
    """
    health_sink = None
    if cameras is None:
        from sqlalchemy.orm import Session

        from gis.db import engine_for
        from video.camera import cameras_from_database

        with Session(engine_for(settings)) as session:
            cameras = cameras_from_database(session)
        health_sink = _database_health_sink(settings)
    stop = stop_event or threading.Event()
    if stop_event is None and threading.current_thread() is threading.main_thread():
        def _on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
    relay = Relay(settings, cameras, host=host, port=port, health_sink=health_sink)
    relay.start()
    try:
        if on_ready is not None:
            on_ready(relay)
        while not stop.wait(1.0):
            pass
    finally:
        relay.stop()
