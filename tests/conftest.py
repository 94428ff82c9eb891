"""Fixtures: a real PostgreSQL + PostGIS cluster, started by the project's own code.

One throwaway cluster per test session lives in a temporary folder; it is stopped by PID (via
``pg_ctl``) and its folder removed at the end. Each test module that needs the database gets
a fresh database in it, migrated to head, with the real district boundary loaded.

When PostgreSQL or PostGIS is missing the database tests are skipped locally, but under CI
(``CI`` set) a missing database is an error: CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings, load_settings
from gis import migrate
from gis.db import dispose_engines, get_engine
from gis.errors import SetupError
from gis.localdb import LocalCluster, find_bindir

IN_CI = bool(os.environ.get("CI"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a failure: a green run must mean everything ran."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int) -> None:
    skipped = len(terminalreporter.stats.get("skipped", []))
    if IN_CI and skipped:
        terminalreporter.write_line(f"CI: {skipped} test(s) skipped: the run fails", red=True)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """A PostgreSQL cluster of our own for the whole test session."""
    try:
        find_bindir()
    except SetupError as exc:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL + PostGIS: {exc}")
        pytest.skip(str(exc))
    base = Path(tempfile.mkdtemp(prefix="cc-test-pg-"))
    os.chmod(base, 0o755)  # the server user must be able to enter it when we are root
    pg = LocalCluster(base / "pg", shared_buffers_mb=256)
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        dispose_engines()
        pg.destroy()
        shutil.rmtree(base, ignore_errors=True)


def _fresh_database(cluster: LocalCluster, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    cluster.ensure_database(name)
    return name


@pytest.fixture(scope="module")
def empty_engine(cluster: LocalCluster) -> Iterator[sa.Engine]:
    """A migrated database with no district (for tests of the rules themselves)."""
    name = _fresh_database(cluster, "t_empty")
    engine = get_engine(cluster.url(name))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    cluster.drop_database(name)


@pytest.fixture(scope="module")
def engine(cluster: LocalCluster, settings: Settings) -> Iterator[sa.Engine]:
    """A migrated database with the real Shizhong District boundary loaded."""
    from gis.district import load_district

    name = _fresh_database(cluster, "t_core")
    eng = get_engine(cluster.url(name))
    migrate.upgrade(eng)
    with Session(eng) as session:
        load_district(session, settings)
        session.commit()
    yield eng
    eng.dispose()
    cluster.drop_database(name)


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, so tests do not see each other."""
    with engine.connect() as conn:
        trans = conn.begin()
        sess = sessionmaker(bind=conn, join_transaction_mode="create_savepoint")()
        try:
            yield sess
        finally:
            sess.close()
            trans.rollback()
