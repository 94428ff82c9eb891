"""The embedded local PostgreSQL + PostGIS cluster under ``var/pg``.

A command center on a laptop, in CI or in a demo should need no database administrator: this
module creates a cluster with the system's PostgreSQL binaries, starts it on a Unix socket in
its own folder, creates the role, the database and the PostGIS extension, and stops it again.

Why a socket and not a TCP port: the socket lives in a folder only the server user (and root)
may enter, so local ``trust`` authentication is safe and no password has to be invented,
stored or printed; and two checkouts on one machine can never fight over a port.

PostgreSQL refuses to run as root. When we are root, the server runs as an unprivileged
system user (``postgres`` by default, created if missing) that owns the data folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from gis.errors import DatabaseUnavailable, SetupError

SOCKET_PORT = 5432  # only names the socket file; nothing listens on TCP
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes; keep a margin for ".s.PGSQL.5432"


def find_bindir() -> Path:
    """The newest installed PostgreSQL that also has PostGIS, as its ``bin`` folder.

    Raises
    ------
    SetupError
        Naming the Debian packages to install when PostgreSQL or PostGIS is missing.
    """
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                        else 0, reverse=True)
    if not candidates:
        found = shutil.which("pg_ctl")
        if found:
            candidates = [Path(found)]
    if not candidates:
        raise SetupError(
            "未找到 PostgreSQL。请运行 ./run setup，或手动执行：sudo apt-get install postgresql",
            "PostgreSQL not found. Run ./run setup, or: sudo apt-get install postgresql",
        )
    for pg_ctl in candidates:
        major = pg_ctl.parent.parent.name
        if Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
            return pg_ctl.parent
    major = candidates[0].parent.parent.name
    raise SetupError(
        f"PostgreSQL {major} 缺少 PostGIS。请运行 ./run setup，或手动执行："
        f"sudo apt-get install postgresql-{major}-postgis-3",
        f"PostGIS is missing for PostgreSQL {major}. Run ./run setup, or: "
        f"sudo apt-get install postgresql-{major}-postgis-3",
    )


@dataclass(frozen=True)
class ServerUser:
    name: str
    uid: int
    gid: int


def _server_user(name: str) -> ServerUser | None:
    """Who runs the server: ourselves, or ``name`` when we are root (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True, capture_output=True)
        entry = pwd.getpwnam(name)
    return ServerUser(name, entry.pw_uid, entry.pw_gid)


