"""Moving an event through the closed loop: :func:`transition`, the one way statuses change.

Each call locks the event row (``SELECT … FOR UPDATE NOWAIT``), checks the role, the acting
department and the current status against :data:`gis.loop.states.TRANSITIONS`, applies the
action's effects and adds one ``event_log`` row, all in the caller's transaction: the change and
its log row commit together or not at all. The caller commits (``session_scope``).

Concurrency: when another officer holds the row (their transaction is still open) NOWAIT fails
at once and the caller gets :class:`~gis.loop.errors.Conflict` with the event's last committed
state; when the caller passes the ``expected_version`` it saw and someone committed in between,
it gets :class:`~gis.loop.errors.Conflict` too. The ORM's ``version_id_col`` on ``event`` is a
second guard: no write can be based on a stale row.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gis.catalog import CATEGORY_BY_CODE, EVENT_STATUS_LABELS, label
from gis.errors import NotFound
from gis.loop.errors import Conflict, EventState, IllegalTransition, NotPermitted
from gis.loop.sla import DEFAULT_RULE, SlaRule
from gis.loop.states import DEPARTMENT_SCOPED, LOOP_ROLES, REJECT_REASONS, TRANSITIONS
from gis.models import Department, Event, EventCategory, EventLog

_LOCK_NOT_AVAILABLE = "55P03"


def current_state(session: Session, event_id: int) -> EventState | None:
    """The event's last committed (or own-transaction) state, read without a lock."""
    row = session.execute(sa.text(
        "SELECT e.id, e.code, e.status, e.version, d.code AS department, e.supervised "
        "FROM event e LEFT JOIN department d ON d.id = e.department_id WHERE e.id = :id"),
        {"id": event_id}).first()
    return None if row is None else EventState(int(row[0]), row[1], row[2], int(row[3]),
                                               row[4], bool(row[5]))


def _conflict(state: EventState | None, busy: bool) -> Conflict:
    now_zh = state.describe("zh") if state else "未知"
    now_en = state.describe("en") if state else "unknown"
    if busy:
        return Conflict(f"该事件正由其他人办理，请稍后刷新重试。当前状态：{now_zh}",
                        f"someone else is acting on this event right now; refresh and try "
                        f"again. Current state: {now_en}", state)
    return Conflict(f"该事件已被其他人更新，请刷新后重试。当前状态：{now_zh}",
                    f"the event was changed by someone else; refresh and try again. "
                    f"Current state: {now_en}", state)


def _lock(session: Session, event_id: int) -> Event:
    try:
        # A savepoint, so a failed NOWAIT leaves the caller's transaction usable to read the
        # current state for the message.
        with session.begin_nested():
            event = session.execute(
                sa.select(Event).where(Event.id == event_id)
                .with_for_update(nowait=True).execution_options(populate_existing=True)
            ).scalar_one_or_none()
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise _conflict(current_state(session, event_id), busy=True) from None
        raise
    if event is None:
        raise NotFound(f"没有编号为 {event_id} 的事件", f"no event with id {event_id}")
    return event


def _department(session: Session, code: str) -> Department:
    dept = session.execute(sa.select(Department).where(Department.code == code)).scalar()
    if dept is None:
        raise IllegalTransition(f"未知的部门：{code}", f"unknown department: {code}")
    return dept


def default_department(session: Session, category: str) -> str | None:
    """The department an event of ``category`` is routed to by default.

    The ``event_category`` table is the routing configuration (editable per deployment); the
    catalog's default applies when the table has no row or no department for the category.
    """
    code = session.execute(sa.select(EventCategory.department_code)
                           .where(EventCategory.code == category)).scalar()
    if code is None and category in CATEGORY_BY_CODE:
        return CATEGORY_BY_CODE[category].department
    return code


def _state(event: Event, department: str | None) -> EventState:
    return EventState(event.id, event.code, event.status, event.version, department,
                      event.supervised)


