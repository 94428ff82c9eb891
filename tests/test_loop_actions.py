"""What each action does to the event and its log: deadlines, routing, reasons, versions."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa
from test_loop_support import T0, department_id, make_event, seed_catalog

from gis.errors import NotFound
from gis.loop.actions import transition
from gis.loop.errors import Conflict, IllegalTransition, NotPermitted
from gis.loop.sla import SlaRule
from gis.models import EventLog

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def catalog(engine):
    seed_catalog(engine)


def _logs(session, event_id):
    return session.execute(sa.select(EventLog).where(EventLog.event_id == event_id)
                           .order_by(EventLog.id)).scalars().all()


def test_the_whole_loop_with_a_return(catalog, session):
    ev = make_event(session, priority="urgent")
    t = T0 + dt.timedelta(minutes=20)
    steps = [("accept", "duty_officer", "accepted"), ("dispatch", "duty_officer", "dispatched"),
             ("start", "department", "handling"), ("finish", "department", "handled"),
             ("return", "staff", "returned"), ("start", "department", "handling"),
             ("finish", "department", "handled"), ("verify", "staff", "verified"),
             ("close", "leader", "closed")]
    for i, (action, role, status) in enumerate(steps):
        ev = transition(session, ev.id, action, "wang", role, note="处理说明 done",
                        department="cgj", now=t + dt.timedelta(hours=i))
        assert ev.status == status
    assert ev.version == 1 + len(steps)
    # accepted 09:20 (+08:00); sanitation 24 h × urgent 0.5 = 12 h
    assert ev.accepted_at == t and ev.deadline_at == t + dt.timedelta(hours=12)
    assert ev.closed_at == t + dt.timedelta(hours=len(steps) - 1)
    assert ev.department_id == department_id(session, "cgj")
    logs = _logs(session, ev.id)
    assert [(lg.action, lg.from_status, lg.to_status) for lg in logs] == [
        ("accept", "reported", "accepted"), ("dispatch", "accepted", "dispatched"),
        ("start", "dispatched", "handling"), ("finish", "handling", "handled"),
        ("return", "handled", "returned"), ("start", "returned", "handling"),
        ("finish", "handling", "handled"), ("verify", "handled", "verified"),
        ("close", "verified", "closed")]
    assert logs[1].department_code == "cgj"
    assert [lg.at for lg in logs] == [t + dt.timedelta(hours=i) for i in range(len(steps))]
    # consecutive ids, each row chained to the one before
    assert all(b.id == a.id + 1 and b.prev_hash == a.hash for a, b in itertools.pairwise(logs))


def test_accept_uses_the_configured_sla(catalog, session):
    ev = make_event(session, category="security_hazard", priority="critical")
    rule = SlaRule(category_hours={"security_hazard": 10.0}, priority_factor={"critical": 0.3})
    ev = transition(session, ev.id, "accept", "li", "duty_officer", now=T0, sla=rule)
    assert ev.deadline_at == T0 + dt.timedelta(hours=3)


def test_dispatch_routes_by_category_and_needs_a_reason_to_change(catalog, session):
    ev = make_event(session, "accepted", category="dispute")  # default: sfj (justice)
    with pytest.raises(IllegalTransition, match="reason"):
        transition(session, ev.id, "dispatch", "li", "duty_officer", department="gaj")
    ev = transition(session, ev.id, "dispatch", "li", "duty_officer", department="gaj",
                    note="涉及治安 involves public order")
    assert ev.department_id == department_id(session, "gaj")
    other = make_event(session, "accepted", category="dispute")
    other = transition(session, other.id, "dispatch", "li", "duty_officer")
    assert other.department_id == department_id(session, "sfj")
    with pytest.raises(IllegalTransition, match="unknown department"):
        transition(session, make_event(session, "accepted").id, "dispatch", "li",
                   "duty_officer", department="nope", note="x")


def test_routing_follows_the_event_category_table(catalog, session):
    session.execute(sa.text(
        "UPDATE event_category SET department_code = 'zjj' WHERE code = 'sanitation'"))
    ev = transition(session, make_event(session, "accepted").id, "dispatch", "li",
                    "duty_officer")
    assert ev.department_id == department_id(session, "zjj")


def test_redispatch_needs_another_department_and_a_note(catalog, session):
    ev = make_event(session, "dispatched")
    with pytest.raises(IllegalTransition):
        transition(session, ev.id, "redispatch", "li", "duty_officer", department="cgj",
                   note="same")
    with pytest.raises(IllegalTransition, match="note"):
        transition(session, ev.id, "redispatch", "li", "duty_officer", department="zjj")
    ev = transition(session, ev.id, "redispatch", "li", "duty_officer", department="zjj",
                    note="属住建 housing")
    assert ev.status == "dispatched" and ev.department_id == department_id(session, "zjj")


def test_a_department_acts_only_on_its_own_events(catalog, session):
    ev = make_event(session, "dispatched", department="cgj")
    for other in ("zjj", None):
        with pytest.raises(NotPermitted, match="dispatched to it") as err:
            transition(session, ev.id, "start", "zhao", "department", department=other)
        assert err.value.current is not None and err.value.current.department == "cgj"
    assert transition(session, ev.id, "start", "zhao", "department",
                      department="cgj").status == "handling"


def test_reject_needs_a_known_reason(catalog, session):
    ev = make_event(session)
    for bad in (None, "boring"):
        with pytest.raises(IllegalTransition, match="reason"):
            transition(session, ev.id, "reject", "li", "duty_officer", reason=bad)
    ev = transition(session, ev.id, "reject", "li", "duty_officer", reason="out_of_scope",
                    note="不属本区 not ours")
    assert ev.status == "rejected" and ev.reject_reason == "out_of_scope"
    assert _logs(session, ev.id)[-1].reason == "out_of_scope"


def test_supervision_is_a_flag_with_a_reason(catalog, session):
    ev = make_event(session, "handling")
    with pytest.raises(IllegalTransition, match="note"):
        transition(session, ev.id, "supervise", "boss", "leader")
    ev = transition(session, ev.id, "supervise", "boss", "leader", note="群众反映强烈 complaints",
                    now=T0)
    assert (ev.status, ev.supervised, ev.supervised_at) == ("handling", True, T0)
    assert ev.supervision_reason == "群众反映强烈 complaints"
    with pytest.raises(IllegalTransition, match="already"):
        transition(session, ev.id, "supervise", "boss", "leader", note="again")
    ev = transition(session, ev.id, "unsupervise", "boss", "leader", note="已落实 done")
    assert not ev.supervised and ev.status == "handling"


def test_a_stale_version_is_a_conflict_with_the_current_state(catalog, session):
    ev = make_event(session)
    seen = ev.version
    transition(session, ev.id, "accept", "li", "duty_officer", expected_version=seen)
    with pytest.raises(Conflict) as err:
        transition(session, ev.id, "reject", "wu", "duty_officer", reason="duplicate",
                   expected_version=seen)
    assert err.value.current is not None
    assert (err.value.current.status, err.value.current.version) == ("accepted", seen + 1)
    assert "已被其他人更新" in str(err.value) and "changed by someone else" in str(err.value)
    assert "已受理" in err.value.zh and "accepted" in err.value.en


def test_unknown_event_action_and_role(catalog, session):
    with pytest.raises(NotFound):
        transition(session, 987654321, "accept", "li", "duty_officer")
    ev = make_event(session)
    with pytest.raises(IllegalTransition, match="unknown action"):
        transition(session, ev.id, "teleport", "li", "duty_officer")
    with pytest.raises(NotPermitted, match="unknown role"):
        transition(session, ev.id, "accept", "li", "mayor")
