"""Writing intakes: one statement inserts a batch of events with their grids and log rows.

:func:`submit_many` is the group-commit path of the intake API: the reports that arrived while
the previous transaction ran are written by *one* ``INSERT … SELECT FROM unnest(…)`` that

* keeps only points inside the district (the same ``district_part`` test the database's
  ``event_inside_district`` trigger makes, so the trigger never fails the whole batch);
* gives each event its grid by point-in-polygon (``ST_Intersects`` on the grid index; a point
  on the border of two grids gets the smaller id, as :func:`gis.queries.assign_event_grids`);
* inserts the events as ``reported`` and, in the same statement, one ``report`` row each in the
  hash-chained ``event_log`` (the chain trigger numbers and hashes them);
* finds the duplicate candidates of every new event: open events of the same category within
  :attr:`~gis.loop.intake.IntakeLimits.duplicate_radius_m` (a geography ``ST_DWithin``,
  served by ``event_geog_idx``) reported earlier within the window, among the stored events
  and among the earlier reports of the same batch (the statement's snapshot does not hold its
  own new rows, so those are compared in the statement). Duplicates are only *offered*;
  :func:`merge_duplicate` is the officer's decision.

One statement means one round trip: the writer runs it in autocommit mode, where it is its own
transaction. The spatial test runs first behind an ``OFFSET 0`` fence: left to itself the
planner ANDs the ``reported_at`` index (thousands of rows from the last day) with the spatial
one (a handful within 50 m), which made each lookup ~20x slower on a million events.
:func:`find_duplicates` is the same lookup for events already stored.

A batch the database refuses anyway (a category deleted meanwhile …) is retried report by
report, each in its own savepoint, so one bad report never fails its neighbours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import EVENT_SOURCE_LABELS, OPEN_STATUSES
from gis.errors import NotFound
from gis.loop.actions import transition
from gis.loop.errors import IllegalTransition
from gis.loop.intake import DEFAULT_LIMITS, Intake, IntakeInvalid, IntakeLimits, OutsideDistrict
from gis.loop.sla import DEFAULT_RULE, SlaRule
from gis.models import Event
from gis.scrub import scrub

#: Code prefix of events that came in through the intake (demo events use ``SJ``).
CODE_PREFIX = "RQ"
MAX_CANDIDATES = 10

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ord", "int"), ("lon", "float8"), ("lat", "float8"), ("category", "text"),
    ("channel", "text"), ("priority", "text"), ("description", "text"), ("title", "text"),
    ("address", "text"), ("external_id", "text"), ("media_url", "text"),
    ("reporter_name", "text"), ("reporter_phone", "text"), ("reporter_email", "text"),
    ("api_client_id", "int"), ("actor", "text"), ("note", "text"))

_NOW = "COALESCE(CAST(:now AS timestamptz), now())"
# The duplicate test for candidate ``d`` of new event ``o``; ``d`` is reported before ``o``.
_SAME = "d.category_code = o.category AND d.status = ANY(:open) AND d.duplicate_of IS NULL"
_INSERT = f"""
WITH input AS MATERIALIZED (
  SELECT t.*, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) AS geom
  FROM unnest({", ".join(f"CAST(:{n} AS {t}[])" for n, t in _COLUMNS)})
       AS t({", ".join(n for n, _ in _COLUMNS)})
),
ok AS MATERIALIZED (
  SELECT x.*, :prefix || to_char({_NOW} AT TIME ZONE :tz, 'YYYYMMDD') || '-' || x.id AS code
  FROM (SELECT i.*, nextval(pg_get_serial_sequence('event', 'id')) AS id
        FROM input i
        WHERE EXISTS (SELECT 1 FROM district_part p WHERE ST_Intersects(p.geom, i.geom))
        ORDER BY i.ord) x
),
ins AS (
  INSERT INTO event (id, code, category_code, source_channel, priority, status, description,
                     title, address, geom, grid_id, reported_at, external_id, media_url,
                     reporter_name, reporter_phone, reporter_email, api_client_id)
  SELECT o.id, o.code, o.category, o.channel, o.priority, 'reported', o.description, o.title,
         o.address, o.geom, (SELECT min(g.id) FROM grid g WHERE ST_Intersects(g.geom, o.geom)),
         {_NOW}, o.external_id, o.media_url, o.reporter_name, o.reporter_phone,
         o.reporter_email, o.api_client_id
  FROM ok o ORDER BY o.id
  RETURNING id, grid_id
),
logged AS (
  INSERT INTO event_log (event_id, at, actor, action, from_status, to_status, note)
  SELECT ins.id, {_NOW}, o.actor, 'report', NULL, 'reported', o.note
  FROM ins JOIN ok o ON o.id = ins.id ORDER BY ins.id
  RETURNING event_id
),
dups AS (
  -- events already stored (this statement's snapshot does not hold the new rows) …
  SELECT o.id AS new_id, d.id, d.code, d.status, d.reported_at,
         ST_Distance(d.geom::geography, o.geom::geography) AS distance_m
  FROM ok o CROSS JOIN LATERAL (
    SELECT d.* FROM (SELECT * FROM event d WHERE ST_DWithin(d.geom::geography,
                     o.geom::geography, :radius) OFFSET 0) d
    WHERE {_SAME} AND (d.reported_at, d.id) < ({_NOW}, o.id)
      AND d.reported_at >= {_NOW} - CAST(:window_h AS float8) * interval '1 hour'
    ORDER BY d.geom::geography <-> o.geom::geography, d.id LIMIT :max) d
  UNION ALL
  -- … and the earlier reports of this very batch
  SELECT o.id, m.id, m.code, 'reported', {_NOW},
         ST_Distance(m.geom::geography, o.geom::geography)
  FROM ok o JOIN ok m ON m.id < o.id AND m.category = o.category
   AND ST_DWithin(m.geom::geography, o.geom::geography, :radius)
)
SELECT i.ord, o.id, o.code, g.code AS grid_code, {_NOW} AS reported_at,
       (SELECT json_agg(json_build_object('id', d.id, 'code', d.code, 'status', d.status,
                                          'at', d.reported_at, 'm', d.distance_m))
        FROM dups d WHERE d.new_id = o.id) AS duplicates
FROM input i LEFT JOIN ok o ON o.ord = i.ord
LEFT JOIN ins ON ins.id = o.id
LEFT JOIN grid g ON g.id = ins.grid_id
ORDER BY i.ord
"""

_DUPLICATES = """
SELECT n.id AS new_id, d.id, d.code, d.status, d.reported_at,
       ST_Distance(d.geom::geography, n.geom::geography) AS distance_m
FROM event n
CROSS JOIN LATERAL (
  SELECT d.id, d.code, d.status, d.reported_at, d.geom
  FROM (SELECT * FROM event d
        WHERE ST_DWithin(d.geom::geography, n.geom::geography, :radius) OFFSET 0) d
  WHERE d.category_code = n.category_code AND d.status = ANY(:open)
    AND d.duplicate_of IS NULL AND d.reported_at >= CAST(:since AS timestamptz)
    AND (d.reported_at, d.id) < (n.reported_at, n.id)
  ORDER BY d.geom::geography <-> n.geom::geography, d.id
  LIMIT :max
) d
WHERE n.id = ANY(:ids)
ORDER BY n.id, distance_m, d.id
"""


@dataclass(frozen=True, slots=True)
class DuplicateCandidate:
    """An open event the new one may repeat (offered, never merged automatically)."""

    event_id: int
    code: str
    status: str
    reported_at: dt.datetime
    distance_m: float


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """A written intake: the new event, its grid, its deadline if accepted now, duplicates."""

    event_id: int
    code: str
    grid_code: str | None
    reported_at: dt.datetime
    expected_at: dt.datetime
    duplicates: list[DuplicateCandidate] = field(default_factory=list)


def _outside() -> OutsideDistrict:
    return OutsideDistrict("位置不在辖区范围内，请核对经纬度（WGS84）",
                           "the location lies outside the district: check lat/long (WGS84)",
                           "lat")


def _params(intakes: Sequence[Intake]) -> dict[str, list[object]]:
    params: dict[str, list[object]] = {name: [] for name, _ in _COLUMNS}
    for i, intake in enumerate(intakes):
        label = EVENT_SOURCE_LABELS.get(intake.channel)
        note = f"{label.zh} / {label.en}" if label else intake.channel
        values = {"ord": i, "note": note}
        for name, _ in _COLUMNS:
            params[name].append(values[name] if name in values else getattr(intake, name))
    return params


def find_duplicates(session: Session, event_ids: Sequence[int], *, now: dt.datetime,
                    limits: IntakeLimits = DEFAULT_LIMITS
                    ) -> dict[int, list[DuplicateCandidate]]:
    """Duplicate candidates of each event in ``event_ids``, nearest first.

    A candidate is open, of the same category, within ``limits.duplicate_radius_m`` metres
    (on the spheroid), reported before the event and not earlier than
    ``now - limits.duplicate_window_h``, and not itself merged into another event.
    """
    found: dict[int, list[DuplicateCandidate]] = {int(i): [] for i in event_ids}
    if not found:
        return found
    rows = session.execute(sa.text(_DUPLICATES), {
        "ids": list(found), "radius": limits.duplicate_radius_m, "open": list(OPEN_STATUSES),
        "since": now - dt.timedelta(hours=limits.duplicate_window_h),
        "max": MAX_CANDIDATES}).all()
    for row in rows:
        found[int(row[0])].append(DuplicateCandidate(int(row[1]), row[2], row[3], row[4],
                                                     round(float(row[5]), 1)))
    return found


Written = tuple[int, str, str | None, list[DuplicateCandidate]]


def _candidates(raw: list[dict[str, object]] | None) -> list[DuplicateCandidate]:
    found = [DuplicateCandidate(int(str(d["id"])), str(d["code"]), str(d["status"]),
                                dt.datetime.fromisoformat(str(d["at"])),
                                round(float(str(d["m"])), 1))
             for d in raw or []]
    found.sort(key=lambda c: (c.distance_m, c.event_id))
    return found[:MAX_CANDIDATES]


def _write(session: Session | sa.Connection, intakes: Sequence[Intake],
           now: dt.datetime | None, sla: SlaRule, limits: IntakeLimits
           ) -> tuple[list[Written | None], dt.datetime]:
    # One statement: the events, their grids, their log rows and their duplicate candidates
    # (one round trip; in autocommit mode it is its own transaction). ``now`` None: the
    # transaction's own now(), read in the statement.
    rows = session.execute(sa.text(_INSERT), {
        **_params(intakes), "now": now, "prefix": CODE_PREFIX, "tz": sla.timezone,
        "radius": limits.duplicate_radius_m, "window_h": limits.duplicate_window_h,
        "open": list(OPEN_STATUSES), "max": MAX_CANDIDATES}).all()
    return ([None if r[1] is None else (int(r[1]), r[2], r[3], _candidates(r[5]))
             for r in rows], rows[0][4])


def _refused(exc: sa.exc.DBAPIError) -> IntakeInvalid:
    first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return IntakeInvalid(f"数据库拒绝了该事件：{scrub(first)}",
                         f"the database refused the event: {scrub(first)}")


def submit_many(session: Session | sa.Connection, intakes: Sequence[Intake], *,
                now: dt.datetime | None = None, sla: SlaRule = DEFAULT_RULE,
                limits: IntakeLimits = DEFAULT_LIMITS, isolate: bool = True
                ) -> list[IntakeResult | IntakeInvalid]:
    """Write validated intakes as ``reported`` events, in the caller's transaction.

    Parameters
    ----------
    session
        An open session; the caller commits (all events of the batch commit together).
    intakes
        Reports already passed through :func:`gis.loop.intake.validate`.
    now
        The report time of every event; default the database's transaction time.
    sla
        Gives ``expected_at``: the deadline if the event were accepted at ``now``.
    limits
        What counts as a duplicate.
    isolate
        True: the batch runs in a savepoint and, if the database refuses it, is retried
        report by report. False saves those round trips (the group-commit writer): a refusal
        then raises and the caller rolls back and calls again with ``isolate=True``.

    Returns
    -------
    list
        One entry per intake, in order: an :class:`IntakeResult`, or the
        :class:`~gis.loop.intake.IntakeInvalid` explaining why that report was not written
        (outside the district, or refused by the database).
    """
    if not intakes:
        return []
    if now is not None and now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    written: list[Written | IntakeInvalid | None]
    if not isolate:
        rows, now = _write(session, intakes, now, sla, limits)
        written = list(rows)
    else:
        try:
            with session.begin_nested():
                rows, now = _write(session, intakes, now, sla, limits)
                written = list(rows)
        except sa.exc.DBAPIError:
            written = []
            for intake in intakes:  # find the bad one(s); the others still go in
                try:
                    with session.begin_nested():
                        rows, now = _write(session, [intake], now, sla, limits)
                        written.extend(rows)
                except sa.exc.DBAPIError as exc:
                    written.append(_refused(exc))
            if now is None:
                now = session.execute(sa.select(sa.func.now())).scalar_one()
    assert now is not None
    results: list[IntakeResult | IntakeInvalid] = []
    for intake, w in zip(intakes, written, strict=True):
        if isinstance(w, IntakeInvalid):
            results.append(w)
        elif w is None:
            results.append(_outside())
        else:
            results.append(IntakeResult(
                w[0], w[1], w[2], now, sla.deadline(now, intake.category, intake.priority),
                w[3]))
    return results


def submit(session: Session, intake: Intake, *, now: dt.datetime | None = None,
           sla: SlaRule = DEFAULT_RULE,
           limits: IntakeLimits = DEFAULT_LIMITS
           ) -> IntakeResult:
    """Write one validated intake (see :func:`submit_many`); raises instead of returning.

    Raises
    ------
    IntakeInvalid
        :class:`~gis.loop.intake.OutsideDistrict` for a point outside the district, or the
        database's refusal.

    Examples
    --------
    >>> r = submit(session, validate(Intake("sanitation", 105.05, 29.58, "email"),
    ...                               {"sanitation"}))  # doctest: +SKIP
    >>> r.code, r.grid_code, [d.code for d in r.duplicates]  # doctest: +SKIP
    ('RQ20261127-13320', 'SZ-0101-03', ['SJ202611270012'])
    """
    (result,) = submit_many(session, [intake], now=now, sla=sla, limits=limits)
    if isinstance(result, IntakeInvalid):
        raise result
    return result


def merge_duplicate(session: Session, event_id: int, into_event_id: int, actor: str,
                    role: str, *, now: dt.datetime | None = None,
                    expected_version: int | None = None) -> Event:
    """Merge a duplicate report: reject ``event_id`` as ``duplicate`` of ``into_event_id``.

    The rejection goes through :func:`gis.loop.actions.transition` (role checks, lock, log row
    with reason ``duplicate`` and a note naming the other event); ``event.duplicate_of`` then
    points at the event kept. Merging into an event that is itself a merged duplicate points
    at the one that one was merged into, so chains never form. ``expected_version`` is the
    version the user saw (a stale screen gets the loop's Conflict).

    Raises
    ------
    NotFound
        Either event does not exist.
    IllegalTransition, NotPermitted, Conflict
        As :func:`~gis.loop.actions.transition` (e.g. the event is already being handled).
    """
    if event_id == into_event_id:
        raise IllegalTransition("不能把事件合并到它自己", "an event cannot be merged into itself")
    into = session.execute(sa.select(Event.id, Event.code, Event.duplicate_of)
                           .where(Event.id == into_event_id)).first()
    if into is None:
        raise NotFound(f"没有编号为 {into_event_id} 的事件", f"no event with id {into_event_id}")
    target_id, target_code = int(into[0]), into[1]
    if into[2] is not None:  # follow to the event actually kept
        root = session.execute(sa.select(Event.id, Event.code)
                               .where(Event.id == into[2])).one()
        target_id, target_code = int(root[0]), root[1]
        if target_id == event_id:
            raise IllegalTransition("这两个事件已合并（方向相反）",
                                    "these events are already merged the other way round")
    event = transition(session, event_id, "reject", actor, role, reason="duplicate",
                       note=f"与 {target_code} 重复，已合并 / duplicate of {target_code}, merged",
                       now=now, expected_version=expected_version)
    # A plain UPDATE: the merge is one action (the rejection above), not a second version.
    session.execute(sa.text("UPDATE event SET duplicate_of = :into WHERE id = :id"),
                    {"into": target_id, "id": event_id})
    session.expire(event, ["duplicate_of"])
    return event
