"""A wall-clock timestamp drawn into the picture, readable after H.264 and downscaling.

The camera simulator stamps every frame with the milliseconds since the Unix epoch at which the
frame was made; whoever decodes the stream (the relay, a test, a benchmark) reads the stamp back
and subtracts it from its own clock: that difference is the end-to-end latency, measured on
the picture itself rather than on timestamps that a protocol may rewrite.

Layout. The code is a band along the bottom of the frame, ``1/BAND_FRACTION`` of its height,
split into ``ROWS`` rows of ``COLUMNS`` cells. Every position is a *fraction* of the frame size,
so the code survives any rescaling of the whole frame (a 640x360 stream shown as a 320x180
tile). With 32 columns a cell is 10 px wide at 320 px, large enough for H.264 at a modest
bitrate and for a bilinear or area downscale: the decoder samples only the central half of each
cell. Cells, in reading order (row 0 left to right, then row 1):

* 8 sync cells, the first two and last two of each row, white-black ... black-white, which also
  calibrate the black/white threshold for this very frame;
* 48 data bits, the timestamp in milliseconds, most significant first (good until year 10889);
* 8 check bits, a CRC-8 of the six data bytes, so a damaged frame reads as ``None`` and never
  as a wrong time.

This module needs numpy only: the GStreamer server script, run by the system interpreter,
loads it by file path so that the encoder and the decoder cannot drift apart.
"""

from __future__ import annotations

import numpy as np

COLUMNS = 32
ROWS = 2
BAND_FRACTION = 12  # the band is height // 12 high: 30 px at 360 px, 15 px at 180 px
DATA_BITS = 48
CRC_BITS = 8
MIN_CONTRAST = 40.0  # grey levels between the sync whites and blacks; less means "no code here"

_CELLS = COLUMNS * ROWS
# Sync cells per row: (column, is_white). Left pair white-black, right pair black-white.
_SYNC = ((0, True), (1, False), (COLUMNS - 2, False), (COLUMNS - 1, True))
_SYNC_COLUMNS = {column for column, _ in _SYNC}
_PAYLOAD_SLOTS = [(row, col) for row in range(ROWS) for col in range(COLUMNS)
                  if col not in _SYNC_COLUMNS]
assert len(_PAYLOAD_SLOTS) == DATA_BITS + CRC_BITS


def band_rows(height: int) -> tuple[int, int]:
    """First and last-plus-one pixel row of the code band in a frame ``height`` rows high.

    Even numbers, so that an I420 writer can neutralise the chroma under the band exactly.
    """
    band = max(2 * ROWS, (height // BAND_FRACTION) // 2 * 2)
    return height - band, height


def _crc8(value: int) -> int:
    # CRC-8/ATM (polynomial x^8 + x^2 + x + 1) over the six big-endian bytes of the value.
    crc = 0
    for byte in value.to_bytes(DATA_BITS // 8, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _bits(value: int, count: int) -> list[bool]:
    return [bool((value >> (count - 1 - i)) & 1) for i in range(count)]


def _cell_box(row: int, col: int, height: int, width: int,
              inset: float = 0.0) -> tuple[int, int, int, int]:
    top, bottom = band_rows(height)
    row_h = (bottom - top) / ROWS
    col_w = width / COLUMNS
    y0, y1 = top + row * row_h, top + (row + 1) * row_h
    x0, x1 = col * col_w, (col + 1) * col_w
    dy, dx = (y1 - y0) * inset, (x1 - x0) * inset
    # round() on both edges keeps neighbouring cells gap-free when drawing (inset 0).
    ya, yb = round(y0 + dy), round(y1 - dy)
    xa, xb = round(x0 + dx), round(x1 - dx)
    return ya, max(yb, ya + 1), xa, max(xb, xa + 1)


def encode_timestamp(frame: np.ndarray, t_ms: int, levels: tuple[int, int] = (0, 255)) -> None:
    """Draw ``t_ms`` into the bottom band of ``frame``, in place.

    Parameters
    ----------
    frame
        ``uint8`` array, ``(H, W)`` grey (or the Y plane of an I420 frame) or ``(H, W, C)``
        colour; every channel gets the same grey, so the band reads the same in any colour
        order.
    t_ms
        Milliseconds since the Unix epoch, ``0 <= t_ms < 2**48``.
    levels
        Grey values for black and white: ``(0, 255)`` for BGR/RGB, ``(16, 235)`` for a
        limited-range Y plane.

    Examples
    --------
    >>> import numpy as np
    >>> frame = np.zeros((180, 320, 3), np.uint8)
    >>> encode_timestamp(frame, 1_700_000_000_123)
    >>> decode_timestamp(frame)
    1700000000123
    """
    if not 0 <= t_ms < 1 << DATA_BITS:
        raise ValueError(f"timestamp out of range: {t_ms}")
    height, width = frame.shape[:2]
    if height < BAND_FRACTION * ROWS or width < COLUMNS:
        raise ValueError(f"frame too small for a pixel code: {width}x{height}")
    black, white = levels
    bits = _bits(t_ms, DATA_BITS) + _bits(_crc8(t_ms), CRC_BITS)
    for row in range(ROWS):
        for col, is_white in _SYNC:
            y0, y1, x0, x1 = _cell_box(row, col, height, width)
            frame[y0:y1, x0:x1] = white if is_white else black
    for (row, col), bit in zip(_PAYLOAD_SLOTS, bits, strict=True):
        y0, y1, x0, x1 = _cell_box(row, col, height, width)
        frame[y0:y1, x0:x1] = white if bit else black


def _luma(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame.astype(np.float32)
    channels = frame.shape[2]
    if channels == 1:
        return frame[:, :, 0].astype(np.float32)
    # The band is grey, so the channel order does not matter: a plain mean is enough.
    return frame[:, :, :3].astype(np.float32).mean(axis=2)


def decode_timestamp(frame: np.ndarray) -> int | None:
    """Read the timestamp drawn by :func:`encode_timestamp`, or ``None`` if there is none.

    Parameters
    ----------
    frame
        The whole camera frame at any scale, grey or colour (as OpenCV returns it).

    Returns
    -------
    int or None
        Milliseconds since the Unix epoch; ``None`` when the sync cells are missing, the
        contrast is too low or the check bits disagree (a damaged or code-less frame).
    """
    height, width = frame.shape[:2]
    if height < BAND_FRACTION * ROWS or width < COLUMNS:
        return None
    top, _ = band_rows(height)
    luma = _luma(frame[top:])

    def cell_mean(row: int, col: int) -> float:
        y0, y1, x0, x1 = _cell_box(row, col, height, width, inset=0.25)
        return float(luma[y0 - top:y1 - top, x0:x1].mean())

    whites = [cell_mean(r, c) for r in range(ROWS) for c, w in _SYNC if w]
    blacks = [cell_mean(r, c) for r in range(ROWS) for c, w in _SYNC if not w]
    if min(whites) - max(blacks) < MIN_CONTRAST:
        return None
    threshold = (sum(whites) / len(whites) + sum(blacks) / len(blacks)) / 2
    bits = [cell_mean(r, c) > threshold for r, c in _PAYLOAD_SLOTS]
    value = 0
    for bit in bits[:DATA_BITS]:
        value = (value << 1) | bit
    check = 0
    for bit in bits[DATA_BITS:]:
        check = (check << 1) | bit
    return value if check == _crc8(value) else None
