"""Two officers at once: one wins, the other gets a conflict; a killed backend leaves nothing."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from test_loop_support import make_event, seed_catalog

from gis.loop.actions import transition
from gis.loop.audit import verify_chain
from gis.loop.errors import Conflict
from gis.models import Event

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def catalog(engine):
    seed_catalog(engine)


def _new_event(engine, status="reported"):
    with Session(engine) as s:
        ev = make_event(s, status)
        s.commit()
        return ev.id


def _state(engine, event_id):
    with engine.connect() as conn:
        status, version = conn.execute(sa.text(
            "SELECT status, version FROM event WHERE id = :i"), {"i": event_id}).one()
        logs = conn.execute(sa.text("SELECT action FROM event_log WHERE event_id = :i"),
                            {"i": event_id}).scalars().all()
    return status, version, logs


def _race(engine, event_id, moves):
    """Run each (actor, action, kwargs) in its own thread and connection, all at once."""
    barrier = threading.Barrier(len(moves))
    outcomes: dict[str, object] = {}

    def officer(actor, action, kwargs):
        with Session(engine) as s:
            seen = s.get(Event, event_id).version  # what the officer's screen showed
            barrier.wait()
            try:
                transition(s, event_id, action, actor, "duty_officer",
                           expected_version=seen, **kwargs)
                s.commit()
                outcomes[actor] = "won"
            except Conflict as exc:
                s.rollback()
                outcomes[actor] = exc

    threads = [threading.Thread(target=officer, args=m) for m in moves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


@pytest.mark.parametrize("round_", range(8))
def test_two_officers_race_and_exactly_one_wins(engine, catalog, round_):
    event_id = _new_event(engine)
    outcomes = _race(engine, event_id, [
        ("li", "accept", {}), ("wu", "reject", {"reason": "duplicate"})])
    assert sorted(v == "won" for v in outcomes.values()) == [False, True], outcomes
    loser = next(v for v in outcomes.values() if v != "won")
    assert isinstance(loser, Conflict)
    assert "请" in loser.zh and "refresh and try again" in loser.en
    status, version, logs = _state(engine, event_id)
    winner = next(k for k, v in outcomes.items() if v == "won")
    assert status == {"li": "accepted", "wu": "rejected"}[winner]
    assert version == 2 and len(logs) == 1  # no lost update, no second log row
    # the loser was shown a real state: the one before (busy) or after (stale) the winner
    assert loser.current is not None and loser.current.status in ("reported", status)


def test_a_held_row_gives_an_immediate_conflict_with_the_committed_state(engine, catalog):
    event_id = _new_event(engine)
    with Session(engine) as first, Session(engine) as second:
        transition(first, event_id, "accept", "li", "duty_officer")  # row locked, not committed
        with pytest.raises(Conflict) as err:
            transition(second, event_id, "reject", "wu", "duty_officer", reason="invalid")
        assert err.value.current.status == "reported" and err.value.current.version == 1
        assert "正由其他人办理" in err.value.zh and "right now" in err.value.en
        # the second session is still usable after the refused lock
        assert second.execute(sa.text("SELECT 1")).scalar_one() == 1
        first.commit()
        with pytest.raises(Conflict) as err:
            transition(second, event_id, "reject", "wu", "duty_officer", reason="invalid",
                       expected_version=1)
        assert (err.value.current.status, err.value.current.version) == ("accepted", 2)
    assert _state(engine, event_id) == ("accepted", 2, ["accept"])


def test_a_killed_backend_mid_transition_leaves_neither_change_nor_log(engine, catalog):
    event_id = _new_event(engine)
    with engine.connect() as conn:
        head_before = conn.execute(sa.text("SELECT last_id, last_hash FROM event_log_head")).one()
    with Session(engine) as s:
        pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        transition(s, event_id, "accept", "li", "duty_officer")  # UPDATE + INSERT sent
        with engine.connect() as killer:
            assert killer.execute(sa.text("SELECT pg_terminate_backend(:p)"),
                                  {"p": pid}).scalar_one()
        with pytest.raises(sa.exc.DBAPIError):
            s.commit()
    assert _state(engine, event_id) == ("reported", 1, [])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_id, last_hash FROM event_log_head")).one() \
            == head_before
        assert verify_chain(conn).ok
    # and the chain goes on from where it was
    with Session(engine) as s:
        transition(s, event_id, "accept", "li", "duty_officer")
        s.commit()
    assert _state(engine, event_id) == ("accepted", 2, ["accept"])
    with engine.connect() as conn:
        assert verify_chain(conn).ok


def test_a_committed_transition_survives_a_killed_backend(engine, catalog):
    event_id = _new_event(engine)
    with Session(engine) as s:
        pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        transition(s, event_id, "accept", "li", "duty_officer")
        s.commit()
        with engine.connect() as killer:
            killer.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    assert _state(engine, event_id) == ("accepted", 2, ["accept"])
