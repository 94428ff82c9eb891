"""An event's timeline (办理过程) from ``event_log``: who did what, in which role, when.

One line per log row, oldest first: the action's label, the move between statuses, the actor
and their role, the target department of a dispatch, the reason of a rejection, the note, and
the time in ``ui.timezone``. Every text that a person typed (actor names, notes) is escaped:
the timeline is HTML, and a note must never become markup.
"""

from __future__ import annotations

import html
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from command_center.app.i18n import t
from gis.catalog import EVENT_STATUS_LABELS, Label, label
from gis.loop.states import REJECT_REASONS, ROLE_LABELS, TRANSITIONS

#: Action labels: the loop's transitions plus the log rows that are not transitions (the
#: demo's ``report`` row and older free-form entries).
ACTION_LABELS: dict[str, Label] = {
    "report": Label("上报", "reported"),
    "handle": Label("处置", "handled"),
    "comment": Label("备注", "comment"),
    **{code: Label(tr.zh, tr.en) for code, tr in TRANSITIONS.items()},
}

TIMELINE_CSS = """
.cc-tl { list-style:none; margin:6px 0; padding:0 0 0 14px; border-left:2px solid #22385a; }
.cc-tl li { margin:0 0 8px; position:relative; }
.cc-tl li:before { content:""; position:absolute; left:-20px; top:5px; width:10px;
  height:10px; border-radius:50%; background:#1f6feb; }
.cc-tl .m { color:#9fb3cf; font-size:12px; }
.cc-tl .n { white-space:pre-wrap; word-break:break-word; }
"""

_TIMELINE_SQL = sa.text("""
SELECT l.id, l.at, l.actor, l.role, l.action, l.from_status, l.to_status, l.department_code,
       d.name_zh AS department_name, d.name_en AS department_name_en, l.reason, l.note
FROM event_log l LEFT JOIN department d ON d.code = l.department_code
WHERE l.event_id = :id ORDER BY l.id
""")


def timeline(session: Session, event_id: int) -> list[dict[str, Any]]:
    """The event's log rows, in chain order (oldest first), with the department's names.

    Examples
    --------
    >>> [r["action"] for r in timeline(session, 42)]  # doctest: +SKIP
    ['report', 'accept', 'dispatch']
    """
    return [dict(r) for r in session.execute(_TIMELINE_SQL, {"id": event_id}).mappings()]


def _status(code: str | None, language: str) -> str:
    return label(EVENT_STATUS_LABELS, code, language) if code else "—"


def timeline_html(entries: list[dict[str, Any]], language: str, tz: Any) -> str:
    """The timeline as an HTML list (``ul.cc-tl``, one ``li`` per row with ``data-action``)."""
    if not entries:
        return f"<p>{t('no_log', language)}</p>"
    items = []
    for e in entries:
        name = label(ACTION_LABELS, e["action"], language) if e["action"] in ACTION_LABELS \
            else e["action"]
        move = ""
        if e["to_status"] and e["to_status"] != e["from_status"]:
            move = (f" · {_status(e['from_status'], language)} → "
                    f"{_status(e['to_status'], language)}")
        role = (f" ({label(ROLE_LABELS, e['role'], language)})"
                if e["role"] in ROLE_LABELS else "")
        extra, sep = [], (": " if language == "en" else "：")
        if e["department_code"]:
            dept = (e["department_name_en"] if language == "en" else e["department_name"]) \
                or e["department_code"]
            extra.append(f"{t('department', language)}{sep}{html.escape(dept)}")
        if e["reason"]:
            reason = (label(REJECT_REASONS, e["reason"], language)
                      if e["reason"] in REJECT_REASONS else e["reason"])
            extra.append(f"{t('reason', language)}{sep}{html.escape(reason)}")
        extra_html = f'<div>{" · ".join(extra)}</div>' if extra else ""
        note = f'<div class="n">{html.escape(e["note"])}</div>' if e["note"] else ""
        when = e["at"].astimezone(tz).strftime("%Y-%m-%d %H:%M")
        items.append(
            f'<li data-action="{html.escape(e["action"])}"><b>{html.escape(name)}</b>{move}'
            f'<div class="m">{when} · {t("actor", language)} {html.escape(e["actor"])}{role}'
            f"</div>{extra_html}{note}</li>")
    return f'<ul class="cc-tl">{"".join(items)}</ul>'
