"""Typed errors of the closed loop, each with the HTTP status an API maps it to."""

from __future__ import annotations

from dataclasses import dataclass

from gis.catalog import EVENT_STATUS_LABELS, label
from gis.errors import CommandCenterError


@dataclass(frozen=True, slots=True)
class EventState:
    """What an event looks like right now: enough for a client to refresh and retry."""

    event_id: int
    code: str
    status: str
    version: int
    department: str | None
    supervised: bool

    def describe(self, language: str = "zh") -> str:
        """``SJ2026… 处置中（版本 4）`` / ``SJ2026… handling (version 4)``."""
        status = label(EVENT_STATUS_LABELS, self.status, language)
        if language == "en":
            return f"{self.code} {status} (version {self.version})"
        return f"{self.code} {status}（版本 {self.version}）"


class LoopError(CommandCenterError):
    """Base of the closed-loop errors; ``current`` is the event's state when known."""

    http_status = 400

    def __init__(self, zh: str, en: str | None = None,
                 current: EventState | None = None) -> None:
        super().__init__(zh, en)
        self.current = current


class IllegalTransition(LoopError):
    """The action does not apply to the event's current status (or needs a missing input)."""

    http_status = 409


class NotPermitted(LoopError):
    """The role (or the acting department) may not take this action on this event."""

    http_status = 403


class Conflict(LoopError):
    """Someone else changed (or is changing) the event: refresh and try again."""

    http_status = 409
