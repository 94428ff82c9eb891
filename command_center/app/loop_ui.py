"""The closed loop's actions in the app: which buttons a user gets, and what a click does.

The buttons are exactly :func:`gis.loop.states.allowed_actions` for the user's role and the
event's status, narrowed for a ``department`` user to the events dispatched to their own
department (``start``/``finish``), and for supervision to the flag's current value. A click calls
:func:`gis.loop.actions.transition` with ``expected_version`` = the version on screen, so a
user acting on a stale view gets the loop's Conflict, never a silent overwrite; the panel then
shows the message and the event's current state, with the buttons of that state.

:func:`offered_actions` and :func:`run_action` are plain functions (tested without a browser);
:class:`ActionPanel` is one session's widgets, created per page session and never shared.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any

import panel as pn
import sqlalchemy as sa
from sqlalchemy.orm import Session

from command_center.app.auth import UserInfo
from command_center.app.i18n import t
from gis.catalog import EVENT_STATUS_LABELS, label
from gis.db import session_scope
from gis.errors import CommandCenterError
from gis.loop.actions import current_state, default_department, transition
from gis.loop.errors import Conflict, EventState, LoopError
from gis.loop.intake_db import DuplicateCandidate, find_duplicates, merge_duplicate
from gis.loop.sla import DEFAULT_RULE, SlaRule
from gis.loop.states import DEPARTMENT_SCOPED, REJECT_REASONS, TRANSITIONS, allowed_actions
from gis.models import Event
from gis.scrub import scrub

log = logging.getLogger("command_center.app")

ACTIONS_CSS = """
.cc-act { color:#e6edf7; font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
  font-size:14px; }
