"""Short-lived signed tokens for video URLs (HMAC-SHA256).

The app mints a token for one camera stream or one wall and puts it in the URL it hands to the
browser; the relay verifies it before it serves a single byte. A token names what it opens
(``kind``, ``target``, ``stream``) and when it dies, so a leaked URL opens one picture for a
few minutes and nothing else. Tokens carry no secret: the payload is readable, only the
signature needs the key.

Format: ``base64url(json payload) "." base64url(hmac_sha256(key, payload))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gis.errors import CommandCenterError

TokenKind = Literal["camera", "wall", "warm"]
KINDS: tuple[str, ...] = ("camera", "wall", "warm")


class TokenError(CommandCenterError):
    """A video URL's token does not open what was asked; maps to HTTP 403."""

    http_status = 403


class TokenExpired(TokenError):
    """The token was genuine but its lifetime is over."""


class TokenForged(TokenError):
    """The token is malformed or its signature does not match our key."""


class TokenWrongTarget(TokenError):
    """A genuine token for another camera, wall or stream."""


@dataclass(frozen=True)
class Claims:
    """What a verified token grants."""

    kind: str
    target: str
    stream: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def mint(kind: TokenKind, target: str, stream: str, ttl_s: float, key: bytes, *,
         now: float | None = None) -> str:
    """A URL-safe token that opens ``target`` for ``ttl_s`` seconds.

    Parameters
    ----------
    kind
        ``"camera"`` (snapshot or MJPEG of one camera), ``"wall"`` (a mosaic) or ``"warm"``
        (start decoding a few cameras ahead of their viewers; no picture).
    target
        The camera code, the wall name, or the warm-up's camera codes joined by newlines.
    stream
        ``"main"`` or ``"sub"`` for cameras; walls use ``"sub"`` (their tiles' stream).
    ttl_s
        Lifetime in seconds.
    key
        The HMAC key (see :func:`load_key`).
    now
        The current epoch time; the clock when None.

    Examples
    --------
    >>> token = mint("camera", "cam01", "sub", 60, b"k" * 32, now=1000)
    >>> verify(token, "camera", "cam01", b"k" * 32, now=1030).stream
    'sub'
    """
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    expires = int((time.time() if now is None else now) + ttl_s)
    body = json.dumps({"k": kind, "t": target, "s": stream, "e": expires},
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return f"{_b64(body)}.{_b64(_signature(body, key))}"


def verify(token: str | None, kind: TokenKind, target: str, key: bytes,
           now: float | None = None, *, stream: str | None = None) -> Claims:
    """Check ``token`` against what the request asks for and return its claims.

    Parameters
    ----------
    token
        The ``token`` query value (None when missing).
    kind, target
        What the request opens.
    key
        The HMAC key.
    now
        The current epoch time; the clock when None.
    stream
        When given, the stream the request opens must be the token's.

    Raises
    ------
    TokenForged
        Missing, malformed, or signed with another key.
    TokenExpired
        Genuine but past its expiry.
    TokenWrongTarget
        Genuine and alive but for another kind, target or stream.
    """
    if not token or token.count(".") != 1:
        raise TokenForged("链接缺少有效令牌", "the link has no valid token")
    body_text, sig_text = token.split(".")
    try:
        body, sig = _unb64(body_text), _unb64(sig_text)
    except (ValueError, TypeError):
        raise TokenForged("链接令牌格式错误", "malformed token") from None
    # Signature first, in constant time: nothing in an unsigned payload is trusted.
    if not hmac.compare_digest(sig, _signature(body, key)):
        raise TokenForged("链接令牌签名无效", "the token's signature is invalid")
    try:
        data = json.loads(body)
        claims = Claims(str(data["k"]), str(data["t"]), str(data["s"]), int(data["e"]))
    except (ValueError, KeyError, TypeError):
        raise TokenForged("链接令牌内容错误", "malformed token payload") from None
    if (time.time() if now is None else now) >= claims.expires_at:
        raise TokenExpired("链接已过期，请刷新页面", "the link has expired: reload the page")
    wanted = (kind, target) if stream is None else (kind, target, stream)
    granted = (claims.kind, claims.target) if stream is None else (
        claims.kind, claims.target, claims.stream)
    if wanted != granted:
        raise TokenWrongTarget("链接不适用于此画面", "the link is for another picture")
    return claims


_process_key: bytes | None = None
_process_key_lock = threading.Lock()


def process_key() -> bytes:
    """A random key that lives as long as this process (URLs die with a restart)."""
    global _process_key
    with _process_key_lock:
        if _process_key is None:
            _process_key = secrets.token_bytes(32)
        return _process_key


def load_key(signing_key: object | None = None, signing_key_file: Path | None = None) -> bytes:
    """The signing key: the secret setting, else the key file, else :func:`process_key`.

    Parameters
    ----------
    signing_key
        ``settings.relay.signing_key`` (a pydantic ``SecretStr``) or a plain string.
    signing_key_file
        ``settings.relay.signing_key_file``, already resolved against the project root.

    Raises
    ------
    CommandCenterError
        The key file cannot be read or is empty (the path is named, never the content).
    """
    if signing_key is not None:
        value = getattr(signing_key, "get_secret_value", lambda: signing_key)()
        if value:
            return str(value).encode("utf-8")
    if signing_key_file is not None:
        try:
            value = Path(signing_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandCenterError(f"无法读取签名密钥文件 {signing_key_file}：{exc.strerror}",
                                     f"cannot read the signing key file {signing_key_file}: "
                                     f"{exc.strerror}") from None
        if not value:
            raise CommandCenterError(f"签名密钥文件 {signing_key_file} 为空",
                                     f"the signing key file {signing_key_file} is empty")
        return value.encode("utf-8")
    return process_key()


def key_from_settings(settings: object) -> bytes:
    """:func:`load_key` for a ``Settings`` (or a bare ``RelaySettings``) object."""
    relay = getattr(settings, "relay", settings)
    key_file = getattr(relay, "signing_key_file", None)
    if key_file is not None and hasattr(settings, "path"):
        key_file = settings.path(key_file)
    return load_key(getattr(relay, "signing_key", None), key_file)
