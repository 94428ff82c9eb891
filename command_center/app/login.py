"""The HTTP side of logging in: a Chinese login page, a signed session cookie, an auth provider.

Bokeh asks the auth provider for the current user before it serves any page or websocket;
without a valid ``cc_session`` cookie it redirects to ``/login?next=…``. The cookie is signed
with the server's secret (HMAC via Tornado's signed values), HttpOnly and SameSite=Lax, and
expires after :data:`SESSION_DAYS`. It holds the user name, display name and role: the pages
read it once when a session starts, so nothing about the user sits in module globals.

Two checks beyond the signature:

* **CSRF** on the login form (login CSRF: another site posting its own credentials so that the
  victim works, unknowingly, in the attacker's account). ``GET /login`` sets ``cc_csrf``, a
  random token signed with the server secret (HttpOnly, SameSite=Strict), and
  puts the same token in a hidden field; ``POST /login`` is refused with 403 unless the field
  equals the token in a validly signed cookie (double submit; the signature means a cookie
  planted from a sibling host cannot pair with a token the attacker chose).
* **The user still exists, is enabled and has the same role** whenever a request is
  authorised (page loads and websocket opens, not every message): one indexed lookup by user
  name, cached per user for :data:`USER_RECHECK_S` seconds. So disabling a user or changing
  their role ends their access at their next page load, not when the 12-hour cookie expires.

The login page is plain HTML with inline CSS: it must work on a closed network before any
Panel resource is loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections import deque
from typing import Any

import sqlalchemy as sa
from bokeh.server.auth_provider import AuthProvider
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler, create_signed_value, decode_signed_value

from command_center.app.auth import UserInfo, authenticate, pages_for
from command_center.app.i18n import LANG_COOKIE, normalize, other, t
from gis.db import session_scope
from gis.models import AppUser, Department
from gis.scrub import scrub

SESSION_COOKIE = "cc_session"
SESSION_DAYS = 0.5  # one duty shift
LOGIN_URL, LOGOUT_URL = "/login", "/logout"
# Failed logins per client address per minute before the form refuses to check passwords.
MAX_FAILURES_PER_MIN = 10
CSRF_COOKIE, CSRF_FIELD = "cc_csrf", "csrf"
CSRF_DAYS = 1.0  # a login form left open overnight must be reloaded
# How long a user's "exists, enabled, same role" verdict is reused before the database is
# asked again. Page loads are rare (a few per user per hour); the cache only absorbs the page
# request and its websocket arriving together.
USER_RECHECK_S = 5.0


def encode_session(secret: str, user: UserInfo) -> str:
    """The signed cookie value for ``user``."""
    data = {"u": user.username, "n": user.display_name, "r": user.role}
    if user.department:  # department users: the department they act for
        data.update(d=user.department, dn=user.department_name or user.department)
    payload = json.dumps(data, ensure_ascii=False)
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
        return UserInfo(str(data["u"]), str(data["n"]), str(data["r"]),
                        data.get("d"), data.get("dn"))
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
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">{login}</button>
</form></body></html>
"""


def render_login(language: str, next_url: str = "", error: str = "", csrf: str = "") -> str:
    """The login page in ``language`` (Chinese unless ``en``), carrying the form's ``csrf``
    token."""
    lang = normalize(language)
    query = f"?lang={other(lang)}" + (f"&next={html.escape(next_url)}" if next_url else "")
    return _PAGE.format(
        html_lang="zh-CN" if lang == "zh" else "en", title=t("app_title", lang),
        login=t("login", lang), username_label=t("username", lang),
        password_label=t("password", lang), action=LOGIN_URL, next=html.escape(next_url),
        lang=lang, switch=t("language", lang), switch_href=LOGIN_URL + query,
        csrf=html.escape(csrf),
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "")


