"""Wall, events and planning pages on the seeded demo database, and the live event path.

The views are built as a browser session would build them (same classes, real PostGIS);
the browser itself is in ``test_app_browser.py``. Live events go through the real trigger of
migration 0005 and the real LISTEN thread.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import uuid

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session
from test_app_server import app as app
from test_app_server import demo as demo

from command_center.app.auth import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    UserInfo,
    authenticate,
    ensure_demo_user,
)
from command_center.app.live import EventListener, parse_payload
from command_center.app.pages.events import EventFilters, EventsView, query_events
from command_center.app.pages.planning import NO_BATCH, PlanningView
from command_center.app.pages.wall import SRCSET_WIDTHS, WallView, wall_groups
from command_center.app.state import SessionState
from command_center.app.wall_data import focus_event, newest_events, wall_kpis
from gis.catalog import OPEN_STATUSES
from layers.build import QUERIES, YELLOW_SHARE


def _state(role: str = "admin", language: str = "zh") -> SessionState:
    return SessionState(user=UserInfo("u", "u", role), language=language)


def insert_event(engine: sa.Engine, *, priority: str = "normal", near_camera: bool = True,
                 deadline_h: float = 24.0) -> int:
    """A new open event next to a camera (so it has nearest cameras); returns its id."""
    with engine.begin() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(geom), ST_Y(geom) FROM camera ORDER BY id LIMIT 1" if near_camera
            else "SELECT ST_X(geom), ST_Y(geom) FROM event ORDER BY id LIMIT 1")).one()
        now = dt.datetime.now(dt.UTC)
        return conn.execute(sa.text(
            "INSERT INTO event (code, category_code, source_channel, priority, status, "
            "address, geom, reported_at, deadline_at) VALUES (:code, 'security_hazard', "
            "'video', :priority, 'reported', '测试路1号', "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :now, :deadline) RETURNING id"),
            {"code": f"T-{uuid.uuid4().hex[:10]}", "priority": priority, "lon": lon + 1e-4,
             "lat": lat, "now": now, "deadline": now + dt.timedelta(hours=deadline_h)}
        ).scalar_one()


class FakeDocument:
    """Stands in for a Bokeh document: runs next-tick callbacks right away, on a thread."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []
        self.got = threading.Event()

    def add_next_tick_callback(self, callback):
        callback()

    def record(self, payload: dict) -> None:
        self.payloads.append(payload)
        self.got.set()


# -- the trigger and the listener -------------------------------------------------------------

def test_an_inserted_event_notifies_with_a_small_payload(demo):
    url = demo.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("LISTEN cc_events")
        event_id = insert_event(demo, priority="urgent")
        notes = list(conn.notifies(timeout=5, stop_after=1))
    assert notes, "no notification"
    payload = json.loads(notes[0].payload)
    assert payload["id"] == event_id
    assert payload["status"] == "reported" and payload["priority"] == "urgent"
    assert 104 < payload["lon"] < 106 and 29 < payload["lat"] < 30
    assert len(notes[0].payload) < 200
    assert set(payload) == {"id", "status", "priority", "lon", "lat"}


def test_a_rolled_back_insert_is_never_announced(demo):
    url = demo.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("LISTEN cc_events")
        with demo.connect() as other:
            tx = other.begin()
            other.execute(sa.text("UPDATE event SET priority = 'urgent' WHERE id = 1"))
            tx.rollback()
        assert list(conn.notifies(timeout=1.0)) == []


def test_the_listener_fans_out_to_subscribed_sessions_only(demo):
    listener = EventListener(demo)
    first, second = FakeDocument(), FakeDocument()
    try:
        listener.subscribe(first, first.record)
        listener.subscribe(second, second.record)
        assert listener.wait_listening(10)
        listener.unsubscribe(second)
        event_id = insert_event(demo)
        assert first.got.wait(5), "the subscribed session heard nothing"
        assert first.payloads[-1]["id"] == event_id
        time.sleep(0.3)
        assert second.payloads == []
        assert listener.subscribers() == 1
    finally:
        listener.stop()
    assert not listener.listening


def test_malformed_payloads_are_ignored():
    assert parse_payload("{}") is None and parse_payload("[1]") is None
    assert parse_payload('{"id": "12"}') == {"id": 12}


# -- wall ---------------------------------------------------------------------------------

def test_wall_kpis_count_what_the_database_holds(app):
    now = dt.datetime.now(dt.UTC)
    with Session(app.engine) as session:
        kpis = wall_kpis(session, dt.UTC, now)
        open_n = session.execute(sa.text("SELECT count(*) FROM event WHERE status = ANY(:o)"),
                                 {"o": list(OPEN_STATUSES)}).scalar_one()
        red = session.execute(sa.text(
            f"SELECT count(*) FROM ({QUERIES['open_events'].format(where='true')}) q "
            "WHERE light = 'red'"),
            {"now": now, "yellow": YELLOW_SHARE, "open": list(OPEN_STATUSES)}).scalar_one()
        cameras = session.execute(sa.text("SELECT count(*) FROM camera")).scalar_one()
    assert kpis.open == open_n and kpis.red == red and kpis.red + kpis.yellow <= kpis.open
    assert kpis.cameras_total == cameras
    assert kpis.on_time_rate is None or 0.5 < kpis.on_time_rate <= 1.0


