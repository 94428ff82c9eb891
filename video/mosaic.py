"""Wall mosaics: many cameras' sub streams composed server-side into one picture.

One composed stream per wall is what lets a browser show sixteen cameras without hitting its
six-connections-per-host limit, and what makes the wall cost one JPEG encode per tick however
many screens show it. This module holds the pure part: tile geometry, label rendering and
composition into a preallocated canvas. :mod:`video.walls` runs it on a thread per viewed wall.

Chinese text (camera names, 离线, 卡顿) cannot be drawn by ``cv2.putText``; it is rendered once
with Pillow and the Noto CJK font and cached as a small BGR image that is copied onto the
canvas each tick. Times are ASCII digits and go through ``cv2.putText``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from video.camera import OFFLINE, ONLINE, STALE, UNAUTHORIZED, UNKNOWN, Frame
from video.pixelcode import BAND_FRACTION
from video.scale import scale_into

FONT_PATH = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_INDEX = 2  # "Noto Sans CJK SC" in the collection: simplified-Chinese glyph shapes

BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
LABEL_BG = (32, 32, 32)
OFFLINE_BG = (48, 48, 48)
RED = (40, 40, 200)
AMBER = (0, 160, 240)

STATUS_TEXT = {OFFLINE: "离线", UNAUTHORIZED: "认证失败", STALE: "卡顿", UNKNOWN: "连接中"}


@dataclass(frozen=True)
class Rect:
    """A tile's place on the canvas, in pixels."""

    x: int
    y: int
    w: int
    h: int

    def contains(self, other: Rect) -> bool:
        """Whether ``other`` lies entirely inside this rectangle."""
        return (self.x <= other.x and self.y <= other.y and other.x + other.w <= self.x + self.w
                and other.y + other.h <= self.y + self.h)


def canvas_size(rows: int, cols: int, tile_width: int) -> tuple[int, int]:
    """Canvas (width, height) for ``rows`` × ``cols`` 16:9 tiles ``tile_width`` wide.

    Examples
    --------
    >>> canvas_size(4, 4, 480)
    (1920, 1080)
    """
    tile_height = round(tile_width * 9 / 16 / 2) * 2  # even: JPEG chroma and I420 like it
    return cols * tile_width, rows * tile_height


