"""The app server: login in front of every page, the map built from the layer files."""

from __future__ import annotations

import asyncio
import http.client
import re
import threading
import urllib.parse
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers import free_port
from sqlalchemy.orm import Session

from command_center.app import login
from command_center.app.auth import UserInfo, add_user
from command_center.app.context import AppContext, WarmingCameraUrl
from command_center.app.login import CSRF_COOKIE, SESSION_COOKIE, UserCheck, encode_session
from command_center.app.pages.map import MapView
from command_center.app.server import build_server, make_context
from command_center.app.state import SessionState
from layers.spec import LayerSpecError

PASSWORD = "duty-pass-2024"


@pytest.fixture(scope="module")
def demo(engine, settings):
    from gis.demo import seed_demo

    seed_demo(engine, settings)
    with Session(engine) as session:
        add_user(session, "duty", PASSWORD, "duty_officer", "值班员甲")
        add_user(session, "planner1", PASSWORD, "planner")
        session.commit()
    return engine


@pytest.fixture(scope="module")
def app(demo, settings) -> AppContext:
    return make_context(settings, demo, cookie_secret="t" * 40)


@pytest.fixture(scope="module")
def server(app) -> Iterator[int]:
    """The real server on a free loopback port, in a thread with its own event loop."""
    port = free_port()
    ready, holder = threading.Event(), {}

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        srv = build_server(app, port=port)
        srv.start()
        holder["server"] = srv
        ready.set()
        srv.io_loop.start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "server did not start"
    yield port
    srv = holder["server"]
    srv.io_loop.add_callback(srv.stop)
    srv.io_loop.add_callback(srv.io_loop.stop)
    thread.join(10)


