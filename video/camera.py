"""What the relay knows about a camera, and the vendor URL templates that make one a line.

The relay's core runs from a plain list of :class:`CameraSpec` (tests, benchmarks, a config
file); :func:`cameras_from_database` builds that list from the spatial core's camera table.
Stream URLs are :class:`~gis.scrub.SecretUrl`: printing a spec never shows credentials.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import numpy as np

from gis.scrub import SecretUrl

StreamKind = Literal["main", "sub"]
STREAMS: tuple[StreamKind, ...] = ("main", "sub")

# Health states, the same codes as gis.catalog.HEALTH_STATES (the camera table's CHECK).
UNKNOWN, ONLINE, STALE, OFFLINE, UNAUTHORIZED = (
    "unknown", "online", "stale", "offline", "unauthorized")

# Vendor paths: main stream (主码流) for the enlarged view, sub stream (子码流) for wall tiles.
VENDOR_PATHS: dict[str, dict[StreamKind, str]] = {
    "hikvision": {"main": "/Streaming/Channels/{channel}01",
                  "sub": "/Streaming/Channels/{channel}02"},
    "dahua": {"main": "/cam/realmonitor?channel={channel}&subtype=0",
              "sub": "/cam/realmonitor?channel={channel}&subtype=1"},
}


def vendor_url(vendor: str, host: str, stream: StreamKind = "main", *, channel: int = 1,
               port: int = 554, user: str | None = None, password: str | None = None,
               path: str | None = None) -> SecretUrl:
    """Build a camera's RTSP URL from its vendor's template.

    Parameters
    ----------
    vendor
        ``hikvision``, ``dahua`` or ``generic`` (then ``path`` is required).
    host, port, channel
        Where the camera (or the NVR / GB/T 28181 platform's RTSP output) answers.
    user, password
        Credentials; percent-encoded here so ``@`` or ``:`` in a password stay safe.

    Examples
    --------
    >>> str(vendor_url("hikvision", "10.0.0.7", "sub", user="admin", password="p@ss"))
    'rtsp://***@10.0.0.7:554/Streaming/Channels/102'
    """
    if vendor in VENDOR_PATHS:
        suffix = VENDOR_PATHS[vendor][stream].format(channel=channel)
    elif path:
        suffix = path if path.startswith("/") else "/" + path
    else:
        raise ValueError(f"未知厂商 {vendor!r} 且未给出路径 / "
                         f"unknown vendor {vendor!r} and no path")
    auth = ""
    if user:
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    return SecretUrl(f"rtsp://{auth}{host}:{port}{suffix}")


@dataclass(frozen=True)
class CameraSpec:
    """One camera as the relay sees it."""

    code: str
    name: str
    main_url: SecretUrl
    sub_url: SecretUrl | None = None
    source: str = "community"
    street: str | None = None
    grid: str | None = None

    def url(self, stream: StreamKind) -> SecretUrl:
        """The stream's URL; a camera without a sub stream serves its main one for both."""
        if stream == "sub" and self.sub_url is not None:
            return self.sub_url
        return self.main_url


@dataclass(frozen=True)
class Frame:
    """A decoded picture (BGR, uint8) with the wall-clock time it was read and a counter.

    ``scaled`` holds the picture already scaled to the (width, height) sizes that walls asked
    for (:meth:`video.reader.FrameSlot.want`), made by the reading thread right after the
    decode, while the picture is still in the CPU's cache.
    """

    image: np.ndarray
    captured_at: float
    seq: int
    scaled: Mapping[tuple[int, int], np.ndarray] = field(default_factory=dict)


@dataclass
class Health:
    """A camera's health as shown on pages and written back to the camera table."""

    code: str
    status: str = UNKNOWN
    fps: float | None = None
    reconnects: int = 0
    last_error: str | None = None  # always scrubbed
    last_seen_at: float | None = None  # epoch seconds of the newest frame or good probe
    checked_at: float = field(default_factory=time.time)
    watched: bool = False


def cameras_from_database(session: object, codes: list[str] | None = None) -> list[CameraSpec]:
    """Camera specs from the camera table (with street and grid codes for grouping).

    Parameters
    ----------
    session
        A SQLAlchemy session on the spatial core.
    codes
        Only these cameras; all cameras with a main URL when None.
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from gis.models import Camera, Community, Grid, Street

    assert isinstance(session, Session)
    query = (sa.select(Camera, Grid.code, Street.code)
             .outerjoin(Grid, Camera.grid_id == Grid.id)
             .outerjoin(Community, Grid.community_id == Community.id)
             .outerjoin(Street, Community.street_id == Street.id)
             .where(Camera.main_url.is_not(None))
             .order_by(Camera.code))
    if codes is not None:
        query = query.where(Camera.code.in_(codes))
    # main_url IS NOT NULL is in the query; the comprehension's filter tells the type checker.
    return [CameraSpec(code=cam.code, name=cam.name_zh, main_url=cam.main_url,
                       sub_url=cam.sub_url, source=cam.source, street=street, grid=grid)
            for cam, grid, street in session.execute(query) if cam.main_url is not None]