def tile_rects(rows: int, cols: int, width: int, height: int) -> list[Rect]:
    """The tiles of a ``rows`` × ``cols`` layout covering a ``width`` × ``height`` canvas.

    Tiles are listed row by row; they cover the canvas exactly, without overlap, and differ
    in size by at most a pixel when the canvas does not divide evenly.

    Examples
    --------
    >>> tile_rects(1, 2, 100, 50)
    [Rect(x=0, y=0, w=50, h=50), Rect(x=50, y=0, w=50, h=50)]
    """
    if rows < 1 or cols < 1:
        raise ValueError("rows and cols must be at least 1")
    xs = [c * width // cols for c in range(cols + 1)]
    ys = [r * height // rows for r in range(rows + 1)]
    return [Rect(xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r])
            for r in range(rows) for c in range(cols)]


class LabelCache:
    """Text rendered once with Pillow (CJK-capable) and kept as BGR images."""

    def __init__(self, font_path: Path = FONT_PATH) -> None:
        self.font_path = font_path
        self._fonts: dict[int, Any] = {}
        self._labels: dict[tuple[str, int, tuple[int, int, int]], np.ndarray] = {}
        self._lock = threading.Lock()
        self.renders = 0

    def _font(self, size: int) -> Any:
        from PIL import ImageFont

        if size not in self._fonts:
            try:
                self._fonts[size] = ImageFont.truetype(str(self.font_path), size,
                                                       index=FONT_INDEX)
            except OSError:
                # Without fonts-noto-cjk the wall still works; CJK shows as boxes.
                self._fonts[size] = ImageFont.load_default(size)
        return self._fonts[size]

    def get(self, text: str, height: int, bg: tuple[int, int, int] = LABEL_BG) -> np.ndarray:
        """``text`` as a BGR image ``height`` pixels tall, white on ``bg``, rendered once."""
        key = (text, height, bg)
        with self._lock:
            label = self._labels.get(key)
            if label is None:
                label = self._render(text, height, bg)
                self._labels[key] = label
                self.renders += 1
            return label

    def _render(self, text: str, height: int, bg: tuple[int, int, int]) -> np.ndarray:
        from PIL import Image, ImageDraw

        font = self._font(max(8, int(height * 0.72)))
        left, top, right, bottom = font.getbbox(text)
        pad = max(2, height // 5)
        width = max(1, right - left) + 2 * pad
        rgb_bg = (bg[2], bg[1], bg[0])
        image = Image.new("RGB", (width, height), rgb_bg)
        ImageDraw.Draw(image).text((pad - left, (height - (bottom - top)) // 2 - top), text,
                                   font=font, fill=(255, 255, 255))
        return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def paste(canvas: np.ndarray, label: np.ndarray, x: int, y: int, clip: Rect) -> Rect:
    """Copy ``label`` onto ``canvas`` at (x, y), cut to ``clip``; returns where it landed."""
    x0, y0 = max(x, clip.x), max(y, clip.y)
    x1 = min(x + label.shape[1], clip.x + clip.w)
    y1 = min(y + label.shape[0], clip.y + clip.h)
    if x1 <= x0 or y1 <= y0:
        return Rect(x0, y0, 0, 0)
    canvas[y0:y1, x0:x1] = label[y0 - y:y1 - y, x0 - x:x1 - x]
    return Rect(x0, y0, x1 - x0, y1 - y0)


class TimeLabels:
    """Time stamps drawn once per distinct text and pasted afterwards.

    Every live tile carries the capture time of its frame, so a 4x4 wall at 15 fps would draw
    240 antialiased strings a second, nearly all of them the same second's text. Drawn once
    into a small image (white on the dark band of the name labels), each is then a
    copy of a few thousand bytes. Only recent texts are kept.
    """

    MAX_ENTRIES = 64

    def __init__(self) -> None:
        self._images: dict[tuple[str, float], tuple[np.ndarray, int]] = {}
        self._lock = threading.Lock()
        self.renders = 0

    def get(self, text: str, scale: float) -> tuple[np.ndarray, int]:
        """The label image and how far its top lies above the text's baseline."""
        key = (text, scale)
        with self._lock:
            found = self._images.get(key)
            if found is None:
                if len(self._images) >= self.MAX_ENTRIES:
                    self._images.clear()  # yesterday's seconds: never shown again
                found = self._images[key] = self._render(text, scale)
                self.renders += 1
            return found

    @staticmethod
    def _render(text: str, scale: float) -> tuple[np.ndarray, int]:
        (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        pad = max(2, height // 4)
        above = height + pad
        image = np.empty((above + baseline + 1, width + 2 * pad + 1, 3), np.uint8)
        image[:] = LABEL_BG
        cv2.putText(image, text, (pad, above), cv2.FONT_HERSHEY_SIMPLEX, scale, WHITE, 1,
                    cv2.LINE_AA)
        return image, above

    def paste(self, canvas: np.ndarray, text: str, x: int, y: int, scale: float,
              clip: Rect) -> None:
        """Draw ``text`` with its baseline at ``y``, cut to ``clip``."""
        image, above = self.get(text, scale)
        paste(canvas, image, x, y - above, clip)


@dataclass(frozen=True)
class Tile:
    """A wall slot: which camera, under which name."""

    code: str
    name: str


@dataclass(frozen=True)
class TileState:
    """What a tile shows this tick: the newest sub-stream frame and the camera's status."""

    frame: Frame | None
    status: str
    last_seen_at: float | None = None


@dataclass(frozen=True)
class TileLayout:
    """Where a tile and its labels go."""

    rect: Rect
    name_at: tuple[int, int]
    time_at: tuple[int, int]
    label_height: int


class Mosaic:
    """Composes one wall picture per tick into a canvas allocated once.

    Parameters
    ----------
    rows, cols
        The layout.
    tiles
        Cameras in wall order; slots beyond them stay black.
    size
        Canvas (width, height).
    stale_after_s
        A frame older than this marks its tile 卡顿 even before the supervisor says so.
    tz
        Time zone of the time labels (``settings.ui.timezone``); local time when None.
    labels
        A shared :class:`LabelCache` (one per process is enough).
    """

    def __init__(self, rows: int, cols: int, tiles: list[Tile], size: tuple[int, int], *,
                 stale_after_s: float = 1.5, tz: tzinfo | None = None,
                 labels: LabelCache | None = None) -> None:
        self.rows, self.cols, self.size = rows, cols, size
        self.tiles = tiles[: rows * cols]
        self.stale_after_s, self.tz = stale_after_s, tz
        self.labels = labels or LabelCache()
        self.times = TimeLabels()
        self.canvas = np.zeros((size[1], size[0], 3), np.uint8)
        self.layout = [self._place(rect) for rect in tile_rects(rows, cols, *size)]
        for tile, place in zip(self.tiles, self.layout, strict=False):
            self.labels.get(tile.name, place.label_height)  # render names once, up front
        # What each tile shows now: a tile whose frame (the same object), status and
        # last-seen time did not change since the previous tick is left as it is.
        self._drawn: list[tuple[Any, ...] | None] = [None] * len(self.layout)
        self.changed = 0  # tiles redrawn by the latest compose (0: the picture is unchanged)
        self._clocks: dict[tuple[int, bool], str] = {}

    def tile_sizes(self) -> list[tuple[int, int]]:
        """(width, height) of each camera's tile, in :attr:`tiles` order."""
        return [(place.rect.w, place.rect.h) for place in self.layout[:len(self.tiles)]]

    @staticmethod
    def _place(rect: Rect) -> TileLayout:
        label_height = max(14, min(40, rect.h // 11))
        margin = max(2, label_height // 4)
        # The time label stays above the bottom twelfth of the tile: that is where the
        # simulator's pixel code lives (video.pixelcode), which benchmarks/relay.py reads off
        # the composed wall to measure latency. A real camera loses a few blank pixels.
        band = rect.h // BAND_FRACTION
        return TileLayout(rect, (rect.x + margin, rect.y + margin),
                          (rect.x + margin,
                           rect.y + rect.h - band - margin - label_height // 4),
                          label_height)

    def _clock(self, epoch: float, with_date: bool = True) -> str:
        # Sixteen tiles a tick show the same second: format it once (a datetime and a
        # strftime per tile were a tenth of the compose).
        key = (int(epoch // 1), with_date)
        text = self._clocks.get(key)
        if text is None:
            if len(self._clocks) >= 64:
                self._clocks.clear()
            moment = datetime.fromtimestamp(key[0], self.tz)
            text = self._clocks[key] = moment.strftime(
                "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
        return text

    def compose(self, states: list[TileState], now: float) -> np.ndarray:
        """Draw every tile for this tick and return the (reused) canvas.

        The returned array is overwritten by the next call: encode or copy it first. Only
        tiles whose picture changed are redrawn; :attr:`changed` counts them.
        """
        self.changed = 0
        for i, place in enumerate(self.layout):
            tile = self.tiles[i] if i < len(self.tiles) else None
            state = states[i] if tile is not None and i < len(states) else None
            key = self._key(state, now)
            drawn = self._drawn[i]
            if drawn is not None and drawn[0] is key[0] and drawn[1:] == key[1:]:
                continue
            self._draw_tile(place, tile, state, now)
            self._drawn[i] = key
            self.changed += 1
        return self.canvas

    def _key(self, state: TileState | None, now: float) -> tuple[Any, ...]:
        # Everything the drawing of a tile depends on: the frame object (its pixels and
        # capture time), the status after the age check, and the last-seen time of a dead one.
        if state is None:
            return (None, "empty")
        frame = state.frame
        stale = (state.status == ONLINE and frame is not None
                 and now - frame.captured_at > self.stale_after_s)
        return (frame, state.status, stale, state.last_seen_at)

    def _draw_tile(self, place: TileLayout, tile: Tile | None, state: TileState | None,
                   now: float) -> None:
        r = place.rect
        roi = self.canvas[r.y:r.y + r.h, r.x:r.x + r.w]
        if tile is None or state is None:
            roi[:] = 0
            return
        frame, status = state.frame, state.status
        if status == ONLINE and frame is not None and now - frame.captured_at > self.stale_after_s:
            status = STALE
        if frame is None or status in (OFFLINE, UNAUTHORIZED):
            self._draw_dead(place, status if frame is not None or status != ONLINE else UNKNOWN,
                            state.last_seen_at or (frame.captured_at if frame else None))
        else:
            tile_image = frame.scaled.get((r.w, r.h))  # scaled by the reader, cache-hot
            if tile_image is not None:
                roi[:] = tile_image
            else:
                scale_into(frame.image, roi)
            self.times.paste(self.canvas, self._clock(frame.captured_at), *place.time_at,
                             place.label_height / 34, r)
            if status == STALE:
                cv2.rectangle(self.canvas, (r.x + 1, r.y + 1), (r.x + r.w - 2, r.y + r.h - 2),
                              AMBER, 2)
                badge = self.labels.get(STATUS_TEXT[STALE], place.label_height, AMBER)
                paste(self.canvas, badge, r.x + r.w - badge.shape[1] - 4, r.y + 4, r)
        paste(self.canvas, self.labels.get(tile.name, place.label_height), *place.name_at, r)
        # A thin dark frame keeps neighbouring tiles apart.
        cv2.rectangle(self.canvas, (r.x, r.y), (r.x + r.w - 1, r.y + r.h - 1), BLACK, 1)

    def _draw_dead(self, place: TileLayout, status: str, last_seen_at: float | None) -> None:
        r = place.rect
        self.canvas[r.y:r.y + r.h, r.x:r.x + r.w] = OFFLINE_BG
        text = STATUS_TEXT.get(status, STATUS_TEXT[OFFLINE])
        big = self.labels.get(text, place.label_height * 2, RED if status != UNKNOWN else LABEL_BG)
        cx, cy = r.x + (r.w - big.shape[1]) // 2, r.y + r.h // 2 - big.shape[0]
        paste(self.canvas, big, cx, cy, r)
        if status == UNKNOWN:
            return
        seen = self.labels.get("最后在线", place.label_height, OFFLINE_BG)
        y = cy + big.shape[0] + place.label_height // 2
        clock = self._clock(last_seen_at, with_date=False) if last_seen_at else "--:--:--"
        scale = place.label_height / 34
        (tw, _), _ = cv2.getTextSize(clock, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        x = r.x + (r.w - seen.shape[1] - tw - 6) // 2
        paste(self.canvas, seen, x, y, r)
        self.times.paste(self.canvas, clock, x + seen.shape[1] + 6,
                         y + int(seen.shape[0] * 0.75), scale, r)
