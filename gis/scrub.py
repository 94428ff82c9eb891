"""One place that removes credentials from text before it leaves the process.

Every log line, exception message, API response and page that might contain a connection or
stream URL passes through :func:`scrub`. It masks the ``user:password@`` part of any URL
whatever characters the user name holds (dots, ``@`` inside an URL-encoded password, ``%``
escapes), ``password=...`` style key/value pairs as libpq and ODBC write them, and any value
registered with :func:`register_secret` (for secrets that show up outside a URL).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from urllib.parse import quote, unquote, urlsplit

MASK = "***"

# scheme://userinfo@host — userinfo runs to the LAST '@' of the token, because raw '@', '/'
# and '?' inside a password are common in hand-written camera URLs ("admin:p@ss/1@10.0.0.7").
# An '@' in a query string gets over-masked too: showing too little beats leaking a password.
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^\s'\"<>]*)@"
)
_KEY_VALUE = re.compile(
    r"(?i)\b(?P<key>password|passwd|pwd|secret|token|api_key|apikey|key)(?P<kq>['\"]?)"
    r"(?P<sep>\s*[=:]\s*)(?P<quote>['\"]?)(?P<value>[^\s'\"&;,]+)(?P=quote)"
)

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`scrub` masks it wherever it appears.

    Very short values are ignored: masking every ``a`` in a log would help nobody.
    """
    if not value or len(value) < 4:
        return
    with _lock:
        _registered.update({value, quote(value, safe=""), unquote(value)})


def _mask_userinfo(match: re.Match[str]) -> str:
    # The user name goes too: for cameras it halves a brute force.
    return f"{match.group('scheme')}{MASK}@"


def _mask_value(m: re.Match[str]) -> str:
    quote_ = m.group("quote")
    return f"{m.group('key')}{m.group('kq')}{m.group('sep')}{quote_}{MASK}{quote_}"


def scrub(text: object) -> str:
    """Return ``str(text)`` with credentials masked.

    Parameters
    ----------
    text
        Anything; it is converted with ``str`` first.

    Examples
    --------
    >>> scrub("rtsp://admin:p%40ss@10.1.2.3:554/Streaming/Channels/101")
    'rtsp://***@10.1.2.3:554/Streaming/Channels/101'
    >>> scrub("host=db password=hunter22 dbname=cc")
    'host=db password=*** dbname=cc'
    """
    out = str(text)
    out = _URL_CREDENTIALS.sub(_mask_userinfo, out)
    out = _KEY_VALUE.sub(_mask_value, out)
    with _lock:
        secrets = sorted(_registered, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, MASK)
    return out


class SecretUrl:
    """A stream or database URL that never prints its credentials.

    ``str()``, ``repr()`` and f-strings give the scrubbed form; :meth:`reveal` gives the real
    one, for the single place that must open the connection.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        with contextlib.suppress(ValueError):
            register_secret(urlsplit(value).password)

    def reveal(self) -> str:
        """The real URL, credentials included. Never log the result."""
        return self._value

    def __str__(self) -> str:
        return scrub(self._value)

    def __repr__(self) -> str:
        return f"SecretUrl({scrub(self._value)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def log_request_error(log: logging.Logger, method: str | None, path: str,
                      typ: type[BaseException] | None, value: object) -> None:
    """Log a failed HTTP request on one line: method, path, error type, message, scrubbed.

    Tornado's default logs the request's repr (a signed token, an API key in a query string)
    and a traceback that may quote a stream URL from an OpenCV or libpq message; the relay and
    the intake API log this instead.
    """
    log.error("%s %s: %s: %s", method, scrub(path), typ.__name__ if typ else "error",
              scrub(value))
