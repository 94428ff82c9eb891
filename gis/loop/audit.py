"""The tamper-evident audit log: ``event_log`` is append-only and hash-chained.

The database does the writing side (migration ``0006``): a BEFORE INSERT trigger, holding a row
lock on ``event_log_head``, gives each row the next id and
``hash = sha256(prev_hash ‖ "\\n" ‖ canonical(row))``; UPDATE, DELETE and TRUNCATE are refused.
This module does the reading side: :func:`verify_chain` recomputes every hash *in Python* from
the row's content (an independent implementation of the same canonical text) and names the
first row where the chain breaks. Someone who switches the triggers off and edits a row, deletes
one, or rewrites a hash without rewriting every later one, is caught there.

Canonical text: the fields ``id, event_id, at (µs since 1970-01-01 UTC), actor, role, action,
from_status, to_status, department_code, reason, note``, each written ``<length>:<text>`` (``-``
for NULL), joined with ``|``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_COLUMNS = ("id", "event_id", "at", "actor", "role", "action", "from_status", "to_status",
            "department_code", "reason", "note", "prev_hash", "hash")
_BATCH = 5000


def _field(value: object) -> str:
    if value is None:
        return "-"
    text = str(value)
    return f"{len(text)}:{text}"


def canonical(row: Any) -> str:
    """The canonical text of an ``event_log`` row (anything with the column attributes)."""
    micros = (row.at - _EPOCH) // dt.timedelta(microseconds=1)
    return "|".join(_field(v) for v in (
        row.id, row.event_id, micros, row.actor, row.role, row.action, row.from_status,
        row.to_status, row.department_code, row.reason, row.note))


def chain_hash(prev_hash: str | None, text: str) -> str:
    """``sha256(prev_hash ‖ "\\n" ‖ text)`` in hex, as the database computes it."""
    return hashlib.sha256(f"{prev_hash or ''}\n{text}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link: which row, and what is wrong with it."""

    log_id: int
    event_id: int | None
    problem: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`verify_chain`: rows checked, the chain's end, the first break if any."""

    rows: int
    last_id: int
    last_hash: str | None
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _check(rows: Iterable[Any], expected_id: int, prev: str | None
           ) -> tuple[int, str | None, int, Break | None]:
    count = 0
    for row in rows:
        count += 1
        if row.id != expected_id:
            return count, prev, expected_id - 1, Break(
                expected_id, None, "gap",
                f"日志第 {expected_id} 行缺失（下一行是 {row.id}）",
                f"log row {expected_id} is missing (the next row is {row.id})")
        if row.prev_hash != prev:
            return count, prev, row.id, Break(
                row.id, row.event_id, "prev_hash",
                f"日志第 {row.id} 行（事件 {row.event_id}）的前序哈希与上一行不符",
                f"log row {row.id} (event {row.event_id}): prev_hash does not match the row "
                "before it")
        if row.hash != chain_hash(prev, canonical(row)):
            return count, prev, row.id, Break(
                row.id, row.event_id, "hash",
                f"日志第 {row.id} 行（事件 {row.event_id}）的内容与哈希不符，已被改动",
                f"log row {row.id} (event {row.event_id}): content does not match its hash: "
                "it was altered")
        prev = row.hash
        expected_id += 1
    return count, prev, expected_id - 1, None


def verify_chain(conn: sa.Connection) -> ChainReport:
    """Walk ``event_log`` in id order and report the first broken link.

    Reads in batches by id (an index range scan), so a log of millions of rows is checked in
    constant memory. The head row (``event_log_head``) must point at the last row: a deleted
    tail is reported too.

    Parameters
    ----------
    conn
        A connection; the walk runs in its transaction (a REPEATABLE READ one gives a single
        snapshot of a log that is being written to).

    Returns
    -------
    ChainReport
    """
    cols = ", ".join(_COLUMNS)
    expected, prev, total, last = 1, None, 0, 0
    while True:
        rows = conn.execute(sa.text(
            f"SELECT {cols} FROM event_log WHERE id >= :start ORDER BY id LIMIT :n"),
            {"start": expected, "n": _BATCH}).all()
        if not rows:
            break
        count, prev, last, broken = _check(rows, expected, prev)
        total += count
        if broken is not None:
            return ChainReport(total, last, prev, broken)
        expected = last + 1
    head = conn.execute(sa.text(
        "SELECT last_id, last_hash FROM event_log_head WHERE id = 1")).first()
    if head is None or head[0] != last or head[1] != prev:
        head_id = None if head is None else head[0]
        return ChainReport(total, last, prev, Break(
            last, None, "head",
            f"链尾记录为第 {head_id} 行，但日志只到第 {last} 行（末尾被删除或链尾被改动）",
            f"the chain head says row {head_id}, the log ends at row {last} (tail deleted or "
            "head altered)"))
    return ChainReport(total, last, prev, None)


def truncate_with_log(conn: sa.Connection, tables: Sequence[str]) -> None:
    """TRUNCATE ``tables`` (which include ``event_log``) and restart the chain.

    For the demo reseed only: it switches the append-only TRUNCATE trigger off for the length
    of this statement, which only the table's owner may do, inside the caller's transaction
    (ALTER TABLE holds an exclusive lock on ``event_log`` until commit, so no other writer
    can slip a row in meanwhile), then resets the chain head.
    """
    conn.execute(sa.text("ALTER TABLE event_log DISABLE TRIGGER event_log_no_truncate"))
    conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    conn.execute(sa.text("ALTER TABLE event_log ENABLE TRIGGER event_log_no_truncate"))
    conn.execute(sa.text(
        "UPDATE event_log_head SET last_id = 0, last_hash = NULL WHERE id = 1"))
