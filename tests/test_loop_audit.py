"""event_log is append-only and hash-chained; tampering is found and named by row."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import psycopg
import pytest
import sqlalchemy as sa
import typer
from sqlalchemy.orm import Session
from test_loop_support import T0, make_event, seed_catalog
from typer.testing import CliRunner

from command_center import cli_audit
from gis.loop.actions import transition
from gis.loop.audit import canonical, chain_hash, verify_chain

pytestmark = pytest.mark.db

NASTY_NOTE = "a|b:3:c\n第二行 — 'quote' \"dq\" \\ end"


@pytest.fixture(scope="module")
def history(engine):
    """Three events taken through a few steps, committed; returns their log ids."""
    seed_catalog(engine)
    with Session(engine) as s:
        for i in range(3):
            ev = make_event(s, reported_at=T0 + dt.timedelta(minutes=i))
            transition(s, ev.id, "accept", "李四", "duty_officer", note=None)
            transition(s, ev.id, "dispatch", "李四", "duty_officer", note=NASTY_NOTE)
            transition(s, ev.id, "start", "赵六", "department", department="cgj")
        s.commit()
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT id FROM event_log ORDER BY id"))]


def _superuser(cluster, engine):
    return psycopg.connect(cluster.superuser_url(engine.url.database), autocommit=True)


def _verify(engine):
    with engine.connect() as conn:
        return verify_chain(conn)


def test_the_database_and_python_compute_the_same_chain(engine, history):
    report = _verify(engine)
    assert report.ok, report.broken
    assert report.rows == len(history) == 9 and report.last_id == history[-1]
    assert history == list(range(1, len(history) + 1))  # chain position = id, no gaps
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM event_log ORDER BY id")).all()
    prev = None
    for row in rows:
        assert row.prev_hash == prev and row.hash == chain_hash(prev, canonical(row))
        prev = row.hash
    assert any(r.note == NASTY_NOTE for r in rows) and any(r.note is None for r in rows)


@pytest.mark.parametrize("sql", [
    "UPDATE event_log SET note = 'edited' WHERE id = 2",
    "DELETE FROM event_log WHERE id = 2",
    "TRUNCATE event_log",
    "TRUNCATE event CASCADE",
])
def test_update_delete_truncate_are_refused(engine, history, sql):
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as err:
        conn.execute(sa.text(sql))
    assert err.value.orig.sqlstate == "42501"
    assert "append-only" in str(err.value.orig) and "只能追加" in str(err.value.orig)
    assert _verify(engine).ok


def _tamper(cluster, engine, sql, params=()):
    with _superuser(cluster, engine) as su:
        su.execute("ALTER TABLE event_log DISABLE TRIGGER USER")
        try:
            su.execute(sql, params)
        finally:
            su.execute("ALTER TABLE event_log ENABLE TRIGGER USER")


def _cli_verify(engine, monkeypatch):
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("CC_DATABASE_URL", url.replace("postgresql+psycopg://", "postgresql://"))
    app = typer.Typer()
    cli_audit.register(app)
    return CliRunner().invoke(app, ["audit", "verify"])


def test_an_edited_row_is_named(cluster, engine, history, monkeypatch):
    target = history[4]
    with engine.connect() as conn:
        note = conn.execute(sa.text("SELECT note FROM event_log WHERE id = :i"),
                            {"i": target}).scalar_one()
    _tamper(cluster, engine, "UPDATE event_log SET note = 'nothing happened' WHERE id = %s",
            (target,))
    try:
        report = _verify(engine)
        assert not report.ok and report.broken.log_id == target
        assert report.broken.problem == "hash" and "已被改动" in str(report.broken)
        result = _cli_verify(engine, monkeypatch)
        assert result.exit_code == 1 and f"broken_row={target}" in result.output
    finally:
        _tamper(cluster, engine, "UPDATE event_log SET note = %s WHERE id = %s", (note, target))
    assert _verify(engine).ok
    result = _cli_verify(engine, monkeypatch)
    assert result.exit_code == 0 and "audit chain intact: 9 rows" in result.output


def test_a_row_rehashed_after_editing_breaks_the_next_link(cluster, engine, history):
    target = history[2]
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM event_log WHERE id = :i"),
                           {"i": target}).one()
    forged = row._asdict() | {"actor": "冒名 impostor"}
    # The forger recomputes this row's own hash, but cannot fix every later link.
    new_hash = chain_hash(row.prev_hash, canonical(SimpleNamespace(**forged)))
    _tamper(cluster, engine, "UPDATE event_log SET actor = %s, hash = %s WHERE id = %s",
            (forged["actor"], new_hash, target))
    try:
        report = _verify(engine)
        assert report.broken.log_id == target + 1 and report.broken.problem == "prev_hash"
    finally:
        _tamper(cluster, engine, "UPDATE event_log SET actor = %s, hash = %s WHERE id = %s",
                (row.actor, row.hash, target))
    assert _verify(engine).ok


def test_a_deleted_row_and_a_deleted_tail_are_found(cluster, engine, history):
    cols = "id, event_id, at, actor, role, action, from_status, to_status, note, " \
           "department_code, reason, prev_hash, hash"
    with engine.connect() as conn:
        saved = {i: conn.execute(sa.text(f"SELECT {cols} FROM event_log WHERE id = :i"),
                                 {"i": i}).one() for i in (history[5], history[-1])}

    def restore(i):
        _tamper(cluster, engine, f"INSERT INTO event_log ({cols}) VALUES "
                f"({', '.join(['%s'] * 13)})", tuple(saved[i]))

    _tamper(cluster, engine, "DELETE FROM event_log WHERE id = %s", (history[5],))
    try:
        report = _verify(engine)
        assert report.broken.log_id == history[5] and report.broken.problem == "gap"
    finally:
        restore(history[5])
    assert _verify(engine).ok
    _tamper(cluster, engine, "DELETE FROM event_log WHERE id = %s", (history[-1],))
    try:
        report = _verify(engine)
        assert report.broken.problem == "head" and report.broken.log_id == history[-2]
    finally:
        restore(history[-1])
    assert _verify(engine).ok


def test_upgrading_a_database_with_history_chains_the_old_rows(cluster, settings):
    from gis import migrate
    from gis.db import get_engine
    from gis.district import load_district

    cluster.ensure_database("t_loop_upgrade")
    engine = get_engine(cluster.url("t_loop_upgrade"))
    try:
        migrate.upgrade(engine, "0005")
        with Session(engine) as s:
            load_district(s, settings)
            s.commit()
        seed_catalog(engine)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO event (code, category_code, source_channel, geom, reported_at) "
                "VALUES ('OLD1', 'sanitation', 'email', "
                "ST_SetSRID(ST_MakePoint(105.05, 29.58), 4326), now())"))
            for note in ("旧记录 old", None, NASTY_NOTE):
                conn.execute(sa.text(
                    "INSERT INTO event_log (event_id, actor, action, note) "
                    "SELECT id, 'clerk', 'report', :n FROM event WHERE code = 'OLD1'"),
                    {"n": note})
        migrate.upgrade(engine)
        report = _verify(engine)
        assert report.ok and report.rows == 3
        with Session(engine) as s:
            event_id = s.execute(sa.text("SELECT id FROM event WHERE code = 'OLD1'")).scalar()
            transition(s, event_id, "accept", "li", "duty_officer")
            s.commit()
        report = _verify(engine)
        assert report.ok and report.rows == 4 and report.last_id == 4
    finally:
        engine.dispose()
        cluster.drop_database("t_loop_upgrade")
