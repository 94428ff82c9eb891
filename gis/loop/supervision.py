"""Supervision (督办) and reminders: the job that runs every few minutes, and its lists.

:func:`sweep` does two things at ``now``:

* every open, not yet supervised event whose light is red (overdue) is put under supervision
  through :func:`gis.loop.actions.transition` (role ``system``), so the flag, the reason and the
  log row come the one audited way;
* every open event of a department whose light is yellow gets one ``due_soon`` reminder for
  that department (once per event and deadline: a rerun adds nothing).

An event another officer is acting on at that moment is skipped; the next run takes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import OPEN_STATUSES
from gis.loop.actions import transition
from gis.loop.errors import Conflict, IllegalTransition
from gis.loop.lights import light_params, light_sql
from gis.loop.sla import DEFAULT_RULE, SlaRule

SYSTEM_ACTOR = "system"
OVERDUE_NOTE = "超时未办结，系统自动督办 / overdue: supervised automatically"


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one run did: events newly supervised, reminders added, events skipped (busy)."""

    supervised: list[int]
    reminders: int
    skipped: list[int]


@dataclass(frozen=True, slots=True)
class SupervisedEvent:
    """One line of the supervision list."""

    event_id: int
    code: str
    status: str
    department: str | None
    deadline_at: dt.datetime | None
    supervised_at: dt.datetime | None
    reason: str | None
    light: str


@dataclass(frozen=True, slots=True)
class ReminderRow:
    """An in-app reminder for a department."""

    id: int
    event_id: int
    code: str
    deadline_at: dt.datetime
    created_at: dt.datetime
    read: bool


def _now(session: Session, now: dt.datetime | None) -> dt.datetime:
    return now or session.execute(sa.select(sa.func.now())).scalar_one()


def sweep(session: Session, *, now: dt.datetime | None = None,
          sla: SlaRule = DEFAULT_RULE) -> SweepResult:
    """Supervise overdue events and remind departments of yellow ones (caller commits).

    Parameters
    ----------
    session
        An open session.
    now
        The moment lights are judged at; default the database's ``now()``.
    sla
        Gives the yellow share.
    """
    now = _now(session, now)
    params = {**light_params(now, sla.yellow_share), "open": list(OPEN_STATUSES)}
    overdue = session.execute(sa.text(
        f"SELECT e.id FROM event e WHERE e.status = ANY(:open) AND NOT e.supervised "
        f"AND {light_sql()} = 'red' ORDER BY e.id"), params).scalars().all()
    done, skipped = [], []
    for event_id in overdue:
        try:
            transition(session, int(event_id), "supervise", SYSTEM_ACTOR, "system",
                       note=OVERDUE_NOTE, now=now, sla=sla)
            done.append(int(event_id))
        except (Conflict, IllegalTransition):
            skipped.append(int(event_id))  # someone is acting on it, or it just moved on
    added = session.execute(sa.text(f"""
        INSERT INTO reminder (event_id, department_id, kind, deadline_at)
        SELECT e.id, e.department_id, 'due_soon', e.deadline_at FROM event e
        WHERE e.status = ANY(:open) AND e.department_id IS NOT NULL AND {light_sql()} = 'yellow'
        ON CONFLICT ON CONSTRAINT reminder_once DO NOTHING
        RETURNING id"""), params).scalars().all()
    return SweepResult(done, len(added), skipped)


def supervision_list(session: Session, *, now: dt.datetime | None = None,
                     sla: SlaRule = DEFAULT_RULE) -> list[SupervisedEvent]:
    """Open events under supervision, the longest supervised first."""
    now = _now(session, now)
    rows = session.execute(sa.text(f"""
        SELECT e.id, e.code, e.status, d.code, e.deadline_at, e.supervised_at,
               e.supervision_reason, {light_sql()}
        FROM event e LEFT JOIN department d ON d.id = e.department_id
        WHERE e.supervised AND e.status = ANY(:open)
        ORDER BY e.supervised_at NULLS LAST, e.id"""),
        {**light_params(now, sla.yellow_share), "open": list(OPEN_STATUSES)}).all()
    return [SupervisedEvent(int(r[0]), *r[1:]) for r in rows]


def reminders(session: Session, department: str, *, unread_only: bool = True
              ) -> list[ReminderRow]:
    """Reminders for the department with code ``department``, newest first."""
    rows = session.execute(sa.text(f"""
        SELECT r.id, r.event_id, e.code, r.deadline_at, r.created_at, r.read_at IS NOT NULL
        FROM reminder r JOIN department d ON d.id = r.department_id
        JOIN event e ON e.id = r.event_id
        WHERE d.code = :dept {'AND r.read_at IS NULL' if unread_only else ''}
        ORDER BY r.created_at DESC, r.id DESC"""), {"dept": department}).all()
    return [ReminderRow(*r) for r in rows]


def mark_read(session: Session, department: str, reminder_ids: list[int]) -> int:
    """Mark the department's reminders read; returns how many changed."""
    result = session.execute(sa.text("""
        UPDATE reminder r SET read_at = now() FROM department d
        WHERE d.id = r.department_id AND d.code = :dept AND r.id = ANY(:ids)
          AND r.read_at IS NULL"""), {"dept": department, "ids": reminder_ids})
    return int(result.rowcount)  # type: ignore[attr-defined]
