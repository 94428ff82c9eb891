"""One thread per watched (camera, stream): open, read, keep only the newest frame.

The reader knows nothing about viewers or other cameras. It opens the stream with OpenCV's
FFmpeg backend over TCP with short probing and bounded open/read timeouts, publishes each
frame into a :class:`FrameSlot` (latest frame, its time, a counter: no queue, so a slow
consumer never builds latency) and, when the stream fails, waits out a jittered exponential
backoff within a restart budget before the next attempt. Before each blocking call it stamps
:attr:`StreamReader.heartbeat`, so the supervisor's watchdog sees a read that hangs.

Before handing a URL to FFmpeg it sends one RTSP ``DESCRIBE`` (:mod:`video.probe`): FFmpeg
reports "401", "404" and "refused" alike as a failed open, the probe tells them apart, and a
camera that is plainly down costs a refused connect instead of an FFmpeg context.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import threading
import time

import cv2
import numpy as np

from config.settings import RelaySettings
from gis.scrub import SecretUrl, scrub
from video.camera import OFFLINE, ONLINE, UNAUTHORIZED, UNKNOWN, Frame, StreamKind
from video.probe import ProbeResult, probe
from video.scale import scale_into

log = logging.getLogger(__name__)

# TCP interleaved (no UDP ports through firewalls), no long stream analysis (open in ~0.1 s
# instead of ~1.9 s), no input buffering: see docs/simulator.md for the measurements.
FFMPEG_OPTIONS = "rtsp_transport;tcp|analyzeduration;0|probesize;32|fflags;nobuffer|flags;low_delay"
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", FFMPEG_OPTIONS)

FPS_SMOOTHING = 0.1  # EWMA weight of the newest frame interval
TILE_RING = 4  # scaled tiles kept per size: see FrameSlot
MIN_RETRY_S = 0.05  # full jitter can draw ~0: never spin


class Backoff:
    """Exponential backoff with full jitter and a budget of attempts per minute.

    The n-th consecutive failure waits ``uniform(0, min(cap, initial * 2**n))``: spread
    uniformly, so fifty cameras that fail together do not retry together. The first retry
    waits at most ``min(initial, 1 s)``.
    """

    def __init__(self, initial_s: float, cap_s: float, budget_per_min: int,
                 rng: random.Random | None = None) -> None:
        self.initial_s, self.cap_s, self.budget = min(initial_s, 1.0), cap_s, budget_per_min
        self.failures = 0
        self.ceiling_s = 0.0  # the ceiling of the latest delay drawn
        self._rng = rng or random.Random()
        self._attempts: collections.deque[float] = collections.deque()

    def record_attempt(self, now: float) -> None:
        """Count an attempt against the per-minute budget."""
        self._attempts.append(now)

    def next_delay(self, now: float) -> float:
        """Seconds to wait after a failure at ``now`` (budget included)."""
        self.ceiling_s = min(self.cap_s, self.initial_s * 2 ** self.failures)
        self.failures += 1
        delay = max(MIN_RETRY_S, self._rng.uniform(0, self.ceiling_s))
        return max(delay, self.budget_wait(now + delay) + delay)

    def budget_wait(self, at: float) -> float:
        """Extra seconds beyond ``at`` before the budget allows another attempt."""
        while self._attempts and self._attempts[0] <= at - 60.0:
            self._attempts.popleft()
        if len(self._attempts) < self.budget:
            return 0.0
        return self._attempts[0] + 60.0 - at

    def reset(self) -> None:
        """A session delivered frames: the next failure starts from the bottom again."""
        self.failures = 0


class FrameSlot:
    """The newest frame of one (camera, stream) and a condition to wait for the next one.

    It outlives readers (a reopen keeps the counter going), so a viewer waiting with
    :meth:`wait` never notices that the capture behind it was replaced.

    A wall asks, with :meth:`want`, for the frames scaled to its tile size: :meth:`publish`
    then scales each new picture on the reading thread, straight after the decode, while the
    picture (690 KB at 640x360) is still in the cache; the wall's compose thread, which would
    otherwise read it back from memory a tick later, copies the small tile instead. Measured
    on 640x360 -> 480x270: 0.17 ms hot against 0.21-0.30 ms cold, a copy then costs 0.01 ms.

    The scaled tiles live in a ring of :data:`TILE_RING` buffers per size, reused in turn: a
    fresh 200 KB array per frame and size cost 0.02-0.03 ms of allocation and page faults on
    top of the scale. A tile therefore stays intact for ``TILE_RING - 1`` newer frames (over
    130 ms at 30 fps); its wall copies it in the tick that picks the frame, a millisecond later.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._previous: Frame | None = None
        self._seq = 0
        self._sizes: collections.Counter[tuple[int, int]] = collections.Counter()
        self._wanted: tuple[tuple[int, int], ...] = ()
        self._rings: dict[tuple[int, int], list[np.ndarray]] = {}  # size -> TILE_RING tiles
        self._interval: float | None = None  # EWMA of the time between frames (s)

    @property
    def wanted(self) -> tuple[tuple[int, int], ...]:
        """The sizes every new frame is scaled to."""
        return self._wanted

    def want(self, size: tuple[int, int]) -> None:
        """Scale every frame from now on to ``size`` (width, height) too, until :meth:`unwant`."""
        with self._cond:
            self._sizes[size] += 1
            self._wanted = tuple(self._sizes)

    def unwant(self, size: tuple[int, int]) -> None:
        """One wall no longer needs ``size``; scaling stops when none does."""
        with self._cond:
            if self._sizes[size] <= 1:
                self._sizes.pop(size, None)
                self._rings.pop(size, None)
            else:
                self._sizes[size] -= 1
            self._wanted = tuple(self._sizes)

    def publish(self, image: np.ndarray, captured_at: float) -> Frame:
        """Make ``image`` the newest frame and wake every waiter."""
        scaled = {}
        turn = (self._seq + 1) % TILE_RING
        for size in self._wanted:  # outside the lock: waiters need not wait for it
            ring = self._rings.get(size)
            if ring is None:
                ring = [np.empty((size[1], size[0], 3), np.uint8) for _ in range(TILE_RING)]
                with self._cond:  # not for a size unwanted meanwhile: it would stay forever
                    if size in self._sizes:
                        self._rings[size] = ring
            scale_into(image, ring[turn])
            scaled[size] = ring[turn]
        with self._cond:
            self._seq += 1
            if self._frame is not None:
                gap = captured_at - self._frame.captured_at
                self._interval = gap if self._interval is None else (
                    FPS_SMOOTHING * gap + (1 - FPS_SMOOTHING) * self._interval)
            self._previous = self._frame
            self._frame = Frame(image, captured_at, self._seq, scaled)
            self._cond.notify_all()
            return self._frame

    def latest(self) -> Frame | None:
        """The newest frame, without waiting."""
        return self._frame

    def next_after(self, seq: int, tick_s: float | None = None) -> Frame | None:
        """The frame to show after frame ``seq``: the newest, or the one before it when that
        one alone would otherwise never be shown.

        A wall samples 15 fps cameras on its own 15 fps tick. A camera whose frames arrive
        right at the tick sees, with a few milliseconds of jitter, two frames land between two
        ticks now and then, and the first would be skipped: in the benchmark the slowest tile
        of a 4x4 wall showed 11.7-14.7 distinct frames a second. Showing it one tick late
        instead costs one frame of latency for that tile and loses nothing; never more than
        one frame back. ``tick_s``, the viewer's period: a camera whose frames come clearly
        faster (25 or 30 fps on a 15 fps wall) must drop frames anyway, and looking back
        would only make its motion uneven, so it is shown at its newest frame.
        """
        with self._cond:
            previous, newest, interval = self._previous, self._frame, self._interval
        if tick_s is not None and interval is not None and interval < 0.9 * tick_s:
            return newest
        if (previous is not None and newest is not None and previous.seq == seq + 1
                and newest.seq == seq + 2):
            return previous
        return newest

    def wait(self, after_seq: int, timeout: float) -> Frame | None:
        """Block until a frame newer than ``after_seq`` exists (or ``timeout`` passes)."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None and self._seq > after_seq,
                                timeout=timeout)
            frame = self._frame
        return frame if frame is not None and frame.seq > after_seq else None


class StreamReader:
    """The reading thread of one (camera, stream).

    Fields read by the watchdog (plain attributes, written by this thread only, except the
    requests :meth:`stop`, :meth:`reopen` and :meth:`retry_now`):

    ``state`` (unknown/online/offline/unauthorized of the current session), ``last_error``
    (scrubbed), ``last_frame_at`` (monotonic), ``heartbeat`` (monotonic stamp before each
    blocking call), ``phase`` (waiting/probing/opening/reading), ``fps`` (EWMA),
    ``attempts`` (wall-clock times of open attempts), ``next_open_at`` (monotonic),
    ``timeline`` (monotonic stamps of the latest session: ``start``, ``probed``, ``opened``,
    ``first_frame``; what a cold open costs, phase by phase).
    """

    def __init__(self, code: str, stream: StreamKind, url: SecretUrl, slot: FrameSlot,
                 relay: RelaySettings, rng: random.Random | None = None, *,
                 trusted: bool = False) -> None:
        self.code, self.stream, self.url, self.slot = code, stream, url, slot
        self.open_timeout_ms, self.read_timeout_ms = relay.open_timeout_ms, relay.read_timeout_ms
        self._timed_out_s = 0.95 * relay.read_timeout_ms / 1000
        self.backoff = Backoff(relay.backoff_initial_s, relay.backoff_max_s,
                               relay.restart_budget_per_min, rng)
        self.state = UNKNOWN
        self.last_error: str | None = None
        self.last_frame_at: float | None = None
        self.heartbeat = time.monotonic()
        self.phase = "waiting"
        self.fps: float | None = None
        self.frames_total = 0
        self.attempts_total = 0
        self.attempts: collections.deque[float] = collections.deque(maxlen=64)
        self.ceilings: collections.deque[float] = collections.deque(maxlen=64)
        self.next_open_at = time.monotonic()
        self.probe_blocked = False  # the last attempt failed before a frame: recovery probes may
        # cut the backoff short (set when the probe failed, or at the first failed open)
        self._open_failures = 0  # FFmpeg opens failed in a row since the last frame
        self.timeline: dict[str, float] = {}
        # ``trusted``: the camera answered a probe moments ago, so the first open goes
        # straight to FFmpeg (one round trip less on a click, and no second DESCRIBE racing
        # the first one's teardown); if that open fails, the next attempt probes as usual.
        self._probed_ok_until = time.monotonic() + 1.0 if trusted else 0.0
        self._interval: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reopen = False
        self.thread = threading.Thread(target=self._run, name=f"reader-{code}-{stream}",
                                       daemon=True)

    # -- requests from other threads ------------------------------------------------------
    def start(self) -> None:
        """Start the thread (it opens the stream right away)."""
        self.thread.start()

    def stop(self) -> None:
        """Ask the thread to release its capture and end; returns at once."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def reopen(self, reason: str) -> None:
        """The watchdog found the stream frozen: mark it offline and reopen after the read
        in progress returns (a blocking read cannot be interrupted; its timeout bounds it)."""
        if self.state == ONLINE:
            self.state, self.last_error = OFFLINE, scrub(reason)
        self._reopen = True

    def retry_now(self) -> None:
        """A probe saw the camera come back: cut the current backoff short and start the
        ladder from the bottom (the outage is over), without probing a second time."""
        self.backoff.reset()
        self._probed_ok_until = time.monotonic() + 1.0
        self.next_open_at = time.monotonic()
        self._wake.set()

    # -- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.next_open_at - time.monotonic()
            if delay > 0:
                self.phase = "waiting"
                self._wake.wait(delay)
                self._wake.clear()
                continue
            now = time.monotonic()
            budget_wait = self.backoff.budget_wait(now)
            if budget_wait > 0:
                self.next_open_at = now + budget_wait
                continue
            self.backoff.record_attempt(now)
            self.attempts.append(time.time())
            self.attempts_total += 1
            try:
                self._session()
            except Exception as exc:  # a bug must cost one session, never the thread
                log.exception("摄像机 %s/%s 读取异常 / reader crashed", self.code, self.stream)
                self._failed(OFFLINE, f"内部错误 / internal error: {type(exc).__name__}")
        self.phase = "stopped"

    def _session(self) -> None:
        self.phase, self.heartbeat = "probing", time.monotonic()
        self.timeline = {"start": self.heartbeat}
        probed_now = self.heartbeat >= self._probed_ok_until
        if probed_now:
            # Two DESCRIBEs back to back can race the camera's session teardown (the
            # simulator answers the second with 503): skip ours right after a good probe.
            checked: ProbeResult = probe(self.url, self.open_timeout_ms / 1000)
            if checked.blocks_open:
                self.probe_blocked = True
                self._failed(checked.state, checked.error)
                return
        self.probe_blocked = False
        self.phase, self.heartbeat = "opening", time.monotonic()
        self.timeline["probed"] = self.heartbeat
        cap = cv2.VideoCapture(self.url.reveal(), cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.open_timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.read_timeout_ms,
            cv2.CAP_PROP_N_THREADS, 1])
        try:
            if not cap.isOpened():
                self._failed(OFFLINE, "解码器无法打开码流 / the decoder could not open the stream")
                # A camera that is coming back often answers DESCRIBE with 503 for a moment
                # (its media is still being prepared): let the recovery probes cut the
                # backoff short once. Not again: a camera that answers DESCRIBE but refuses
                # every session (its session limit reached) would be retried at the probe
                # cadence instead of backing off.
                self._open_failures += 1
                self.probe_blocked = self._open_failures == 1
                if probed_now:
                    # The camera answered our probe a moment ago and FFmpeg still failed:
                    # most likely that race, so the retry goes straight to FFmpeg; if it
                    # fails too, the attempt after it probes again.
                    self._probed_ok_until = self.next_open_at + 1.0
                return
            self.timeline["opened"] = time.monotonic()
            self._read_frames(cap)
        finally:
            cap.release()

    def _read_frames(self, cap: cv2.VideoCapture) -> None:
        self._reopen, self._interval, previous = False, None, None
        while not self._stop.is_set() and not self._reopen:
            self.phase, self.heartbeat = "reading", time.monotonic()
            ok, image = cap.read()
            now = time.monotonic()
            # When the read timeout fires, FFmpeg's parser flushes the frame it held back and
            # OpenCV returns it as a success: an old picture stamped now. A read that blocked
            # for (nearly) the whole timeout is a timeout, whatever it returned.
            if not ok or image is None or now - self.heartbeat >= self._timed_out_s:
                self._failed(OFFLINE, "读取帧失败或超时 / frame read failed or timed out")
                return
            if previous is not None:
                gap = now - previous
                self._interval = gap if self._interval is None else (
                    FPS_SMOOTHING * gap + (1 - FPS_SMOOTHING) * self._interval)
                self.fps = 1.0 / max(self._interval, 1e-3)
            previous = now
            self.slot.publish(image, time.time())
            self.frames_total += 1
            self.last_frame_at = now
            if self.state != ONLINE:
                self.state, self.last_error = ONLINE, None
                self.backoff.reset()
                self._open_failures = 0
                self.timeline.setdefault("first_frame", now)
        if self._reopen and not self._stop.is_set():
            self._schedule_retry()

    def _failed(self, state: str, error: str | None) -> None:
        self.state = state if state in (OFFLINE, UNAUTHORIZED) else OFFLINE
        self.last_error = scrub(error) if error else None
        self.fps = 0.0
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        now = time.monotonic()
        self.next_open_at = now + self.backoff.next_delay(now)
        self.ceilings.append(self.backoff.ceiling_s)
