"""A throwaway PostgreSQL+PostGIS cluster for one benchmark run.

Every database benchmark starts its own cluster in a temp folder (never the project's
``var/pg``, so a run cannot disturb the demo), migrates one database and removes it all at
the end, also when the run fails half-way.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a checkout without install
    sys.path.insert(0, str(ROOT))

from gis import migrate  # noqa: E402
from gis.db import dispose_engines, get_engine  # noqa: E402
from gis.localdb import LocalCluster  # noqa: E402


def start_cluster(prefix: str, **options: int) -> LocalCluster:
    """Create and start a cluster under a new temp folder named ``prefix…``."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o755)  # the server user must be able to enter it when we are root
    cluster = LocalCluster(base / "pg", **options)
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return cluster


def migrated_database(cluster: LocalCluster, name: str = "bench") -> sa.Engine:
    """Create database ``name`` in ``cluster``, migrate it and return an engine without a
    statement timeout (benchmark statements may run for minutes)."""
    cluster.ensure_database(name)
    engine = get_engine(cluster.url(name), statement_timeout_ms=0)
    migrate.upgrade(engine)
    return engine


def stop_cluster(cluster: LocalCluster) -> None:
    """Close every pooled connection, stop the server and remove its temp folder."""
    dispose_engines()
    cluster.destroy()
    shutil.rmtree(cluster.base.parent, ignore_errors=True)
