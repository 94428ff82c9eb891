"""Walls: named camera groups, each composed on its own thread only while someone watches.

A wall is found by name: a group from ``settings.relay.groups`` (explicit list, street, grid
or source), a layout name (``2x2`` shows the first four cameras), or an automatic group
``street-<code>``, ``grid-<code>`` or ``source-<skynet|community|courtyard>`` built from the
cameras' registry data. While a wall has viewers it holds its cameras' sub streams in the
supervisor (so they are decoded) and publishes one JPEG per tick into the frame hub; when the
last viewer leaves, the thread ends and the streams are released.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from gis.scrub import scrub
from video.camera import OFFLINE, UNAUTHORIZED, CameraSpec, Frame
from video.hub import Channel, EncodedFrame, FrameHub
from video.mosaic import LabelCache, Mosaic, Tile, TileState, canvas_size

log = logging.getLogger(__name__)

AUTO_PREFIXES = ("street-", "grid-", "source-")
WIDTH_STEP = 32  # tile widths a viewer may ask for: multiples of this
MIN_TILE_WIDTH = 128
KEEPALIVE_S = 2.0  # an unchanged wall is re-sent this often (idle proxies close streams)


@dataclass(frozen=True)
class WallSpec:
    """A wall: its name, title, layout and cameras in slot order."""

    name: str
    title_zh: str
    rows: int
    cols: int
    cameras: tuple[str, ...]


def _square_layout(count: int) -> tuple[int, int]:
    side = min(4, max(1, math.ceil(math.sqrt(max(count, 1)))))
    return side, side


def build_walls(relay: Any, cameras: Iterable[CameraSpec]) -> dict[str, WallSpec]:
    """Every wall the relay can serve for these cameras.

    Parameters
    ----------
    relay
        ``settings.relay`` (layouts and groups).
    cameras
        The relay's cameras in their registry order.

    Returns
    -------
    dict
        Wall name → spec. Configured groups win over automatic names.
    """
    cams = list(cameras)
    codes = [c.code for c in cams]
    walls: dict[str, WallSpec] = {}
    for name, layout in relay.layouts.items():
        walls[name] = WallSpec(name, name, layout.rows, layout.cols,
                               tuple(codes[: layout.rows * layout.cols]))
    for attr, label in (("street", "街道"), ("grid", "网格"), ("source", "来源")):
        values = sorted({getattr(c, attr) for c in cams if getattr(c, attr)})
        for value in values:
            members = tuple(c.code for c in cams if getattr(c, attr) == value)
            rows, cols = _square_layout(len(members))
            name = f"{attr}-{value}"
            walls[name] = WallSpec(name, f"{label} {value}", rows, cols, members)
    known = set(codes)
    for name, group in relay.groups.items():
        layout = relay.layouts[group.layout]
        if group.cameras:
            members = tuple(c for c in group.cameras if c in known)
        else:
            members = tuple(c.code for c in cams
                            if (group.street is None or c.street == group.street)
                            and (group.grid is None or c.grid == group.grid)
                            and (group.source is None or c.source == group.source))
        walls[name] = WallSpec(name, group.title_zh, layout.rows, layout.cols, members)
    return walls


class Wall:
    """One wall's compose thread, running while it has viewers.

    Parameters
    ----------
    spec
        What the wall shows.
    supervisor
        The relay's :class:`~video.supervisor.Supervisor` (``acquire``, ``release``,
        ``latest``, ``next_frame``, ``health``).
    hub
        Where composed frames are encoded (once per tick) and fanned out.
    names
        Camera code → display name.
    relay
        ``settings.relay`` (``wall_fps``, ``tile_width``, ``stale_after_s``, ``jpeg_quality``).
    """

    def __init__(self, spec: WallSpec, supervisor: Any, hub: FrameHub, names: dict[str, str],
                 relay: Any, *, tz: tzinfo | None = None,
                 labels: LabelCache | None = None, tile_width: int | None = None) -> None:
        self.spec, self.supervisor, self.hub = spec, supervisor, hub
        self.fps_target = float(relay.wall_fps)
        self.tile_width = tile_width or relay.tile_width
        tiles = [Tile(code, names.get(code, code)) for code in spec.cameras]
        self.mosaic = Mosaic(spec.rows, spec.cols, tiles,
                             canvas_size(spec.rows, spec.cols, self.tile_width),
                             stale_after_s=relay.stale_after_s, tz=tz, labels=labels)
        # The configured size keeps the plain name; a smaller one requested by a viewer is a
        # channel (and an encode key) of its own.
        self.key = spec.name if self.tile_width == relay.tile_width \
            else f"{spec.name}@{self.tile_width}"
        self.channel: Channel = hub.channel(self.key)
        self.quality = relay.jpeg_quality
        self._lock = threading.Lock()
        self._viewers = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._shown = [0] * len(self.mosaic.tiles)  # per tile: seq of the frame shown last
        self._dirty = True  # the canvas holds tiles the channel's newest JPEG does not show
        self.fps = 0.0  # measured compose rate, for /metrics

    @property
    def viewers(self) -> int:
        return self._viewers

    def running(self) -> bool:
        """Whether the compose thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def add_viewer(self) -> Channel:
        """A viewer joins: the first one acquires the sub streams and starts composing."""
        with self._lock:
            self._viewers += 1
            if self._viewers == 1:
                for tile, size in zip(self.mosaic.tiles, self.mosaic.tile_sizes(), strict=True):
                    self.supervisor.acquire(tile.code, "sub", scaled_to=size)
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                                name=f"wall-{self.spec.name}", daemon=True)
                self._thread.start()
        return self.channel

    def remove_viewer(self) -> None:
        """A viewer leaves: the last one stops the thread and releases the streams."""
        with self._lock:
            if self._viewers == 0:
                return
            self._viewers -= 1
            if self._viewers:
                return
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        for tile, size in zip(self.mosaic.tiles, self.mosaic.tile_sizes(), strict=True):
            self.supervisor.release(tile.code, "sub", scaled_to=size)
        self.fps = 0.0

    def ready(self) -> bool:
        """Whether every tile has a frame or is known dead (a snapshot then shows no 连接中)."""
        return all(self.supervisor.latest(t.code, "sub") is not None
                   or self.supervisor.health(t.code).status in (OFFLINE, UNAUTHORIZED)
                   for t in self.mosaic.tiles)

    def states(self) -> list[TileState]:
        """What each tile shows this tick, read without blocking: the camera's newest frame,
        or the one before it if that one has not been shown yet (see
        :meth:`video.reader.FrameSlot.next_after`), and the camera's status."""
        out = []
        for i, tile in enumerate(self.mosaic.tiles):
            health = self.supervisor.health(tile.code)
            frame = self.supervisor.next_frame(tile.code, "sub", self._shown[i],
                                               1.0 / self.fps_target)
            if frame is not None:
                self._shown[i] = frame.seq
            out.append(TileState(frame, health.status, health.last_seen_at))
        return out

    def compose_once(self, now: float | None = None) -> EncodedFrame:
        """Compose one tick and, if the picture changed, encode it once and publish it.

        A tick where no tile changed (slow or dead cameras) publishes nothing: viewers keep
        the picture they have, at no encode and no bandwidth, except that the same JPEG is
        sent again every :data:`KEEPALIVE_S` so that proxies do not close an idle stream.
        Returns the channel's newest frame.
        """
        now = time.time() if now is None else now
        canvas = self.mosaic.compose(self.states(), now)
        self._dirty = self._dirty or self.mosaic.changed > 0
        previous = self.channel.newest()
        if not self._dirty and previous is not None:
            if now - previous.captured_at < KEEPALIVE_S:
                return previous
            self._seq += 1
            encoded = EncodedFrame(self._seq, now, previous.data)
        else:
            self._seq += 1
            # Encoded here, on the compose thread, before the canvas is reused by the next
            # tick.
            encoded = self.hub.encode(("wall", self.key), Frame(canvas, now, self._seq),
                                      quality=self.quality)
            self._dirty = False
        self.channel.publish(encoded)
        return encoded

    def _run(self, stop: threading.Event) -> None:
        period = 1.0 / self.fps_target
        next_tick = time.monotonic()
        last = None
        while not stop.is_set():
            try:
                self.compose_once()
            except Exception as exc:  # keep the wall up; a broken tile must not end it
                log.warning("wall %s: %s", self.spec.name, scrub(exc))
            started = time.monotonic()
            if last is not None:
                rate = 1.0 / max(started - last, 1e-6)
                self.fps = rate if self.fps == 0 else 0.8 * self.fps + 0.2 * rate
            last = started
            next_tick += period
            # Behind schedule (slow machine): skip ticks rather than burst to catch up.
            if next_tick < started:
                next_tick = started
            stop.wait(max(0.0, next_tick - time.monotonic()))