def test_cameras_online_share_counts_only_cameras_the_relay_has_checked(app):
    now = dt.datetime.now(dt.UTC)
    with Session(app.engine) as session:
        try:
            session.execute(sa.text("UPDATE camera SET health_status = 'unknown'"))
            assert wall_kpis(session, dt.UTC, now).online_share is None  # shown as —
            ids = session.execute(sa.text("SELECT id FROM camera ORDER BY id LIMIT 4")).scalars()
            for camera_id, status in zip(ids, ("online", "online", "online", "offline"),
                                         strict=True):
                session.execute(sa.text("UPDATE camera SET health_status = :s WHERE id = :i"),
                                {"s": status, "i": camera_id})
            kpis = wall_kpis(session, dt.UTC, now)
            assert (kpis.cameras_online, kpis.cameras_checked) == (3, 4)
            assert kpis.online_share == 0.75 and kpis.cameras_total > 4
        finally:
            session.rollback()


def test_the_wall_shows_mosaic_kpis_heat_and_newest_events(app):
    view = WallView(app, _state("duty_officer"))
    assert "/wall/" in view.mosaic.object and ".mjpeg?token=" in view.mosaic.object
    assert view.group == wall_groups(app.settings)[0][0]
    for word in ("今日事件", "未结事件", "红灯", "黄灯", "按期办结率", "监控在线率"):
        assert word in view.kpi_pane.object, word
    assert len(view.heat_source.data["xs"]) >= 0 and "count" in view.heat_source.data
    with Session(app.engine) as session:
        newest = newest_events(session, 1)[0]
    assert f'data-event="{newest.id}"' in view.feed.object
    assert "rtsp://" not in view.mosaic.object + view.alert.object


def test_the_browser_picks_the_mosaic_width_and_an_explicit_width_wins(app):
    html_ = WallView(app, _state("staff")).mosaic.object
    srcset = re.search(r'srcset="([^"]+)"', html_)
    assert srcset is not None and 'sizes="70vw"' in html_
    candidates = [c.strip().rsplit(" ", 1) for c in srcset.group(1).split(",")]
    assert [w for _url, w in candidates] == [f"{w}w" for w in SRCSET_WIDTHS]
    for url, w in candidates:  # each candidate is its own signed URL at that width
        assert "/wall/" in url and ".mjpeg?token=" in url and url.endswith(f"&amp;w={w[:-1]}")
    view = WallView(app, _state("staff"), width=960)
    assert "&amp;w=960" in view.mosaic.object and "srcset" not in view.mosaic.object


def test_a_new_urgent_event_reaches_the_wall_and_pulls_its_cameras(app):
    view = WallView(app, _state("duty_officer"))
    event_id = insert_event(app.engine, priority="urgent")
    view.on_event({"id": event_id, "priority": "urgent", "status": "reported"})
    assert f'data-event="{event_id}"' in view.feed.object
    assert 'class="fresh"' in view.feed.object
    assert f'data-focus="{event_id}"' in view.alert.object
    assert view.alert.object.count("/mjpeg/") >= 1
    with Session(app.engine) as session:
        assert focus_event(session) == event_id


def test_a_normal_event_on_time_leaves_the_alert_alone(app):
    view = WallView(app, _state("duty_officer"))
    before = view.focus_id
    event_id = insert_event(app.engine, priority="normal", deadline_h=48)
    view.on_event({"id": event_id, "priority": "normal", "status": "reported"})
    assert view.focus_id == before
    assert f'data-event="{event_id}"' in view.feed.object


def test_an_overdue_event_is_red_and_pulls_cameras(app):
    view = WallView(app, _state("duty_officer"))
    event_id = insert_event(app.engine, priority="normal", deadline_h=-1)
    view.on_event({"id": event_id, "priority": "normal", "status": "reported"})
    assert view.focus_id == event_id and "已超时" in view.alert.object


def test_tour_mode_rotates_the_configured_groups(app):
    groups = [g[0] for g in wall_groups(app.settings)]
    assert len(groups) >= 2, "the default settings ship two groups"
    view = WallView(app, _state("leader"), tour_s=30)
    seen = [view.group]
    for _ in range(len(groups)):
        view.next_group()
        seen.append(view.group)
        assert f"/wall/{view.group}.mjpeg" in view.mosaic.object
    assert seen[0] == seen[-1] and set(seen) == set(groups)


def test_a_pinned_camera_replaces_the_mosaic(app):
    view = WallView(app, _state("duty_officer"), camera="CAMX-1")
    assert "/mjpeg/CAMX-1/main" in view.mosaic.object and "已上墙" in view.mosaic.object