def _request(port: int, method: str, path: str, body: dict | None = None,
             cookie: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    if cookie:
        headers["Cookie"] = cookie
    conn.request(method, path, urllib.parse.urlencode(body) if body else None, headers)
    response = conn.getresponse()
    response.text = response.read().decode("utf-8", "replace")  # type: ignore[attr-defined]
    return response


def _form(port: int) -> tuple[str, str]:
    """The login form's CSRF cookie (``name=value``) and hidden token, as a browser gets them."""
    page = _request(port, "GET", "/login")
    cookie = next(c.split(";")[0] for c in page.headers.get_all("Set-Cookie")
                  if c.startswith(CSRF_COOKIE + "="))
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return cookie, token


def _login(port: int, username: str, password: str, next_url: str = "/map"):
    cookie, token = _form(port)
    return _request(port, "POST", "/login", {"username": username, "password": password,
                                             "next": next_url, "csrf": token}, cookie=cookie)


def _session_cookie(response: http.client.HTTPResponse) -> str:
    return next(c.split(";")[0] for c in response.headers.get_all("Set-Cookie")
                if c.startswith(SESSION_COOKIE + "="))


def test_root_redirects_to_the_login_page(server):
    response = _request(server, "GET", "/")
    assert response.status == 302 and response.getheader("Location").endswith("/login")
    page = _request(server, "GET", "/login")
    assert page.status == 200 and "登录" in page.text


def test_pages_are_unreachable_without_login(server):
    for path in ("/map", "/wall", "/events", "/planning"):
        response = _request(server, "GET", path)
        assert response.status == 302, path
        assert "/login?next=" in response.getheader("Location"), path


def test_a_wrong_password_is_refused(server):
    response = _login(server, "duty", "not-the-password")
    assert response.status == 401
    assert "用户名或密码错误" in response.text
    assert SESSION_COOKIE not in (response.getheader("Set-Cookie") or "")
    assert _login(server, "no-such-user", PASSWORD).status == 401


def test_the_right_password_reaches_the_map(server):
    response = _login(server, "duty", PASSWORD)
    assert response.status == 302 and response.getheader("Location") == "/map"
    cookie = _session_cookie(response)
    page = _request(server, "GET", "/map", cookie=cookie)
    assert page.status == 200 and "bokeh" in page.text.lower()
    assert _request(server, "GET", "/", cookie=cookie).getheader("Location") == "/wall"


def test_a_forged_cookie_is_not_a_login(server):
    forged = encode_session("another-secret-" * 3, UserInfo("duty", "x", "admin"))
    response = _request(server, "GET", "/map", cookie=f"{SESSION_COOKIE}={forged}")
    assert response.status == 302


def test_login_posts_without_the_form_token_are_refused(server):
    """Login CSRF: another site's form posting our login must not log the browser in."""
    bare = {"username": "duty", "password": PASSWORD, "next": "/map"}
    cookie, token = _form(server)
    other_cookie, other_token = _form(server)
    forged = encode_session("another-secret-" * 3, UserInfo("x", "x", "x"))  # wrong signature
    refused = [
        _request(server, "POST", "/login", bare),  # no token, no cookie
        _request(server, "POST", "/login", bare, cookie=cookie),  # cookie, no token
        _request(server, "POST", "/login", {**bare, "csrf": token}),  # token, no cookie
        _request(server, "POST", "/login", {**bare, "csrf": other_token}, cookie=cookie),
        _request(server, "POST", "/login", {**bare, "csrf": token},
                 cookie=f"{CSRF_COOKIE}={forged}"),
    ]
    for response in refused:
        assert response.status == 403, response.status
        assert "表单已过期" in response.text
        assert SESSION_COOKIE not in (response.getheader("Set-Cookie") or "")
    ok = _request(server, "POST", "/login", {**bare, "csrf": other_token}, cookie=other_cookie)
    assert ok.status == 302 and ok.getheader("Location") == "/map"


def test_a_disabled_user_loses_access_at_the_next_page_load(server, demo, monkeypatch):
    with Session(demo) as session:
        add_user(session, "zhou.min", PASSWORD, "duty_officer")
        session.commit()
    cookie = _session_cookie(_login(server, "zhou.min", PASSWORD))
    assert _request(server, "GET", "/map", cookie=cookie).status == 200
    monkeypatch.setattr(login, "USER_RECHECK_S", 0.0)  # no waiting out the cache here
    with demo.begin() as conn:
        conn.execute(sa.text("UPDATE app_user SET disabled = true WHERE username = 'zhou.min'"))
    response = _request(server, "GET", "/map", cookie=cookie)
    assert response.status == 302 and "/login" in response.getheader("Location")
    # Enabled again but with another role: the old cookie's role is stale, log in again.
    with demo.begin() as conn:
        conn.execute(sa.text("UPDATE app_user SET disabled = false, role = 'planner' "
                             "WHERE username = 'zhou.min'"))
    assert _request(server, "GET", "/map", cookie=cookie).status == 302
    fresh = _session_cookie(_login(server, "zhou.min", PASSWORD))
    assert _request(server, "GET", "/map", cookie=fresh).status == 200
    with demo.begin() as conn:
        conn.execute(sa.text("DELETE FROM app_user WHERE username = 'zhou.min'"))
    assert _request(server, "GET", "/map", cookie=fresh).status == 302


def test_user_checks_are_cached_per_user(demo, monkeypatch):
    checks = UserCheck(demo)
    duty = UserInfo("duty", "值班员甲", "duty_officer")
    assert checks.allows(duty) and checks.allows(duty)
    assert checks.lookups == 1, "the second page load within the TTL must not ask again"
    assert not checks.allows(UserInfo("duty", "值班员甲", "admin")), "role mismatch"
    assert not checks.allows(UserInfo("ghost", "x", "admin"))
    monkeypatch.setattr(login, "USER_RECHECK_S", 0.0)
    assert checks.allows(duty) and checks.lookups == 3


def test_a_department_user_moved_elsewhere_cannot_act_for_the_old_department(demo, monkeypatch):
    with Session(demo) as session:
        user = add_user(session, "qian.cg", PASSWORD, "department", department="cgj")
        session.commit()
    checks = UserCheck(demo)
    assert checks.allows(user)
    monkeypatch.setattr(login, "USER_RECHECK_S", 0.0)
    with demo.begin() as conn:
        conn.execute(sa.text("UPDATE app_user SET department_id = (SELECT id FROM department "
                             "WHERE code = 'zjj') WHERE username = 'qian.cg'"))
    assert not checks.allows(user), "the cookie still says cgj"
    assert checks.allows(UserInfo("qian.cg", "", "department", "zjj"))


def test_a_database_that_does_not_answer_is_asked_once_per_interval(demo):
    dead = sa.create_engine(f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x",
                            connect_args={"connect_timeout": 2})
    checks = UserCheck(dead)
    duty = UserInfo("duty", "值班员甲", "duty_officer")
    assert checks.allows(duty), "never answered: the cookie alone"
    assert checks.allows(duty) and checks.lookups == 1, "not a connect attempt per page load"
    # a verdict the database gave earlier stands while it is away
    live = UserCheck(demo)
    assert not live.allows(UserInfo("duty", "值班员甲", "admin"))
    live.engine = dead
    live._verdicts.clear()
    assert not live.allows(UserInfo("duty", "值班员甲", "admin"))
    dead.dispose()


def test_offline_resources_come_from_our_server(server):
    cookie = _session_cookie(_login(server, "duty", PASSWORD))
    page = _request(server, "GET", "/map", cookie=cookie).text
    assert "cdn.bokeh.org" not in page and "cdn.holoviz.org" not in page
    assert "fonts.googleapis" not in page and "unpkg.com" not in page


def _view(app: AppContext, role: str, **state) -> MapView:
    return MapView(app, SessionState(user=UserInfo("u", "u", role), **state))


def test_the_map_holds_every_shipped_layer(app):
    view = _view(app, "admin")
    assert list(view.renderers) == [s.id for s in app.layers]
    names = {r.name for r in view.figure.renderers}
    for name in ("streets", "communities", "grids", "courtyards", "cameras", "cameras_fov",
                 "events", "events_bins"):
        assert name in names
    assert len(view.sources["grids"].data["xs"]) == 300
    assert len(view.sources["cameras"].data["x"]) == 1500
    assert len(view.sources["events"].data["x"]) > 0
    assert "未改造" in view.legend_html() and "已超时" in view.legend_html()
    view.set_visible(["grids"])
    assert all(r.visible == (layer == "grids") for layer, rs in view.renderers.items()
               for r in rs)


def test_a_layer_hidden_from_a_role_is_not_built(app, tmp_path):
    restricted = tuple(s.model_copy(update={"roles": ["leader"]}) if s.id == "courtyards"
                       else s for s in app.layers)
    view = _view(AppContext(**{**app.__dict__, "layers": restricted}), "staff")
    assert "courtyards" not in view.renderers and "grids" in view.renderers


def test_english_session_labels_in_english(app):
    view = _view(app, "admin", language="en")
    assert "not started" in view.legend_html()


def test_many_events_ship_bins_not_points(app):
    events = next(s for s in app.layers if s.id == "events")
    few = events.model_copy(update={"aggregate": events.aggregate.model_copy(
        update={"max_points": 3})})
    layers = tuple(few if s.id == "events" else s for s in app.layers)
    view = _view(AppContext(**{**app.__dict__, "layers": layers}), "admin")
    assert len(view.sources["events"].data["x"]) == 0
    assert len(view.sources["events_bins"].data["xs"]) > 0
    # Zoomed into a tiny corner with at most 3 events, points come back.
    view.refresh_aggregates((105.0, 29.0, 105.0001, 29.0001))
    assert len(view.sources["events_bins"].data["xs"]) == 0
    assert len(view.sources["events"].data["x"]) <= 3


def test_clicking_an_event_shows_details_and_signed_camera_streams(app):
    view = _view(app, "duty_officer")
    with Session(app.engine) as session:
        event_id = session.execute(sa.text(
            "SELECT e.id FROM event e WHERE e.status = 'dispatched' AND EXISTS (SELECT 1 "
            "FROM camera c WHERE ST_DWithin(c.geom::geography, e.geom::geography, 300)) "
            "ORDER BY e.id LIMIT 1")).scalar_one()
    view.show_event(event_id)
    html = view.side.object
    for word in ("类别", "来源", "A岗网格员", "B岗网格员", "办理时限", "剩余时间", "附近监控",
                 "放大", "上墙", "无画面"):
        assert word in html, word
    assert "/mjpeg/" in html and "token=" in html and "/main" in html
    assert "rtsp://" not in html
    assert view.state.selected_event == event_id


def test_selecting_an_event_warms_its_cameras_before_the_browser_asks(app):
    assert callable(getattr(app.camera_url, "warm", None)), "the server's URL maker can warm"
    warmed: list[list[str]] = []
    view = _view(AppContext(**{**app.__dict__, "camera_url": WarmingCameraUrl(
        app.camera_url.make, warmed.append)}), "duty_officer")
    with Session(app.engine) as session:
        event_id = session.execute(sa.text(
            "SELECT e.id FROM event e WHERE EXISTS (SELECT 1 FROM camera c WHERE "
            "c.health_status NOT IN ('offline', 'unauthorized') AND "
            "ST_DWithin(c.geom::geography, e.geom::geography, 300)) "
            "ORDER BY e.id LIMIT 1")).scalar_one()
    view.show_event(event_id)
    assert len(warmed) == 1 and warmed[0], "one warm-up with the panel's cameras"
    for code in warmed[0]:
        assert f'data-camera="{code}"' in view.side.object


def test_a_dead_relay_url_maker_still_renders_the_panel(app):
    def broken(code: str, stream: str = "sub", kind: str = "mjpeg") -> str:
        raise RuntimeError("relay down at rtsp://admin:pw@10.0.0.1/x")

    view = _view(AppContext(**{**app.__dict__, "camera_url": broken}), "admin")
    view.show_camera_by_id(1)
    assert "视频服务不可用" in view.side.object and "pw@" not in view.side.object


def test_an_invalid_layer_file_stops_start_up(settings, demo, tmp_path):
    (tmp_path / "bad.yaml").write_text("id: bad\ngeometry: blob\n", encoding="utf-8")
    with pytest.raises(LayerSpecError, match=r"bad\.yaml"):
        make_context(settings, demo, layers_dir=tmp_path)
