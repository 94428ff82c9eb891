"""三灯一牌 board, the supervision list (督办) and a department's reminders, for the events page.

Each is a small view of one session, built from the loop's own queries so the screen and the
numbers cannot disagree: :func:`gis.loop.board.board` (open events by light, supervised, closed
and closed on time this month, on-time rate per department / street / grid),
:func:`gis.loop.supervision.supervision_list` and :func:`gis.loop.supervision.reminders` /
:func:`~gis.loop.supervision.mark_read`. Names come from the database, so they are escaped.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import panel as pn
import sqlalchemy as sa

from command_center.app.event_panel import LIGHT_COLORS
from command_center.app.i18n import t
from command_center.app.loop_ui import departments
from gis.catalog import EVENT_STATUS_LABELS, label
from gis.db import session_scope
from gis.errors import CommandCenterError
from gis.loop.board import BoardRow, board
from gis.loop.sla import SlaRule
from gis.loop.supervision import (
    ReminderRow,
    SupervisedEvent,
    mark_read,
    reminders,
    supervision_list,
)
from gis.scrub import scrub

log = logging.getLogger("command_center.app")
LEVELS = ("department", "street", "grid")

BOARD_CSS = """
.cc-board { color:#e6edf7; font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
  font-size:14px; }
.cc-board a.ev { color:#8ab4ff; text-decoration:none; }
.cc-board table { border-collapse:collapse; width:100%; }
.cc-board th { background:#13223a; color:#9fb3cf; font-weight:normal; text-align:right;
  padding:5px 8px; position:sticky; top:0; }
.cc-board th:first-child, .cc-board td:first-child { text-align:left; }
.cc-board td { padding:4px 8px; border-bottom:1px solid #22385a; text-align:right; }
.cc-board tr.total td { font-weight:600; border-top:2px solid #1f6feb; }
.cc-board .dot { display:inline-block; width:10px; height:10px; border-radius:50%;
  margin-right:4px; }
.cc-board .zero { color:#56657a; }
.cc-board ul { list-style:none; padding:0; margin:0; }
.cc-board li { padding:6px 8px; border-bottom:1px solid #22385a; }
.cc-board li .m { color:#9fb3cf; font-size:12px; }
.cc-board .empty { color:#9fb3cf; padding:12px; }
"""


def _n(value: int) -> str:
    return f'<span class="zero">{value}</span>' if value == 0 else str(value)


def _rate(row: BoardRow) -> str:
    rate = row.on_time_rate
    return "—" if rate is None else f"{rate * 100:.1f}%"


def board_html(rows: list[BoardRow], language: str) -> str:
    """The board as an HTML table; each row carries its counts as ``data-*`` attributes."""
    head = "".join(
        f"<th>{text}</th>" for text in (
            t("area", language),
            *(f'<span class="dot" style="background:{LIGHT_COLORS[k]}"></span>'
              f'{t("light_" + k, language)}' for k in ("red", "yellow", "green")),
            t("open_n", language), t("supervised_n", language), t("closed_n", language),
            t("on_time_n", language), t("on_time_rate", language)))
    body = []
    for r in rows:
        total = r.level == "district"
        name = t("district_total", language) if total else (r.area_name or r.area_code)
        attrs = (f'data-area="{html.escape(r.area_code or "")}" data-red="{r.red}" '
                 f'data-yellow="{r.yellow}" data-green="{r.green}" '
                 f'data-supervised="{r.supervised}" data-closed="{r.closed}" '
                 f'data-closed-on-time="{r.closed_on_time}"')
        body.append(
            f'<tr{" class=total" if total else ""} {attrs}><td>{html.escape(name)}</td>'
            f"<td>{_n(r.red)}</td><td>{_n(r.yellow)}</td><td>{_n(r.green)}</td>"
            f"<td>{_n(r.open)}</td><td>{_n(r.supervised)}</td><td>{_n(r.closed)}</td>"
            f"<td>{_n(r.closed_on_time)}</td><td>{_rate(r)}</td></tr>")
    return (f'<div class="cc-board" data-board="{html.escape(rows[0].level if rows else "")}">'
            f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _link(event_id: int, code: str) -> str:
    """The event's code as a link that opens it on the events page (``?event=``)."""
    return f'<a class="ev" href="events?event={int(event_id)}"><b>{html.escape(code)}</b></a>'


def supervision_html(items: list[SupervisedEvent], language: str, tz: Any,
                     names: dict[str, str]) -> str:
    """The supervision list (``li[data-event]``), the longest supervised first."""
    if not items:
        return f'<div class="cc-board"><div class="empty">{t("no_supervised", language)}</div>'\
               "</div>"
    lines = []
    for s in items:
        dept = html.escape(names.get(s.department or "", s.department or "—"))
        when = s.supervised_at.astimezone(tz).strftime("%m-%d %H:%M") if s.supervised_at else "—"
        due = s.deadline_at.astimezone(tz).strftime("%m-%d %H:%M") if s.deadline_at else "—"
        color = LIGHT_COLORS.get(s.light, LIGHT_COLORS["none"])
        reason = f"<div>{html.escape(s.reason)}</div>" if s.reason else ""
        lines.append(
            f'<li data-event="{s.event_id}"><span class="dot" style="background:{color}"></span>'
            f"{_link(s.event_id, s.code)} · {label(EVENT_STATUS_LABELS, s.status, language)}"
            f' · {dept}<div class="m">{t("supervised_at", language)} {when} · '
            f'{t("deadline", language)} {due}</div>{reason}</li>')
    return f'<div class="cc-board"><ul>{"".join(lines)}</ul></div>'


def reminders_html(items: list[ReminderRow], language: str, tz: Any) -> str:
    """A department's unread reminders (``li[data-reminder]``), newest first."""
    if not items:
        return f'<div class="cc-board"><div class="empty">{t("no_reminders", language)}</div>'\
               "</div>"
    lines = [
        f'<li data-reminder="{r.id}" data-event="{r.event_id}">{_link(r.event_id, r.code)} · '
        f'{t("reminder_due_soon", language)}<div class="m">{t("deadline", language)} '
        f'{r.deadline_at.astimezone(tz).strftime("%m-%d %H:%M")}</div></li>' for r in items]
    return f'<div class="cc-board"><ul>{"".join(lines)}</ul></div>'


class LoopViews:
    """The board, supervision and reminder tabs of one events-page session."""

    def __init__(self, engine: sa.Engine, settings: Any, user: Any, language: str,
                 tz: Any) -> None:
        self.engine, self.user, self.language, self.tz = engine, user, language, tz
        self.sla = SlaRule.from_settings(settings)
        lang = language
        self.level = pn.widgets.RadioButtonGroup(
            options={t("level_" + k, lang): k for k in LEVELS}, value="department",
            color="primary", variant="outline")
        self.level.param.watch(lambda _e: self.refresh_board(), "value")
        self.board = pn.pane.HTML("", stylesheets=[BOARD_CSS], sizing_mode="stretch_width")
        self.supervision = pn.pane.HTML("", stylesheets=[BOARD_CSS],
                                        sizing_mode="stretch_width")
        self.reminders = pn.pane.HTML("", stylesheets=[BOARD_CSS], sizing_mode="stretch_width")
        self.mark = pn.widgets.Button(label=t("mark_all_read", lang), color="primary")
        self.mark.on_click(lambda _e: self.mark_all_read())
        self.reminder_ids: list[int] = []
        self.rows: list[BoardRow] = []

    @property
    def sees_supervision(self) -> bool:
        """Leaders, duty officers and administrators follow the supervision list."""
        return bool(self.user) and self.user.role in ("leader", "duty_officer", "admin")

    @property
    def sees_reminders(self) -> bool:
        """A department user gets their department's reminders."""
        return bool(self.user) and self.user.role == "department" and bool(self.user.department)

    def _fail(self, pane: pn.pane.HTML, exc: Exception) -> None:
        log.error("events page loop view: %s", scrub(exc))
        pane.object = f'<div class="cc-board"><div class="empty">{t("db_error", self.language)}'\
                      "</div></div>"

    def refresh_board(self) -> None:
        """Recompute the board at the chosen level (a few milliseconds in the database)."""
        try:
            with session_scope(self.engine) as session:
                self.rows = board(session, level=self.level.value, sla=self.sla)
        except (CommandCenterError, sa.exc.SQLAlchemyError) as exc:
            self._fail(self.board, exc)
            return
        self.board.object = board_html(self.rows, self.language)

    def refresh_supervision(self) -> None:
        """Re-read the open supervised events."""
        try:
            with session_scope(self.engine) as session:
                items = supervision_list(session, sla=self.sla)
                names = {code: en if self.language == "en" else zh
                         for code, zh, en in departments(session)}
        except (CommandCenterError, sa.exc.SQLAlchemyError) as exc:
            self._fail(self.supervision, exc)
            return
        self.supervision.object = supervision_html(items, self.language, self.tz, names)

    def refresh_reminders(self) -> None:
        """Re-read the department's unread reminders."""
        if not self.sees_reminders:
            return
        try:
            with session_scope(self.engine) as session:
                items = reminders(session, self.user.department)
        except (CommandCenterError, sa.exc.SQLAlchemyError) as exc:
            self._fail(self.reminders, exc)
            return
        self.reminder_ids = [r.id for r in items]
        self.reminders.object = reminders_html(items, self.language, self.tz)
        self.mark.visible = bool(items)

    def mark_all_read(self) -> int:
        """Mark the reminders on screen read; returns how many changed."""
        if not self.sees_reminders or not self.reminder_ids:
            return 0
        with session_scope(self.engine) as session:
            changed = mark_read(session, self.user.department, self.reminder_ids)
        self.refresh_reminders()
        return changed

    def refresh(self) -> None:
        """Re-read everything this session shows."""
        self.refresh_board()
        if self.sees_supervision:
            self.refresh_supervision()
        self.refresh_reminders()

    def tabs(self) -> list[tuple[str, pn.viewable.Viewable]]:
        """``(title, view)`` pairs for the page's tabs, by role."""
        lang = self.language
        refresh = pn.widgets.Button(label=t("refresh", lang), color="default")
        refresh.on_click(lambda _e: self.refresh())
        out: list[tuple[str, pn.viewable.Viewable]] = [(t("tab_board", lang), pn.Column(
            pn.Row(self.level, refresh), self.board, sizing_mode="stretch_both",
            styles={"overflow-y": "auto"}))]
        if self.sees_supervision:
            out.append((t("tab_supervision", lang), pn.Column(
                self.supervision, sizing_mode="stretch_both", styles={"overflow-y": "auto"})))
        if self.sees_reminders:
            out.append((t("tab_reminders", lang), pn.Column(
                self.mark, self.reminders, sizing_mode="stretch_both",
                styles={"overflow-y": "auto"})))
        return out
