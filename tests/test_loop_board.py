"""The 三灯一牌 board, the one on-time rate, supervision and reminders, on a small demo."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from test_loop_support import SHANGHAI, make_event

from gis.catalog import OPEN_STATUSES
from gis.demo import seed_demo
from gis.loop.audit import verify_chain
from gis.loop.board import board
from gis.loop.errors import LoopError
from gis.loop.lights import light
from gis.loop.supervision import OVERDUE_NOTE, mark_read, reminders, supervision_list, sweep
from gis.queries.kpi import kpis

pytestmark = pytest.mark.db

END = dt.date(2026, 11, 26)
NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=SHANGHAI)
PERIOD = {"start": dt.datetime(2026, 9, 1, tzinfo=SHANGHAI), "end": NOW}


@pytest.fixture(scope="module")
def demo(engine, settings):
    small = settings.model_copy(update={"demo": settings.demo.model_copy(update={
        "grids": 80, "courtyards": 0, "cameras": 0, "events": 2000, "days": 120})})
    # twice: the reseed must get past the append-only log and restart its chain
    seed_demo(engine, small, seed=5, end_date=END)
    return seed_demo(engine, small, seed=5, end_date=END)


def _open_events(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT e.id, e.deadline_at, coalesce(e.accepted_at, e.reported_at) AS started, "
            "e.department_id, g.code AS grid FROM event e LEFT JOIN grid g ON g.id = e.grid_id "
            "WHERE e.status = ANY(:o)"), {"o": list(OPEN_STATUSES)}).all()


def test_the_reseeded_demo_log_is_one_intact_chain(engine, demo):
    with engine.connect() as conn:
        report = verify_chain(conn)
        first = conn.execute(sa.text("SELECT min(id) FROM event_log")).scalar_one()
    assert report.ok, report.broken
    assert report.rows == demo.events and first == 1


@pytest.mark.parametrize("level", ["department", "street", "grid"])
def test_board_lights_count_every_open_event_once(engine, demo, level):
    with Session(engine) as s:
        rows = board(s, level=level, now=NOW, **PERIOD)
    total = rows[-1]
    assert total.level == "district" and total.area_id is None
    expected: dict[str, int] = {"green": 0, "yellow": 0, "red": 0, "none": 0}
    for r in _open_events(engine):
        expected[light(r.deadline_at, r.started, NOW)] += 1
    assert (total.green, total.yellow, total.red, total.none) == tuple(expected.values())
    assert total.open == demo.open_events and total.red > 0 and total.green > 0
    areas = rows[:-1]
    assert len({r.area_id for r in areas}) == len(areas) > 1
    if level == "grid":  # every demo event has a grid, so the areas add up to the total
        assert sum(r.open for r in areas) == total.open
        assert sum(r.closed for r in areas) == total.closed


@pytest.mark.parametrize("level", ["street", "grid"])
def test_on_time_rate_is_the_same_number_as_the_kpi_report(engine, demo, level):
    with Session(engine) as s:
        ours = board(s, level=level, now=NOW, **PERIOD)
        theirs = kpis(s, level=level, now=NOW, **PERIOD)
    assert [(r.area_code, r.closed, r.closed_on_time, r.on_time_rate) for r in ours] == \
        [(r.area_code, r.closed, r.closed_on_time, r.on_time_rate) for r in theirs]
    assert ours[-1].closed > 100 and 0.9 < ours[-1].on_time_rate < 1.0


def test_on_time_rate_counted_by_hand(engine, demo):
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT closed_at, deadline_at FROM event WHERE status = 'closed' "
            "AND closed_at >= :start AND closed_at < :end"), PERIOD).all()
    on_time = sum(1 for c, d in rows if d is not None and c <= d)
    with Session(engine) as s:
        total = board(s, level="department", now=NOW, **PERIOD)[-1]
    assert (total.closed, total.closed_on_time) == (len(rows), on_time)
    assert total.on_time_rate == on_time / len(rows)


def test_board_rejects_bad_input(engine, demo):
    with Session(engine) as s:
        with pytest.raises(LoopError):
            board(s, level="province", now=NOW)  # type: ignore[arg-type]
        with pytest.raises(LoopError):
            board(s, now=NOW.replace(tzinfo=None))
        with pytest.raises(LoopError):
            board(s, now=NOW, start=NOW, end=NOW)


def test_sweep_supervises_overdue_events_and_reminds_departments(engine, demo):
    red = {r.id for r in _open_events(engine)
           if light(r.deadline_at, r.started, NOW) == "red"}
    yellow_with_dept = {r.id for r in _open_events(engine)
                        if light(r.deadline_at, r.started, NOW) == "yellow" and r.department_id}
    assert red and yellow_with_dept
    with Session(engine) as s:
        result = sweep(s, now=NOW)
        s.commit()
    assert set(result.supervised) == red and not result.skipped
    assert result.reminders == len(yellow_with_dept)
    with Session(engine) as s:
        listed = supervision_list(s, now=NOW)
        assert {e.event_id for e in listed} == red
        assert all(e.reason == OVERDUE_NOTE and e.light == "red" for e in listed)
        again = sweep(s, now=NOW)  # idempotent: nothing new to do
        assert again.supervised == [] and again.reminders == 0
        logs = s.execute(sa.text(
            "SELECT count(*) FROM event_log WHERE action = 'supervise' AND role = 'system'"
        )).scalar_one()
        assert logs == len(red)
        board_total = board(s, level="department", now=NOW, **PERIOD)[-1]
        assert board_total.supervised == len(red)
        dept = s.execute(sa.text(
            "SELECT d.code, count(*) FROM reminder r JOIN department d ON d.id = r.department_id "
            "GROUP BY d.code ORDER BY 2 DESC LIMIT 1")).one()
        mine = reminders(s, dept[0])
        assert len(mine) == dept[1] and not any(r.read for r in mine)
        assert mark_read(s, dept[0], [mine[0].id]) == 1
        assert mark_read(s, "nobody", [mine[1].id] if len(mine) > 1 else []) == 0
        assert len(reminders(s, dept[0])) == dept[1] - 1
        assert len(reminders(s, dept[0], unread_only=False)) == dept[1]
        s.commit()
    with engine.connect() as conn:
        assert verify_chain(conn).ok


def test_sweep_skips_an_event_someone_is_acting_on(engine, demo):
    with Session(engine) as holder, Session(engine) as job:
        ev = make_event(holder, "handling", reported_at=NOW - dt.timedelta(days=3))
        holder.commit()
        holder.execute(sa.text("SELECT 1 FROM event WHERE id = :i FOR UPDATE"), {"i": ev.id})
        result = sweep(job, now=NOW)
        assert ev.id in result.skipped and ev.id not in result.supervised
        job.commit()
        holder.rollback()
        assert sweep(job, now=NOW).supervised == [ev.id]
        job.commit()
