"""Old courtyards (老旧院落) and the residents' renovation questionnaires.

Courtyards are small rotated rectangles (some with a corner cut or a jittered outline), 40-150 m
across, placed only in urban grids, never overlapping each other. Each courtyard's
``survey_summary`` is computed from the very responses written for it, so the planning page
and the questionnaire table always agree.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.demo import names
from gis.demo.divisions import Divisions
from gis.demo.space import core_xy, wgs84_multipolygon

PRIORITIES: tuple[str, ...] = ("加装电梯", "雨污分流", "停车", "安防监控", "绿化", "外墙保温",
                               "管网改造", "适老化改造", "充电桩", "路面硬化")
AGE_GROUPS: tuple[str, ...] = ("40岁以下", "40-59岁", "60岁及以上")
#: The issue's figures: 586 courtyards and about 6,000 questionnaires.
RESPONSES_PER_COURTYARD = 6000 / 586
_STATUS_MIX = {"completed": 0.40, "in_progress": 0.15, "planned": 0.20, "not_started": 0.25}
_GAP_M = 8.0  # minimum clearance between two courtyards
_INSET_M = 3.0  # clearance from the grid edge
_MAX_MISSES = 5_000


@dataclass
class CourtyardPlan:
    code: str
    name_zh: str
    road: str
    address: str
    grid: int
    shape_m: BaseGeometry
    shape: shapely.MultiPolygon
    buildings: int
    households: int
    built_year: int
    status: str
    batch: int | None
    completed_on: dt.date | None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class SurveyPlan:
    courtyard: int
    answered_at: dt.datetime
    answers: dict[str, Any]


def _size(rng: np.random.Generator) -> tuple[float, float, float]:
    """Width, depth and a circumradius (with room for the jitter) of a courtyard."""
    w = float(rng.uniform(40, 150))
    h = float(np.clip(w * rng.uniform(0.45, 1.0), 40, 150))
    return w, h, float(np.hypot(w, h) / 2 * 1.05)


def _outline(rng: np.random.Generator, cx: float, cy: float, w: float, h: float
             ) -> BaseGeometry:
    """A ``w`` × ``h`` courtyard footprint around ``(cx, cy)``, rotated, maybe a corner cut."""
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    corners += rng.uniform(-0.04, 0.04, size=(4, 2)) * min(w, h)
    if rng.random() < 0.3:  # a corner cut off by an older building or a lane
        k = int(rng.integers(4))
        a, b, c = corners[k - 1], corners[k], corners[(k + 1) % 4]
        cut = rng.uniform(0.2, 0.4)
        corners = np.insert(corners, k + 1, b + (c - b) * cut, axis=0)
        corners[k] = b + (a - b) * cut
    theta = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    ring = corners @ rot.T + [cx, cy]
    return shapely.Polygon(ring)


def _place(div: Divisions, n: int, rng: np.random.Generator) -> list[tuple[int, BaseGeometry]]:
    urban = [i for i, g in enumerate(div.grids) if g.urban]
    if not urban or n == 0:
        return []
    core = core_xy()
    # Older housing clusters near the old town: weight by households and closeness.
    weight = np.array([div.grids[i].households * np.exp(
        -np.hypot(*(np.array(div.grids[i].shape_m.centroid.coords[0]) - core)) / 2500)
        for i in urban])
    weight /= weight.sum()
    insets = {i: div.grids[i].shape_m.buffer(-_INSET_M) for i in urban}
    for g in insets.values():
        shapely.prepare(g)
    centres = np.empty((n, 2))
    radii = np.empty(n)
    placed: list[tuple[int, BaseGeometry]] = []
    misses = 0
    picks: list[int] = []
    # Stop when the urban grids are full: a long run of misses means no room is left.
    while len(placed) < n and misses < _MAX_MISSES:
        misses += 1
        if not picks:
            picks = [urban[i] for i in rng.choice(len(urban), size=256, p=weight)][::-1]
        gi = picks.pop()
        minx, miny, maxx, maxy = insets[gi].bounds
        if maxx <= minx or maxy <= miny:
            continue
        cx, cy = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        w, h, r = _size(rng)
        k = len(placed)
        # The cheap test first: circumcircles clear of every courtyard already placed.
        if k and np.any(np.hypot(centres[:k, 0] - cx, centres[:k, 1] - cy)
                        < radii[:k] + r + _GAP_M):
            continue
        shape = _outline(rng, cx, cy, w, h)
        if not insets[gi].contains(shape):
            continue
        centres[k], radii[k] = (cx, cy), r
        placed.append((gi, shape))
        misses = 0
    return placed


def _status(rng: np.random.Generator, end: dt.date) -> tuple[str, int | None, dt.date | None]:
    status = str(rng.choice(list(_STATUS_MIX), p=list(_STATUS_MIX.values())))
    year = end.year
    if status == "completed":
        batch = int(rng.integers(2019, max(2020, year)))
        start = dt.date(batch, 4, 1)
        last = min(dt.date(batch, 12, 20), end - dt.timedelta(days=1))
        span = max((last - start).days, 0)
        return status, batch, start + dt.timedelta(days=int(rng.integers(span + 1)))
    if status == "in_progress":
        return status, int(year - rng.integers(0, 2)), None
    if status == "planned":
        return status, min(year + int(rng.integers(0, 2)), max(year, 2026)), None
    return status, None, None


def build_courtyards(div: Divisions, n: int, adcode: str, end: dt.date, tz: dt.tzinfo,
                     rng: np.random.Generator) -> tuple[list[CourtyardPlan], list[SurveyPlan]]:
    """``n`` courtyards in urban grids and their questionnaire responses.

    Parameters
    ----------
    div
        The divisions; only grids flagged urban receive courtyards.
    n
        Number of courtyards (fewer when the urban grids cannot hold them).
    adcode
        Code prefix (``511002-YL-0001``).
    end
        Last day of the demo period: no completion or answer lies after it.
    tz
        Time zone of the answer timestamps (Asia/Shanghai).
    rng
        Source of all randomness.
    """
    courtyards: list[CourtyardPlan] = []
    used: set[str] = set()
    for k, (gi, shape_m) in enumerate(_place(div, n, rng), start=1):
        road = names.ROAD_NAMES[int(rng.integers(len(names.ROAD_NAMES)))]
        number = int(rng.integers(1, 320))
        buildings = int(np.clip(round(shape_m.area / 1800 * rng.uniform(0.7, 1.3)), 1, 14))
        status, batch, done = _status(rng, end)
        courtyards.append(CourtyardPlan(
            code=f"{adcode}-YL-{k:04d}", name_zh=names.courtyard_name(rng, road, number, used),
            road=road, address=f"{road}{number}号", grid=gi, shape_m=shape_m,
            shape=wgs84_multipolygon(shape_m), buildings=buildings,
            households=int(buildings * rng.integers(12, 37)),
            built_year=int(rng.integers(1975, 2001)), status=status, batch=batch,
            completed_on=done))
    surveys = _surveys(courtyards, end, tz, rng)
    return courtyards, surveys


def _answer_day(c: CourtyardPlan, end: dt.date, rng: np.random.Generator) -> dt.date:
    if c.completed_on is not None:  # satisfaction survey a few months after completion
        day = c.completed_on + dt.timedelta(days=int(rng.integers(30, 150)))
    elif c.batch is not None:  # consultation in the year before the works
        day = dt.date(c.batch - 1, 1, 1) + dt.timedelta(days=int(rng.integers(365)))
    else:
        day = end - dt.timedelta(days=int(rng.integers(1, 365)))
    return min(day, end - dt.timedelta(days=1))


def _surveys(courtyards: list[CourtyardPlan], end: dt.date, tz: dt.tzinfo,
             rng: np.random.Generator) -> list[SurveyPlan]:
    if not courtyards:
        return []
    target = len(courtyards) * RESPONSES_PER_COURTYARD
    rate = target / sum(c.households for c in courtyards)
    out: list[SurveyPlan] = []
    for ci, c in enumerate(courtyards):
        n = max(3, round(c.households * rate * rng.uniform(0.8, 1.2)))
        willing_p = rng.uniform(0.6, 0.97)
        contribute_p = willing_p * rng.uniform(0.25, 0.7)
        mean_sat = rng.uniform(3.6, 4.6) if c.status == "completed" else rng.uniform(2.0, 3.3)
        prio_w = rng.dirichlet(np.ones(len(PRIORITIES)) * 0.8)
        if c.buildings and c.built_year < 1995:
            prio_w[0] += 0.15  # walk-ups without lifts: 加装电梯 tops the list
        prio_w /= prio_w.sum()
        day = _answer_day(c, end, rng)
        rows: list[dict[str, Any]] = []
        for _ in range(n):
            willing = bool(rng.random() < willing_p)
            k = int(rng.integers(1, 4))
            prio = [PRIORITIES[i] for i in sorted(rng.choice(len(PRIORITIES), k, replace=False,
                                                               p=prio_w))]
            contribute = willing and bool(rng.random() < contribute_p / willing_p)
            answers = {
                "willing": willing,
                "priorities": prio,
                "satisfaction": int(np.clip(round(rng.normal(mean_sat, 0.9)), 1, 5)),
                "contribute": contribute,
                "contribute_yuan": int(rng.choice([500, 1000, 2000, 3000, 5000]))
                if contribute else 0,
                "age_group": AGE_GROUPS[int(rng.choice(3, p=[0.2, 0.35, 0.45]))],
                "household_size": int(rng.integers(1, 6)),
            }
            rows.append(answers)
            moment = dt.datetime.combine(
                day + dt.timedelta(days=int(rng.integers(0, 10))), dt.time(8), tzinfo=tz
            ) + dt.timedelta(minutes=int(rng.integers(0, 12 * 60)))
            last = dt.datetime.combine(end, dt.time(0), tzinfo=tz) - dt.timedelta(minutes=1)
            out.append(SurveyPlan(ci, min(moment, last), answers))
        c.summary = summarize(rows)
    return out


def summarize(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``survey_summary`` of a courtyard from its responses' answers."""
    n = len(answers)
    if n == 0:
        return {"responses": 0}
    counts = Counter(p for a in answers for p in a["priorities"])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], PRIORITIES.index(kv[0])))
    return {
        "responses": n,
        "willing_rate": round(sum(a["willing"] for a in answers) / n, 3),
        "contribute_rate": round(sum(a["contribute"] for a in answers) / n, 3),
        "satisfaction_avg": round(sum(a["satisfaction"] for a in answers) / n, 2),
        "priority_counts": dict(ranked),
        "top_priorities": [p for p, _ in ranked[:3]],
    }
