"""A tiny RTSP client that asks a camera "are you there, and may I watch?" without decoding.

One request (``DESCRIBE`` by default, ``OPTIONS`` on demand) over a plain TCP socket, with an
answer to a Basic or Digest challenge when the URL carries credentials. The status code says
more than OpenCV can: FFmpeg folds "401 Unauthorized", "404 Not Found" and "connection
refused" into one failed open. A probe costs a connect, ~200 bytes each way and a close.

:class:`RtspExchange` is a non-blocking state machine, so one thread can drive hundreds of
probes with a selector (:class:`ProbeScheduler`); :func:`probe` drives one to completion for
callers that may block (a reader classifying why it cannot open).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import heapq
import itertools
import logging
import os
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from gis.scrub import SecretUrl, scrub
from video.camera import OFFLINE, ONLINE, UNAUTHORIZED

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16_384  # an answer without a header end by then is not RTSP
USER_AGENT = "grid-command-center-probe/1"
_AUTH_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


@dataclass(frozen=True)
class ProbeResult:
    """What a probe learnt: a health state, the RTSP status code (None without an answer),
    a scrubbed bilingual error (None when online) and how long it took (seconds)."""

    state: str
    status_code: int | None
    error: str | None
    elapsed_s: float

    @property
    def blocks_open(self) -> bool:
        """True when opening a decoder cannot succeed either: no RTSP answer at all (refused,
        timeout, garbage), wrong credentials or no such stream. Any other status (400, 405,
        5xx) may be our probe being misunderstood, so the decoder still gets its try."""
        return self.state != ONLINE and self.status_code in (None, 401, 403, 404)


def classify(status_code: int) -> tuple[str, str | None]:
    """Map an RTSP status code to a health state and a bilingual error."""
    if 200 <= status_code < 300:
        return ONLINE, None
    if status_code in (401, 403):
        return UNAUTHORIZED, f"认证失败（{status_code}）/ authentication failed ({status_code})"
    if status_code == 404:
        return OFFLINE, "码流不存在（404）/ stream not found (404)"
    return OFFLINE, f"RTSP 状态 {status_code} / RTSP status {status_code}"


def _authorization(challenges: list[str], method: str, uri: str, user: str,
                   password: str) -> str | None:
    """Answer a ``WWW-Authenticate`` challenge (Digest preferred, RFC 2617 MD5)."""
    digest = next((c for c in challenges if c.lower().startswith("digest")), None)
    if digest is not None:
        params = {k.lower(): q or v for k, q, v in _AUTH_PARAM.findall(digest)}
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False)
        ha2 = hashlib.md5(f"{method}:{uri}".encode(), usedforsecurity=False)
        fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
        qop = params.get("qop", "")
        if "auth" in [q.strip() for q in qop.split(",")]:
            cnonce, nc = os.urandom(8).hex(), "00000001"
            text = f"{ha1.hexdigest()}:{nonce}:{nc}:{cnonce}:auth:{ha2.hexdigest()}"
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            text = f"{ha1.hexdigest()}:{nonce}:{ha2.hexdigest()}"
        response = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
        fields.append(f'response="{response}"')
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        return "Digest " + ", ".join(fields)
    if any(c.lower().startswith("basic") for c in challenges):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


class RtspExchange:
    """One probe as a non-blocking state machine: connect → send → receive (→ once more
    with credentials after a 401) → :attr:`result`.

    Drive it with a selector: register :attr:`sock` for :meth:`events`, call :meth:`step`
    when it is ready and :meth:`expire` after :attr:`deadline` (``time.monotonic()``).
    """

    def __init__(self, url: SecretUrl | str, timeout_s: float, method: str = "DESCRIBE") -> None:
        raw = url.reveal() if isinstance(url, SecretUrl) else url
        self.method, self.timeout_s = method, timeout_s
        self.started = time.monotonic()
        self.deadline = self.started + timeout_s
        self.sock: socket.socket | None = None
        self.result: ProbeResult | None = None
        try:
            self.host, self.port, self.user, self.password, self.uri = split_url(raw)
        except ValueError:
            self.host, self.port, self.user, self.password, self.uri = "", 0, None, "", ""
            self._fail("地址无效 / invalid stream URL")
        self._authorization: str | None = None
        self._phase = "connect"
        self._out = b""
        self._in = b""

    # -- driving --------------------------------------------------------------------------
    def begin(self) -> None:
        """Open the socket and start the non-blocking connect (IP literals and names alike;
        a name is resolved here, so schedule cameras by address where DNS may be slow)."""
        if self.result is not None:
            return
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            family, _, _, _, addr = infos[0]
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = self.sock.connect_ex(addr)
        except OSError as exc:
            self._fail(f"网络错误 / network error: {exc}")
            return
        self._phase, self._in = "connect", b""
        self._out = self._request()
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self._fail_errno(code)

    def events(self) -> int:
        """Selector events this exchange waits for now."""
        return selectors.EVENT_READ if self._phase == "receive" else selectors.EVENT_WRITE

    def step(self) -> None:
        """Make progress after the selector said the socket is ready."""
        assert self.sock is not None
        try:
            if self._phase == "connect":
                code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    self._fail_errno(code)
                    return
                self._phase = "send"
            if self._phase == "send":
                sent = self.sock.send(self._out)
                self._out = self._out[sent:]
                if not self._out:
                    self._phase = "receive"
                return
            chunk = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(f"网络错误 / network error: {exc.strerror or exc}")
            return
        if not chunk:
            self._fail("连接被对方关闭 / connection closed by the camera")
            return
        self._in += chunk
        self._parse()

    def expire(self) -> None:
        """The deadline passed: finish as offline ("no answer")."""
        if self.result is None:
            self._fail(f"无应答（{self.timeout_s:g} 秒）/ no answer within {self.timeout_s:g} s")

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # -- internals ------------------------------------------------------------------------
    def _request(self) -> bytes:
        lines = [f"{self.method} {self.uri} RTSP/1.0", "CSeq: 1", f"User-Agent: {USER_AGENT}"]
        if self.method == "DESCRIBE":
            lines.append("Accept: application/sdp")
        if self._authorization:
            lines.append(f"Authorization: {self._authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _parse(self) -> None:
        if len(self._in) >= 5 and not self._in.startswith(b"RTSP/"):
            self._fail("应答非 RTSP / the answer is not RTSP")
            return
        end = self._in.find(b"\r\n\r\n")
        if end < 0:
            if len(self._in) > MAX_HEADER_BYTES:
                self._fail("应答非 RTSP / the answer is not RTSP")
            return
        head = self._in[:end].decode("latin-1").split("\r\n")
        try:
            code = int(head[0].split()[1])
        except (IndexError, ValueError):
            self._fail("应答非 RTSP / the answer is not RTSP")
            return
        challenges = [h.split(":", 1)[1].strip() for h in head[1:]
                      if h.lower().startswith("www-authenticate:")]
        if code == 401 and self.user is not None and self._authorization is None:
            self._authorization = _authorization(challenges, self.method, self.uri,
                                                 self.user, self.password)
            if self._authorization is not None:
                # A fresh connection: some cameras close after a 401, none mind a new one.
                self.close()
                self.begin()
                return
        state, error = classify(code)
        self._finish(ProbeResult(state, code, error, time.monotonic() - self.started))

    def _fail_errno(self, code: int) -> None:
        if code == errno.ECONNREFUSED:
            self._fail("连接被拒绝 / connection refused")
        else:
            self._fail(f"网络错误 / network error: {os.strerror(code)}")

    def _fail(self, error: str) -> None:
        self._finish(ProbeResult(OFFLINE, None, scrub(error), time.monotonic() - self.started))

    def _finish(self, result: ProbeResult) -> None:
        self.result = result
        self._phase = "done"
        self.close()


def split_url(raw: str) -> tuple[str, int, str | None, str, str]:
    """Host, port, user, password and the credential-free request URI of an RTSP URL.

    The user info runs to the *last* ``@`` before the path: hand-written camera URLs often
    carry a raw ``@``, ``/`` or ``:`` in the password, which ``urlsplit`` misreads.
    """
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in ("rtsp", "rtsps"):
        raise ValueError("not an RTSP URL")
    user: str | None = None
    password = ""
    at = rest.rfind("@", 0, max(rest.find("?"), 0) or len(rest))
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
        name, _, secret = userinfo.partition(":")
        user, password = unquote(name), unquote(secret)
    parts = urlsplit(f"{scheme}://{rest}")
    host = parts.hostname or ""
    port = parts.port or 554
    if not host:
        raise ValueError("no host")
    netloc = host if ":" not in host else f"[{host}]"
    uri = urlunsplit((scheme, f"{netloc}:{port}", parts.path or "/", parts.query, ""))
    return host, port, user, password, uri


def probe(url: SecretUrl | str, timeout_s: float = 2.0, method: str = "DESCRIBE") -> ProbeResult:
    """Probe one camera, blocking for at most ``timeout_s``.

    Parameters
    ----------
    url
        The stream URL (credentials are used for the challenge, never logged).
    timeout_s
        The whole exchange, connect and authentication round included.
    method
        ``DESCRIBE`` (checks the path and the credentials) or ``OPTIONS``.

    Examples
    --------
    >>> probe("rtsp://127.0.0.1:9/nothing", timeout_s=0.5).state
    'offline'
    """
    exchange = RtspExchange(url, timeout_s, method)
    exchange.begin()
    with selectors.DefaultSelector() as selector:
        while exchange.result is None:
            assert exchange.sock is not None
            sock = exchange.sock
            selector.register(sock, exchange.events())
            ready = selector.select(max(0.0, exchange.deadline - time.monotonic()))
            selector.unregister(sock)
            if ready:
                exchange.step()
            elif time.monotonic() >= exchange.deadline:
                exchange.expire()
    return exchange.result


class ProbeScheduler:
    """One thread that runs due probes with non-blocking sockets and one selector.

    :meth:`submit` asks for a probe of ``key`` at a ``time.monotonic()`` instant; ``on_result``
    is called in the scheduler thread with the key and the :class:`ProbeResult`, so it must be
    quick and must not block. A later submit for a key replaces an earlier pending one. A hung
    camera costs one idle socket until its timeout; it never delays another camera's probe.
    """

    def __init__(self, on_result: Callable[[str, ProbeResult | None], None],
                 timeout_s: float = 3.0, method: str = "DESCRIBE", max_in_flight: int = 256,
                 skip: Callable[[str], bool] | None = None) -> None:
        self.on_result, self.timeout_s, self.method = on_result, timeout_s, method
        self.max_in_flight = max_in_flight
        # ``skip(key)`` True at a probe's time: no network, ``on_result(key, None)`` instead.
        self.skip = skip
        self.probes_total = 0
        self.skipped_total = 0
        self._heap: list[tuple[float, int, str]] = []
        self._pending: dict[str, tuple[int, SecretUrl | str]] = {}  # key → (ticket, url)
        self._tickets = itertools.count()
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._in_flight: dict[int, RtspExchange] = {}  # fd → exchange
        self._keys: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the scheduler thread."""
        self._thread = threading.Thread(target=self._run, name="rtsp-prober", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close every socket (idempotent)."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def submit(self, key: str, url: SecretUrl | str, at: float | None = None) -> None:
        """Probe ``key`` at ``at`` (monotonic seconds; now when None)."""
        when = time.monotonic() if at is None else at
        with self._lock:
            ticket = next(self._tickets)
            self._pending[key] = (ticket, url)
            heapq.heappush(self._heap, (when, ticket, key))
        if threading.current_thread() is not self._thread:  # our own loop looks anyway
            self._wake()

    def cancel(self, key: str) -> None:
        """Forget a pending probe of ``key`` (one in flight still reports)."""
        with self._lock:
            self._pending.pop(key, None)

    def pending(self) -> int:
        """How many probes wait for their time."""
        with self._lock:
            return len(self._pending)

    # -- the loop -------------------------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full buffer: the loop is awake anyway
            self._wake_w.send(b"x")

    def _due(self, now: float) -> list[tuple[str, SecretUrl | str]]:
        room = self.max_in_flight - len(self._in_flight)
        due: list[tuple[str, SecretUrl | str]] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now and len(due) < room:
                _, ticket, key = heapq.heappop(self._heap)
                entry = self._pending.get(key)
                if entry is not None and entry[0] == ticket:  # else replaced or cancelled
                    del self._pending[key]
                    due.append((key, entry[1]))
        return due

    def _next_wait(self, now: float) -> float:
        with self._lock:
            first = self._heap[0][0] if self._heap else now + 1.0
        deadlines = [ex.deadline for ex in self._in_flight.values()]
        if len(self._in_flight) >= self.max_in_flight:
            first = now + 1.0
        return max(0.0, min([first, now + 1.0, *deadlines]) - now)

    def _launch(self, key: str, url: SecretUrl | str) -> None:
        exchange = RtspExchange(url, self.timeout_s, self.method)  # never raises
        exchange.begin()
        self.probes_total += 1
        self._track(key, exchange)

    def _track(self, key: str, exchange: RtspExchange) -> None:
        if exchange.result is not None or exchange.sock is None:
            self._report(key, exchange)
            return
        fd = exchange.sock.fileno()
        self._in_flight[fd] = exchange
        self._keys[fd] = key
        self._selector.register(exchange.sock, exchange.events(), fd)

    def _untrack(self, fd: int) -> tuple[str, RtspExchange]:
        exchange = self._in_flight.pop(fd)
        key = self._keys.pop(fd)
        if exchange.sock is not None:
            self._selector.unregister(exchange.sock)
        return key, exchange

    def _report(self, key: str, exchange: RtspExchange) -> None:
        assert exchange.result is not None
        self._call(key, exchange.result)

    def _call(self, key: str, result: ProbeResult | None) -> None:
        try:
            self.on_result(key, result)
        except Exception:  # a bad callback must not kill the prober of every camera
            log.exception("探测结果处理失败 / probe result handler failed")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._round()
                except Exception:  # one camera's surprise must not stop every probe
                    log.exception("探测循环异常 / probe loop error")
                    time.sleep(0.1)
        finally:
            for fd in list(self._in_flight):
                self._untrack(fd)[1].close()
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _round(self) -> None:
        for key, url in self._due(time.monotonic()):
            if self.skip is not None and self.skip(key):
                self.skipped_total += 1
                self._call(key, None)
                continue
            self._launch(key, url)
        for selkey, _ in self._selector.select(self._next_wait(time.monotonic())):
            if selkey.data is None:
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    while self._wake_r.recv(4096):
                        pass
                continue
            self._advance(selkey.data, lambda ex: ex.step())
        now = time.monotonic()
        for fd in [fd for fd, ex in self._in_flight.items() if ex.deadline <= now]:
            self._advance(fd, lambda ex: ex.expire())

    def _advance(self, fd: int, action: Callable[[RtspExchange], None]) -> None:
        key, exchange = self._untrack(fd)
        action(exchange)  # may close the socket, or reconnect with credentials
        self._track(key, exchange)
