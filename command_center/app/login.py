"""The HTTP side of logging in: a Chinese login page, a signed session cookie, an auth provider.

Bokeh asks the auth provider for the current user before it serves any page or websocket;
without a valid ``cc_session`` cookie it redirects to ``/login?next=…``. The cookie is signed
with the server's secret (HMAC via Tornado's signed values), HttpOnly and SameSite=Lax, and
expires after :data:`SESSION_DAYS`. It holds the user name, display name and role: the pages
read it once when a session starts, so nothing about the user sits in module globals.

The login page is plain HTML with inline CSS: it must work on a closed network before any
Panel resource is loaded.
"""

from __future__ import annotations

import html
import json
import time
from collections import deque
from typing import Any

from bokeh.server.auth_provider import AuthProvider
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler, create_signed_value, decode_signed_value

from command_center.app.auth import UserInfo, authenticate, pages_for
from command_center.app.i18n import LANG_COOKIE, normalize, other, t
from gis.db import session_scope
from gis.scrub import scrub

SESSION_COOKIE = "cc_session"
SESSION_DAYS = 0.5  # one duty shift
LOGIN_URL, LOGOUT_URL = "/login", "/logout"
# Failed logins per client address per minute before the form refuses to check passwords.
MAX_FAILURES_PER_MIN = 10


def encode_session(secret: str, user: UserInfo) -> str:
    """The signed cookie value for ``user``."""
    payload = json.dumps({"u": user.username, "n": user.display_name, "r": user.role},
                         ensure_ascii=False)
    return create_signed_value(secret, SESSION_COOKIE, payload).decode("ascii")


def decode_session(secret: str, value: str | bytes | None) -> UserInfo | None:
    """The user in a cookie value, or None when it is missing, forged or expired."""
    if not value:
        return None
    raw = decode_signed_value(secret, SESSION_COOKIE, value, max_age_days=SESSION_DAYS)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return UserInfo(str(data["u"]), str(data["n"]), str(data["r"]))
    except (ValueError, KeyError, TypeError):
        return None


def safe_next(target: str | None, user: UserInfo) -> str:
    """Where to go after login: a local path the user may open, else the role's home page."""
    home = f"/{pages_for(user.role)[0]}" if pages_for(user.role) else LOGIN_URL
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return home  # never an open redirect to another host
    page = target.split("?")[0].strip("/")
    return target if page in pages_for(user.role) else home


_PAGE = """<!DOCTYPE html>
<html lang="{html_lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {login}</title>
<style>
body {{ margin:0; min-height:100vh; display:flex; align-items:center; justify-content:center;
  background:#0b1526; color:#e6edf7; font-family:"Noto Sans CJK SC","Microsoft YaHei",
  "PingFang SC",sans-serif; }}
form {{ background:#13223a; padding:32px 36px; border-radius:8px; width:320px;
  box-shadow:0 8px 30px rgba(0,0,0,.4); }}
h1 {{ font-size:20px; margin:0 0 20px; text-align:center; }}
label {{ display:block; margin:12px 0 4px; font-size:14px; color:#9fb3cf; }}
input {{ width:100%; box-sizing:border-box; padding:9px; border-radius:4px; border:1px solid
  #2c4468; background:#0b1526; color:#e6edf7; font-size:15px; }}
button {{ width:100%; margin-top:22px; padding:10px; border:0; border-radius:4px;
  background:#1f6feb; color:white; font-size:16px; cursor:pointer; }}
.error {{ background:#5c1d1d; color:#ffb3b3; padding:8px; border-radius:4px; font-size:14px; }}
.lang {{ text-align:right; font-size:13px; }} .lang a {{ color:#7fb0ff; }}
</style></head>
<body><form method="post" action="{action}">
<div class="lang"><a href="{switch_href}">{switch}</a></div>
<h1>{title}</h1>{error}
<label for="username">{username_label}</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">{password_label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}"><input type="hidden" name="lang" value="{lang}">
<button type="submit">{login}</button>
</form></body></html>
"""


