"""Three lights (三灯) of an open event, one rule in Python and in SQL.

* ``red`` (已超时): overdue, ``now > deadline``;
* ``yellow`` (即将超时): not overdue, and less than ``yellow_share`` of the allowed time is left:
  ``deadline - now < yellow_share × (deadline - started)``; at the deadline itself an event is
  yellow (no time left, not yet late: closing now is still on time, see :mod:`gis.loop.sla`);
* ``green`` (正常): otherwise;
* ``none`` (无时限): no deadline yet (reported, not accepted).

``started`` is when the clock started: ``accepted_at``, or ``reported_at`` for rows without one.
:func:`light` and :func:`light_sql` must agree; the tests check them against each other at the
boundaries.
"""

from __future__ import annotations

import datetime as dt

from gis.loop.sla import DEFAULT_YELLOW_SHARE

LIGHTS = ("green", "yellow", "red", "none")
#: SQL for when an event's clock started, over ``event e``.
STARTED_SQL = "coalesce(e.accepted_at, e.reported_at)"


def light(deadline: dt.datetime | None, started: dt.datetime, now: dt.datetime,
          yellow_share: float = DEFAULT_YELLOW_SHARE) -> str:
    """``green`` / ``yellow`` / ``red`` / ``none`` for an open event at ``now``.

    Examples
    --------
    >>> t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    >>> h = dt.timedelta(hours=1)
    >>> [light(t0 + 10 * h, t0, t0 + k * h) for k in (7, 8, 10, 11)]
    ['green', 'yellow', 'yellow', 'red']
    >>> light(None, t0, t0)
    'none'
    """
    if deadline is None:
        return "none"
    if now > deadline:
        return "red"
    if deadline - now < yellow_share * (deadline - started):
        return "yellow"
    return "green"


def light_sql(deadline: str = "e.deadline_at", started: str = STARTED_SQL,
              now: str = ":now", yellow_share: str = ":yellow") -> str:
    """A SQL ``CASE`` giving the same light as :func:`light`.

    Parameters
    ----------
    deadline, started
        SQL expressions (``timestamptz``) for the deadline and the clock start.
    now, yellow_share
        SQL expressions, by default the bind parameters ``:now`` and ``:yellow``.

    Examples
    --------
    >>> sql = f"SELECT {light_sql()} AS light FROM event e"
    >>> "CASE" in sql
    True
    """
    return (f"CASE WHEN {deadline} IS NULL THEN 'none' "
            f"WHEN CAST({now} AS timestamptz) > {deadline} THEN 'red' "
            f"WHEN {deadline} - CAST({now} AS timestamptz) "
            f"< CAST({yellow_share} AS double precision) * ({deadline} - {started}) "
            "THEN 'yellow' ELSE 'green' END")


def light_params(now: dt.datetime, yellow_share: float = DEFAULT_YELLOW_SHARE
                 ) -> dict[str, object]:
    """Bind parameters for :func:`light_sql` with its default parameter names."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return {"now": now, "yellow": yellow_share}
