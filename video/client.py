"""What the app imports to show video: signed relay URLs, nothing else.

The Panel app never opens a camera and never sees a stream URL: it asks :class:`RelayClient`
for a short-lived signed URL to a camera's MJPEG or snapshot, or to a wall, and puts it in an
``<img>`` tag. The relay checks the signature with the same key (``settings.relay.signing_key``
or ``signing_key_file``); with neither set the key is random per process, which only works
when the app and the relay run in one process (the ``relay --from-simulator`` demo).
"""

from __future__ import annotations

import time
from typing import Any, Literal
from urllib.parse import quote, urlencode

from video.tokens import key_from_settings, mint

UrlKind = Literal["mjpeg", "snapshot"]


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
                 now: float | None = None) -> str:
        """A signed URL for a wall: a configured group, a layout name (``"3x3"``) or an
        automatic group (``"street-<code>"``, ``"grid-<code>"``, ``"source-skynet"``)."""
        if kind not in ("mjpeg", "jpg"):
            raise ValueError(f"未知类型 {kind!r} / unknown kind {kind!r}")
        token = mint("wall", group_or_layout, "sub", self.ttl_s, self._key,
                     now=time.time() if now is None else now)
        return self._url(f"/wall/{quote(group_or_layout, safe='')}.{kind}", token)

    def health_url(self) -> str:
        """The relay's health JSON (unsigned: it holds no pictures and no URLs)."""
        return f"{self.base_url}/health"

    def metrics_url(self) -> str:
        """The relay's Prometheus metrics."""
        return f"{self.base_url}/metrics"
