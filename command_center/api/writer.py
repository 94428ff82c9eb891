"""Group commit for the intake API, and the periodic supervision sweep.

:class:`IntakeWriter`: every POST hands its validated intake to the writer and awaits its own
result. One writer thread owns one database connection and writes *everything that queued up
while its last transaction ran* in one statement and one commit
(:func:`gis.loop.intake_db.submit_many`). At low load a batch is one report and the latency is
one transaction; under load the batches grow, so the number of commits (fsyncs, round trips,
chain-head locks: the hash-chained log serialises its writers anyway) stays flat while the
throughput rises. Each request still gets its own event code, grid and duplicate list.
``batch_max = 1`` gives the naive one-transaction-per-request path (the benchmark's baseline).

:class:`Sweeper`: runs :func:`gis.loop.supervision.sweep` every ``api.sweep_interval_s`` in its
own thread. A transaction-level advisory lock makes it safe to run in several API processes:
only one sweeps at a time, the others skip that round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa

from gis.db import session_scope
from gis.loop.intake import Intake, IntakeInvalid, IntakeLimits
from gis.loop.intake_db import IntakeResult, submit_many
from gis.loop.sla import SlaRule
from gis.loop.supervision import SweepResult, sweep
from gis.scrub import scrub

log = logging.getLogger(__name__)
# Any constant works; it only has to differ from other advisory locks of the project.
SWEEP_LOCK = 0x5157_4545


@dataclass
class WriterStats:
    """Counters for the benchmark and ``/open311/v2/health``-style checks."""

    batches: int = 0
    written: int = 0
    largest_batch: int = 0
    busy_s: float = 0.0  # time spent in transactions: near the wall time = database-bound


class IntakeWriter:
    """Collects intakes from the event loop and writes them in batches on one thread."""

    def __init__(self, engine: sa.Engine, sla: SlaRule, limits: IntakeLimits, *,
                 batch_max: int = 500, linger_s: float = 0.0) -> None:
        self.engine = engine
        self.sla = sla
        self.limits = limits
        self.batch_max = batch_max
        self.linger_s = linger_s
        self.stats = WriterStats()
        self._queue: list[tuple[Intake, asyncio.Future[IntakeResult]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self._conn: sa.Connection | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="intake-writer")

    def start(self) -> None:
        """Start the batching task on the running event loop."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout_s``), then stop."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (self._queue or self._busy) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def submit(self, intake: Intake) -> IntakeResult:
        """Queue a validated intake; returns its result or raises its IntakeInvalid."""
        assert self._wake is not None, "start() the writer first"
        future: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        self._queue.append((intake, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.linger_s:
                await asyncio.sleep(self.linger_s)
            while self._queue:
                batch = self._queue[:self.batch_max]
                del self._queue[:self.batch_max]
                self._busy = True
                try:
                    results = await loop.run_in_executor(self._executor, self._write,
                                                         [i for i, _ in batch])
                except Exception as exc:  # the database is down: every waiter hears it
                    log.error("intake batch of %d failed: %s", len(batch), scrub(exc))
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                finally:
                    self._busy = False
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(result, IntakeInvalid):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    def _connection(self) -> sa.Connection:
        # One connection of its own, in autocommit: the batch statement is its own
        # transaction, so a batch costs one round trip (no BEGIN, COMMIT or pool ping).
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _write(self, intakes: Sequence[Intake]) -> list[IntakeResult | IntakeInvalid]:
        started = time.perf_counter()
        try:  # the fast path
            results = submit_many(self._connection(), intakes, sla=self.sla,
                                  limits=self.limits, isolate=False)
        except sa.exc.DBAPIError as exc:
            if self._conn is not None and (exc.connection_invalidated
                                           or isinstance(exc, sa.exc.OperationalError)):
                self._conn.close()
                self._conn = None
            # Nothing of the batch was written (one statement). Again in a transaction of
            # its own, report by report where needed; a dead database raises
            # DatabaseUnavailable here, which every waiting request answers with 503.
            with session_scope(self.engine) as session:
                results = submit_many(session, intakes, sla=self.sla, limits=self.limits)
        self.stats.busy_s += time.perf_counter() - started
        self.stats.batches += 1
        self.stats.written += sum(isinstance(r, IntakeResult) for r in results)
        self.stats.largest_batch = max(self.stats.largest_batch, len(intakes))
        return results


class Sweeper:
    """Runs the supervision sweep at start and every ``interval_s`` seconds until stopped."""

    def __init__(self, engine: sa.Engine, sla: SlaRule, interval_s: float) -> None:
        self.engine = engine
        self.sla = sla
        self.interval_s = interval_s
        self.runs = 0
        self.last: SweepResult | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the sweeping thread (no-op when the interval is 0)."""
        if self.interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="supervision-sweep",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current run."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_once(self) -> SweepResult | None:
        """One sweep; None when another process holds the sweep lock."""
        with session_scope(self.engine) as session:
            got = session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"),
                                  {"k": SWEEP_LOCK}).scalar_one()
            if not got:
                return None
            result = sweep(session, sla=self.sla)
        self.runs += 1
        self.last = result
        if result.supervised or result.reminders:
            log.info("supervision sweep: %d supervised, %d reminders, %d skipped",
                     len(result.supervised), result.reminders, len(result.skipped))
        return result

    def _loop(self) -> None:
        # The first run at start: events that went overdue while no API process ran are
        # supervised now, not one interval later.
        while True:
            try:
                self.run_once()
            except Exception as exc:  # keep sweeping: the next run may find the DB back
                log.error("supervision sweep failed: %s", scrub(exc))
            if self._stop.wait(self.interval_s):
                return
