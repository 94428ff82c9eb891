"""What the app imports to show video: signed relay URLs, nothing else.

The Panel app never opens a camera and never sees a stream URL: it asks :class:`RelayClient`
for a short-lived signed URL to a camera's MJPEG or snapshot, or to a wall, and puts it in an
``<img>`` tag. The relay checks the signature with the same key (``settings.relay.signing_key``
or ``signing_key_file``); with neither set the key is random per process, which only works
when the app and the relay run in one process (the ``relay --from-simulator`` demo).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from gis.scrub import scrub
from video.tokens import key_from_settings, mint

log = logging.getLogger(__name__)

UrlKind = Literal["mjpeg", "snapshot"]
WARM_TTL_S = 30  # a warm-up token is used at once; it need not live longer
WARM_TIMEOUT_S = 2.0

_warm_pool: ThreadPoolExecutor | None = None
_warm_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    # Two threads for the whole process: warm-ups are tiny, fire-and-forget requests.
    global _warm_pool
    with _warm_pool_lock:
        if _warm_pool is None:
            _warm_pool = ThreadPoolExecutor(2, thread_name_prefix="relay-warm")
        return _warm_pool


class RelayClient:
    """Builds signed URLs on the relay's public address.

    Parameters
    ----------
    settings
        The deployment's ``Settings`` (``settings.relay``: ``public_url``, ``host``, ``port``,
        ``token_ttl_s`` and the signing key).
    """

    def __init__(self, settings: Any) -> None:
        relay = getattr(settings, "relay", settings)
        self.ttl_s = int(relay.token_ttl_s)
        base = relay.public_url or f"http://{relay.host}:{relay.port}"
        self.base_url = base.rstrip("/")
        self._key = key_from_settings(settings)

    def _url(self, path: str, token: str) -> str:
        return f"{self.base_url}{path}?{urlencode({'token': token})}"

    def camera_url(self, code: str, stream: Literal["main", "sub"] = "sub",
                   kind: UrlKind = "mjpeg", *, now: float | None = None) -> str:
        """A signed URL for one camera.

        Parameters
        ----------
        code
            The camera code.
        stream
            ``"sub"`` for tiles and thumbnails, ``"main"`` for the enlarged view.
        kind
            ``"mjpeg"`` (a live ``multipart/x-mixed-replace`` stream for an ``<img>``) or
            ``"snapshot"`` (one JPEG).
        now
            Epoch time the lifetime counts from (the clock when None).

        Examples
        --------
        >>> from config.settings import RelaySettings
        >>> client = RelayClient(RelaySettings(signing_key="k" * 32))
        >>> client.camera_url("cam01").split("?")[0]
        'http://127.0.0.1:8600/mjpeg/cam01/sub'
        """
        if stream not in ("main", "sub"):
            raise ValueError(f"未知码流 {stream!r} / unknown stream {stream!r}")
        if kind not in ("mjpeg", "snapshot"):
            raise ValueError(f"未知类型 {kind!r} / unknown kind {kind!r}")
        token = mint("camera", code, stream, self.ttl_s, self._key,
                     now=time.time() if now is None else now)
        safe = quote(code, safe="")
        path = f"/mjpeg/{safe}/{stream}" if kind == "mjpeg" else f"/snapshot/{safe}.jpg"
        return self._url(path, token)

    def wall_url(self, group_or_layout: str, kind: Literal["mjpeg", "jpg"] = "mjpeg", *,
                 width: int | None = None, now: float | None = None) -> str:
        """A signed URL for a wall: a configured group, a layout name (``"3x3"``) or an
        automatic group (``"street-<code>"``, ``"grid-<code>"``, ``"source-skynet"``).

        ``width``: the pixels the wall is displayed across; the relay then composes and
        encodes it at about that size (never larger than ``relay.tile_width`` per tile)
        instead of the full configured size.
        """
        if kind not in ("mjpeg", "jpg"):
            raise ValueError(f"未知类型 {kind!r} / unknown kind {kind!r}")
        token = mint("wall", group_or_layout, "sub", self.ttl_s, self._key,
                     now=time.time() if now is None else now)
        url = self._url(f"/wall/{quote(group_or_layout, safe='')}.{kind}", token)
        return f"{url}&w={int(width)}" if width else url

    def warm_request(self, codes: Sequence[str], *,
                     now: float | None = None) -> tuple[str, bytes]:
        """The signed ``POST /warm`` URL and JSON body that warm up ``codes``' sub streams.

        The token names exactly these codes (joined by newlines), so the relay warms only
        what the app signed.
        """
        codes = list(dict.fromkeys(codes))
        token = mint("warm", "\n".join(codes), "sub", WARM_TTL_S, self._key,
                     now=time.time() if now is None else now)
        return self._url("/warm", token), json.dumps({"cameras": codes}).encode("utf-8")

    def warm(self, codes: Sequence[str]) -> None:
        """Ask the relay, in the background, to start decoding ``codes`` now.

        Called when the app has chosen cameras the browser is about to show (an event was
        selected): the RTSP open and the first key frame then overlap the page's rendering.
        Returns at once; a relay that is down or slow costs nothing but a debug log line.
        """
        if not codes:
            return
        url, body = self.warm_request(codes)
        _pool().submit(_post, url, body)

    def health_url(self) -> str:
        """The relay's health JSON (unsigned: it holds no pictures and no URLs)."""
        return f"{self.base_url}/health"

    def metrics_url(self) -> str:
        """The relay's Prometheus metrics."""
        return f"{self.base_url}/metrics"


def _post(url: str, body: bytes) -> int:
    # http.client rather than urllib: no opener, proxy or handler set-up per call, so the
    # warm-up leaves the app a few milliseconds sooner.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return 0
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=WARM_TIMEOUT_S)
    try:
        conn.request("POST", f"{parts.path}?{parts.query}", body,
                     {"Content-Type": "application/json"})
        status = int(conn.getresponse().status)
    except (OSError, http.client.HTTPException) as exc:  # the picture request reports trouble
        log.debug("预热失败 / warm-up failed: %s", scrub(exc))
        return 0
    finally:
        conn.close()
    if status >= 300:
        # A 403 here means the app and the relay sign with different keys: every warm-up
        # would be refused without a word, and clicks would quietly get slower.
        log.warning("预热被拒绝 / warm-up refused: HTTP %d", status)
    return status
