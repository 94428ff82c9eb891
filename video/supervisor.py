"""The relay's ingest core: who is decoded, who is probed, and how healthy everyone is.

* **On demand.** A (camera, stream) is decoded only between :meth:`Supervisor.acquire` and
  ``linger_s`` after the last :meth:`Supervisor.release`; each gets one
  :class:`~video.reader.StreamReader` thread.
* **Watchdog** (one thread, Frigate's idea): every tick it compares each reader's frame age
  with ``stale_after_s`` and ``offline_after_s``; a frozen stream is marked offline and
  reopened (never faster than the reader's jittered backoff and restart budget). It also
  stops lingering readers and restarts a reader whose thread died.
* **Probes** (one thread, non-blocking sockets, :class:`~video.probe.ProbeScheduler`): every
  registered camera gets an RTSP ``DESCRIBE`` once per ``probe_interval_s``, the cameras
  spread evenly over the interval; that is all the health an unwatched camera needs. A watched
  stream waiting out a long backoff is probed every :data:`RECOVERY_PROBE_S` so that a camera
  coming back is decoded again at once instead of at the end of its backoff.
* **Health** per camera (:class:`~video.camera.Health`), handed to ``health_sink`` every
  ``write_health_s`` from a thread of its own, so a slow database never stalls the watchdog.

No lock is held during I/O: the registry lock only guards dictionaries, readers publish
through their own :class:`~video.reader.FrameSlot`, probes report through a callback.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from config.settings import RelaySettings
from gis.scrub import register_secret, scrub
from video.camera import (
    OFFLINE,
    ONLINE,
    STALE,
    STREAMS,
    UNAUTHORIZED,
    UNKNOWN,
    CameraSpec,
    Frame,
    Health,
    StreamKind,
)
from video.probe import ProbeResult, ProbeScheduler, split_url
from video.reader import FrameSlot, StreamReader

log = logging.getLogger(__name__)

WATCHDOG_TICK_S = 0.2
RECOVERY_PROBE_S = 0.5  # probe cadence of a watched stream that waits out a backoff
# Periodic probes start on a 0.25 s grid: a few probes per wake-up instead of one, with the
# spread still even at a granularity nobody can see in a 60 s interval.
PROBE_BATCH_S = 0.25
_RANK = {ONLINE: 4, STALE: 3, UNAUTHORIZED: 2, OFFLINE: 1, UNKNOWN: 0}


@dataclass
class _Watch:
    """One (camera, stream): viewers, the frame slot and the reader while decoding."""

    slot: FrameSlot = field(default_factory=FrameSlot)
    refs: int = 0
    release_at: float | None = None
    reader: StreamReader | None = None
    recovery_probe_at: float = 0.0


@dataclass
class _Camera:
    spec: CameraSpec
    watches: dict[str, _Watch] = field(default_factory=dict)
    probe_state: str = UNKNOWN
    probe_error: str | None = None
    probe_ok_at: float | None = None  # wall clock of the last good probe
    probe_checked_at: float | None = None
    next_probe_at: float = 0.0  # monotonic
    reconnects: int = 0  # of readers already retired
    reported: str = UNKNOWN  # the status last logged


class Supervisor:
    """Supervised, on-demand RTSP ingest for a list of cameras.

    Parameters
    ----------
    cameras
        The registry (unknown codes passed to any method raise ``KeyError``).
    relay
        Timeouts, thresholds, backoff, budget, linger and probe settings.
    health_sink
        Called with every camera's :class:`Health` every ``relay.write_health_s``
        (e.g. :class:`video.health_store.HealthStore`); its errors are logged, never raised.
    """

    def __init__(self, cameras: Iterable[CameraSpec], relay: RelaySettings, *,
                 health_sink: Callable[[list[Health]], None] | None = None,
                 rng: random.Random | None = None) -> None:
        self.relay = relay
        self.health_sink = health_sink
        self._rng = rng or random.Random()
        self._cams: dict[str, _Camera] = {c.code: _Camera(c) for c in cameras}
        for cam in self._cams.values():
            _register_passwords(cam.spec)
        self._lock = threading.Lock()  # guards _Camera.watches and _Watch fields; never I/O
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._retired: list[StreamReader] = []
        self._frames_retired = 0
        self._holds: dict[tuple[str, str], float] = {}  # (code, stream) -> release at
        self._prober = ProbeScheduler(self._on_probe, timeout_s=min(relay.open_timeout_ms, 3000)
                                      / 1000, skip=self._decoding)
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the watchdog, the prober and the health writer; nothing is decoded yet."""
        if self._started:
            return
        self._started = True
        self._prober.start()
        # Spread the first round evenly over one interval: 1,000 cameras at 60 s are one
        # probe every 60 ms, never a burst of 1,000.
        now, interval = time.monotonic(), self.relay.probe_interval_s
        codes = sorted(self._cams)
        for i, code in enumerate(codes):
            cam = self._cams[code]
            cam.next_probe_at = now + interval * i / max(1, len(codes))
            self._prober.submit(code, cam.spec.main_url, _batched(cam.next_probe_at))
        self._spawn(self._watchdog, "relay-watchdog")
        if self.health_sink is not None:
            self._spawn(self._health_writer, "relay-health-writer")

    def stop(self) -> None:
        """Stop every thread and release every capture (idempotent)."""
        self._stop.set()
        self._prober.stop()
        with self._lock:
            readers = [w.reader for c in self._cams.values() for w in c.watches.values()
                       if w.reader is not None] + self._retired
            for cam in self._cams.values():
                for watch in cam.watches.values():
                    watch.reader, watch.refs, watch.release_at = None, 0, None
            self._holds.clear()
        for reader in readers:
            reader.stop()
        deadline = time.monotonic() + (self.relay.open_timeout_ms
                                       + self.relay.read_timeout_ms) / 1000 + 1
        for thread in [*self._threads, *(r.thread for r in readers)]:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- viewers ----------------------------------------------------------------------------
    def cameras(self) -> list[CameraSpec]:
        """Every registered camera."""
        return [c.spec for c in self._cams.values()]

    def acquire(self, code: str, stream: StreamKind,
                scaled_to: tuple[int, int] | None = None) -> None:
        """A viewer starts watching: decoding starts now unless it already runs.

        ``scaled_to`` (width, height): the viewer wants each frame at that size too
        (:attr:`Frame.scaled`), scaled by the reader; pass the same to :meth:`release`.
        """
        cam = self._camera(code, stream)
        with self._lock:
            watch = cam.watches.setdefault(stream, _Watch())
            watch.refs += 1
            watch.release_at = None
            if scaled_to is not None:
                watch.slot.want(scaled_to)
            if watch.reader is None and not self._stop.is_set():
                watch.reader = self._new_reader(cam, stream, watch.slot)

    def release(self, code: str, stream: StreamKind,
                scaled_to: tuple[int, int] | None = None) -> None:
        """A viewer leaves; decoding stops ``linger_s`` after the last one left."""
        cam = self._camera(code, stream)
        with self._lock:
            watch = cam.watches.get(stream)
            if watch is None or watch.refs == 0:
                return
            if scaled_to is not None:
                watch.slot.unwant(scaled_to)
            watch.refs -= 1
            if watch.refs == 0:
                watch.release_at = time.monotonic() + self.relay.linger_s

    def hold(self, code: str, stream: StreamKind, seconds: float) -> bool:
        """Decode ``stream`` for at least ``seconds`` from now, as if a viewer came and went.

        This is the warm-up behind a click: the app knows which cameras the browser is about
        to ask for, so the RTSP open and the wait for a key frame start while the page is still
        rendering. One hold per (camera, stream): a second call only pushes the release time
        later. Returns True when this call started the hold (False: it extended one).
        """
        cam = self._camera(code, stream)
        until = time.monotonic() + seconds
        with self._lock:
            key = (cam.spec.code, stream)
            if key in self._holds:
                self._holds[key] = max(self._holds[key], until)
                return False
            self._holds[key] = until
        self.acquire(code, stream)
        return True

    def latest(self, code: str, stream: StreamKind) -> Frame | None:
        """The newest frame (also after the stream failed: check :meth:`health`)."""
        watch = self._watch(code, stream)
        return watch.slot.latest() if watch is not None else None

    def next_frame(self, code: str, stream: StreamKind, shown_seq: int,
                   tick_s: float | None = None) -> Frame | None:
        """The frame a wall ticking every ``tick_s`` shows after frame ``shown_seq``
        (:meth:`FrameSlot.next_after`)."""
        watch = self._watch(code, stream)
        return watch.slot.next_after(shown_seq, tick_s) if watch is not None else None

    def scaled_sizes(self, code: str, stream: StreamKind) -> tuple[tuple[int, int], ...]:
        """The tile sizes the stream's reader scales every frame to (walls asked for them)."""
        watch = self._watch(code, stream)
        return watch.slot.wanted if watch is not None else ()

    def wait_frame(self, code: str, stream: StreamKind, after_seq: int,
                   timeout: float) -> Frame | None:
        """Block until a frame newer than ``after_seq`` arrives; None after ``timeout``."""
        cam = self._camera(code, stream)
        with self._lock:
            slot = cam.watches.setdefault(stream, _Watch()).slot
        return slot.wait(after_seq, timeout)

    # -- health -----------------------------------------------------------------------------
    def health(self, code: str) -> Health:
        """The camera's health: from its decoders while watched, else from its probes."""
        cam = self._cams[code]
        with self._lock:
            readers = [w.reader for w in cam.watches.values() if w.reader is not None]
        now = time.monotonic()
        if not readers:
            return Health(code, cam.probe_state, None, cam.reconnects, cam.probe_error,
                          cam.probe_ok_at, cam.probe_checked_at or time.time(), False)
        states = [(self._reader_status(r, now), r) for r in readers]
        status = max((s for s, _ in states), key=_RANK.__getitem__)
        fps = max((r.fps or 0.0) for s, r in states if s in (ONLINE, STALE)) \
            if status in (ONLINE, STALE) else 0.0
        errors = [r.last_error for s, r in states if s != ONLINE and r.last_error]
        seen = [f.captured_at for w in cam.watches.values() if (f := w.slot.latest())]
        if cam.probe_ok_at is not None:
            seen.append(cam.probe_ok_at)
        reconnects = cam.reconnects + sum(max(0, r.attempts_total - 1) for r in readers)
        if status == UNKNOWN:  # the reader's first attempt is under way
            status = cam.probe_state
        return Health(code, status, round(fps, 2), reconnects,
                      errors[0] if errors and status != ONLINE else None,
                      max(seen) if seen else None, time.time(), True)

    def health_all(self) -> dict[str, Health]:
        """Every camera's health, by code."""
        return {code: self.health(code) for code in self._cams}

    def stats(self) -> dict[str, float]:
        """Counters for metrics."""
        with self._lock:
            readers = [w.reader for c in self._cams.values() for w in c.watches.values()
                       if w.reader is not None]
            retired = list(self._retired)
        running = [r for r in readers + retired if r.thread.is_alive()]
        healths = list(self.health_all().values())
        states = [h.status for h in healths]
        return {
            "cameras": float(len(self._cams)),
            "streams_watched": float(len(readers)),
            "decoders_running": float(len(running)),
            "frames_decoded_total": float(self._frames_retired
                                          + sum(r.frames_total for r in readers)),
            "reconnects_total": float(sum(h.reconnects for h in healths)),
            "probes_total": float(self._prober.probes_total),
            "probes_skipped_total": float(self._prober.skipped_total),
            "probes_pending": float(self._prober.pending()),
            "holds": float(len(self._holds)),
            **{f"cameras_{s}": float(states.count(s))
               for s in (ONLINE, STALE, OFFLINE, UNAUTHORIZED, UNKNOWN)},
        }

    def reader(self, code: str, stream: StreamKind) -> StreamReader | None:
        """The reader decoding this stream now, if any (diagnostics and tests)."""
        watch = self._watch(code, stream)
        return watch.reader if watch is not None else None

    # -- internals --------------------------------------------------------------------------
    def _camera(self, code: str, stream: str) -> _Camera:
        if stream not in STREAMS:
            raise KeyError(f"unknown stream {stream!r}")
        return self._cams[code]

    def _watch(self, code: str, stream: StreamKind) -> _Watch | None:
        cam = self._camera(code, stream)
        with self._lock:
            return cam.watches.get(stream)

    def _new_reader(self, cam: _Camera, stream: StreamKind, slot: FrameSlot) -> StreamReader:
        # A periodic probe that found the camera answering within the last interval is
        # enough to skip the reader's own probe before its first open.
        trusted = (cam.probe_state == ONLINE and cam.probe_ok_at is not None
                   and time.time() - cam.probe_ok_at < self.relay.probe_interval_s * 1.5)
        reader = StreamReader(cam.spec.code, stream, cam.spec.url(stream), slot, self.relay,
                              random.Random(self._rng.random()), trusted=trusted)
        reader.start()
        return reader

    def _reader_status(self, reader: StreamReader, now: float) -> str:
        if reader.state != ONLINE or reader.last_frame_at is None:
            return reader.state
        age = now - reader.last_frame_at
        if age >= self.relay.offline_after_s:
            return OFFLINE
        return STALE if age >= self.relay.stale_after_s else ONLINE

    def _watchdog(self) -> None:
        while not self._stop.wait(WATCHDOG_TICK_S):
            try:
                self._tick(time.monotonic())
            except Exception:  # the watchdog must outlive any one camera's surprise
                log.exception("看门狗异常 / watchdog error")

    def _tick(self, now: float) -> None:
        recover: list[tuple[str, StreamReader]] = []
        with self._lock:
            due = [hold for hold, until in self._holds.items() if now >= until]
            for hold in due:
                del self._holds[hold]
        for code, stream in due:
            self.release(code, stream)  # type: ignore[arg-type]
        with self._lock:
            active = [(cam, stream, w) for cam in self._cams.values()
                      for stream, w in cam.watches.items() if w.reader is not None]
            for cam, stream, watch in active:
                reader = watch.reader
                assert reader is not None
                if watch.refs == 0 and watch.release_at is not None and now >= watch.release_at:
                    self._retire(cam, watch)
                    continue
                if not reader.thread.is_alive():  # cannot happen short of a bug: restart
                    log.error("摄像机 %s/%s 读取线程退出，重启 / reader thread died, restarting",
                              cam.spec.code, stream)
                    self._retire(cam, watch)
                    watch.reader = self._new_reader(cam, stream, watch.slot)  # type: ignore[arg-type]
                    continue
                if reader.phase == "waiting" and reader.probe_blocked \
                        and reader.next_open_at - now > RECOVERY_PROBE_S \
                        and now >= watch.recovery_probe_at:
                    watch.recovery_probe_at = now + RECOVERY_PROBE_S
                    recover.append((f"{cam.spec.code}\n{stream}", reader))
            self._retired = [r for r in self._retired if r.thread.is_alive()]
        for _cam, _stream, watch in active:
            reader = watch.reader
            if reader is not None and reader.state == ONLINE and reader.last_frame_at \
                    and now - reader.last_frame_at >= self.relay.offline_after_s:
                reader.reopen(f"画面停止超过 {self.relay.offline_after_s:g} 秒 / "
                              f"no frame for {self.relay.offline_after_s:g} s")
        for key, reader in recover:
            self._prober.submit(key, reader.url)
        for cam in {id(c): c for c, _, _ in active}.values():
            self._report(cam, self.health(cam.spec.code))

    def _retire(self, cam: _Camera, watch: _Watch) -> None:
        reader = watch.reader
        assert reader is not None
        reader.stop()
        # What the decoder knew is fresher than the last probe: keep it until the next one.
        status = self._reader_status(reader, time.monotonic())
        if status != UNKNOWN:
            cam.probe_state = ONLINE if status == STALE else status
            cam.probe_error = None if status in (ONLINE, STALE) else reader.last_error
            cam.probe_checked_at = time.time()
            latest = watch.slot.latest()
            if latest is not None and status in (ONLINE, STALE):
                cam.probe_ok_at = latest.captured_at
        cam.reconnects += max(0, reader.attempts_total - 1)
        self._frames_retired += reader.frames_total
        self._retired.append(reader)
        watch.reader, watch.release_at = None, None

    def _decoding(self, key: str) -> bool:
        """Whether a periodic probe of ``key`` can be skipped: a decoder of the camera is
        delivering frames, which says more than a DESCRIBE. Probing it anyway costs a second
        RTSP session on a camera that is already streaming (real cameras allow few, and the
        simulator stalled its other streams for seconds while such a session came and went)."""
        if "\n" in key:  # recovery probes are for streams that are not delivering
            return False
        cam = self._cams.get(key)
        if cam is None:
            return False
        with self._lock:
            readers = [w.reader for w in cam.watches.values() if w.reader is not None]
        now = time.monotonic()
        return any(self._reader_status(r, now) == ONLINE for r in readers)

    def _on_probe(self, key: str, result: ProbeResult | None) -> None:
        """Called in the prober thread: record, reschedule, or cut a backoff short.

        ``result`` None: the probe was skipped because the camera is being decoded; only the
        next one is scheduled."""
        if "\n" in key:  # a recovery probe of a watched stream
            code, stream = key.split("\n", 1)
            watch = self._cams[code].watches.get(stream)
            reader = watch.reader if watch is not None else None
            if reader is not None and result is not None and result.state == ONLINE \
                    and reader.probe_blocked:
                reader.retry_now()
            return
        cam = self._cams[key]
        # A skipped probe counts as a good one: the camera's frames just arrived.
        state, error = (ONLINE, None) if result is None else (result.state, result.error)
        cam.probe_state, cam.probe_error = state, error
        cam.probe_checked_at = time.time()
        if state == ONLINE:
            cam.probe_ok_at = cam.probe_checked_at
        # Keep the camera's phase: the next slot is one interval after the last one.
        interval = self.relay.probe_interval_s
        cam.next_probe_at += interval
        if cam.next_probe_at < time.monotonic():
            cam.next_probe_at = time.monotonic() + interval
        if not self._stop.is_set():
            self._prober.submit(key, cam.spec.main_url, _batched(cam.next_probe_at))
        if state != cam.reported and not any(
                w.reader is not None for w in list(cam.watches.values())):
            self._report(cam, self.health(key))

    def _report(self, cam: _Camera, health: Health) -> None:
        if health.status == cam.reported:
            return
        # The first verdict on a camera is not news (1,000 of them at start-up); changes are.
        level = logging.DEBUG if cam.reported == UNKNOWN else (
            logging.INFO if health.status == ONLINE else logging.WARNING)
        log.log(level, "摄像机 %s：%s → %s / camera %s: %s → %s%s", cam.spec.code, cam.reported,
                health.status, cam.spec.code, cam.reported, health.status,
                f" ({health.last_error})" if health.last_error else "")
        cam.reported = health.status

    def _health_writer(self) -> None:
        assert self.health_sink is not None
        while not self._stop.wait(self.relay.write_health_s):
            try:
                self.health_sink(list(self.health_all().values()))
            except Exception as exc:  # the sink logs its own; this is the last net
                log.warning("写入健康状态失败 / writing health failed: %s", scrub(exc))


def _batched(at: float) -> float:
    return math.ceil(at / PROBE_BATCH_S) * PROBE_BATCH_S


def _register_passwords(spec: CameraSpec) -> None:
    # SecretUrl registers what urlsplit finds; a hand-written password with a raw '@' or
    # space defeats urlsplit and the URL pattern of scrub(), so register what we parse too.
    for url in {spec.main_url, spec.url("sub")}:
        with contextlib.suppress(ValueError):
            register_secret(split_url(url.reveal())[3])
