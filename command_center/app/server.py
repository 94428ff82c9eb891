"""One Panel server for every page, with our login in front and no resource from outside.

``build_server`` assembles it without starting it (tests start it on a free loopback port in
a thread); ``serve`` runs it until interrupted. Bokeh and Panel serve their JavaScript and CSS
from this server (resource mode ``server``); the login page carries its own inline CSS; no
template with web fonts is used, so the pages work on a closed network.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

import panel as pn
import sqlalchemy as sa
from bokeh.server.server import Server

from command_center.app.context import AppContext, WarmingCameraUrl
from command_center.app.layout import BODY_CSS
from command_center.app.live import EventListener
from command_center.app.login import SessionAuthProvider, home_handler
from command_center.app.pages import events as events_page
from command_center.app.pages import map as map_page
from command_center.app.pages import planning as planning_page
from command_center.app.pages import reports as reports_page
from command_center.app.pages import wall as wall_page
from layers.spec import LAYERS_DIR, load_layers

PAGE_TITLES = {"wall": "指挥大屏", "map": "地图", "events": "事件", "planning": "规划",
               "reports": "报表"}


def _camera_url_maker(settings: Any) -> Any:
    try:
        from video.client import RelayClient
    except ImportError:  # the relay package is optional for the map itself
        def missing(code: str, stream: str = "sub", kind: str = "mjpeg") -> str:
            raise RuntimeError("video.client is not installed")
        return missing
    client = RelayClient(settings)

    def camera_url(code: str, stream: str = "sub", kind: str = "mjpeg") -> str:
        return client.camera_url(code, stream=stream, kind=kind)  # type: ignore[arg-type]
    return WarmingCameraUrl(camera_url, client.warm if settings.relay.warm_s else None)


def _wall_url_maker(settings: Any) -> Any:
    from video.client import RelayClient

    client = RelayClient(settings)

    def wall_url(name: str, width: int | None = None) -> str:
        return client.wall_url(name, width=width)
    return wall_url


def make_context(settings: Any, engine: sa.Engine, *, cookie_secret: str | None = None,
                 layers_dir: Path = LAYERS_DIR, camera_url: Any = None,
                 wall_url: Any = None) -> AppContext:
    """The server-wide context; layer files are validated here (start-up fails on a bad one).

    The live-event listener is created here and starts with the first page that subscribes.
    The cookie secret comes from ``CC_APP__COOKIE_SECRET`` when set (sessions survive a
    restart and several processes agree); otherwise it is random per start.
    """
    configured = settings.app.cookie_secret
    secret = (cookie_secret or (configured.get_secret_value() if configured else None)
              or secrets.token_urlsafe(32))
    return AppContext(settings=settings, engine=engine, layers=tuple(load_layers(layers_dir)),
                      cookie_secret=secret,
                      camera_url=camera_url or _camera_url_maker(settings),
                      wall_url=wall_url or _wall_url_maker(settings),
                      live=EventListener(engine),
                      default_language=settings.ui.language,
                      log=logging.getLogger("command_center.app"))


def page_functions(app: AppContext) -> dict[str, Any]:
    """URL slug -> page function, each called once per browser session."""
    # Real functions, not functools.partial: Panel only calls plain callables per session
    # (a partial would be rendered as an object).
    def bind(fn: Any) -> Any:
        def page() -> Any:
            return fn(app)
        page.__name__ = getattr(fn, "__name__", "page")
        return page

    modules = {"wall": wall_page, "map": map_page, "events": events_page,
               "planning": planning_page, "reports": reports_page}
    return {name: bind(modules[name].page) for name in PAGE_TITLES}


def build_server(app: AppContext, *, port: int, host: str = "127.0.0.1",
                 allow_origins: list[str] | None = None, **kwargs: Any) -> Server:
    """A Bokeh server (not started) serving every page on ``host:port`` behind the login."""
    pn.config.raw_css = [*pn.config.raw_css, BODY_CSS] if BODY_CSS not in pn.config.raw_css \
        else pn.config.raw_css
    pn.config.theme = "dark"
    origins = allow_origins or [f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    return pn.serve(
        page_functions(app), port=port, address=host, websocket_origin=origins,
        title=PAGE_TITLES, show=False, start=False, cookie_secret=app.cookie_secret,
        auth_provider=SessionAuthProvider(app),
        extra_patterns=[(r"/", home_handler(app))], **kwargs)


def serve(app: AppContext, *, port: int, host: str = "127.0.0.1") -> None:
    """Run the server until Ctrl-C."""
    server = build_server(app, port=port, host=host)
    server.start()
    server.io_loop.start()