class LocalCluster:
    """A PostgreSQL cluster in ``base`` (data, socket folder, log).

    Parameters
    ----------
    base
        The cluster folder, e.g. ``var/pg``. Created when missing.
    database, role
        The application database and its owner role.
    server_user
        System user that runs the server when we are root.
    """

    def __init__(self, base: Path, database: str = "command_center",
                 role: str = "command_center", server_user: str = "postgres",
                 shared_buffers_mb: int = 512, work_mem_mb: int = 64) -> None:
        self.base = base.absolute()
        self.database = database
        self.role = role
        self.shared_buffers_mb = shared_buffers_mb
        self.work_mem_mb = work_mem_mb
        self._server_user_name = server_user
        self._user: ServerUser | None = None

    # -- paths ------------------------------------------------------------------------------
    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        own = self.base / "run"
        if len(str(own)) + 14 <= _MAX_SOCKET_PATH:
            return own
        # Deep checkouts overflow the socket path limit; use a short private folder instead.
        digest = hashlib.sha256(str(self.base).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"cc-pg-{digest}"

    def exists(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    # -- running commands -------------------------------------------------------------------
    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if self._user is None:
            self._user = _server_user(self._server_user_name)
        user = self._user
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
               "HOME": str(self.base)}
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.uid, "group": user.gid, "extra_groups": []}
        proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False,
                              cwd=self.base, **kwargs)  # type: ignore[call-overload]
        if check and proc.returncode != 0:
            raise SetupError(
                f"{Path(args[0]).name} 失败：{proc.stderr.strip() or proc.stdout.strip()}",
                f"{Path(args[0]).name} failed: {proc.stderr.strip() or proc.stdout.strip()}",
            )
        return proc

    def _prepare_dirs(self) -> None:
        self._user = _server_user(self._server_user_name)
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.socket_dir, 0o700)
        if self._user is not None:
            for path in (self.base, self.socket_dir):
                os.chown(path, self._user.uid, self._user.gid)
            if self.data.exists():
                os.chown(self.data, self._user.uid, self._user.gid)
            probe = self._run(["test", "-w", str(self.base)], check=False)
            if probe.returncode != 0:
                raise SetupError(
                    f"系统用户 {self._user.name} 无法进入 {self.base}：请让其上级目录可访问"
                    f"（chmod o+x），或用 local_db.dir 指向其他目录",
                    f"system user {self._user.name} cannot reach {self.base}: make its parent "
                    f"folders traversable (chmod o+x) or point local_db.dir elsewhere",
                )

    # -- lifecycle --------------------------------------------------------------------------
    def init(self) -> bool:
        """Create the cluster if it does not exist. Returns True when it was created."""
        bindir = find_bindir()
        self._prepare_dirs()
        if self.exists():
            return False
        self._run([str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--no-locale"])
        conf = self.data / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as fh:
            fh.write(
                "\n# added by command-center db up\n"
                "listen_addresses = ''\n"
                f"shared_buffers = {self.shared_buffers_mb}MB\n"
                f"work_mem = {self.work_mem_mb}MB\n"
                "maintenance_work_mem = 256MB\n"
                "max_wal_size = 2GB\n"
                # A local demo cluster trades the last few ms of commits on a crash for speed;
                # point CC_DATABASE_URL at a managed PostGIS for anything that matters.
                "synchronous_commit = off\n"
                # JIT compiles for seconds to save milliseconds on our short spatial queries.
                "jit = off\n"
                "timezone = 'Asia/Shanghai'\n"
            )
        return True

    def is_running(self) -> bool:
        if not self.exists():
            return False
        proc = self._run([str(find_bindir() / "pg_ctl"), "status", "-D", str(self.data)],
                         check=False)
        return proc.returncode == 0

    def start(self, timeout_s: int = 60) -> None:
        """Start the server (no-op when it already runs) and wait until it accepts work."""
        bindir = find_bindir()
        self._prepare_dirs()
        if not self.is_running():
            with contextlib.suppress(FileNotFoundError):
                (self.data / "postmaster.pid").unlink()  # stale after a hard kill
            self._run([str(bindir / "pg_ctl"), "start", "-D", str(self.data), "-l",
                       str(self.log), "-w", "-t", str(timeout_s), "-o",
                       f"-p {SOCKET_PORT} -k {self.socket_dir}"])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._run([str(bindir / "pg_isready"), "-h", str(self.socket_dir), "-p",
                          str(SOCKET_PORT)], check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise DatabaseUnavailable("本地数据库启动超时", "local database did not start in time")

    def stop(self) -> None:
        """Stop the server (fast shutdown); no-op when it is not running."""
        if self.is_running():
            self._run([str(find_bindir() / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast",
                       "-w"])

    def restart(self) -> None:
        self.stop()
        self.start()

    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    # -- databases --------------------------------------------------------------------------
    def superuser_url(self, database: str = "postgres") -> str:
        return self._url("postgres", database)

    def url(self, database: str | None = None) -> str:
        """libpq URL of ``database`` (default: the application database) over the socket."""
        return self._url(self.role, database or self.database)

    def _url(self, role: str, database: str) -> str:
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{role}@/{database}?host={host}&port={SOCKET_PORT}"

    def ensure_database(self, database: str | None = None) -> None:
        """Create the role, ``database`` and its PostGIS extension when missing."""
        import psycopg
        from psycopg import sql

        name = database or self.database
        with psycopg.connect(self.superuser_url(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.role,)).fetchone() \
                    is None:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(self.role)))
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() \
                    is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(self.role)))
        # CREATE EXTENSION postgis needs a superuser; the role then owns everything else.
        with psycopg.connect(self.superuser_url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self, database: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.superuser_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)))

    def destroy(self) -> None:
        """Stop the server and delete the whole cluster folder (tests use this)."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        if self.socket_dir != self.base / "run":
            shutil.rmtree(self.socket_dir, ignore_errors=True)