def display_tile_width(cols: int, display_width: int | None, configured: int) -> int:
    """The tile width of a wall ``cols`` tiles wide shown ``display_width`` pixels wide.

    A wall shown 960 pixels wide needs no 1920-pixel mosaic: composing and encoding at the
    displayed size costs a quarter. The width is rounded down to a multiple of
    :data:`WIDTH_STEP` (a handful of sizes per wall, each composed once for all its viewers),
    never below :data:`MIN_TILE_WIDTH` and never above ``configured`` (``relay.tile_width``).

    Examples
    --------
    >>> display_tile_width(4, 1440, 480), display_tile_width(4, None, 480)
    (352, 480)
    """
    if not display_width or display_width <= 0:
        return configured
    wanted = display_width // cols // WIDTH_STEP * WIDTH_STEP
    return max(min(MIN_TILE_WIDTH, configured), min(configured, wanted))


class WallRegistry:
    """The relay's walls by name (and tile width), created lazily on first view."""

    def __init__(self, specs: dict[str, WallSpec], supervisor: Any, hub: FrameHub,
                 names: dict[str, str], relay: Any, *, tz: tzinfo | None = None) -> None:
        self.specs, self.supervisor, self.hub = specs, supervisor, hub
        self.names, self.relay, self.tz = names, relay, tz
        self.labels = LabelCache()
        self._walls: dict[tuple[str, int], Wall] = {}
        self._lock = threading.Lock()

    def tile_width_for(self, name: str, display_width: int | None) -> int:
        """The tile width to compose ``name`` at for a screen ``display_width`` pixels wide
        (see :func:`display_tile_width`)."""
        return display_tile_width(self.specs[name].cols, display_width,
                                  int(self.relay.tile_width))

    def get(self, name: str, tile_width: int | None = None) -> Wall:
        """The wall called ``name`` at ``tile_width`` (KeyError if there is none)."""
        width = tile_width or int(self.relay.tile_width)
        with self._lock:
            wall = self._walls.get((name, width))
            if wall is None:
                wall = Wall(self.specs[name], self.supervisor, self.hub, self.names,
                            self.relay, tz=self.tz, labels=self.labels, tile_width=width)
                self._walls[(name, width)] = wall
            return wall

    def active(self) -> list[Wall]:
        """Walls created so far (running or idle)."""
        with self._lock:
            return list(self._walls.values())

    def stop(self) -> None:
        """Stop every running wall."""
        for wall in self.active():
            while wall.viewers:
                wall.remove_viewer()
