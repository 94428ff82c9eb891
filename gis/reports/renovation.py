"""Old-courtyard renovation: progress by batch and status, and event density before/after.

Survey rule (``survey_response.answers`` is JSONB; the demo and the questionnaire import write
``{"willing": true|false, "satisfaction": 1..5, …}``):

* a respondent is **willing** when ``answers.willing`` is JSON ``true`` (or the text ``true``,
  ``yes``, ``是``, ``愿意``); unwilling for ``false`` / ``no`` / ``否`` / ``不愿意``; a response
  without a readable answer is left out of the share's denominator;
* **satisfaction** is the mean of ``answers.satisfaction`` over responses giving a number
  from 1 to 5.

Progress uses each courtyard's current status and batch and all its responses (the schema
keeps no history of either).

Before/after, for each courtyard of the area whose renovation was completed
(``renovation_status = 'completed'`` and ``renovation_completed_on`` before the report's
reference day ``R`` = the local day of ``min(period end, now)``):

* completion instant ``C`` = local midnight starting ``renovation_completed_on``;
* window ``W = min(365, R − C, C − D)`` days, where ``D`` is the local day of the first event
  in the database: the same number of days before and after, never past the data;
* events counted: reported in ``[C − W, C)`` (before) or ``[C, C + W)`` (after), whose point
  lies in the courtyard polygon or within :data:`BUFFER_M` metres of it (events just outside
  the wall, at the gate or on the lane, belong to the courtyard's life);
* ``per100 = 100 × events / households``; ``change = per100_after − per100_before``;
  courtyards with ``W < 1`` or no households keep their row with NaN numbers;
* extra columns ``per100_before_<category>`` / ``per100_after_<category>`` for every category
  of :data:`gis.catalog.EVENT_CATEGORIES`, in catalog order;
* by batch: pooled over the batch's courtyards with ``W ≥ 1`` and households,
  ``100 × Σ events / Σ households`` on each side (every courtyard brings equal windows to
  both sides, so the change is still like for like).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import EVENT_CATEGORIES, RENOVATION_LABELS, RENOVATION_STATUSES
from gis.reports.area import AREA_JOIN, area_condition, area_params
from gis.reports.model import Area

__all__ = ["BEFORE_AFTER_COLUMNS", "BUFFER_M", "MAX_WINDOW_DAYS", "PROGRESS_COLUMNS",
           "before_after", "by_batch", "progress"]

#: Metres around a courtyard's polygon within which an event counts as the courtyard's.
BUFFER_M = 30.0
#: The longest window on each side of a completion.
MAX_WINDOW_DAYS = 365

PROGRESS_COLUMNS = ["batch", "status", "label_zh", "courtyards", "households", "surveyed",
                    "willing_share"]
BEFORE_AFTER_COLUMNS = ["courtyard_code", "name_zh", "batch", "completed_on", "households",
                        "window_days", "events_before", "events_after", "per100_before",
                        "per100_after", "change", "survey_responses", "satisfaction"]
BY_BATCH_COLUMNS = ["batch", "courtyards", "households", "per100_before", "per100_after",
                    "change"]
CATEGORY_CODES = [c.code for c in EVENT_CATEGORIES]

_YES = "('true', 'yes', 'y', '1', '是', '愿意')"
_NO = "('false', 'no', 'n', '0', '否', '不愿意')"
_SURVEY = f"""
SELECT r.courtyard_id, count(*) AS n,
       count(*) FILTER (WHERE lower(r.answers ->> 'willing') IN {_YES}) AS willing,
       count(*) FILTER (WHERE lower(r.answers ->> 'willing') IN {_YES}
                           OR lower(r.answers ->> 'willing') IN {_NO}) AS answered,
       avg((r.answers ->> 'satisfaction')::numeric)
         FILTER (WHERE r.answers ->> 'satisfaction' ~ '^[1-5](\\.0*)?$') AS satisfaction
FROM survey_response r GROUP BY r.courtyard_id
"""

_PROGRESS = f"""
SELECT y.renovation_batch, y.renovation_status, count(*), sum(y.households),
       COALESCE(sum(s.n), 0), COALESCE(sum(s.willing), 0), COALESCE(sum(s.answered), 0)