def render_login(language: str, next_url: str = "", error: str = "") -> str:
    """The login page in ``language`` (Chinese unless ``en``)."""
    lang = normalize(language)
    query = f"?lang={other(lang)}" + (f"&next={html.escape(next_url)}" if next_url else "")
    return _PAGE.format(
        html_lang="zh-CN" if lang == "zh" else "en", title=t("app_title", lang),
        login=t("login", lang), username_label=t("username", lang),
        password_label=t("password", lang), action=LOGIN_URL, next=html.escape(next_url),
        lang=lang, switch=t("language", lang), switch_href=LOGIN_URL + query,
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "")


class LoginHandler(RequestHandler):
    """GET shows the form; POST checks the password in the database and sets the cookie."""

    app: Any = None  # the server's AppContext, set on the subclass the provider builds
    failures: dict[str, deque[float]] = {}  # noqa: RUF012 - per server, keyed by address

    def _language(self) -> str:
        return normalize(self.get_argument("lang", None) or self.get_cookie(LANG_COOKIE)
                         or self.app.default_language)

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write(render_login(self._language(), self.get_argument("next", "")))

    def _throttled(self, address: str) -> bool:
        window = self.failures.setdefault(address, deque())
        while window and window[0] < time.monotonic() - 60:
            window.popleft()
        return len(window) >= MAX_FAILURES_PER_MIN

    async def post(self) -> None:
        lang = self._language()
        username = self.get_argument("username", "").strip()
        password = self.get_argument("password", "")
        next_url = self.get_argument("next", "")
        address = self.request.remote_ip or "?"
        if self._throttled(address):
            self.set_status(429)
            self.write(render_login(lang, next_url, t("login_throttled", lang)))
            return
        user = await IOLoop.current().run_in_executor(None, self._check, username, password)
        if user is None:
            self.failures[address].append(time.monotonic())
            self.set_status(401)
            self.write(render_login(lang, next_url, t("login_failed", lang)))
            return
        self.set_cookie(SESSION_COOKIE, encode_session(self.app.cookie_secret, user),
                        httponly=True, samesite="Lax", expires_days=SESSION_DAYS)
        self.set_cookie(LANG_COOKIE, lang, samesite="Lax")
        self.redirect(safe_next(next_url, user))

    def _check(self, username: str, password: str) -> UserInfo | None:
        try:
            with session_scope(self.app.engine) as session:
                return authenticate(session, username, password)
        except Exception as exc:  # a dead database must read as a message, not a 500 page
            self.app.log.error("login: %s", scrub(exc))
            return None


class LogoutHandler(RequestHandler):
    """Forget the session cookie and go back to the login page."""

    def get(self) -> None:
        self.clear_cookie(SESSION_COOKIE)
        self.redirect(LOGIN_URL)


class HomeHandler(RequestHandler):
    """``/``: the role's first page when logged in, else the login page."""

    app: Any = None

    def get(self) -> None:
        user = decode_session(self.app.cookie_secret, self.get_cookie(SESSION_COOKIE))
        self.redirect(safe_next(None, user) if user else LOGIN_URL)


class SessionAuthProvider(AuthProvider):
    """Bokeh auth provider backed by :class:`LoginHandler` and the signed session cookie."""

    def __init__(self, app: Any) -> None:
        self._login = type("BoundLoginHandler", (LoginHandler,), {"app": app, "failures": {}})
        self._app = app
        super().__init__()

    @property
    def get_user(self) -> Any:
        def _user(handler: RequestHandler) -> str | None:
            user = decode_session(self._app.cookie_secret, handler.get_cookie(SESSION_COOKIE))
            return user.username if user else None
        return _user

    @property
    def login_url(self) -> str:
        return LOGIN_URL

    @property
    def login_handler(self) -> type[RequestHandler]:
        return self._login

    @property
    def logout_url(self) -> str:
        return LOGOUT_URL

    @property
    def logout_handler(self) -> type[RequestHandler]:
        return LogoutHandler


def home_handler(app: Any) -> type[RequestHandler]:
    """The ``/`` handler bound to ``app``."""
    return type("BoundHomeHandler", (HomeHandler,), {"app": app})