class LoginHandler(RequestHandler):
    """GET shows the form; POST checks the password in the database and sets the cookie."""

    app: Any = None  # the server's AppContext, set on the subclass the provider builds
    failures: dict[str, deque[float]] = {}  # noqa: RUF012 - per server, keyed by address
    app_users: UserCheck  # the provider's cache, set on the same subclass

    def _language(self) -> str:
        return normalize(self.get_argument("lang", None) or self.get_cookie(LANG_COOKIE)
                         or self.app.default_language)

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write(render_login(self._language(), self.get_argument("next", ""),
                                csrf=self._new_csrf()))

    def _new_csrf(self) -> str:
        """A fresh form token, also set as the signed ``cc_csrf`` cookie."""
        token = secrets.token_urlsafe(24)
        self.set_cookie(CSRF_COOKIE, create_signed_value(self.app.cookie_secret, CSRF_COOKIE,
                                                         token).decode("ascii"),
                        httponly=True, samesite="Strict",
                        expires_days=CSRF_DAYS)
        return token

    def _csrf_ok(self) -> bool:
        sent = self.get_body_argument(CSRF_FIELD, "")
        signed = self.get_cookie(CSRF_COOKIE)
        expected = decode_signed_value(self.app.cookie_secret, CSRF_COOKIE, signed,
                                       max_age_days=CSRF_DAYS) if signed else None
        # Compare digests: constant time whatever the lengths.
        return bool(sent and expected) and hmac.compare_digest(
            hashlib.sha256(sent.encode()).digest(), hashlib.sha256(expected).digest())

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
        self.set_header("Cache-Control", "no-store")
        if not self._csrf_ok():
            # Before the password check: a forged post learns nothing and costs no scrypt.
            self.set_status(403)
            self.write(render_login(lang, next_url, t("login_form_expired", lang),
                                    self._new_csrf()))
            return
        if self._throttled(address):
            self.set_status(429)
            self.write(render_login(lang, next_url, t("login_throttled", lang),
                                    self._new_csrf()))
            return
        user = await IOLoop.current().run_in_executor(None, self._check, username, password)
        if user is None:
            self.failures[address].append(time.monotonic())
            self.set_status(401)
            self.write(render_login(lang, next_url, t("login_failed", lang), self._new_csrf()))
            return
        self.app_users.forget(user.username)  # a fresh login is checked afresh
        self.clear_cookie(CSRF_COOKIE)  # one token, one login
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


class UserCheck:
    """Whether a session cookie's user still exists, is enabled and has the cookie's role
    and department (a department user moved elsewhere must not act for the old one).

    One indexed lookup per user name at most every :data:`USER_RECHECK_S` seconds. When the
    database cannot be asked, the last verdict stands (a user who was fine a moment ago is
    not thrown out by a database restart), and a user never checked is let in on the cookie
    alone: the pages cannot show anything without the database anyway. A failed lookup is
    remembered for the same interval, so a database that does not answer costs one connect
    timeout per user per interval, not one per page load on the server's event loop.
    """

    def __init__(self, engine: Any, log: Any = None) -> None:
        self.engine, self.log = engine, log
        self._lock = threading.Lock()
        # user name -> (checked at, (enabled, role, department code) or None: not answered)
        self._verdicts: dict[str, tuple[float, tuple[bool, str, str | None] | None]] = {}
        self._known: dict[str, tuple[bool, str, str | None]] = {}  # last answered verdicts
        self.lookups = 0  # database round trips (tests check the cache with it)

    def allows(self, user: UserInfo) -> bool:
        """Whether ``user`` (from a valid cookie) may still be let in."""
        now = time.monotonic()
        with self._lock:
            cached = self._verdicts.get(user.username)
        if cached is None or now - cached[0] >= USER_RECHECK_S:
            found = self._lookup(user.username)
            cached = (now, found)
            with self._lock:
                self._verdicts[user.username] = cached
                if found is not None:
                    self._known[user.username] = found
        with self._lock:
            verdict = cached[1] if cached[1] is not None else self._known.get(user.username)
        if verdict is None:  # never answered: the cookie alone
            return True
        enabled, role, department = verdict
        return enabled and role == user.role and department == user.department

    def forget(self, username: str) -> None:
        """Drop the cached verdict (after a fresh login)."""
        with self._lock:
            self._verdicts.pop(username, None)
            self._known.pop(username, None)

    def _lookup(self, username: str) -> tuple[bool, str, str | None] | None:
        self.lookups += 1
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(AppUser.disabled, AppUser.role, Department.code)
                    .outerjoin(Department, Department.id == AppUser.department_id)
                    .where(AppUser.username == username)).first()
        except Exception as exc:
            if self.log is not None:
                self.log.warning("user check: %s", scrub(exc))
            return None
        return (False, "", None) if row is None else (not row[0], str(row[1]), row[2])


class SessionAuthProvider(AuthProvider):
    """Bokeh auth provider backed by :class:`LoginHandler` and the signed session cookie."""

    def __init__(self, app: Any) -> None:
        self.users = UserCheck(app.engine, getattr(app, "log", None))
        self._login = type("BoundLoginHandler", (LoginHandler,),
                           {"app": app, "failures": {}, "app_users": self.users})
        self._app = app
        super().__init__()

    @property
    def get_user(self) -> Any:
        def _user(handler: RequestHandler) -> str | None:
            user = decode_session(self._app.cookie_secret, handler.get_cookie(SESSION_COOKIE))
            if user is None or not self.users.allows(user):
                return None
            return user.username
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