def transition(session: Session, event_id: int, action: str, actor: str, role: str, *,
               note: str | None = None, department: str | None = None,
               reason: str | None = None, expected_version: int | None = None,
               now: dt.datetime | None = None, sla: SlaRule = DEFAULT_RULE) -> Event:
    """Take ``action`` on an event and log it, in the session's transaction.

    Parameters
    ----------
    session
        An open session; the caller commits.
    event_id
        The event.
    action
        A key of :data:`gis.loop.states.TRANSITIONS` (``accept``, ``dispatch`` …).
    actor
        Who acts (user name; ``system`` for jobs).
    role
        The actor's role, one of :data:`gis.loop.states.LOOP_ROLES`.
    note
        Free text; required for actions with ``needs_note`` and for a dispatch away from the
        category's default department (the reason for the change).
    department
        ``dispatch``/``redispatch``: the target department code (default: the category's).
        Role ``department``: the department the actor works for; it must be the event's.
    reason
        ``reject``: one of :data:`gis.loop.states.REJECT_REASONS`.
    expected_version
        The ``version`` the actor saw; a different current version raises Conflict.
    now
        The time of the action (default: the database's transaction time).
    sla
        The deadline rule used by ``accept``.

    Returns
    -------
    Event
        The updated (flushed, not committed) event.

    Raises
    ------
    NotPermitted, IllegalTransition, Conflict, NotFound
        With ``中文 / English`` messages; Conflict and IllegalTransition carry ``current``.
    """
    spec = TRANSITIONS.get(action)
    if spec is None:
        raise IllegalTransition(f"未知的操作：{action}", f"unknown action: {action}")
    if role not in LOOP_ROLES:
        raise NotPermitted(f"未知的角色：{role}", f"unknown role: {role}")
    event = _lock(session, event_id)
    dept_code = (session.get(Department, event.department_id).code  # type: ignore[union-attr]
                 if event.department_id is not None else None)
    state = _state(event, dept_code)
    if expected_version is not None and expected_version != event.version:
        raise _conflict(state, busy=False)
    if role not in spec.roles:
        raise NotPermitted(f"角色“{role}”无权执行“{spec.zh}”", f"role {role!r} may not "
                           f"{spec.en}", state)
    if event.status not in spec.sources:
        status_zh = label(EVENT_STATUS_LABELS, event.status)
        raise IllegalTransition(
            f"事件处于“{status_zh}”状态，不能执行“{spec.zh}”",
            f"an event that is {label(EVENT_STATUS_LABELS, event.status, 'en')} cannot be "
            f"given {spec.en!r}", state)
    if role == "department" and action in DEPARTMENT_SCOPED and (
            department is None or department != dept_code):
        raise NotPermitted("只能办理派遣给本部门的事件",
                           "a department may only act on events dispatched to it", state)
    if spec.needs_note and not (note and note.strip()):
        raise IllegalTransition(f"“{spec.zh}”需要填写说明", f"{spec.en!r} needs a note", state)
    when = now or session.execute(sa.select(sa.func.now())).scalar_one()
    before = event.status
    log_department, log_reason = _apply(session, event, spec.action, note, department, reason,
                                        when, sla, state)
    event.status = spec.target(before)
    session.add(EventLog(event_id=event.id, at=when, actor=actor, role=role, action=action,
                         from_status=before, to_status=event.status, note=note,
                         department_code=log_department, reason=log_reason))
    try:
        session.flush()
    except StaleDataError:
        raise _conflict(current_state(session, event_id), busy=False) from None
    return event


def _apply(session: Session, event: Event, action: str, note: str | None,
           department: str | None, reason: str | None, when: dt.datetime, sla: SlaRule,
           state: EventState) -> tuple[str | None, str | None]:
    """The action's effect on the event's columns; returns (department, reason) for the log."""
    if action == "accept":
        event.accepted_at = when
        event.deadline_at = sla.deadline(when, event.category_code, event.priority)
    elif action == "reject":
        if reason not in REJECT_REASONS:
            raise IllegalTransition(
                f"不予受理须选择原因：{'、'.join(r.zh for r in REJECT_REASONS.values())}",
                f"a rejection needs a reason: {', '.join(REJECT_REASONS)}", state)
        event.reject_reason = reason
        return None, reason
    elif action in ("dispatch", "redispatch"):
        default = default_department(session, event.category_code)
        target = department or default
        if target is None:
            raise IllegalTransition("该类别没有默认部门，请指定部门",
                                    "this category has no default department: name one", state)
        if action == "redispatch" and target == state.department:
            raise IllegalTransition("改派须选择另一个部门",
                                    "a re-dispatch must name another department", state)
        if target != default and not (note and note.strip()):
            raise IllegalTransition("派往非默认部门须说明原因",
                                    "dispatching away from the default department needs a "
                                    "reason in the note", state)
        event.department_id = _department(session, target).id
        return target, None
    elif action == "close":
        event.closed_at = when
    elif action == "supervise":
        if event.supervised:
            raise IllegalTransition("该事件已在督办中", "the event is already supervised", state)
        event.supervised, event.supervised_at, event.supervision_reason = True, when, note
    elif action == "unsupervise":
        if not event.supervised:
            raise IllegalTransition("该事件未被督办", "the event is not supervised", state)
        event.supervised = False
    return None, None
