"""Deadlines (时限) per category and priority, and the one definition of "on time".

The rule: ``deadline = accepted_at + hours(category) × factor(priority)``, in elapsed hours.
China keeps no daylight-saving time, so elapsed hours and wall-clock hours in Asia/Shanghai are
the same; a deadline crossing midnight simply lands on the next day. The deadline is returned in
the configured time zone (for display) but is an absolute instant (stored as ``timestamptz``).

The defaults come from :data:`gis.catalog.EVENT_CATEGORIES` (hours) and
:data:`DEFAULT_PRIORITY_FACTOR`; ``[sla]`` in the configuration overrides them, and the demo
generator uses the same :class:`SlaRule`, so generated and live deadlines agree.

On time (按期办结): an event is closed on time when ``closed_at <= deadline_at``; closing at the
deadline itself is on time; an event closed without a deadline is not on time. The on-time rate
of a period is ``closed on time ÷ closed``, over events whose status is ``closed`` and whose
``closed_at`` falls in the half-open period (rejected events are not "closed").

This module imports no database code: ``config.settings`` takes its defaults from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from gis.catalog import EVENT_CATEGORIES, EVENT_PRIORITIES

if TYPE_CHECKING:
    from config.settings import Settings

#: Share of the allowed time below which an open event turns yellow.
DEFAULT_YELLOW_SHARE = 0.25
#: Deadline multiplier per priority: urgent events get half the time, critical a quarter.
DEFAULT_PRIORITY_FACTOR: dict[str, float] = {"normal": 1.0, "urgent": 0.5, "critical": 0.25}
#: Hours per category, from the catalog.
DEFAULT_CATEGORY_HOURS: dict[str, float] = {c.code: float(c.deadline_hours)
                                            for c in EVENT_CATEGORIES}
DEFAULT_TIMEZONE = "Asia/Shanghai"

assert set(DEFAULT_PRIORITY_FACTOR) == set(EVENT_PRIORITIES)

#: SQL predicates of the on-time rule, for queries over ``event e``. Kept next to
#: :func:`is_on_time` so the two cannot drift apart.
CLOSED_IN_PERIOD_SQL = "(e.status = 'closed' AND e.closed_at >= :start AND e.closed_at < :end)"
ON_TIME_SQL = "(e.closed_at <= e.deadline_at)"


@dataclass(frozen=True)
class SlaRule:
    """Hours per category, factor per priority, the yellow share and the local time zone."""

    category_hours: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_HOURS))
    priority_factor: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_FACTOR))
    yellow_share: float = DEFAULT_YELLOW_SHARE
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_settings(cls, settings: Settings) -> SlaRule:
        """The rule configured in ``[sla]`` (time zone from ``ui.timezone``)."""
        sla = settings.sla
        return cls(dict(sla.category_hours), dict(sla.priority_factor), sla.yellow_share,
                   settings.ui.timezone)

    def hours(self, category: str, priority: str) -> float:
        """Allowed hours for an event of ``category`` and ``priority``.

        Raises
        ------
        KeyError
            For an unknown category or priority (the database would refuse them too).

        Examples
        --------
        >>> SlaRule().hours("security_hazard", "urgent")
        6.0
        """
        return float(self.category_hours[category]) * float(self.priority_factor[priority])

    def deadline(self, accepted_at: dt.datetime, category: str, priority: str) -> dt.datetime:
        """The deadline of an event accepted at ``accepted_at`` (aware), in the local zone.

        Examples
        --------
        >>> t = dt.datetime(2026, 3, 1, 22, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
        >>> SlaRule().deadline(t, "sanitation", "urgent").isoformat()
        '2026-03-02T10:30:00+08:00'
        """
        if accepted_at.tzinfo is None:
            raise ValueError("accepted_at must carry a time zone")
        local = accepted_at.astimezone(ZoneInfo(self.timezone))
        # Microsecond rounding keeps the stored value exact (PostgreSQL keeps microseconds).
        delta = dt.timedelta(microseconds=round(self.hours(category, priority) * 3.6e9))
        return local + delta


DEFAULT_RULE = SlaRule()


def is_on_time(closed_at: dt.datetime | None, deadline_at: dt.datetime | None) -> bool:
    """Whether an event closed at ``closed_at`` was closed on time (see the module docstring).

    Examples
    --------
    >>> t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> is_on_time(t, t), is_on_time(t + dt.timedelta(seconds=1), t), is_on_time(t, None)
    (True, False, False)
    """
    return closed_at is not None and deadline_at is not None and closed_at <= deadline_at


def on_time_rate(closed: int, closed_on_time: int) -> float | None:
    """``closed_on_time / closed``; None when nothing was closed."""
    return closed_on_time / closed if closed else None
