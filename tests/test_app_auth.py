"""Passwords, roles and the session cookie."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from command_center.app.auth import (
    PAGES,
    AuthError,
    UserInfo,
    add_user,
    authenticate,
    can_open,
    hash_password,
    pages_for,
    verify_password,
)
from command_center.app.login import decode_session, encode_session, render_login, safe_next


def test_hash_is_salted_and_verifies():
    a, b = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert a != b, "two hashes of one password must differ (per-user salt)"
    assert a.startswith("scrypt$") and "s3cret" not in a
    assert verify_password("s3cret-pass", a) and verify_password("s3cret-pass", b)
    assert not verify_password("s3cret-pasS", a)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$1$2$3$@@$@@", "md5$x$y$z$a$b"])
def test_malformed_hashes_never_verify(stored):
    assert not verify_password("anything", stored)


def test_role_pages():
    assert pages_for("admin") == PAGES and PAGES[:4] == ("wall", "map", "events", "planning")
    assert pages_for("staff") == ("map", "events")
    assert pages_for("planner")[:2] == ("map", "planning") and "wall" not in pages_for("planner")
    assert "wall" in pages_for("duty_officer") and "planning" not in pages_for("duty_officer")
    assert set(pages_for("leader")) == set(PAGES)
    assert not can_open("staff", "wall") and can_open("planner", "planning")
    assert pages_for("nobody") == ()


def test_session_cookie_round_trip_and_forgery():
    user = UserInfo("li.wei", "李伟", "duty_officer")
    value = encode_session("k" * 32, user)
    assert decode_session("k" * 32, value) == user
    assert decode_session("other-secret-xxxxxxxxxxxxxxxxxxxxx", value) is None
    assert decode_session("k" * 32, value[:-2] + "00") is None
    assert decode_session("k" * 32, None) is None


def test_after_login_only_local_pages_the_role_may_open():
    staff = UserInfo("a", "a", "staff")
    assert safe_next("/events?lang=en", staff) == "/events?lang=en"
    assert safe_next("/wall", staff) == "/map"  # not allowed for staff: home page instead
    assert safe_next("//evil.example/map", staff) == "/map"
    assert safe_next("https://evil.example/", staff) == "/map"


def test_login_page_is_chinese_by_default_and_self_contained():
    page = render_login("zh", "/map")
    assert "登录" in page and "用户名" in page and 'lang="zh-CN"' in page
    assert "http://" not in page and "https://" not in page  # nothing from outside
    assert "Log in" in render_login("en")
    assert "<script" not in render_login("zh", '"><script>alert(1)</script>')


def test_users_in_the_database(engine):
    with Session(engine) as session:
        add_user(session, "wang.fang", "correct-horse", "planner", "王芳")
        session.commit()
        ok = authenticate(session, "wang.fang", "correct-horse")
        assert ok == UserInfo("wang.fang", "王芳", "planner")
        assert authenticate(session, "wang.fang", "wrong-horse") is None
        assert authenticate(session, "nobody", "correct-horse") is None
        with pytest.raises(AuthError, match="已存在"):
            add_user(session, "wang.fang", "another-pass", "staff")
        with pytest.raises(AuthError, match="unknown role"):
            add_user(session, "x", "long-enough", "king")
        with pytest.raises(AuthError, match="8"):
            add_user(session, "y", "short", "staff")
        stored = session.execute(
            __import__("sqlalchemy").text("SELECT password_hash FROM app_user "
                                          "WHERE username = 'wang.fang'")).scalar_one()
        assert "correct-horse" not in stored


def test_disabled_users_cannot_log_in(engine):
    import sqlalchemy as sa

    with Session(engine) as session:
        add_user(session, "zhao.lei", "correct-horse", "staff")
        session.execute(sa.text("UPDATE app_user SET disabled = true "
                                "WHERE username = 'zhao.lei'"))
        session.commit()
        assert authenticate(session, "zhao.lei", "correct-horse") is None


def test_the_database_refuses_an_unknown_role(engine):
    import sqlalchemy as sa

    with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.text("INSERT INTO app_user (username, password_hash, role) "
                             "VALUES ('eve', 'x', 'emperor')"))
