"""Event intake: validation, grid by point-in-polygon, the report log row, duplicates, merge."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from test_loop_support import T0, seed_catalog

from gis.catalog import EVENT_CATEGORIES
from gis.loop.audit import verify_chain
from gis.loop.errors import IllegalTransition, NotPermitted
from gis.loop.intake import Intake, IntakeInvalid, IntakeLimits, OutsideDistrict, validate
from gis.loop.intake_db import find_duplicates, merge_duplicate, submit, submit_many
from gis.models import Event, EventLog

pytestmark = pytest.mark.db

CATEGORIES = {c.code for c in EVENT_CATEGORIES}
# Two square grids side by side in the urban core (inside the district); east of 105.054 and
# inside the district there is no grid.
LON, LAT = 105.048, 29.58
M_PER_DEG_LAT = 110_850.0  # near 29.6°N; offsets below are far from the 50 m edge


def _square(x0: float, y0: float, x1: float, y1: float) -> str:
    return (f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},"
            f"{x0} {y0})))")


def seed_grids(engine: sa.Engine) -> None:
    """Grids T-01 (105.046-105.05) and T-02 (105.05-105.054), each with its A/B workers."""
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT count(*) FROM grid WHERE code LIKE 'T-0%'")).scalar():
            return
        for code, x0 in (("T-01", 105.046), ("T-02", 105.05)):
            gid = conn.execute(sa.text(
                "INSERT INTO grid (code, name_zh, geom) VALUES (:c, :c, :g) RETURNING id"),
                {"c": code, "g": _square(x0, 29.577, x0 + 0.004, 29.583)}).scalar_one()
            for post in ("A", "B"):
                conn.execute(sa.text(
                    "INSERT INTO grid_worker (grid_id, post, name, phone) "
                    "VALUES (:g, :p, :n, '13800000000')"), {"g": gid, "p": post,
                                                             "n": f"{code}{post}"})


@pytest.fixture(scope="module")
def world(engine):
    seed_catalog(engine)
    seed_grids(engine)


def intake(lon: float = LON, lat: float = LAT, **kw) -> Intake:
    base = {"category": "sanitation", "channel": "hotline_12345",
            "description": "垃圾满溢 overflowing bins", "actor": "hotline"}
    base.update(kw)
    return validate(Intake(lon=lon, lat=lat, **base), CATEGORIES)


def north(metres: float) -> float:
    return LAT + metres / M_PER_DEG_LAT


# --- validation (no database) ----------------------------------------------------------------

@pytest.mark.parametrize(("change", "field", "text"), [
    ({"category": "ufo"}, "category", "unknown category"),
    ({"channel": "fax"}, "channel", "unknown channel"),
    ({"priority": "asap"}, "priority", "unknown priority"),
    ({"lat": 91.0}, "lat", "out of range"),
    ({"lon": float("nan")}, "lon", "out of range"),
    ({"lon": "east"}, "lon", "must be a number"),
    ({"description": "x" * 2001}, "description", "too long: 2001"),
    ({"title": "t" * 121}, "title", "too long"),
    ({"address": "a" * 201}, "address", "too long"),
    ({"description": "bad\x00byte"}, "description", "control characters"),
    ({"description": "half \ud800 pair"}, "description", "unpaired surrogates"),
    ({"media_url": "javascript:alert(1)"}, "media_url", "an http"),
    ({"media_url": "http://u:secret@img.example/x.jpg"}, "media_url", "password"),
    ({"reporter_email": "no-at-sign"}, "reporter_email", "e-mail"),
    ({"reporter_phone": "call me"}, "reporter_phone", "phone"),
])
def test_validation_refuses_with_the_field_named(change, field, text):
    values = {"category": "sanitation", "lon": LON, "lat": LAT, "channel": "email"} | change
    with pytest.raises(IntakeInvalid, match=text) as info:
        validate(Intake(**values), CATEGORIES)
    assert info.value.field == field
    assert info.value.http_status == 400
    assert " / " in str(info.value)  # 中文 / English


def test_validation_keeps_markup_verbatim_and_applies_the_configured_limit():
    ok = validate(Intake("sanitation", LON, LAT, "email", description=" <script>x</script> ",
                         address="  "), CATEGORIES)
    assert ok.description == "<script>x</script>" and ok.address is None
    with pytest.raises(IntakeInvalid, match="at most 10"):
        validate(Intake("sanitation", LON, LAT, "email", description="x" * 11), CATEGORIES,
                 IntakeLimits(description_max_chars=10))


# --- writing --------------------------------------------------------------------------------

def test_submit_writes_a_reported_event_with_its_grid_and_a_chained_report_row(world, session):
    result = submit(session, intake(title="东门", address="人民路 1 号",
                                    reporter_phone="138 0000 0000"), now=T0)
    event = session.get(Event, result.event_id)
    assert event.status == "reported" and event.source_channel == "hotline_12345"
    assert event.grid_id is not None and result.grid_code == "T-01"
    assert (event.title, event.address, event.reporter_phone) == ("东门", "人民路 1 号",
                                                                 "138 0000 0000")
    assert result.code == event.code and result.code.startswith("RQ20261120-")
    assert event.reported_at == T0 == result.reported_at
    # sanitation 24 h × normal 1, counted from now as if accepted now
    assert result.expected_at == T0 + dt.timedelta(hours=24)
    logs = session.execute(sa.select(EventLog).where(EventLog.event_id == event.id)).scalars()
    (log,) = list(logs)
    assert (log.action, log.from_status, log.to_status, log.actor, log.at) == (
        "report", None, "reported", "hotline", T0)
    assert log.hash is not None
    assert verify_chain(session.connection()).ok


def test_grid_by_point_in_polygon_and_none_outside_every_grid(world, session):
    east, beyond = submit_many(session, [intake(105.052), intake(105.057)], now=T0)
    assert east.grid_code == "T-02"
    assert beyond.grid_code is None
    assert session.get(Event, beyond.event_id).grid_id is None


def test_a_point_outside_the_district_is_refused_without_failing_the_batch(world, session):
    before = session.execute(sa.text("SELECT last_id FROM event_log_head")).scalar_one()
    inside, outside, inside2 = submit_many(
        session, [intake(), intake(116.39, 39.91), intake(105.052)], now=T0)
    assert isinstance(outside, OutsideDistrict)
    assert "outside the district" in str(outside) and "辖区" in str(outside)
    assert inside.grid_code == "T-01" and inside2.grid_code == "T-02"
    after = session.execute(sa.text("SELECT last_id FROM event_log_head")).scalar_one()
    assert after == before + 2  # one report row per written event, none for the refused one
    with pytest.raises(OutsideDistrict):
        submit(session, intake(116.39, 39.91), now=T0)


def test_a_batch_the_database_refuses_is_retried_one_by_one(world, session):
    # A category valid for validate() but missing from the table: only that report fails.
    good, bad = submit_many(session, [intake(), Intake("no_such", LON, LAT, "email")], now=T0)
    assert good.event_id
    assert isinstance(bad, IntakeInvalid) and "database refused" in str(bad)


# --- duplicates -----------------------------------------------------------------------------

def test_duplicates_are_offered_within_50_m_only(world, session):
    first = submit(session, intake(), now=T0)
    near = submit(session, intake(lat=north(45)), now=T0 + dt.timedelta(minutes=5))
    far = submit(session, intake(lat=north(60)), now=T0 + dt.timedelta(minutes=6))
    assert [d.code for d in near.duplicates] == [first.code]
    assert 44 < near.duplicates[0].distance_m < 46
    assert near.duplicates[0].status == "reported"
    assert first.code not in [d.code for d in far.duplicates]


def test_no_duplicate_after_24_h_of_another_category_or_closed(world, session):
    old = submit(session, intake(lon=105.0472), now=T0)
    later = submit(session, intake(lon=105.0472), now=T0 + dt.timedelta(hours=24, minutes=1))
    assert old.code not in [d.code for d in later.duplicates]
    other = submit(session, intake(lon=105.0474, category="dispute"), now=T0)
    same_place = submit(session, intake(lon=105.0474), now=T0 + dt.timedelta(minutes=1))
    assert other.code not in [d.code for d in same_place.duplicates]
    closed = submit(session, intake(lon=105.0476), now=T0)
    session.execute(sa.text("UPDATE event SET status = 'closed', closed_at = :t WHERE id = :id"),
                    {"t": T0 + dt.timedelta(minutes=1), "id": closed.event_id})
    after = submit(session, intake(lon=105.0476), now=T0 + dt.timedelta(minutes=2))
    assert closed.code not in [d.code for d in after.duplicates]


def test_reports_in_one_batch_see_each_other_earliest_first(world, session):
    a, b = submit_many(session, [intake(lon=105.0478), intake(lon=105.0478, lat=north(10))],
                       now=T0)
    assert a.duplicates == []
    assert [d.event_id for d in b.duplicates] == [a.event_id]
    again = find_duplicates(session, [b.event_id], now=T0)
    assert [d.event_id for d in again[b.event_id]] == [a.event_id]


# --- merge ----------------------------------------------------------------------------------

def test_merge_rejects_as_duplicate_and_points_at_the_event_kept(world, session):
    kept = submit(session, intake(lon=105.0481), now=T0)
    dup = submit(session, intake(lon=105.0481), now=T0 + dt.timedelta(minutes=1))
    assert [d.event_id for d in dup.duplicates] == [kept.event_id]
    event = merge_duplicate(session, dup.event_id, kept.event_id, "li", "duty_officer",
                            now=T0 + dt.timedelta(minutes=2))
    assert (event.status, event.reject_reason, event.duplicate_of) == (
        "rejected", "duplicate", kept.event_id)
    log = session.execute(sa.select(EventLog).where(EventLog.event_id == dup.event_id)
                          .order_by(EventLog.id.desc())).scalars().first()
    assert (log.action, log.reason, log.actor, log.role) == ("reject", "duplicate", "li",
                                                             "duty_officer")
    assert kept.code in log.note
    # a third report is offered the kept event only: the merged one is closed for business
    third = submit(session, intake(lon=105.0481), now=T0 + dt.timedelta(minutes=3))
    assert [d.event_id for d in third.duplicates] == [kept.event_id]
    # merging into a merged event lands on the one kept
    merge_duplicate(session, third.event_id, dup.event_id, "li", "duty_officer",
                    now=T0 + dt.timedelta(minutes=4))
    assert session.get(Event, third.event_id).duplicate_of == kept.event_id
    assert verify_chain(session.connection()).ok


def test_merge_refuses_itself_a_wrong_role_and_a_missing_event(world, session):
    one = submit(session, intake(lon=105.0483), now=T0)
    two = submit(session, intake(lon=105.0483), now=T0)
    with pytest.raises(IllegalTransition, match="itself"):
        merge_duplicate(session, one.event_id, one.event_id, "li", "duty_officer")
    with pytest.raises(NotPermitted):
        merge_duplicate(session, two.event_id, one.event_id, "wang", "staff")
    with pytest.raises(Exception, match="no event"):
        merge_duplicate(session, two.event_id, 10**12, "li", "duty_officer")
