"""The closed loop in the app, without a browser: buttons per role, clicks, conflicts, board.

The views are the classes a browser session builds (real PostGIS, real ``transition``); the
browser itself is in ``test_app_loop_browser.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from test_loop_support import make_event, seed_catalog

from command_center.app.auth import AuthError, UserInfo, add_user, authenticate
from command_center.app.board_view import LoopViews
from command_center.app.context import AppContext
from command_center.app.login import decode_session, encode_session
from command_center.app.loop_ui import ActionPanel, EventSnapshot, offered_actions
from command_center.app.pages.events import EventsView
from command_center.app.state import SessionState
from gis.catalog import EVENT_STATUSES
from gis.loop.actions import transition
from gis.loop.board import board
from gis.loop.states import LOOP_ROLES, allowed_actions
from gis.loop.supervision import sweep
from gis.models import Event, EventLog

pytestmark = pytest.mark.db

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
DUTY = UserInfo("li.wei", "李伟", "duty_officer")
CGJ = UserInfo("wang.cg", "王城管", "department", "cgj", "区城市管理局")
ZJJ = UserInfo("zhao.zj", "赵住建", "department", "zjj", "区住房和城乡建设局")


@pytest.fixture(scope="module")
def catalog(engine):
    seed_catalog(engine)
    return engine


@pytest.fixture(scope="module")
def app(catalog, settings) -> AppContext:
    return AppContext(settings=settings, engine=catalog, layers=(), cookie_secret="t" * 40,
                      camera_url=lambda code, stream="sub", kind="mjpeg": "/none")


def committed(engine: sa.Engine, status: str = "reported", **kwargs) -> int:
    """A committed event (panels work in their own transactions), reported an hour ago."""
    kwargs.setdefault("reported_at", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with Session(engine) as session:
        event_id = make_event(session, status, **kwargs).id
        session.commit()
    return event_id


def panel(app: AppContext, user: UserInfo, language: str = "zh") -> ActionPanel:
    return ActionPanel(app.engine, user, language)


def logs(engine: sa.Engine, event_id: int) -> list[EventLog]:
    with Session(engine) as session:
        return list(session.scalars(sa.select(EventLog).where(EventLog.event_id == event_id)
                                    .order_by(EventLog.id)))


# -- which buttons ------------------------------------------------------------------------

def test_each_role_is_offered_exactly_the_loops_actions():
    for status in EVENT_STATUSES:
        for role in LOOP_ROLES:
            if role == "department":
                continue
            user = UserInfo("u", "u", role)
            for supervised in (False, True):
                snap = EventSnapshot(1, "E1", status, 1, "cgj", supervised, "cgj")
                expected = [a for a in allowed_actions(status, role)
                            if a != ("unsupervise" if not supervised else "supervise")]
                assert offered_actions(snap, user) == expected, (status, role, supervised)
    assert offered_actions(EventSnapshot(1, "E1", "reported", 1, None, False, "cgj"),
                           DUTY) == ["accept", "reject"]
    assert offered_actions(EventSnapshot(1, "E1", "reported", 1, None, False, "cgj"),
                           None) == []


def test_a_department_user_sees_start_and_finish_only_on_its_own_events():
    for status, action in (("dispatched", "start"), ("returned", "start"),
                           ("handling", "finish")):
        own = EventSnapshot(1, "E1", status, 3, "cgj", False, "cgj")
        other = EventSnapshot(2, "E2", status, 3, "zjj", False, "cgj")
        assert offered_actions(own, CGJ) == [action]
        assert offered_actions(other, CGJ) == []
        assert offered_actions(other, ZJJ) == [action]
    for status in ("reported", "accepted", "handled", "verified", "closed"):
        assert offered_actions(EventSnapshot(1, "E1", status, 3, "cgj", False, "cgj"),
                               CGJ) == []


def test_the_panel_offers_a_department_user_its_own_dispatched_event(app):
    own = committed(app.engine, "dispatched", department="cgj")
    other = committed(app.engine, "dispatched", department="zjj")
    p = panel(app, CGJ)
    p.show(own)
    assert [b.label for b in p.buttons.objects] == ["开始处置"]
    assert p.shown and p.inputs == ["note"]
    p.show(other)
    assert p.buttons.objects == [] and "您没有可执行的操作" in p.header.object


# -- what a click does ----------------------------------------------------------------------

def test_accept_and_dispatch_write_the_transition_and_the_log(app):
    event_id = committed(app.engine, category="sanitation")
    p = panel(app, DUTY)
    p.show(event_id)
    assert [b.label for b in p.buttons.objects] == ["受理", "不予受理"]
    assert p.inputs == ["reason", "note"]
    assert p.act("accept").ok
    assert p.snapshot.status == "accepted" and p.snapshot.version == 2
    # dispatch: the picker offers every department, the category's default preselected
    assert p.inputs == ["reason", "department", "note"] and p.department.value == "cgj"
    assert "区城市管理局（默认）" in p.department.options
    p.department.value = "zjj"  # away from the default without a note: refused, explained
    refused = p.act("dispatch")
    assert not refused.ok and not refused.conflict and "须说明原因" in refused.message
    assert p.snapshot.status == "accepted"
    p.note.value = "住建局负责该路段"
    done = p.act("dispatch")
    assert done.ok and "派遣" in done.message and "已派遣" in p.message.object
    assert p.snapshot.status == "dispatched" and p.snapshot.department == "zjj"
    rows = logs(app.engine, event_id)
    assert [(r.action, r.actor, r.role, r.to_status, r.department_code) for r in rows] == [
        ("accept", "li.wei", "duty_officer", "accepted", None),
        ("dispatch", "li.wei", "duty_officer", "dispatched", "zjj")]
    assert rows[1].note == "住建局负责该路段"
    with Session(app.engine) as session:
        deadline = session.execute(sa.text("SELECT deadline_at - accepted_at FROM event "
                                           "WHERE id = :i"), {"i": event_id}).scalar_one()
    assert deadline.total_seconds() == app.settings.sla.category_hours["sanitation"] * 3600


def test_reject_needs_the_picked_reason(app):
    event_id = committed(app.engine)
    p = panel(app, DUTY, "en")
    p.show(event_id)
    p.reason.value = "duplicate"
    outcome = p.act("reject")
    assert outcome.ok and "reject" in outcome.message
    assert logs(app.engine, event_id)[-1].reason == "duplicate"


def test_a_note_is_required_where_the_loop_says_so(app):
    event_id = committed(app.engine, "handling", department="cgj")
    p = panel(app, CGJ)
    p.show(event_id)
    assert p.note.placeholder.startswith("必填")
    outcome = p.act("finish")
    assert not outcome.ok and "需要填写说明" in outcome.message
    assert logs(app.engine, event_id) == []
    p.note.value = "已清运 done"
    assert p.act("finish").ok and p.snapshot.status == "handled"


def test_two_officers_on_one_event_one_wins_the_other_gets_the_conflict(app):
    event_id = committed(app.engine)
    first, second = panel(app, DUTY), panel(app, UserInfo("zhou", "周", "duty_officer"), "en")
    first.show(event_id)
    second.show(event_id)
    assert first.act("accept").ok
    lost = second.act("accept")
    assert not lost.ok and lost.conflict
    assert "the event was changed by someone else" in lost.message
    assert lost.state is not None and lost.state.status == "accepted" and lost.state.version == 2
    # The loser's panel now shows the current state and its actions, with the message kept.
    assert second.snapshot.version == 2 and second.snapshot.status == "accepted"
    assert [b.label for b in second.buttons.objects] == ["reject", "dispatch"]
    assert 'data-conflict="1"' in second.message.object
    assert len(logs(app.engine, event_id)) == 1


def test_a_held_row_is_a_conflict_with_the_busy_message(app):
    event_id = committed(app.engine)
    p = panel(app, DUTY)
    p.show(event_id)
    with app.engine.connect() as other:
        other.begin()
        other.execute(sa.text("SELECT 1 FROM event WHERE id = :i FOR UPDATE"), {"i": event_id})
        outcome = p.act("accept")
        other.rollback()
    assert outcome.conflict and "正由其他人办理" in outcome.message
    assert logs(app.engine, event_id) == []


# -- users of a department ----------------------------------------------------------------

def test_department_users_need_a_known_department(app):
    with Session(app.engine) as session:
        with pytest.raises(AuthError, match="须指定所属部门"):
            add_user(session, "d1", "password-123", "department")
        with pytest.raises(AuthError, match="只有职能部门用户"):
            add_user(session, "d2", "password-123", "staff", department="cgj")
        with pytest.raises(AuthError, match="unknown department: nosuch"):
            add_user(session, "d3", "password-123", "department", department="nosuch")
        made = add_user(session, "d4", "password-123", "department", "处置员",
                        department="cgj")
        session.commit()
    assert (made.department, made.department_name) == ("cgj", "区城市管理局")
    with Session(app.engine) as session:
        user = authenticate(session, "d4", "password-123")
        staff = add_user(session, "s4", "password-123", "staff")
        session.commit()
    assert user == made and staff.department is None
    cookie = encode_session("k" * 40, user)
    assert decode_session("k" * 40, cookie) == user
    assert decode_session("k" * 40, encode_session("k" * 40, staff)) == staff


def test_a_department_user_starts_filtered_to_its_department(app):
    own = committed(app.engine, "dispatched", department="cgj")
    other = committed(app.engine, "dispatched", department="zjj")
    view = EventsView(app, SessionState(user=CGJ))
    assert view.filters.department == "cgj"
    assert own in view.source.data["id"] and other not in view.source.data["id"]
    assert set(view.source.data["department"]) == {"区城市管理局"}
    view.show(own)
    assert [b.label for b in view.actions.buttons.objects] == ["开始处置"]
    view.actions.act("start")
    assert 'data-action="start"' in view.details.object
    assert view.loop.sees_reminders and not view.loop.sees_supervision


# -- board, supervision, reminders, escaping ------------------------------------------------

def test_the_board_tab_shows_the_loops_numbers(app):
    committed(app.engine, "dispatched", department="cgj")
    views = LoopViews(app.engine, app.settings, DUTY, "zh", None)
    for level in ("department", "street", "grid"):
        views.level.value = level
        views.refresh_board()
        with Session(app.engine) as session:
            expected = board(session, level=level)
        total = expected[-1]
        assert f'data-red="{total.red}" data-yellow="{total.yellow}" ' \
               f'data-green="{total.green}"' in views.board.object
        for row in expected[:-1]:
            assert f'data-area="{row.area_code}" data-red="{row.red}"' in views.board.object


def test_supervision_list_and_department_reminders(app):
    overdue = committed(app.engine, "dispatched", department="cgj",
                        reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    soon = committed(app.engine, "handling", department="cgj",
                     reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=22))
    with Session(app.engine) as session:
        sweep(session)
        session.commit()
    leader = LoopViews(app.engine, app.settings, UserInfo("l", "l", "leader"), "zh",
                       dt.UTC)
    leader.refresh()
    assert f'data-event="{overdue}"' in leader.supervision.object
    assert "系统自动督办" in leader.supervision.object
    dept = LoopViews(app.engine, app.settings, CGJ, "zh", dt.UTC)
    dept.refresh()
    assert f'data-event="{soon}"' in dept.reminders.object
    assert dept.mark_all_read() >= 1
    assert f'data-event="{soon}"' not in dept.reminders.object
    assert [title for title, _ in dept.tabs()] == ["三灯一牌", "提醒"]
    assert [title for title, _ in leader.tabs()] == ["三灯一牌", "督办"]


def test_user_text_is_escaped_in_details_timeline_and_table(app):
    with Session(app.engine) as session:
        ev = make_event(session)
        ev.description, ev.address = EVIL, EVIL
        session.flush()
        transition(session, ev.id, "accept", "<b>x</b>", "duty_officer")
        transition(session, ev.id, "dispatch", "li", "duty_officer", department="zjj",
                   note=EVIL)
        session.commit()
        event_id = ev.id
    view = EventsView(app, SessionState(user=DUTY))
    view.set_filter("period", "all")
    view.show(event_id)
    shown = view.details.object + view.actions.header.object
    assert "<script>" not in shown and "<img src=x" not in shown and "<b>x</b>" not in shown
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in shown
    assert shown.count("&lt;img src=x onerror=") == 3  # address, description, note


def test_users_add_and_list_a_department_user_on_the_command_line(app, monkeypatch):
    from typer.testing import CliRunner

    from command_center.cli import app as cli

    url = app.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    monkeypatch.setenv("CC_DATABASE_URL", url)
    monkeypatch.setenv("CC_NEW_PASSWORD", "password-123")
    runner = CliRunner()
    made = runner.invoke(cli, ["users", "add", "cli.dept", "--role", "department",
                               "--department", "swj", "--name", "水务处置员"])
    assert made.exit_code == 0, made.output
    assert "swj 区水务局" in made.output
    missing = runner.invoke(cli, ["users", "add", "cli.d2", "--role", "department"])
    assert missing.exit_code == 1 and "须指定所属部门" in missing.output
    unknown = runner.invoke(cli, ["users", "add", "cli.d3", "--role", "department",
                                  "--department", "nope"])
    assert unknown.exit_code == 1 and "unknown department: nope" in unknown.output
    listed = runner.invoke(cli, ["users", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "swj 区水务局" in listed.output


# -- duplicates ---------------------------------------------------------------------------

def test_a_possible_duplicate_is_offered_in_the_panel_and_merged(app):
    now = dt.datetime.now(dt.UTC)
    kept = committed(app.engine, "accepted", category="dispute",
                     reported_at=now - dt.timedelta(hours=3))
    too_old = committed(app.engine, "accepted", category="dispute",
                        reported_at=now - dt.timedelta(hours=30))
    dup = committed(app.engine, "reported", category="dispute",
                    reported_at=now - dt.timedelta(hours=1))
    p = panel(app, DUTY)
    p.show(dup)
    offered = [d.event_id for d in p.duplicates]
    assert kept in offered and too_old not in offered and dup not in offered
    with Session(app.engine) as session:
        kept_code = session.get(Event, kept).code
    assert any(kept_code in b.label and "合并到" in b.label for b in p.merge_buttons.objects)
    assert "可能重复" in p.merge_header.object
    outcome = p.merge(kept)
    assert outcome is not None and outcome.ok, outcome
    assert f"已作为重复合并到：{kept_code}" in outcome.message
    with Session(app.engine) as session:
        event = session.get(Event, dup)
        assert (event.status, event.duplicate_of) == ("rejected", kept)
    last = logs(app.engine, dup)[-1]
    assert (last.to_status, last.reason) == ("rejected", "duplicate") and kept_code in last.note
    assert p.duplicates == [] and p.merge_buttons not in p.view.objects  # nothing left to merge


def test_merging_from_a_stale_screen_is_a_conflict_and_changes_nothing(app):
    now = dt.datetime.now(dt.UTC)
    kept = committed(app.engine, "accepted", category="dispute",
                     reported_at=now - dt.timedelta(hours=2))
    dup = committed(app.engine, "reported", category="dispute",
                    reported_at=now - dt.timedelta(minutes=30))
    p = panel(app, DUTY, "en")
    p.show(dup)
    assert kept in [d.event_id for d in p.duplicates]
    with Session(app.engine) as session:  # another officer accepts it meanwhile
        transition(session, dup, "accept", "zhang", "duty_officer")
        session.commit()
    outcome = p.merge(kept)
    assert outcome is not None and not outcome.ok and outcome.conflict
    assert outcome.state is not None and outcome.state.status == "accepted"
    with Session(app.engine) as session:
        event = session.get(Event, dup)
        assert (event.status, event.duplicate_of) == ("accepted", None)
    assert p.snapshot is not None and p.snapshot.status == "accepted"


def test_roles_that_cannot_reject_are_not_offered_a_merge(app):
    now = dt.datetime.now(dt.UTC)
    committed(app.engine, "accepted", category="dispute", reported_at=now - dt.timedelta(hours=2))
    dup = committed(app.engine, "reported", category="dispute",
                    reported_at=now - dt.timedelta(minutes=20))
    p = panel(app, CGJ)
    p.show(dup)
    assert p.duplicates == [] and p.merge_buttons not in p.view.objects