def test_the_heatmap_switches_between_24_hours_and_7_days(app):
    view = WallView(app, _state("duty_officer"))
    day = sum(view.heat_source.data["count"])
    view.set_heat_period("7d")
    week = sum(view.heat_source.data["count"])
    with Session(app.engine) as session:
        expected = session.execute(sa.text(
            "SELECT count(*) FROM event WHERE reported_at >= now() - interval '7 days'"
        )).scalar_one()
    assert week >= day and week <= expected


# -- events page ----------------------------------------------------------------------------

def test_filters_narrow_the_table(app):
    view = EventsView(app, _state("staff"))
    everything = view.total
    view.set_filter("status", "closed")
    assert 0 < view.total < everything
    assert set(view.source.data["status"]) == {"已结案"}
    view.set_filter("status", "")
    view.set_filter("period", "all")
    view.set_filter("light", "red")
    assert all(v == "已超时" for v in view.source.data["light"])
    with Session(app.engine) as session:
        rows, total = query_events(session, EventFilters(light="red", period="all"))
        red_open = sum(1 for r in rows if r["status"] in OPEN_STATUSES)
    assert view.total == total == red_open
    view.set_filter("light", "")
    view.set_filter("category", "dispute")
    assert set(view.source.data["category"]) == {"矛盾纠纷"}
    view.set_filter("source", "hotline_12345")
    assert set(view.source.data["source"]) <= {"12345热线"}


def test_the_street_filter_keeps_that_street(app):
    with Session(app.engine) as session:
        code, name = session.execute(sa.text(
            "SELECT code, name_zh FROM street ORDER BY code LIMIT 1")).one()
    view = EventsView(app, _state("staff"))
    view.set_filter("period", "all")
    view.set_filter("street", code)
    assert view.total > 0 and set(view.source.data["street"]) == {name}


def test_details_show_the_timeline_and_cameras(app):
    view = EventsView(app, _state("staff"))
    demo_event = next(r for r in view.rows if not r["code"].startswith("T-"))
    view.show(int(demo_event["id"]))
    html = view.details.object
    for word in ("事件详情", "办理过程", "上报", "附近监控", "操作人"):
        assert word in html, word
    assert "rtsp://" not in html


def test_a_new_event_shows_in_the_table_after_its_notification(app):
    view = EventsView(app, _state("staff"))
    event_id = insert_event(app.engine)
    view.on_event({"id": event_id})
    assert view.source.data["id"][0] == event_id


def test_english_labels_on_the_events_page(app):
    view = EventsView(app, _state("staff", "en"))
    assert view.table.columns[0].title == "Code"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in "".join(view.source.data["status"]))


# -- planning -----------------------------------------------------------------------------

def test_planning_filters_courtyards_by_batch(app):
    view = PlanningView(app, _state("planner"))
    with Session(app.engine) as session:
        total = session.execute(sa.text("SELECT count(*) FROM courtyard")).scalar_one()
        batch, in_batch = session.execute(sa.text(
            "SELECT renovation_batch, count(*) FROM courtyard WHERE renovation_batch IS NOT "
            "NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1")).one()
        unbatched = session.execute(sa.text(
            "SELECT count(*) FROM courtyard WHERE renovation_batch IS NULL")).scalar_one()
    assert view.shown_courtyards() == total
    view.set_batch(str(batch))
    assert view.shown_courtyards() == in_batch
    assert set(view.court_source.data["renovation_status"]) <= {"已列入计划", "改造中", "已完成"}
    view.set_batch(NO_BATCH)
    assert view.shown_courtyards() == unbatched
    view.set_batch("")
    assert view.shown_courtyards() == total


def test_survey_charts_per_batch(app):
    view = PlanningView(app, _state("planner"))
    assert view.by_batch and all(0 <= float(b["willing"]) <= 1 for b in view.by_batch
                                 if b["willing"] is not None)
    assert all(1 <= float(b["satisfaction"]) <= 5 for b in view.by_batch
               if b["satisfaction"] is not None)
    assert sum(b["courtyards"] for b in view.by_batch) == 586
    assert "加装电梯" in view.priority_source.data["priority"]
    assert "未改造" in view.summary.object


# -- demo login ---------------------------------------------------------------------------

def test_the_demo_login_is_created_once_and_works(demo):
    assert ensure_demo_user(demo) == (DEMO_USERNAME, DEMO_PASSWORD)
    assert ensure_demo_user(demo) == (DEMO_USERNAME, DEMO_PASSWORD)
    with Session(demo) as session:
        user = authenticate(session, DEMO_USERNAME, DEMO_PASSWORD)
        assert user is not None and user.role == "admin"
        count = session.execute(sa.text(
            "SELECT count(*) FROM app_user WHERE username = 'demo'")).scalar_one()
    assert count == 1

