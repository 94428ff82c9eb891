"""Credentials never leave the process: one scrub function, nasty cases."""

from __future__ import annotations

import logging

import pytest

from gis.errors import CommandCenterError
from gis.scrub import SecretUrl, log_request_error, register_secret, scrub


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("rtsp://admin:12345@192.0.2.1:554/Streaming/Channels/101", "12345"),
        ("rtsp://first.last:pw0rd@192.0.2.1/cam", "first.last"),  # dotted user name
        ("rtsp://admin:p@ss@192.0.2.1:554/x", "p@ss"),  # raw @ in the password
        ("rtsp://admin:p%40ss%25x@192.0.2.1/x", "p%40ss"),  # URL-encoded @ and %
        ("rtsp://admin:a/b?c@192.0.2.1/x", "a/b?c"),  # path characters in the password
        ("failed: 'postgresql://cc:hunter2@db:5432/cc' refused", "hunter2"),
        ("host=db user=cc password=hunter2 dbname=cc", "hunter2"),
        ('{"password": "hunter2"}', "hunter2"),
    ],
)
def test_scrub_masks_credentials(text, leak):
    out = scrub(text)
    assert leak not in out
    assert "***" in out


def test_scrub_keeps_harmless_text():
    text = "rtsp://192.0.2.1:554/cam/realmonitor?channel=1&subtype=0 网格 511002"
    assert scrub(text) == text


def test_registered_secret_masked_anywhere():
    register_secret("k3y-7f9a2")
    assert "k3y-7f9a2" not in scrub("signing with k3y-7f9a2 now")


def test_secret_url_never_prints():
    url = SecretUrl("rtsp://admin:Zx9!pw@192.0.2.7:554/Streaming/Channels/102")
    for shown in (str(url), repr(url), f"{url}", str([url])):
        assert "Zx9!pw" not in shown and "admin" not in shown
    assert url.reveal().startswith("rtsp://admin:Zx9!pw@")
    # The password is registered, so it is masked even when it appears outside a URL.
    assert "Zx9!pw" not in scrub("auth failed for Zx9!pw")


def test_errors_are_scrubbed_when_built():
    err = CommandCenterError("连接 rtsp://u:secretpw@192.0.2.1/x 失败", "open rtsp://u:secretpw@h/x")
    assert "secretpw" not in str(err)
    assert "secretpw" not in err.message("en")


def test_a_failed_request_is_logged_on_one_scrubbed_line(caplog):
    log = logging.getLogger("cc.test.request")
    caplog.set_level(logging.ERROR, logger="cc.test.request")
    value = RuntimeError("open failed: rtsp://admin:p%40ss@10.1.1.9:554/Streaming/Channels/102")
    log_request_error(log, "GET", "/x/rtsp://u:secret@10.0.0.1/a", type(value), value)
    log_request_error(log, "POST", "/y", None, "plain")
    first, second = (r.getMessage() for r in caplog.records)
    assert first.startswith("GET /x/") and "RuntimeError: open failed" in first
    assert "p%40ss" not in first and "secret" not in first and "\n" not in first
    assert second == "POST /y: error: plain"


def test_database_errors_never_quote_the_values_bound_to_them(engine):
    import sqlalchemy as sa

    from gis.db import get_engine

    db = get_engine(engine.url.render_as_string(hide_password=False))
    with pytest.raises(sa.exc.DBAPIError) as err, db.connect() as conn:
        conn.execute(sa.text("SELECT 1 / 0 WHERE CAST(:phone AS text) IS NOT NULL"),
                     {"phone": "139-0000-1234"})
    # SQLAlchemy appends "[parameters: ...]" to an error's text unless told not to
    assert "division by zero" in str(err.value)
    assert "139-0000-1234" not in str(err.value) and "parameters" in str(err.value)
