"""What the wall reads from the database: KPIs, the newest events, the event to watch.

Every query is small and indexed (``reported_at``, ``status``, the primary key), so a wall
refreshes them on each live notification without scanning the event table; the three-light
state always comes from the ``open_events`` query of :mod:`layers.build` (one rule for map,
wall and events page).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import OPEN_STATUSES
from gis.queries import kpis
from layers.build import QUERIES, YELLOW_SHARE, three_light

URGENT_PRIORITIES = ("urgent", "critical")
ON_TIME_DAYS = 30


def _open_events_sql(where: str) -> str:
    return QUERIES["open_events"].format(where=where)


def _light_params(now: dt.datetime) -> dict[str, Any]:
    return {"now": now, "yellow": YELLOW_SHARE, "open": list(OPEN_STATUSES)}


@dataclass(frozen=True)
class WallKpis:
    """The numbers on the wall."""

    today: int
    open: int
    red: int
    yellow: int
    on_time_rate: float | None
    cameras_online: int
    cameras_total: int
    cameras_checked: int  # cameras whose health the relay has established

    @property
    def online_share(self) -> float | None:
        """Cameras online as a share of the cameras checked; None before any check.

        A camera the relay has not probed yet is neither online nor offline: counting it as
        offline showed a freshly started wall 0 % while its mosaic was live.
        """
        return self.cameras_online / self.cameras_checked if self.cameras_checked else None


def local_midnight(now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Today's midnight in ``tz`` (the wall's "today")."""
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def wall_kpis(session: Session, tz: dt.tzinfo, now: dt.datetime | None = None) -> WallKpis:
    """Events reported today, open events by light, 30-day on-time rate, cameras online.

    Examples
    --------
    >>> k = wall_kpis(session, ZoneInfo("Asia/Shanghai"))  # doctest: +SKIP
    >>> k.red <= k.open  # doctest: +SKIP
    True
    """
    now = now or dt.datetime.now(dt.UTC)
    today = session.execute(sa.text("SELECT count(*) FROM event WHERE reported_at >= :m"),
                            {"m": local_midnight(now, tz)}).scalar_one()
    lights = dict(session.execute(sa.text(
        f"SELECT light, count(*) FROM ({_open_events_sql('true')}) q GROUP BY light"),
        _light_params(now)).all())
    total = kpis(session, level="street", start=now - dt.timedelta(days=ON_TIME_DAYS),
                 end=now, now=now)[-1]
    online, cameras, checked = session.execute(sa.text(
        "SELECT count(*) FILTER (WHERE health_status = 'online'), count(*), "
        "count(*) FILTER (WHERE health_status <> 'unknown') FROM camera")).one()
    return WallKpis(int(today), int(sum(lights.values())), int(lights.get("red", 0)),
                    int(lights.get("yellow", 0)), total.on_time_rate, int(online),
                    int(cameras), int(checked))


@dataclass(frozen=True)
class FeedItem:
    """One line of the rolling list of newest events."""

    id: int
    code: str
    category_code: str
    source_channel: str
    status: str
    priority: str
    address: str | None
    grid_code: str | None
    reported_at: dt.datetime
    light: str


_NEWEST_SQL = sa.text("""
SELECT e.id, e.code, e.category_code, e.source_channel, e.status, e.priority, e.address,
       g.code AS grid_code, e.reported_at, e.accepted_at, e.deadline_at
FROM event e LEFT JOIN grid g ON g.id = e.grid_id
ORDER BY e.reported_at DESC, e.id DESC LIMIT :n
""")


def newest_events(session: Session, n: int = 12,
                  now: dt.datetime | None = None) -> list[FeedItem]:
    """The ``n`` most recently reported events, newest first, with their light."""
    now = now or dt.datetime.now(dt.UTC)
    out = []
    for r in session.execute(_NEWEST_SQL, {"n": n}).mappings():
        is_open = r["status"] in OPEN_STATUSES
        light = (three_light(r["deadline_at"], r["accepted_at"] or r["reported_at"], now)
                 if is_open else "none")
        out.append(FeedItem(r["id"], r["code"], r["category_code"], r["source_channel"],
                            r["status"], r["priority"], r["address"], r["grid_code"],
                            r["reported_at"], light))
    return out


def focus_event(session: Session, now: dt.datetime | None = None) -> int | None:
    """The newest open event that is urgent/critical or red: its cameras go on the wall."""
    now = now or dt.datetime.now(dt.UTC)
    sql = (f"SELECT id FROM ({_open_events_sql('true')}) q "
           "WHERE light = 'red' OR priority = ANY(:urgent) "
           "ORDER BY reported_at DESC, id DESC LIMIT 1")
    return session.execute(sa.text(sql), {**_light_params(now),
                                          "urgent": list(URGENT_PRIORITIES)}).scalar()


def needs_cameras(session: Session, event_id: int, now: dt.datetime | None = None) -> bool:
    """Whether ``event_id`` is open and urgent/critical or red (one row by primary key)."""
    now = now or dt.datetime.now(dt.UTC)
    row = session.execute(sa.text(
        f"SELECT light, priority FROM ({_open_events_sql('e.id = :eid')}) q"),
        {**_light_params(now), "eid": event_id}).first()
    return row is not None and (row[0] == "red" or row[1] in URGENT_PRIORITIES)
