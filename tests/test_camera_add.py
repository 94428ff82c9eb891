"""A real camera in one line: vendor URL built, password from the environment, never shown."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from command_center.cli import app
from gis.models import Camera

runner = CliRunner()


def _env(engine, monkeypatch):
    url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    monkeypatch.setenv("CC_DATABASE_URL", url)


def test_hikvision_camera_in_one_line(engine, monkeypatch):
    _env(engine, monkeypatch)
    monkeypatch.setenv("CAM_PW", "p@ss:w/rd9")
    result = runner.invoke(app, [
        "cameras", "add", "SN-ONE-1", "--host", "10.20.1.15", "--lon", "105.03", "--lat",
        "29.57", "--name", "人民路口", "--source", "skynet", "--user", "admin",
        "--password-env", "CAM_PW", "--azimuth", "370"])
    assert result.exit_code == 0, result.output
    assert "p@ss" not in result.output and "admin" not in result.output
    with engine.connect() as conn:
        main, sub, az = conn.execute(sa.select(Camera.main_url, Camera.sub_url, Camera.azimuth_deg)
                                     .where(Camera.code == "SN-ONE-1")).one()
    assert main.reveal() == "rtsp://admin:p%40ss%3Aw%2Frd9@10.20.1.15:554/Streaming/Channels/101"
    assert sub.reveal().endswith("/Streaming/Channels/102")
    assert az == 10  # 370° wraps to 10°
    # Running it again updates the same row instead of adding one.
    again = runner.invoke(app, ["cameras", "add", "SN-ONE-1", "--host", "10.20.1.16", "--lon",
                                "105.03", "--lat", "29.57", "--vendor", "dahua"])
    assert again.exit_code == 0, again.output
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Camera.main_url).where(Camera.code == "SN-ONE-1")).all()
    assert len(rows) == 1
    assert rows[0][0].reveal() == "rtsp://10.20.1.16:554/cam/realmonitor?channel=1&subtype=0"


def test_camera_outside_district_or_missing_password_is_a_clear_error(engine, monkeypatch):
    _env(engine, monkeypatch)
    outside = runner.invoke(app, ["cameras", "add", "SN-OUT", "--host", "10.0.0.1",
                                  "--lon", "104.06", "--lat", "30.65"])
    assert outside.exit_code == 1
    assert "outside the district" in outside.output and "Traceback" not in outside.output
    monkeypatch.delenv("NO_SUCH_PW", raising=False)
    missing = runner.invoke(app, ["cameras", "add", "SN-PW", "--host", "10.0.0.1", "--lon",
                                  "105.03", "--lat", "29.57", "--password-env", "NO_SUCH_PW"])
    assert missing.exit_code == 1 and "NO_SUCH_PW" in missing.output
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Camera)
                            .where(Camera.code.in_(["SN-OUT", "SN-PW"]))).scalar() == 0
