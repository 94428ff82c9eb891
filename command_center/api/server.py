"""The intake API process: services, the tornado server, the writer and the sweep.

:func:`run_api` runs everything on the calling thread's own event loop until ``stop_event``
is set (the CLI sets it on SIGINT/SIGTERM; tests run it in a thread). Database work never
runs on the event loop: POSTs go to the group-commit writer
(:class:`~command_center.api.writer.IntakeWriter`), reads and key checks to a small pool of
reader threads, the supervision sweep to its own thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import tornado.httpserver
import tornado.netutil

from command_center.api.handlers import make_app
from command_center.api.keys import KeyCache
from command_center.api.open311 import RequestFilter, Service, load_services, query_requests
from command_center.api.openapi import openapi_document
from command_center.api.writer import IntakeWriter, Sweeper
from config.settings import Settings
from gis.db import session_scope
from gis.loop.intake import IntakeLimits
from gis.loop.sla import SlaRule

log = logging.getLogger(__name__)
SERVICES_TTL_S = 30.0
# Bodies past max_body_bytes are read and dropped (413); this is where tornado stops reading.
HARD_BODY_LIMIT = 64 * 1024 * 1024
SWITCH_INTERVAL_S = 0.0005


@dataclass
class ApiServices:
    """What the handlers share: settings, database, caches, the writer and the sweeper."""

    settings: Settings
    engine: sa.Engine
    sla: SlaRule
    limits: IntakeLimits
    keys: KeyCache
    writer: IntakeWriter
    sweeper: Sweeper
    readers: ThreadPoolExecutor
    openapi: dict[str, Any]
    base_url: str = ""
    _services: dict[str, Service] = field(default_factory=dict)
    _services_at: float = 0.0

    @classmethod
    def create(cls, settings: Settings, engine: sa.Engine, *,
               batch_max: int | None = None) -> ApiServices:
        """Everything the API needs, from the settings (``batch_max`` overrides ``[api]``)."""
        api = settings.api
        sla = SlaRule.from_settings(settings)
        limits = IntakeLimits.from_settings(settings)
        writer = IntakeWriter(engine, sla, limits, batch_max=batch_max or api.batch_max,
                              linger_s=api.batch_linger_ms / 1000.0)
        services = cls(settings, engine, sla, limits, KeyCache(engine, api.key_cache_s),
                       writer, Sweeper(engine, sla, api.sweep_interval_s),
                       ThreadPoolExecutor(4, thread_name_prefix="api-read"),
                       openapi_document(api.max_body_bytes, api.description_max_chars))
        services._load_services()
        return services

    def _load_services(self) -> dict[str, Service]:
        with session_scope(self.engine) as session:
            self._services = load_services(session, self.sla)
        self._services_at = time.monotonic()
        return self._services

    async def current_services(self) -> dict[str, Service]:
        """The categories as services, reloaded every 30 s (off the event loop)."""
        if time.monotonic() - self._services_at > SERVICES_TTL_S:
            self._services_at = time.monotonic()  # one reload at a time
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.readers, self._load_services)
        return self._services

    def requests(self, filt: RequestFilter, lang: str) -> list[dict[str, Any]]:
        """``GET requests.json``: blocking, run on a reader thread."""
        with session_scope(self.engine) as session:
            now = session.execute(sa.select(sa.func.now())).scalar_one()
            return query_requests(session, filt, now=now, sla=self.sla,
                                  services=self._services, lang=lang)


def bind(host: str, port: int, reuse_port: bool = False) -> list[socket.socket]:
    """Listening sockets for ``host:port`` (port 0: any free port)."""
    return tornado.netutil.bind_sockets(port, address=host, reuse_port=reuse_port)


def run_api(settings: Settings, engine: sa.Engine, *, host: str | None = None,
            port: int | None = None, stop_event: threading.Event | None = None,
            on_ready: Callable[[ApiServices], None] | None = None,
            batch_max: int | None = None, reuse_port: bool = False) -> None:
    """Serve the intake API (and run the sweep) until ``stop_event`` is set.

    Parameters
    ----------
    settings, engine
        The configuration and the database.
    host, port
        Where to listen (default ``api.host``/``api.port``; port 0 picks a free one, see
        ``ApiServices.base_url`` in ``on_ready``).
    stop_event
        Set it to stop; queued intakes are written before the process returns.
    on_ready
        Called once the socket listens.
    batch_max
        Overrides ``api.batch_max`` (1: one transaction per request).
    reuse_port
        ``SO_REUSEPORT``, for several API processes on one port.
    """
    stop_event = stop_event or threading.Event()
    # The writer thread gives up the GIL on every database round trip and, by default, waits
    # up to 5 ms to get it back from the busy event loop: ~6 round trips per batch made each
    # transaction ~30 ms instead of ~8. A short switch interval removes that convoy.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    services = ApiServices.create(settings, engine, batch_max=batch_max)
    sockets = bind(host or settings.api.host, settings.api.port if port is None else port,
                   reuse_port)
    bound = sockets[0].getsockname()
    services.base_url = f"http://{bound[0]}:{bound[1]}"

    async def main() -> None:
        server = tornado.httpserver.HTTPServer(
            make_app(services), max_body_size=HARD_BODY_LIMIT, xheaders=False,
            idle_connection_timeout=120)
        server.add_sockets(sockets)
        services.writer.start()
        services.sweeper.start()
        if on_ready is not None:
            on_ready(services)
        while not stop_event.is_set():
            await asyncio.sleep(0.1)
        server.stop()
        await services.writer.stop()
        services.sweeper.stop()
        await server.close_all_connections()

    try:
        asyncio.run(main())
    finally:
        services.readers.shutdown(wait=False)
        for sock in sockets:
            sock.close()
