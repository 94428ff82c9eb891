"""Every action × every status × every role: legal moves succeed, the rest are refused.

The expectation below is written out by hand, independently of gis.loop.states.TRANSITIONS:
a change to the table that is not also made here fails the tests.
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from test_loop_support import make_event, seed_catalog

from gis.catalog import EVENT_STATUSES
from gis.loop.actions import transition
from gis.loop.errors import IllegalTransition, NotPermitted
from gis.loop.states import LOOP_ROLES, TRANSITIONS, allowed_actions
from gis.models import EventLog

pytestmark = pytest.mark.db

OPEN = ("reported", "accepted", "dispatched", "handling", "handled", "verified", "returned")
# action: (from statuses, to status or None for "stays", roles)
EXPECTED: dict[str, tuple[tuple[str, ...], str | None, set[str]]] = {
    "accept": (("reported",), "accepted", {"duty_officer", "admin"}),
    "reject": (("reported", "accepted"), "rejected", {"duty_officer", "admin"}),
    "dispatch": (("accepted",), "dispatched", {"duty_officer", "admin"}),
    "redispatch": (("dispatched",), None, {"duty_officer", "admin"}),
    "start": (("dispatched", "returned"), "handling", {"department", "admin"}),
    "finish": (("handling",), "handled", {"department", "admin"}),
    "verify": (("handled",), "verified", {"staff", "duty_officer", "admin"}),
    "return": (("handled",), "returned", {"staff", "duty_officer", "admin"}),
    "close": (("verified",), "closed", {"duty_officer", "leader", "admin"}),
    "supervise": (OPEN, None, {"leader", "admin", "system"}),
    "unsupervise": (OPEN, None, {"leader", "admin"}),
}
ROLES = ("staff", "duty_officer", "planner", "leader", "admin", "department", "system")


def test_the_table_matches_the_hand_written_expectation():
    assert set(TRANSITIONS) == set(EXPECTED)
    assert set(LOOP_ROLES) == set(ROLES)
    for action, (sources, to, roles) in EXPECTED.items():
        spec = TRANSITIONS[action]
        assert set(spec.sources) == set(sources), action
        assert spec.to == to, action
        assert set(spec.roles) == roles, action


def test_closed_and_rejected_are_final_and_planner_takes_no_part():
    for role in ROLES:
        assert allowed_actions("closed", role) == []
        assert allowed_actions("rejected", role) == []
    assert all(allowed_actions(s, "planner") == [] for s in EVENT_STATUSES)
    assert allowed_actions("reported", "duty_officer") == ["accept", "reject"]


@pytest.fixture(scope="module")
def catalog(engine):
    seed_catalog(engine)


def _attempt(session, event, action, role):
    return transition(
        session, event.id, action, f"user-{role}", role, note="说明 note",
        reason="duplicate" if action == "reject" else None,
        department="zjj" if action == "redispatch" else "cgj")


@pytest.mark.parametrize(("action", "status"), list(itertools.product(EXPECTED, EVENT_STATUSES)))
def test_every_action_from_every_status_by_every_role(catalog, session, action, status):
    sources, to, roles = EXPECTED[action]
    event = make_event(session, status, supervised=(action == "unsupervise"))
    for role in ROLES:
        savepoint = session.begin_nested()
        logs_before = session.scalar(sa.select(sa.func.count()).select_from(EventLog)
                                     .where(EventLog.event_id == event.id))
        if role not in roles:
            with pytest.raises(NotPermitted):
                _attempt(session, event, action, role)
        elif status not in sources:
            with pytest.raises(IllegalTransition) as err:
                _attempt(session, event, action, role)
            assert err.value.current is not None and err.value.current.status == status
            assert " / " in str(err.value)  # 中文 / English
        else:
            updated = _attempt(session, event, action, role)
            assert updated.status == (to or status)
            log = session.execute(sa.select(EventLog).where(EventLog.event_id == event.id)
                                  .order_by(EventLog.id.desc())).scalars().first()
            assert log is not None and log.action == action and log.role == role
            assert (log.from_status, log.to_status) == (status, to or status)
            assert log.actor == f"user-{role}" and log.hash and len(log.hash) == 64
        if role not in roles or status not in sources:
            assert session.scalar(sa.select(sa.func.count()).select_from(EventLog)
                                  .where(EventLog.event_id == event.id)) == logs_before
        savepoint.rollback()
        session.expire_all()