.cc-act h3 { margin:6px 0 6px; font-size:16px; }
.cc-act .s { color:#9fb3cf; font-size:13px; }
.cc-msg { padding:6px 8px; border-radius:4px; font-size:13px; margin:4px 0; }
.cc-msg.ok { background:#12361f; color:#7ee787; }
.cc-msg.err { background:#5c1d1d; color:#ffb3b3; }
"""


@dataclass(frozen=True, slots=True)
class EventSnapshot(EventState):
    """What the action panel shows of an event: its loop state, and where the category's
    events go by default (preselected in the dispatch picker)."""

    default_department: str | None


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """The result of one click: success or the error's text, and the event's state after."""

    ok: bool
    message: str
    state: EventState | None
    conflict: bool = False


def load_snapshot(session: Session, event_id: int) -> EventSnapshot | None:
    """The event's status, version, department and default department (None if missing)."""
    state = current_state(session, event_id)
    if state is None:
        return None
    category = session.scalar(sa.select(Event.category_code).where(Event.id == event_id))
    return EventSnapshot(*astuple(state), default_department(session, category))


def offered_actions(snapshot: EventSnapshot, user: UserInfo | None) -> list[str]:
    """The actions to offer ``user`` on the event (the buttons, in the loop's order).

    Examples
    --------
    >>> snap = EventSnapshot(1, "SJ1", "dispatched", 3, "cgj", False, "cgj")
    >>> offered_actions(snap, UserInfo("w", "w", "department", "cgj"))
    ['start']
    >>> offered_actions(snap, UserInfo("z", "z", "department", "zjj"))
    []
    """
    if user is None:
        return []
    actions = allowed_actions(snapshot.status, user.role)
    if user.role == "department":
        # A department acts only on its own events (transition would refuse the others).
        actions = [a for a in actions
                   if a not in DEPARTMENT_SCOPED or snapshot.department == user.department]
    # Supervision is a flag: offer the one that changes it.
    return [a for a in actions if not (a == "supervise" and snapshot.supervised)
            and not (a == "unsupervise" and not snapshot.supervised)]


def _attempt(engine: sa.Engine, event_id: int, what: str, language: str,
             work: Callable[[Session], str]) -> ActionOutcome:
    """Run ``work`` (which moves the event and returns the success text's head) in its own
    transaction and turn the result into an :class:`ActionOutcome`; never raises for a
    user's mistake. Loop errors come back with the event's current state."""
    try:
        with session_scope(engine) as session:
            head = work(session)
            snap = load_snapshot(session, event_id)
    except LoopError as exc:
        return ActionOutcome(False, exc.message(language), exc.current,
                             isinstance(exc, Conflict))
    except CommandCenterError as exc:  # NotFound, database unavailable
        return ActionOutcome(False, exc.message(language), None)
    except sa.exc.SQLAlchemyError as exc:
        log.error("%s on event %s: %s", what, event_id, scrub(exc))
        return ActionOutcome(False, t("db_error", language), None)
    assert snap is not None
    # An EventSnapshot is the event's state (plus its routing): it is the outcome's state.
    return ActionOutcome(True, f"{head} · {snap.describe(language)}", snap)


def _sep(language: str) -> str:
    return ": " if language == "en" else "："


def run_action(engine: sa.Engine, user: UserInfo, event_id: int, action: str, *,
               expected_version: int | None, note: str | None = None,
               department: str | None = None, reason: str | None = None,
               sla: SlaRule = DEFAULT_RULE, language: str = "zh") -> ActionOutcome:
    """Take ``action`` as ``user`` in its own transaction; never raises for a user's mistake.

    ``department`` is the picked target of a dispatch or re-dispatch; a ``department`` user
    always acts as their own department. Errors of the loop (Conflict, NotPermitted,
    IllegalTransition) come back as their text in ``language`` with the event's current state.
    """
    if user.role == "department":
        department = user.department
    elif action not in ("dispatch", "redispatch"):
        department = None
    note = (note or "").strip() or None
    spec = TRANSITIONS[action]

    def work(session: Session) -> str:
        transition(session, event_id, action, user.username, user.role, note=note,
                   department=department, reason=reason if action == "reject" else None,
                   expected_version=expected_version, sla=sla)
        name = spec.en if language == "en" else spec.zh
        return f"{t('action_done', language)}{_sep(language)}{name}"

    return _attempt(engine, event_id, f"action {action}", language, work)


def duplicate_candidates(session: Session, event_id: int) -> list[DuplicateCandidate]:
    """Open events of the same category within 50 m reported in the 24 h before this one.

    The window is anchored at the event's own report time, so an officer looking at it the
    next morning is offered what the intake offered, not what happens to be open now.
    """
    reported = session.execute(sa.text("SELECT reported_at FROM event WHERE id = :id"),
                               {"id": event_id}).scalar_one_or_none()
    if reported is None:
        return []
    return find_duplicates(session, [event_id], now=reported)[event_id]


def run_merge(engine: sa.Engine, user: UserInfo, event_id: int, into_event_id: int, *,
              expected_version: int | None, language: str = "zh") -> ActionOutcome:
    """Merge the event into ``into_event_id`` (reject as duplicate); like :func:`run_action`."""
    def work(session: Session) -> str:
        event = merge_duplicate(session, event_id, into_event_id, user.username, user.role,
                                expected_version=expected_version)
        kept = session.get(Event, event.duplicate_of)
        return f"{t('merged_into', language)}{_sep(language)}{kept.code if kept else ''}"

    return _attempt(engine, event_id, "merge", language, work)


def departments(session: Session) -> list[tuple[str, str, str]]:
    """Every department as ``(code, name_zh, name_en)``, by code."""
    return [(r[0], r[1], r[2] or r[1]) for r in session.execute(sa.text(
        "SELECT code, name_zh, name_en FROM department ORDER BY code"))]


def _mark_connected() -> None:
    """Tell Panel this session's browser is connected, when a message from it proves it.

    Panel holds layout changes (new buttons) until the browser's ``document_ready`` event.
    On the map that event never arrives when the basemap tiles cannot load (a closed
    network), and the buttons would never show. We only get here from a callback of a
    message the browser sent over the open websocket, so the connection exists; this does
    what Panel does on ``document_ready``.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None or pn.state._connected.get(doc):
        return
    pn.state._on_load(doc)


class ActionPanel:
    """One session's action buttons and inputs for the event on screen.

    ``on_change(event_id)`` runs after every attempt that may have changed what is shown
    (success, or a conflict that refreshed the state), so the page can redraw details and
    timeline.
    """

    def __init__(self, engine: sa.Engine, user: UserInfo | None, language: str, *,
                 sla: SlaRule = DEFAULT_RULE,
                 on_change: Callable[[int], None] | None = None) -> None:
        self.engine, self.user, self.language, self.sla = engine, user, language, sla
        self.on_change = on_change
        self.snapshot: EventSnapshot | None = None
        self.duplicates: list[DuplicateCandidate] = []
        lang = language
        self._departments: list[tuple[str, str, str]] | None = None
        self.header = pn.pane.HTML("", stylesheets=[ACTIONS_CSS], sizing_mode="stretch_width",
                                   margin=(0, 5))
        self.buttons = pn.FlexBox(sizing_mode="stretch_width", margin=(0, 0))
        self.merge_header = pn.pane.HTML("", stylesheets=[ACTIONS_CSS],
                                         sizing_mode="stretch_width", margin=(0, 5))
        self.merge_buttons = pn.FlexBox(sizing_mode="stretch_width", margin=(0, 0))
        self.reason = pn.widgets.Select(label=t("reason", lang), options={
            label(REJECT_REASONS, code, lang): code for code in REJECT_REASONS},
            sizing_mode="stretch_width")
        self.department = pn.widgets.Select(label=t("target_department", lang), options={},
                                            sizing_mode="stretch_width")
        self.note = pn.widgets.TextAreaInput(label=t("note", lang), height=70, max_length=2000,
                                             sizing_mode="stretch_width")
        self.message = pn.pane.HTML("", stylesheets=[ACTIONS_CSS], sizing_mode="stretch_width",
                                    margin=(0, 5))
        # The column's children are swapped, not hidden: a ``visible`` flip made from a Bokeh
        # selection callback did not always reach the browser (seen on the map page).
        self.view = pn.Column(sizing_mode="stretch_width", css_classes=["cc-actions"])

    def _department_options(self) -> dict[str, str]:
        if self._departments is None:
            with session_scope(self.engine) as session:
                self._departments = departments(session)
        en = self.language == "en"
        snap = self.snapshot
        options = {}
        for code, zh, name_en in self._departments:
            text = name_en if en else zh
            if snap is not None and code == snap.default_department:
                text += t("default_mark", self.language)
            options[text] = code
        return options

    def clear(self) -> None:
        """Hide the panel (nothing selected, or a camera shown instead)."""
        self.snapshot, self.duplicates = None, []
        self.view.objects = []

    def show(self, event_id: int, *, keep_message: bool = False) -> None:
        """Load the event's current state and offer the actions for it."""
        _mark_connected()
        try:
            with session_scope(self.engine) as session:
                self.snapshot = load_snapshot(session, event_id)
                can_reject = self.snapshot is not None and "reject" in offered_actions(
                    self.snapshot, self.user)
                self.duplicates = (duplicate_candidates(session, event_id) if can_reject
                                   else [])
        except (CommandCenterError, sa.exc.SQLAlchemyError) as exc:
            log.error("action panel: %s", scrub(exc))
            self.snapshot, self.duplicates = None, []
        if not keep_message:
            self.message.object = ""
        self._render()

    def _render(self) -> None:
        lang, snap = self.language, self.snapshot
        if snap is None:
            self.view.objects = []
            return
        actions = offered_actions(snap, self.user)
        status = label(EVENT_STATUS_LABELS, snap.status, lang)
        flag = f" · {t('supervised_flag', lang)}" if snap.supervised else ""
        sep = ": " if lang == "en" else "："
        self.header.object = (
            f'<div class="cc-act" data-event="{snap.event_id}" data-version="{snap.version}" '
            f'data-status="{html.escape(snap.status)}"><h3>{t("actions", lang)} · '
            f'{html.escape(snap.code)}</h3><div class="s">{t("status", lang)}{sep}{status}{flag}'
            + ("" if actions else f' · {t("no_actions", lang)}') + "</div></div>")
        buttons = []
        for action in actions:
            spec = TRANSITIONS[action]
            kind = "danger" if action in ("reject", "return") else "primary"
            button = pn.widgets.Button(label=spec.en if lang == "en" else spec.zh,
                                       color=kind, margin=(4, 4))
            button.on_click(lambda _e, a=action: self.act(a))
            buttons.append(button)
        self.buttons.objects = buttons
        merge: list[Any] = []
        if self.duplicates:
            self.merge_header.object = (f'<div class="cc-act"><div class="s">'
                                        f'{t("possible_duplicates", lang)}</div></div>')
            self.merge_buttons.objects = [self._merge_button(d) for d in self.duplicates]
            merge = [self.merge_header, self.merge_buttons]
        inputs: list[Any] = []
        if "reject" in actions:
            inputs.append(self.reason)
        if any(a in ("dispatch", "redispatch") for a in actions):
            self.department.options = self._department_options()
            self.department.value = self._default_target(snap)
            inputs.append(self.department)
        if actions:
            needs_note = any(TRANSITIONS[a].needs_note for a in actions)
            self.note.placeholder = t("note_needed" if needs_note else "note_optional", lang)
            inputs.append(self.note)
        self.view.objects = [self.header, self.buttons, *merge, *inputs, self.message]

    def _merge_button(self, dup: DuplicateCandidate) -> pn.widgets.Button:
        status = label(EVENT_STATUS_LABELS, dup.status, self.language)
        button = pn.widgets.Button(
            label=f"{t('merge_into', self.language)} {dup.code} ({status}, {dup.distance_m:g} m)",
            color="warning", margin=(4, 4), css_classes=["cc-merge"])
        button.on_click(lambda _e, into=dup.event_id: self.merge(into))
        return button

    @property
    def inputs(self) -> list[str]:
        """Which inputs are on screen (``reason``, ``department``, ``note``)."""
        shown = {id(w) for w in self.view.objects}
        return [name for name, w in (("reason", self.reason), ("department", self.department),
                                     ("note", self.note)) if id(w) in shown]

    @property
    def shown(self) -> bool:
        """Whether the panel shows an event."""
        return bool(self.view.objects)

    def _default_target(self, snap: EventSnapshot) -> str | None:
        codes = [c for c, _zh, _en in self._departments or []]
        if snap.status == "dispatched":  # a re-dispatch goes elsewhere
            codes = [c for c in codes if c != snap.department]
        if snap.default_department in codes:
            return snap.default_department
        return codes[0] if codes else None

    def act(self, action: str) -> ActionOutcome | None:
        """Take ``action`` on the event on screen with the inputs as they are now."""
        snap = self.snapshot
        if snap is None or self.user is None:
            return None
        note = getattr(self.note, "value_input", None) or self.note.value
        outcome = run_action(self.engine, self.user, snap.event_id, action,
                             expected_version=snap.version, note=note,
                             department=self.department.value, reason=self.reason.value,
                             sla=self.sla, language=self.language)
        return self._after(snap, outcome)

    def merge(self, into_event_id: int) -> ActionOutcome | None:
        """Merge the event on screen into ``into_event_id`` as its duplicate."""
        snap = self.snapshot
        if snap is None or self.user is None:
            return None
        outcome = run_merge(self.engine, self.user, snap.event_id, into_event_id,
                            expected_version=snap.version, language=self.language)
        return self._after(snap, outcome)

    def _after(self, snap: EventSnapshot, outcome: ActionOutcome) -> ActionOutcome:
        """Show the outcome; redraw when the event moved (or a conflict showed it had)."""
        cls = "ok" if outcome.ok else "err"
        self.message.object = (f'<div class="cc-msg {cls}" role="status" '
                               f'data-conflict="{int(outcome.conflict)}">'
                               f"{html.escape(outcome.message)}</div>")
        if outcome.ok:
            self.note.param.update(value="", value_input="")
        moved = outcome.state is not None and outcome.state.version != snap.version
        if outcome.ok or outcome.conflict or moved:
            # Show the event as it is now: its new version, its status, the buttons it has.
            self.show(snap.event_id, keep_message=True)
            if self.on_change is not None:
                self.on_change(snap.event_id)
        return outcome


def panel_for(app: Any, state: Any, on_change: Callable[[int], None] | None = None
              ) -> ActionPanel:
    """An :class:`ActionPanel` for the session ``state`` of ``app`` (SLA from the settings)."""
    return ActionPanel(app.engine, state.user, state.language,
                       sla=SlaRule.from_settings(app.settings), on_change=on_change)