FROM courtyard y {{join}}
LEFT JOIN ({_SURVEY}) s ON s.courtyard_id = y.id
WHERE {{area}}
GROUP BY 1, 2
"""


def progress(session: Session, area: Area) -> pd.DataFrame:
    """Courtyards, households, responses and willingness by batch and renovation status."""
    rows = session.execute(sa.text(_PROGRESS.format(join=AREA_JOIN.format(alias="y"),
                                                    area=area_condition(area))),
                           area_params(area)).all()
    order = {s: i for i, s in enumerate(RENOVATION_STATUSES)}
    rows = sorted(rows, key=lambda r: (r[0] is None, r[0] or 0, order.get(r[1], 99)))
    out = pd.DataFrame(
        [(r[0], r[1], RENOVATION_LABELS[r[1]].zh if r[1] in RENOVATION_LABELS else r[1],
          int(r[2]), int(r[3] or 0), int(r[4]), (int(r[5]) / int(r[6])) if r[6] else None)
         for r in rows], columns=PROGRESS_COLUMNS)
    out["batch"] = out["batch"].astype("Int64")
    return out.astype({"willing_share": float})


_BEFORE_AFTER = """
WITH y AS (
  SELECT y.id, y.code, y.name_zh, y.renovation_batch AS batch,
         y.renovation_completed_on AS done, y.households, y.geom,
         GREATEST(LEAST(:max_days, CAST(:ref AS date) - y.renovation_completed_on,
                        y.renovation_completed_on - CAST(:first AS date)), 0) AS w,
         (y.renovation_completed_on::timestamp AT TIME ZONE :tz) AS c
  FROM courtyard y {join}
  WHERE ({area}) AND y.renovation_status = 'completed'
    AND y.renovation_completed_on IS NOT NULL
    AND y.renovation_completed_on < CAST(:ref AS date)
), z AS (
  SELECT y.*, ST_Transform(ST_Buffer(ST_Transform(y.geom, 4544), :buffer), 4326) AS zone
  FROM y
)
SELECT z.id, z.code, z.name_zh, z.batch, z.done, z.households, z.w, e.cat, e.before, e.after
FROM z LEFT JOIN LATERAL (
  SELECT e.category_code AS cat,
         count(*) FILTER (WHERE e.reported_at < z.c) AS before,
         count(*) FILTER (WHERE e.reported_at >= z.c) AS after
  FROM event e
  WHERE z.w > 0 AND e.geom && z.zone AND ST_Intersects(z.zone, e.geom)
    AND e.reported_at >= z.c - make_interval(days => z.w)
    AND e.reported_at < z.c + make_interval(days => z.w)
  GROUP BY e.category_code
) e ON true
"""


def before_after(session: Session, area: Area, reference: dt.datetime, *, timezone: str,
                 buffer_m: float = BUFFER_M) -> pd.DataFrame:
    """Events per 100 households before and after each finished renovation (see module doc).

    Parameters
    ----------
    session
        An open session.
    area
        Courtyards of this area (through their grid).
    reference
        ``min(period end, now)``: completions from its local day on are not counted, and no
        window reaches past it.
    timezone
        The district's time zone (local days).
    buffer_m
        Metres around the courtyard polygon within which an event counts.
    """
    ref_day = reference.astimezone(_zone(timezone)).date()
    first = session.execute(sa.text("SELECT min(reported_at) FROM event")).scalar()
    first_day = first.astimezone(_zone(timezone)).date() if first is not None else ref_day
    rows = session.execute(sa.text(_BEFORE_AFTER.format(
        join=AREA_JOIN.format(alias="y"), area=area_condition(area))), {
        **area_params(area), "ref": ref_day, "first": first_day, "tz": timezone,
        "max_days": MAX_WINDOW_DAYS, "buffer": float(buffer_m)}).all()
    surveys = {r[0]: (int(r[1]), r[4]) for r in session.execute(sa.text(_SURVEY)).all()}
    base: dict[int, list] = {}
    counts: dict[tuple[int, str], tuple[int, int]] = {}
    for r in rows:
        base.setdefault(r[0], [r[1], r[2], r[3], r[4], int(r[5]), int(r[6])])
        if r[7] is not None:
            counts[(r[0], r[7])] = (int(r[8]), int(r[9]))
    records = []
    for cid, (code, name, batch, done, households, w) in base.items():
        before = sum(v[0] for (c, _), v in counts.items() if c == cid)
        after = sum(v[1] for (c, _), v in counts.items() if c == cid)
        n_resp, satisfaction = surveys.get(cid, (0, None))
        usable = w >= 1 and households > 0

        def per(n: int, households: int = households, usable: bool = usable) -> float:
            return 100.0 * n / households if usable else np.nan

        rec = {"courtyard_code": code, "name_zh": name, "batch": batch, "completed_on": done,
               "households": households, "window_days": w,
               "events_before": before, "events_after": after,
               "per100_before": per(before), "per100_after": per(after),
               "change": per(after) - per(before), "survey_responses": n_resp,
               "satisfaction": float(satisfaction) if satisfaction is not None else np.nan}
        for cat in CATEGORY_CODES:
            b, a = counts.get((cid, cat), (0, 0))
            rec[f"per100_before_{cat}"] = per(b)
            rec[f"per100_after_{cat}"] = per(a)
        records.append(rec)
    columns = BEFORE_AFTER_COLUMNS + [f"per100_{side}_{cat}" for cat in CATEGORY_CODES
                                      for side in ("before", "after")]
    out = pd.DataFrame(records, columns=columns)
    out = out.sort_values(["batch", "completed_on", "courtyard_code"], ignore_index=True)
    for c in ("households", "window_days", "events_before", "events_after",
              "survey_responses"):
        out[c] = out[c].astype("int64")
    out["batch"] = out["batch"].astype("Int64")
    return out


def by_batch(before_after_frame: pd.DataFrame) -> pd.DataFrame:
    """Per batch, pooled: ``100 × Σ events / Σ households`` over usable courtyards."""
    usable = before_after_frame[(before_after_frame["window_days"] >= 1)
                                & (before_after_frame["households"] > 0)]
    if usable.empty:
        return pd.DataFrame(columns=BY_BATCH_COLUMNS)
    g = usable.groupby("batch", dropna=False).agg(
        courtyards=("courtyard_code", "size"), households=("households", "sum"),
        before=("events_before", "sum"), after=("events_after", "sum")).reset_index()
    g["per100_before"] = 100.0 * g["before"] / g["households"]
    g["per100_after"] = 100.0 * g["after"] / g["households"]
    g["change"] = g["per100_after"] - g["per100_before"]
    return g[BY_BATCH_COLUMNS].reset_index(drop=True)


def _zone(timezone: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(timezone)
