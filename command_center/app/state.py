"""Per-session state, keyed on the session's Bokeh document (the idea of ``lumen/state.py``).

Every browser tab that opens a page gets its own Bokeh document; its user, language, basemap
and selection live in a :class:`SessionState` found through that document and dropped when the
session ends. Nothing about a user is kept in module globals or ``pn.state.cache``: two
officers on one server never see each other's selection.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import panel as pn

from command_center.app.auth import UserInfo

_STATES: weakref.WeakKeyDictionary[Any, SessionState] = weakref.WeakKeyDictionary()


@dataclass
class SessionState:
    """What one browser session knows: who, in which language, looking at what."""

    user: UserInfo | None
    language: str = "zh"
    basemap: str = "osm"
    selected_event: int | None = None
    selected_camera: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def get_state(document: Any = None) -> SessionState | None:
    """The state of ``document`` (the current session's when None), or None if unset."""
    doc = document if document is not None else pn.state.curdoc
    return _STATES.get(doc) if doc is not None else None


def set_state(state: SessionState, document: Any = None) -> SessionState:
    """Attach ``state`` to ``document`` (the current session's when None)."""
    doc = document if document is not None else pn.state.curdoc
    if doc is None:
        raise RuntimeError("no Bokeh document: not inside a Panel session")
    _STATES[doc] = state
    return state


def drop_state(document: Any) -> None:
    """Forget the state of a finished session (also happens when the document is collected)."""
    _STATES.pop(document, None)


def live_sessions() -> int:
    """How many sessions hold state (for tests and the admin view)."""
    return len(_STATES)


def reset() -> None:
    """Forget every session's state (tests only)."""
    _STATES.clear()
