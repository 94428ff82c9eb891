"""What every page of one server shares (read-only), and how a session starts from a request.

:class:`AppContext` holds the settings, the engine, the validated layer specs, the cookie
secret and the relay URL maker: server-wide and the same for every user. Anything that belongs
to one user goes into :class:`~command_center.app.state.SessionState` via :func:`start_session`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import panel as pn
import sqlalchemy as sa

from command_center.app.basemaps import available_basemaps, default_basemap
from command_center.app.i18n import LANG_COOKIE, normalize
from command_center.app.login import SESSION_COOKIE, decode_session
from command_center.app.state import SessionState, drop_state, set_state
from layers.spec import LayerSpec

# camera code, stream ("sub"/"main"), kind ("mjpeg"/"snapshot") -> signed relay URL
CameraUrl = Callable[[str, str, str], str]


class WarmingCameraUrl:
    """A :data:`CameraUrl` that can also warm the relay up: ``url.warm(codes)``.

    The side panel calls ``warm`` with an event's nearest cameras as soon as the event is
    selected, before its HTML reaches the browser, so the relay opens the cameras while the
    browser renders (``video.client.RelayClient.warm``; fire-and-forget).
    """

    def __init__(self, make: CameraUrl, warm: Callable[[list[str]], None] | None) -> None:
        self.make, self.warm = make, warm

    def __call__(self, code: str, stream: str = "sub", kind: str = "mjpeg") -> str:
        return self.make(code, stream, kind)


@dataclass(frozen=True)
class AppContext:
    """Server-wide, read-only context of the app."""

    settings: Any
    engine: sa.Engine
    layers: tuple[LayerSpec, ...]
    cookie_secret: str
    # A WarmingCameraUrl when made by the server (``camera_url.warm(codes)``); a plain
    # CameraUrl in tests that build views directly (no warm-ups then).
    camera_url: CameraUrl
    default_language: str = "zh"
    # The server's single LISTEN connection (command_center.app.live.EventListener); None
    # when the pages run without a server (tests building views directly).
    live: Any = None
    # wall_url(group, width=None): the signed MJPEG URL of a wall composed ``width`` wide.
    wall_url: Callable[..., str] | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("command_center.app"))


def session_arg(name: str) -> str | None:
    """The first value of URL parameter ``name`` of the current session's request."""
    values = (pn.state.session_args or {}).get(name)
    if not values:
        return None
    raw = values[0]
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def start_session(app: AppContext) -> SessionState:
    """Build this session's state from its request: user (cookie), language, basemap."""
    cookies = pn.state.cookies or {}
    user = decode_session(app.cookie_secret, cookies.get(SESSION_COOKIE))
    language = normalize(session_arg("lang") or cookies.get(LANG_COOKIE), app.default_language)
    basemap = session_arg("basemap") or default_basemap(app.settings)
    if basemap not in available_basemaps(app.settings):
        basemap = default_basemap(app.settings)
    state = SessionState(user=user, language=language, basemap=basemap)
    doc = pn.state.curdoc
    if doc is not None:
        set_state(state, doc)
        pn.state.on_session_destroyed(lambda _ctx, d=doc: drop_state(d))
    return state


def subscribe_live(app: AppContext, callback: Callable[[dict[str, Any]], None]) -> bool:
    """Deliver every event notification to ``callback`` in this session; False if no listener.

    The subscription is dropped when the session is destroyed.
    """
    doc = pn.state.curdoc
    if app.live is None or doc is None:
        return False
    app.live.subscribe(doc, callback)
    pn.state.on_session_destroyed(lambda _ctx, d=doc: app.live.unsubscribe(d))
    return True
