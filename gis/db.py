"""Engines and sessions: one engine per database URL, a session per unit of work.

``pool_pre_ping`` makes a pooled connection that died with a database restart get replaced
instead of failing the next request; connection errors are re-raised as
:class:`~gis.errors.DatabaseUnavailable` with credentials scrubbed from the message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from gis.errors import DatabaseUnavailable
from gis.localdb import LocalCluster
from gis.scrub import register_secret, scrub

_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def local_cluster(settings: Settings) -> LocalCluster:
    """The embedded cluster described by ``settings.local_db``."""
    ldb = settings.local_db
    return LocalCluster(settings.path(ldb.dir), database=ldb.database, role=ldb.role,
                        server_user=ldb.server_user, shared_buffers_mb=ldb.shared_buffers_mb,
                        work_mem_mb=ldb.work_mem_mb)


def uses_local_cluster(settings: Settings) -> bool:
    return settings.database.url is None or not settings.database.url.get_secret_value()


def _with_password(url: str, password_file: Path | None) -> str:
    if password_file is None:
        return url
    parts = urlsplit(url)
    if parts.password:
        return url
    password = password_file.read_text(encoding="utf-8").strip()
    register_secret(password)
    user = parts.username or ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def database_url(settings: Settings) -> str:
    """The libpq URL (``postgresql://…``) everything connects to.

    ``CC_DATABASE_URL`` (or ``database.url``) when set, else the embedded local cluster.
    The result may hold a password: pass it to a driver, never to a log.
    """
    if uses_local_cluster(settings):
        return local_cluster(settings).url()
    assert settings.database.url is not None
    url = settings.database.url.get_secret_value()
    register_secret(urlsplit(url).password)
    pw_file = settings.database.password_file
    url = _with_password(url, settings.path(pw_file) if pw_file else None)
    # Accept SQLAlchemy-style URLs too; libpq and psql want the plain scheme.
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def sqlalchemy_url(libpq_url: str) -> str:
    """``postgresql://…`` → ``postgresql+psycopg://…`` for SQLAlchemy."""
    return "postgresql+psycopg://" + libpq_url.split("://", 1)[1]


def get_engine(url: str, statement_timeout_ms: int = 60_000, connect_timeout_s: int = 10,
               pool_size: int = 5) -> sa.Engine:
    """The shared engine for ``url`` (a libpq URL), created on first use."""
    key = f"{url}|{statement_timeout_ms}|{connect_timeout_s}|{pool_size}"
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = sa.create_engine(
                sqlalchemy_url(url),
                pool_pre_ping=True,
                pool_size=pool_size,
                # Error texts never carry bound values: intakes bind reporters' names, phones
                # and e-mail addresses, users bind password hashes; errors reach the logs.
                hide_parameters=True,
                connect_args={
                    "connect_timeout": connect_timeout_s,
                    "options": f"-c statement_timeout={statement_timeout_ms}",
                    "application_name": "command-center",
                },
            )
            _engines[key] = engine
        return engine


def engine_for(settings: Settings) -> sa.Engine:
    """The engine for the configured database."""
    db = settings.database
    return get_engine(database_url(settings), db.statement_timeout_ms, db.connect_timeout_s,
                      db.pool_size)


def dispose_engines() -> None:
    """Close every pooled connection (tests, shutdown, after the database moved)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def unavailable(exc: BaseException) -> DatabaseUnavailable:
    """Turn a driver's connection error into a user-facing one, password scrubbed."""
    detail = scrub(getattr(exc, "orig", None) or exc).strip().splitlines()[0:2]
    text = " ".join(detail)
    return DatabaseUnavailable(
        f"无法连接数据库（{text}）。本地数据库请先运行 command-center db up",
        f"cannot reach the database ({text}). For the local one run: command-center db up",
    )


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session for one unit of work: committed on success, rolled back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except sa_exc.OperationalError as exc:
        session.rollback()
        if exc.connection_invalidated or "connection" in str(exc).lower():
            raise unavailable(exc) from None
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
