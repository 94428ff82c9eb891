"""Two years of grid events with the rhythms of a real command centre.

Timing: days are drawn with a weekly rhythm (fewest on Sundays), a gentle upward trend and a
summer bump; hours peak mid-morning and mid-afternoon. The closed loop: acceptance minutes after
the report, deadline = acceptance + the category's hours (urgent ×½, critical ×¼), closure at a
random fraction of the deadline, except an exact share of late closures so the on-time rate
(closed by the deadline ÷ closed) equals the configured one. Whatever would close after the
end of the period is still open, in the status its progress suggests; a few recent events got
stuck and are overdue.

Places: near courtyards, along roads, anywhere in urban grids and a few in the countryside.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely

from gis.catalog import EVENT_CATEGORIES, EVENT_SOURCES
from gis.demo.cameras import RoadNet
from gis.demo.courtyards import CourtyardPlan
from gis.demo.divisions import Divisions
from gis.demo.names import ROAD_NAMES
from gis.demo.space import FloatArray, points_in
from gis.demo.templates import describe
from gis.loop.sla import DEFAULT_PRIORITY_FACTOR, DEFAULT_RULE, SlaRule

SOURCE_MIX = {"grid_patrol": 0.55, "hotline_12345": 0.25, "online_petition": 0.07,
              "leaders_hotline": 0.03, "email": 0.03, "video": 0.07}
PRIORITY_MIX = {"normal": 0.88, "urgent": 0.10, "critical": 0.02}
# The deadline rule is the closed loop's (gis/loop/sla.py); the name stays for old imports.
PRIORITY_DEADLINE_FACTOR = DEFAULT_PRIORITY_FACTOR
# Monday … Sunday
_WEEKDAY = np.array([1.06, 1.04, 1.02, 1.0, 0.98, 0.78, 0.58])
_HOURLY = np.array([0.15, 0.08, 0.05, 0.05, 0.06, 0.12, 0.35, 0.8, 1.5, 2.3, 2.6, 2.2,
                    1.3, 1.2, 2.0, 2.4, 2.3, 1.8, 1.2, 0.9, 0.7, 0.5, 0.35, 0.22])
# Where events happen: near a courtyard, along a road, anywhere in an urban grid, countryside.
_PLACE_MIX = np.array([0.38, 0.37, 0.15, 0.10])
_STREET_PLACE_MIX = np.array([0.15, 0.65, 0.12, 0.08])  # street-level categories
_STREET_CATEGORIES = {"city_appearance", "traffic", "market", "pollution"}
_REJECTED_SHARE = 0.004
_STUCK_SHARE, _STUCK_DAYS = 0.03, 45
_RETURNED_SHARE = 0.08
_PENDING_SHARE = 0.4
_WRITTEN = {"online_petition", "email", "leaders_hotline"}


@dataclass
class EventPlan:
    code: str
    category: str
    source: str
    priority: str
    status: str
    description: str
    address: str
    xy: tuple[float, float]
    department: str | None
    reported_at: dt.datetime
    accepted_at: dt.datetime | None
    deadline_at: dt.datetime | None
    closed_at: dt.datetime | None


def _pick(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    keys = list(mix)
    p = np.array([mix[k] for k in keys])
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _report_times(n: int, days: int, end: dt.date, tz: dt.tzinfo,
                  rng: np.random.Generator) -> list[dt.datetime]:
    first = end - dt.timedelta(days=days)
    dates = [first + dt.timedelta(days=d) for d in range(days)]
    w = np.array([_WEEKDAY[d.weekday()] * (0.9 + 0.2 * i / max(days - 1, 1))
                  * (1 + 0.12 * np.sin(2 * np.pi * (d.timetuple().tm_yday - 100) / 365.25))
                  for i, d in enumerate(dates)])
    per_day = rng.multinomial(n, w / w.sum())
    hours = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    seconds = rng.integers(0, 3600, size=n)
    out = []
    k = 0
    for d, count in zip(dates, per_day, strict=True):
        midnight = dt.datetime.combine(d, dt.time(0), tzinfo=tz)
        for _ in range(count):
            out.append(midnight + dt.timedelta(hours=int(hours[k]), seconds=int(seconds[k])))
            k += 1
    return sorted(out)


def _grid_pool(div: Divisions, urban: bool, n: int, rng: np.random.Generator
               ) -> tuple[FloatArray, list[int]]:
    """``n`` random points in urban (by households) or rural (by area) grids, and their grid."""
    idx = [i for i, g in enumerate(div.grids) if g.urban == urban] or list(range(len(div.grids)))
    w = np.array([div.grids[i].households if urban else div.grids[i].shape_m.area for i in idx])
    picks = rng.choice(len(idx), size=n, p=w / w.sum())
    xy = np.empty((n, 2))
    for j in np.unique(picks):
        rows = np.flatnonzero(picks == j)
        xy[rows] = points_in(div.grids[idx[j]].shape_m, len(rows), rng)
    return xy, [idx[j] for j in picks]


def _places(div: Divisions, courtyards: list[CourtyardPlan], roads: RoadNet,
            categories: np.ndarray, sources: np.ndarray, rng: np.random.Generator
            ) -> tuple[FloatArray, list[str], list[str], list[str]]:
    """Location, place phrase, road and address of every event."""
    n = len(categories)
    street = np.isin(categories, list(_STREET_CATEGORIES))
    mode = np.where(street, rng.choice(4, n, p=_STREET_PLACE_MIX), rng.choice(4, n, p=_PLACE_MIX))
    mode[sources == "video"] = 1  # video alarms come from road cameras
    if not courtyards:
        mode[mode == 0] = 2
    if len(roads.xy) == 0:
        mode[mode == 1] = 2
    xy = np.empty((n, 2))
    place, road, address = [""] * n, [""] * n, [""] * n
    urban_xy, urban_grid = _grid_pool(div, True, n, rng)
    rural_xy, rural_grid = _grid_pool(div, False, n, rng)
    cy_centre = np.array([c.shape_m.centroid.coords[0] for c in courtyards]).reshape(-1, 2)
    j_weight = np.where(roads.urban, 1.0, 0.08)
    junction = rng.choice(len(roads.xy), size=n, p=j_weight / j_weight.sum()) if len(roads.xy) \
        else np.zeros(n, dtype=int)
    inner = div.boundary_m.buffer(-3)
    shapely.prepare(inner)
    for i in range(n):
        m = int(mode[i])
        if m == 0:
            c = int(rng.integers(len(courtyards)))
            xy[i] = cy_centre[c] + rng.normal(0, 35, 2)
            place[i], road[i], address[i] = courtyards[c].name_zh, courtyards[c].road, \
                courtyards[c].address
        elif m == 1:
            j = int(junction[i])
            arm = roads.axis_u[j] if rng.random() < 0.5 else roads.axis_v[j]
            side = roads.axis_v[j] if arm is roads.axis_u[j] else roads.axis_u[j]
            along = rng.uniform(-0.5, 0.5) * roads.block_m[j]
            xy[i] = roads.xy[j] + arm * along + side * rng.normal(0, 8)
            name = roads.road_v[j] if arm is roads.axis_u[j] else roads.road_u[j]
            road[i] = name
            if abs(along) < 25:
                address[i] = f"{roads.road_u[j]}与{roads.road_v[j]}交叉口"
            else:
                address[i] = f"{name}{int(rng.integers(1, 400))}号附近"
            place[i] = address[i].removesuffix("附近")
        else:
            pts, grids = (urban_xy, urban_grid) if m == 2 else (rural_xy, rural_grid)
            xy[i] = pts[i]
            g = div.grids[grids[i]]
            comm = div.communities[g.community].name_zh
            road[i] = f"{comm}主干道" if m == 3 else ROAD_NAMES[int(rng.integers(len(ROAD_NAMES)))]
            address[i] = f"{comm}{int(rng.integers(1, 12))}组" if m == 3 else \
                f"{road[i]}{int(rng.integers(1, 400))}号"
            place[i] = f"{comm}居民点" if m == 3 else address[i]
        if not shapely.contains_xy(inner, xy[i, 0], xy[i, 1]):
            xy[i] = urban_xy[i]  # jitter pushed it out of the district: use the urban draw
    return xy, place, road, address


def build_events(div: Divisions, courtyards: list[CourtyardPlan], roads: RoadNet, n: int,
                 days: int, end: dt.date, tz: dt.tzinfo, on_time_rate: float,
                 rng: np.random.Generator, sla: SlaRule = DEFAULT_RULE) -> list[EventPlan]:
    """``n`` events reported in the ``days`` days before ``end`` (midnight, ``tz``).

    Parameters
    ----------
    div, courtyards, roads
        The places events happen at.
    n, days
        How many events over how many days.
    end
        The day the period ends (exclusive): the demo's "today".
    tz
        Local time zone (Asia/Shanghai) for the daily rhythm.
    on_time_rate
        Share of closed events closed by their deadline.
    rng
        Source of all randomness.
    sla
        The deadline rule (hours per category × factor per priority), the live loop's.
    """
    if n == 0:
        return []
    now = dt.datetime.combine(end, dt.time(0), tzinfo=tz)
    reported = _report_times(n, days, end, tz, rng)
    cats = list(EVENT_CATEGORIES)
    shares = np.array([c.share for c in cats])
    cat_idx = rng.choice(len(cats), size=n, p=shares / shares.sum())
    categories = np.array([cats[i].code for i in cat_idx], dtype=object)
    sources = _pick(rng, SOURCE_MIX, n)
    assert set(SOURCE_MIX) <= set(EVENT_SOURCES)
    priorities = _pick(rng, PRIORITY_MIX, n)
    xy, place, road, address = _places(div, courtyards, roads, categories, sources, rng)

    # Acceptance: minutes by day, a longer wait at night; hotline tickets arrive pre-sorted.
    accept_min = rng.lognormal(np.log(25), 0.7, n)
    hours = np.array([r.hour for r in reported])
    accept_min *= np.where((hours < 7) | (hours >= 22), 4.0, 1.0)
    accept_min *= np.where(sources == "hotline_12345", 0.6, 1.0)
    # Written channels (petitions, mail, the leaders' mailbox) wait hours for a clerk.
    accept_min *= np.where(np.isin(sources, list(_WRITTEN)), 12.0, 1.0)
    deadline_h = np.array([sla.hours(cats[i].code, str(p))
                           for i, p in zip(cat_idx, priorities, strict=True)])
    fraction = np.clip(rng.beta(2.2, 2.8, n) * 0.95, 0.02, 0.95)
    lateness = 1.0 + rng.exponential(0.35, n) + 0.01
    accepted = [r + dt.timedelta(minutes=float(m)) for r, m in zip(reported, accept_min,
                                                                   strict=True)]
    deadline = [a + dt.timedelta(hours=float(h)) for a, h in zip(accepted, deadline_h,
                                                                 strict=True)]
    closes = [a + dt.timedelta(hours=float(h * f)) for a, h, f in zip(accepted, deadline_h,
                                                                      fraction, strict=True)]
    rejected = rng.random(n) < _REJECTED_SHARE
    stuck = (rng.random(n) < _STUCK_SHARE) & np.array(
        [(now - r).days < _STUCK_DAYS for r in reported]) & ~rejected
    closed = np.array([c <= now for c in closes]) & ~stuck & ~rejected
    # Exactly the configured share of closed events is late, chosen among those whose late
    # closure still falls before "now" (so the number of closed events does not change).
    late_close = [a + dt.timedelta(hours=float(h * x)) for a, h, x in zip(accepted, deadline_h,
                                                                         lateness, strict=True)]
    eligible = np.flatnonzero(closed & np.array([lc <= now for lc in late_close]))
    n_late = min(len(eligible), round(int(closed.sum()) * (1.0 - on_time_rate)))
    late = set(rng.choice(eligible, size=n_late, replace=False).tolist()) if n_late else set()

    events: list[EventPlan] = []
    per_day: dict[dt.date, int] = {}
    for i in range(n):
        day = reported[i].date()
        per_day[day] = per_day.get(day, 0) + 1
        acc: dt.datetime | None = accepted[i]
        dl: dt.datetime | None = deadline[i]
        closed_at: dt.datetime | None = None
        if rejected[i]:
            status, acc, dl = "rejected", None, None
        elif closed[i]:
            status, closed_at = "closed", late_close[i] if i in late else closes[i]
        elif acc is not None and acc > now:
            status, acc, dl = "reported", None, None
        else:
            status = _open_status(rng, reported[i], closes[i], now, bool(stuck[i]))
            if status == "accepted" and rng.random() < _PENDING_SHARE:
                status, acc, dl = "reported", None, None  # still in the intake queue
        events.append(EventPlan(
            code=f"SJ{day:%Y%m%d}{per_day[day]:04d}", category=str(categories[i]),
            source=str(sources[i]), priority=str(priorities[i]), status=status,
            description=describe(rng, str(categories[i]), place[i], road[i]),
            address=address[i], xy=(float(xy[i, 0]), float(xy[i, 1])),
            department=None if status in ("reported", "accepted", "rejected")
            else cats[cat_idx[i]].department,
            reported_at=reported[i], accepted_at=acc, deadline_at=dl, closed_at=closed_at))
    return events


def _open_status(rng: np.random.Generator, reported: dt.datetime, planned_close: dt.datetime,
                 now: dt.datetime, stuck: bool) -> str:
    """The status of an event still open at ``now``, from how far along its handling is."""
    if rng.random() < _RETURNED_SHARE or (stuck and rng.random() < 0.3):
        return "returned"
    if stuck:
        return str(rng.choice(["dispatched", "handling", "handled"]))
    total = (planned_close - reported).total_seconds()
    progress = (now - reported).total_seconds() / max(total, 1.0)
    for limit, status in ((0.15, "accepted"), (0.35, "dispatched"), (0.7, "handling"),
                          (0.9, "handled")):
        if progress < limit:
            return status
    return "verified"
