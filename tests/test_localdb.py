"""The embedded cluster: made by our own code, idempotent, runs unprivileged, survives restarts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from command_center.cli import app
from gis.db import get_engine, session_scope
from gis.localdb import LocalCluster
from gis.migrate import head_revision

runner = CliRunner()


@pytest.fixture
def cluster_dir(cluster):  # `cluster` only to share the skip/fail-in-CI logic
    base = Path(tempfile.mkdtemp(prefix="cc-test-up-"))
    os.chmod(base, 0o755)
    yield base / "pg"
    LocalCluster(base / "pg").destroy()
    shutil.rmtree(base, ignore_errors=True)


def test_db_commands_end_to_end(cluster_dir, monkeypatch):
    monkeypatch.setenv("CC_LOCAL_DB__DIR", str(cluster_dir))
    monkeypatch.delenv("CC_DATABASE_URL", raising=False)
    first = runner.invoke(app, ["db", "up"])
    assert first.exit_code == 0, first.output
    assert "created" in first.output and f"revision: {head_revision()}" in first.output
    again = runner.invoke(app, ["db", "up"])
    assert again.exit_code == 0 and "already running" in again.output

    url = runner.invoke(app, ["db", "url"]).output.strip()
    assert url.startswith("postgresql://") and "@" in url
    with sa.create_engine("postgresql+psycopg://" + url.split("://", 1)[1]).connect() as conn:
        assert conn.execute(sa.text("SELECT postgis_lib_version()")).scalar()
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1

    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0 and "up to date" in status.output
    assert runner.invoke(app, ["db", "down"]).exit_code == 0
    assert runner.invoke(app, ["db", "status"]).exit_code == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful when started as root")
def test_server_runs_unprivileged_when_started_as_root(cluster):
    pid = cluster.pid()
    assert pid
    uid = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Uid:")).split()[1])
    assert uid != 0
    assert (cluster.socket_dir.stat().st_mode & 0o777) == 0o700


def test_unreachable_database_gives_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("CC_DATABASE_URL", f"postgresql://nobody:pw-x1@/cc?host={tmp_path}")
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code != 0
    assert "pw-x1" not in result.output


def test_restart_mid_session_is_survived(cluster):
    cluster.ensure_database("t_restart")
    engine = get_engine(cluster.url("t_restart"))
    with session_scope(engine) as s:
        assert s.execute(sa.text("SELECT 1")).scalar() == 1
    cluster.restart()
    # The pooled connection died with the server; pre-ping replaces it transparently.
    with session_scope(engine) as s:
        assert s.execute(sa.text("SELECT 2")).scalar() == 2
    engine.dispose()
    cluster.drop_database("t_restart")
