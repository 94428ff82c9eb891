"""Live events: one ``LISTEN cc_events`` connection per server process, fanned out to sessions.

Migration ``0005`` makes every INSERT/UPDATE of an event send ``pg_notify('cc_events', …)``
with ``{"id", "status", "priority", "lon", "lat"}``. :class:`EventListener` holds a single
autocommit psycopg connection in one thread that waits in ``conn.notifies()``; each
notification is handed to every subscribed page session through its own document's
``add_next_tick_callback`` (the one thread-safe way into a Bokeh session), so the session's
callback runs on the server loop with the session locked, as if the user had clicked.

The registry holds only callbacks keyed by document, nothing about users; a session removes
itself when it is destroyed. No page polls the event table: a wall with a hundred viewers
costs one idle connection, and each notification costs each wall a couple of small indexed
queries.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
import sqlalchemy as sa

from gis.scrub import scrub

CHANNEL = "cc_events"
EventPayload = dict[str, Any]
Callback = Callable[[EventPayload], None]


def parse_payload(raw: str) -> EventPayload | None:
    """The notification's JSON as a dict with an integer ``id``; None when malformed.

    Examples
    --------
    >>> parse_payload('{"id": 7, "status": "reported", "priority": "urgent"}')["id"]
    7
    >>> parse_payload("not json") is None
    True
    """
    try:
        data = json.loads(raw)
        data["id"] = int(data["id"])
    except (ValueError, TypeError, KeyError):
        return None
    return data if isinstance(data, dict) else None


def _conninfo(engine: sa.Engine) -> str:
    # The engine's URL with the plain libpq scheme; it carries the password, so it is never
    # logged (errors go through scrub()).
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class EventListener:
    """The server's single listener on ``cc_events``.

    Parameters
    ----------
    engine
        The app's engine (its URL is used for the dedicated LISTEN connection).
    channel
        The notification channel.
    log
        Where connection problems are reported (scrubbed).

    Examples
    --------
    ::

        listener = EventListener(engine)
        listener.subscribe(doc, lambda payload: print(payload["id"]))  # starts the thread
        ...
        listener.unsubscribe(doc)
        listener.stop()
    """

    def __init__(self, engine: sa.Engine, *, channel: str = CHANNEL,
                 log: logging.Logger | None = None) -> None:
        self.engine, self.channel = engine, channel
        self.log = log or logging.getLogger("command_center.app.live")
        self._subscribers: dict[Any, Callback] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0  # notifications handed to sessions (for tests and metrics)

    # -- sessions -------------------------------------------------------------------------

    def subscribe(self, document: Any, callback: Callback) -> None:
        """Call ``callback(payload)`` on ``document``'s next tick for every notification.

        Starts the listening thread on first use. One callback per document: a page that
        subscribes again replaces its callback.
        """
        with self._lock:
            self._subscribers[document] = callback
        self.start()

    def unsubscribe(self, document: Any) -> None:
        """Forget ``document`` (called when its session is destroyed)."""
        with self._lock:
            self._subscribers.pop(document, None)

    def subscribers(self) -> int:
        """How many sessions listen."""
        with self._lock:
            return len(self._subscribers)

    def dispatch(self, payload: EventPayload) -> int:
        """Hand ``payload`` to every subscribed session; returns how many got it."""
        with self._lock:
            targets = list(self._subscribers.items())
        sent = 0
        for document, callback in targets:
            try:
                document.add_next_tick_callback(partial(callback, payload))
                sent += 1
            except Exception as exc:  # a session closing right now: drop it
                self.log.debug("live: dropping a session: %s", scrub(exc))
                self.unsubscribe(document)
        self.delivered += sent
        return sent

    # -- the thread -----------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up."""
        return self._listening.is_set()

    def wait_listening(self, timeout: float = 10.0) -> bool:
        """Block until the LISTEN connection is up (tests); False on timeout."""
        return self._listening.wait(timeout)

    def start(self) -> None:
        """Start the thread if it is not running (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="cc-live-events",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and join the thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:  # database restarting or unreachable: retry
                self._listening.clear()
                failures += 1
                self.log.warning("实时事件连接中断，稍后重连 / live events connection lost, "
                                 "retrying: %s", scrub(exc))
            # Full jitter, capped at 30 s: many app processes must not reconnect in step.
            self._stop.wait(random.uniform(0.2, min(30.0, 0.5 * 2 ** failures)))

    def _listen(self) -> None:
        with psycopg.connect(_conninfo(self.engine), autocommit=True,
                             application_name="cc-live-events") as conn:
            conn.execute(f"LISTEN {self.channel}")
            self._listening.set()
            while not self._stop.is_set():
                # A short timeout so stop() is honoured within a second.
                for notify in conn.notifies(timeout=1.0):
                    payload = parse_payload(notify.payload)
                    if payload is not None:
                        self.dispatch(payload)
                    if self._stop.is_set():
                        break
        self._listening.clear()
