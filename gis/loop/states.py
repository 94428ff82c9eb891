"""The transitions table of the closed loop: which action moves which status, and who may.

The main line::

    reported ─accept→ accepted ─dispatch→ dispatched ─start→ handling ─finish→ handled
        ─verify→ verified ─close→ closed

Side lines: ``reject`` (reported or accepted → rejected, with a reason code),
``return`` (handled → returned: verification failed; the department then ``start``\\ s again,
returned → handling), ``redispatch`` (dispatched → dispatched, to another department, with a
reason). Supervision (督办) is a flag, not a status: ``supervise`` and ``unsupervise`` keep the
status and set or lift ``event.supervised``.

Roles are the app's roles (:data:`gis.models.APP_ROLES`) plus two that act without a login page
of their own: ``department`` (a department's handler, acting only on events dispatched to *its*
department; the caller names the department) and ``system`` (the periodic supervision job).
``admin`` may do everything, as the person of last resort; ``planner`` takes no part in the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from gis.catalog import OPEN_STATUSES, Label

#: Roles a transition may be taken by. The first five are the app's login roles.
LOOP_ROLES: tuple[str, ...] = ("staff", "duty_officer", "planner", "leader", "admin",
                               "department", "system")

ROLE_LABELS: dict[str, Label] = {
    "staff": Label("网格员/工作人员", "staff"),
    "duty_officer": Label("值班员", "duty officer"),
    "planner": Label("规划人员", "planner"),
    "leader": Label("领导", "leader"),
    "admin": Label("管理员", "administrator"),
    "department": Label("职能部门", "department"),
    "system": Label("系统", "system"),
}

#: Why an event may be rejected (不予受理).
REJECT_REASONS: dict[str, Label] = {
    "out_of_scope": Label("不属于受理范围", "out of scope"),
    "duplicate": Label("重复上报", "duplicate"),
    "invalid": Label("信息无效", "invalid report"),
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One action: the statuses it starts from, the status it leads to, who may take it.

    ``to`` is None for actions that keep the status (redispatch, supervise, unsupervise).
    ``needs_note`` means the action must carry a note (what was done, why it failed, why).
    """

    action: str
    sources: tuple[str, ...]
    to: str | None
    roles: tuple[str, ...]
    zh: str
    en: str
    needs_note: bool = False

    def target(self, current: str) -> str:
        """The status after the action when taken from ``current``."""
        return self.to or current


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("accept", ("reported",), "accepted", ("duty_officer", "admin"),
               "受理", "accept"),
    Transition("reject", ("reported", "accepted"), "rejected", ("duty_officer", "admin"),
               "不予受理", "reject"),
    Transition("dispatch", ("accepted",), "dispatched", ("duty_officer", "admin"),
               "派遣", "dispatch"),
    Transition("redispatch", ("dispatched",), None, ("duty_officer", "admin"),
               "改派", "re-dispatch", needs_note=True),
    Transition("start", ("dispatched", "returned"), "handling", ("department", "admin"),
               "开始处置", "start handling"),
    Transition("finish", ("handling",), "handled", ("department", "admin"),
               "处置完毕", "report handled", needs_note=True),
    Transition("verify", ("handled",), "verified", ("staff", "duty_officer", "admin"),
               "核查通过", "verify"),
    Transition("return", ("handled",), "returned", ("staff", "duty_officer", "admin"),
               "核查不通过退回", "return (verification failed)", needs_note=True),
    Transition("close", ("verified",), "closed", ("duty_officer", "leader", "admin"),
               "结案", "close"),
    Transition("supervise", OPEN_STATUSES, None, ("leader", "admin", "system"),
               "督办", "supervise", needs_note=True),
    Transition("unsupervise", OPEN_STATUSES, None, ("leader", "admin"),
               "解除督办", "lift supervision", needs_note=True),
)}

#: Actions that only a handler of the event's own department may take as ``department``.
DEPARTMENT_SCOPED = frozenset({"start", "finish"})


def allowed_actions(status: str, role: str) -> list[str]:
    """The actions ``role`` may take on an event in ``status`` (for buttons in a UI).

    Examples
    --------
    >>> allowed_actions("reported", "duty_officer")
    ['accept', 'reject']
    """
    return [a for a, t in TRANSITIONS.items() if status in t.sources and role in t.roles]
