"""The frame hub: each picture is scaled and JPEG-encoded once and fanned out to every viewer.

A :class:`Channel` is one encoded stream (a camera stream at one size and quality, or a wall).
It holds only the newest encoded frame: a viewer asks for "anything newer than what I sent
last" and gets the newest, so a slow viewer skips frames instead of queueing them, and a
thousand viewers cost one encode per frame. Camera channels are fed by a small pump thread
that blocks in the supervisor's ``wait_frame`` while someone watches; walls publish into their
channel from their own compose thread.

Viewers are coroutines on the HTTP server's event loop; the pump wakes them with
``call_soon_threadsafe`` so no viewer holds a thread while it waits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import cv2
import numpy as np

from gis.scrub import scrub
from video.camera import Frame

log = logging.getLogger(__name__)

WaitFn = Callable[[int, float], Frame | None]
Size = tuple[int, int] | None


@dataclass(frozen=True)
class EncodedFrame:
    """A JPEG with the sequence number and capture time of the frame it came from."""

    seq: int
    captured_at: float
    data: bytes


def encode_jpeg(image: np.ndarray, quality: int, size: Size = None) -> bytes:
    """Scale ``image`` to ``size`` (width, height) when given, and JPEG-encode it.

    Raises
    ------
    ValueError
        OpenCV refused the image.
    """
    if size is not None and (image.shape[1], image.shape[0]) != size:
        shrink = size[0] < image.shape[1]
        image = cv2.resize(image, size,
                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class Channel:
    """The newest encoded frame of one stream, and the coroutines waiting for a newer one."""

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._newest: EncodedFrame | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[EncodedFrame]]] = []
        self.viewers = 0

    def newest(self) -> EncodedFrame | None:
        """The newest encoded frame, if any (never blocks)."""
        return self._newest

    def publish(self, frame: EncodedFrame) -> None:
        """Make ``frame`` the newest and wake every waiting viewer (any thread)."""
        with self._lock:
            self._newest = frame
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            # A viewer whose loop has closed is gone; nothing to wake.
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future, frame)

    async def next(self, after_seq: int, timeout: float) -> EncodedFrame | None:
        """The newest frame with ``seq > after_seq``, waiting up to ``timeout`` seconds.

        Returns None on timeout. Only the newest frame is ever returned: frames published
        while the viewer was busy are skipped.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            newest = self._newest
            if newest is not None and newest.seq > after_seq:
                return newest
            future: asyncio.Future[EncodedFrame] = loop.create_future()
            self._waiters.append((loop, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not future]


def _resolve(future: asyncio.Future[EncodedFrame], frame: EncodedFrame) -> None:
    if not future.done():
        future.set_result(frame)


class _Pump:
    """The thread that turns a camera's decoded frames into a channel's JPEGs while viewed."""

    def __init__(self, hub: FrameHub, key: Hashable, channel: Channel, wait: WaitFn,
                 size: Size, quality: int) -> None:
        self.hub, self.key, self.channel, self.wait = hub, key, channel, wait
        self.size, self.quality = size, quality
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"hub-{channel.key}", daemon=True)

    def _run(self) -> None:
        last = -1
        while not self.stop.is_set():
            try:
                frame = self.wait(last, 0.5)
                if frame is None or frame.seq <= last:
                    continue
                last = frame.seq
                # The stream's own key: a snapshot of the same frame then hits this encode.
                self.channel.publish(self.hub.encode(self.key, frame, self.size, self.quality))
            except Exception as exc:  # a bad frame must not end the stream for everyone
                log.warning("hub %s: %s", self.channel.key, scrub(exc))
                self.stop.wait(0.2)


class FrameHub:
    """Encode-once cache and ref-counted channels.

    Parameters
    ----------
    quality
        Default JPEG quality (``settings.relay.jpeg_quality``).
    """

    def __init__(self, quality: int = 75) -> None:
        self.quality = quality
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._cache: dict[Hashable, EncodedFrame] = {}
        self._channels: dict[Hashable, Channel] = {}
        self._pumps: dict[Hashable, _Pump] = {}
        self.encodes = 0  # total JPEG encodes: what "encode once" is measured by

    def _key_lock(self, key: Hashable) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def encode(self, key: Hashable, frame: Frame, size: Size = None,
               quality: int | None = None) -> EncodedFrame:
        """The JPEG of ``frame`` for stream ``key`` at ``size`` and ``quality``, encoded once.

        Concurrent callers with the same key and frame wait for the first one's result
        (a per-key lock), so N viewers cost one encode.
        """
        quality = self.quality if quality is None else quality
        full_key = (key, size, quality)
        with self._key_lock(full_key):
            cached = self._cache.get(full_key)
            if cached is not None and cached.seq == frame.seq:
                return cached
            encoded = EncodedFrame(frame.seq, frame.captured_at,
                                   encode_jpeg(frame.image, quality, size))
            with self._lock:
                self.encodes += 1
            self._cache[full_key] = encoded
            return encoded

    def open(self, key: Hashable, wait: WaitFn, size: Size = None,
             quality: int | None = None) -> Channel:
        """Join the channel for ``key`` (a new viewer), starting its pump if it has none.

        ``wait(after_seq, timeout)`` is the source's blocking ``wait_frame``.
        Pair with :meth:`close`.
        """
        quality = self.quality if quality is None else quality
        full_key = (key, size, quality)
        with self._lock:
            channel = self._channels.setdefault(full_key, Channel(full_key))
            channel.viewers += 1
            if full_key not in self._pumps:
                pump = _Pump(self, key, channel, wait, size, quality)
                self._pumps[full_key] = pump
                pump.thread.start()
        return channel

    def close(self, channel: Channel) -> None:
        """Leave a channel; its pump stops with the last viewer."""
        pump = None
        with self._lock:
            channel.viewers -= 1
            if channel.viewers <= 0:
                self._channels.pop(channel.key, None)
                pump = self._pumps.pop(channel.key, None)
        if pump is not None:
            pump.stop.set()

    def channel(self, key: Hashable) -> Channel:
        """A channel fed by its owner through :meth:`Channel.publish` (walls)."""
        with self._lock:
            return self._channels.setdefault(("wall", key), Channel(("wall", key)))

    def viewers(self) -> int:
        """Viewers of pumped camera channels now."""
        with self._lock:
            return sum(c.viewers for c in self._channels.values())

    def stop(self) -> None:
        """Stop every pump (viewers still connected get no more frames)."""
        with self._lock:
            pumps, self._pumps = list(self._pumps.values()), {}
        for pump in pumps:
            pump.stop.set()
        for pump in pumps:
            pump.thread.join(timeout=2)
