"""API keys of the intake API: one per sending system, bound to its channel, stored as a hash.

A key is 32 random bytes (``cc_`` + URL-safe base64), shown once when the client is created;
the database keeps only its SHA-256 (a fast hash is right here: the key is random and long,
so there is nothing to brute-force, and every request checks one). :class:`KeyCache` remembers
checked keys for ``api.key_cache_s`` seconds so a busy client costs no database round trip per
request; a disabled client stops working within that time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import EVENT_SOURCES
from gis.errors import CommandCenterError
from gis.models import ApiClient

#: The demo's key, documented like the demo login: a demo, not a secret.
DEMO_CLIENT = "demo-12345"
DEMO_CHANNEL = "hotline_12345"
DEMO_KEY = "cc_demo-shizhong-12345-hotline"


class ApiKeyError(CommandCenterError):
    """A client cannot be created as asked (bad name, unknown channel, name taken)."""

    http_status = 400


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is calling: the client's id, name and channel (never the key or its hash)."""

    id: int
    name: str
    channel: str


@dataclass(frozen=True, slots=True)
class ClientRow:
    """One line of ``api keys list``."""

    name: str
    channel: str
    disabled: bool
    created_at: object


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256 in hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    """A fresh random key."""
    return "cc_" + secrets.token_urlsafe(32)


def add_client(session: Session, name: str, channel: str, key: str | None = None) -> str:
    """Create an API client; returns its key (print it once, it is not stored).

    Raises
    ------
    ApiKeyError
        Unknown channel, a name that is not ``[A-Za-z0-9_.@-]{1,64}``, or a name in use.
    """
    if channel not in EVENT_SOURCES:
        raise ApiKeyError(f"未知的渠道：{channel}（可选：{', '.join(EVENT_SOURCES)}）",
                          f"unknown channel: {channel} (known: {', '.join(EVENT_SOURCES)})")
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
        raise ApiKeyError("名称只能包含字母、数字和 _.@-，最长 64 个字符",
                          "the name may hold letters, digits and _.@- only, 64 at most")
    if session.execute(sa.select(ApiClient.id).where(ApiClient.name == name)).first():
        raise ApiKeyError(f"名称已被使用：{name}", f"the name is taken: {name}")
    key = key or new_key()
    session.add(ApiClient(name=name, channel=channel, key_sha256=hash_key(key)))
    session.flush()
    return key


def list_clients(session: Session) -> list[ClientRow]:
    """Every client by name (no keys: only their hashes exist)."""
    rows = session.execute(sa.select(ApiClient.name, ApiClient.channel, ApiClient.disabled,
                                     ApiClient.created_at).order_by(ApiClient.name)).all()
    return [ClientRow(*r) for r in rows]


def set_disabled(session: Session, name: str, disabled: bool) -> bool:
    """Disable or re-enable a client; False when there is no such client."""
    result = session.execute(sa.update(ApiClient).where(ApiClient.name == name)
                             .values(disabled=disabled))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def ensure_demo_client(engine: sa.Engine) -> tuple[str, str]:
    """Create the demo client (12345 hotline) when missing; return its name and key.

    The key is :data:`DEMO_KEY`, printed by ``command-center up``. An existing client of that
    name whose key was changed is left alone and the returned key is empty.
    """
    with Session(engine) as session:
        row = session.execute(sa.select(ApiClient.key_sha256)
                              .where(ApiClient.name == DEMO_CLIENT)).first()
        if row is None:
            add_client(session, DEMO_CLIENT, DEMO_CHANNEL, DEMO_KEY)
            session.commit()
            return DEMO_CLIENT, DEMO_KEY
        return DEMO_CLIENT, DEMO_KEY if row[0] == hash_key(DEMO_KEY) else ""


class KeyCache:
    """Checked keys (and refused ones) remembered for ``ttl_s`` seconds, thread-safe."""

    def __init__(self, engine: sa.Engine, ttl_s: float = 30.0, max_entries: int = 10_000
                 ) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, ClientInfo | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, ClientInfo | None]:
        """``(known, client)`` without touching the database."""
        digest = hash_key(key)
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def lookup(self, key: str) -> ClientInfo | None:
        """The enabled client holding ``key``, or None (blocking: run it off the event loop)."""
        known, client = self.cached(key)
        if known:
            return client
        digest = hash_key(key)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ApiClient.id, ApiClient.name, ApiClient.channel)
                               .where(ApiClient.key_sha256 == digest,
                                      ApiClient.disabled.is_(False))).first()
        client = None if row is None else ClientInfo(int(row[0]), row[1], row[2])
        with self._lock:
            if len(self._entries) >= self.max_entries:  # random keys must not grow it
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl_s, client)
        return client
