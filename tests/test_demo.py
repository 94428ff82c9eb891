"""The demo district: plausible, inside the rules, and the same for the same seed.

One full seed per module (shared by the fixture below); the determinism, seed and CLI tests
seed again and leave the module's data as the fixture made it.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from command_center.cli import app
from gis.catalog import CATEGORY_BY_CODE
from gis.demo import demo_digest, read_summary, seed_demo
from gis.demo.courtyards import summarize
from gis.demo.events import PRIORITY_DEADLINE_FACTOR

pytestmark = pytest.mark.db

SEED = 11
END = dt.date(2026, 11, 26)
CORE = "ST_SetSRID(ST_MakePoint(105.05, 29.58), 4326)::geography"


@pytest.fixture(scope="module")
def seeded(engine, settings):
    summary = seed_demo(engine, settings, seed=SEED, end_date=END)
    return summary, demo_digest(engine)


def _scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def _rows(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_counts_are_near_the_targets(seeded, settings):
    summary, _ = seeded
    cfg = settings.demo
    assert 6 <= summary.streets <= 10
    assert 50 <= summary.communities <= 70
    assert summary.grids == cfg.grids
    assert summary.workers == 2 * cfg.grids
    assert summary.courtyards == cfg.courtyards
    assert 5500 <= summary.survey_responses <= 6500
    assert summary.cameras == cfg.cameras
    assert summary.events == cfg.events


def test_every_grid_has_one_a_and_one_b_worker(engine, seeded):
    bad = _rows(engine, """
        SELECT g.code FROM grid g LEFT JOIN grid_worker w ON w.grid_id = g.id
        GROUP BY g.code
        HAVING count(*) FILTER (WHERE w.post = 'A') <> 1
            OR count(*) FILTER (WHERE w.post = 'B') <> 1""")
    assert bad == []
    phones = _rows(engine, "SELECT phone FROM grid_worker")
    assert all(p.phone.startswith("139") and len(p.phone) == 11 for p in phones)


def test_codes_follow_street_community_grid(engine, seeded):
    rows = _rows(engine, """
        SELECT g.code AS g, c.code AS c, s.code AS s, g.name_zh, c.name_zh AS cname
        FROM grid g JOIN community c ON c.id = g.community_id
        JOIN street s ON s.id = c.street_id""")
    for r in rows:
        assert r.g.startswith(r.c + "-") and r.c.startswith(r.s + "-")
        assert r.s.startswith("511002-") and len(r.g.split("-")) == 4
        assert r.name_zh.startswith(r.cname) and r.name_zh.endswith("网格")


@pytest.mark.parametrize("table", ["street", "community", "grid", "courtyard", "camera", "event"])
def test_geometries_are_valid_and_inside_the_district(engine, seeded, table):
    bad = _scalar(engine, f"""
        SELECT count(*) FROM {table} t, district d
        WHERE NOT ST_IsValid(t.geom) OR NOT ST_CoveredBy(t.geom, d.check_geom)""")
    assert bad == 0


def test_grids_tile_the_district_without_overlap(engine, seeded):
    overlap = _scalar(engine, """
        SELECT COALESCE(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
        FROM grid a JOIN grid b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)""")
    district = _scalar(engine, "SELECT ST_Area(geom::geography) FROM district")
    union = _scalar(engine, "SELECT ST_Area(ST_Union(geom)::geography) FROM grid")
    assert overlap < 1.0  # square metres, in a 386 km² district
    assert union == pytest.approx(district, rel=0.01)


def test_grids_are_small_in_the_core_and_large_outside(engine, seeded):
    core, rural = _rows(engine, f"""
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Area(geom::geography))
        FROM grid WHERE ST_DWithin(geom::geography, {CORE}, 1500)
        UNION ALL
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Area(geom::geography))
        FROM grid WHERE NOT ST_DWithin(geom::geography, {CORE}, 8000)""")
    assert core[0] < 0.5e6 and rural[0] > 2e6


def test_courtyards_lie_in_urban_grids_and_do_not_overlap(engine, seeded):
    outside = _scalar(engine, f"""
        SELECT count(*) FROM courtyard c JOIN grid g ON g.id = c.grid_id
        WHERE NOT ST_CoveredBy(c.geom, g.geom) OR ST_Area(g.geom::geography) > 1.5e6
           OR NOT ST_DWithin(g.geom::geography, {CORE}, 4500)""")
    overlaps = _scalar(engine, """
        SELECT count(*) FROM courtyard a JOIN courtyard b
          ON a.id < b.id AND ST_Intersects(a.geom, b.geom)""")
    sizes = _rows(engine, """
        SELECT sqrt(ST_Area(geom::geography)) AS side, built_year, renovation_status,
               renovation_completed_on, address
        FROM courtyard""")
    assert outside == 0 and overlaps == 0
    assert all(25 <= s.side <= 160 and 1975 <= s.built_year <= 2000 for s in sizes)
    assert all((s.renovation_status == "completed") == (s.renovation_completed_on is not None)
               for s in sizes)
    assert all(s.address.endswith("号") for s in sizes)
    assert {s.renovation_status for s in sizes} == {"not_started", "planned", "in_progress",
                                                    "completed"}


def test_survey_summary_agrees_with_the_responses(engine, seeded):
    rows = _rows(engine, """
        SELECT c.survey_summary, jsonb_agg(r.answers ORDER BY r.id) AS answers
        FROM courtyard c JOIN survey_response r ON r.courtyard_id = c.id
        GROUP BY c.id""")
    assert len(rows) == seeded[0].courtyards
    for row in rows:
        assert row.survey_summary == summarize(row.answers)


def test_camera_sources_positions_and_streams(engine, seeded):
    mix = dict(_rows(engine, "SELECT source, count(*) FROM camera GROUP BY source"))
    total = sum(mix.values())
    assert set(mix) == {"skynet", "courtyard", "community"}
    assert all(n / total >= 0.1 for n in mix.values())
    off_gate = _scalar(engine, """
        SELECT count(*) FROM camera c JOIN courtyard y ON y.id = c.courtyard_id
        WHERE ST_Distance(c.geom::geography, ST_Boundary(y.geom)::geography) > 2""")
    assert off_gate == 0
    cams = _rows(engine, "SELECT code, main_url, sub_url, health_status, fov_deg, range_m, "
                         "vendor, grid_id FROM camera")
    for c in cams:
        assert c.main_url == f"rtsp://127.0.0.1:8554/{c.code}/main"
        assert c.sub_url == f"rtsp://127.0.0.1:8554/{c.code}/sub"
        assert c.health_status == "unknown" and c.grid_id is not None
        assert (60 <= c.fov_deg <= 110 or c.fov_deg == 360) and 30 <= c.range_m <= 150
    assert {c.vendor for c in cams} == {"hikvision", "dahua", "generic"}


def test_on_time_rate_matches_the_setting(engine, seeded, settings):
    rate = _scalar(engine, "SELECT avg((closed_at <= deadline_at)::int) FROM event "
                           "WHERE status = 'closed'")
    assert 0.990 <= float(rate) <= 0.996
    assert seeded[0].on_time_rate == pytest.approx(float(rate))


def test_weekly_and_daily_rhythm(engine, seeded):
    by_dow = dict(_rows(engine, """
        SELECT extract(isodow FROM reported_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)
        FROM event GROUP BY 1"""))
    weekday_mean = sum(by_dow[d] for d in range(1, 6)) / 5
    assert by_dow[7] < 0.8 * weekday_mean
    by_hour = dict(_rows(engine, """
        SELECT extract(hour FROM reported_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)
        FROM event GROUP BY 1"""))
    assert by_hour[10] > 5 * by_hour.get(3, 0) and by_hour[15] > 5 * by_hour.get(3, 0)


def test_event_window_sources_and_deadlines(engine, seeded, settings):
    first, last = _rows(engine, "SELECT min(reported_at), max(reported_at) FROM event")[0]
    assert first.date() >= END - dt.timedelta(days=settings.demo.days)
    assert last < dt.datetime(END.year, END.month, END.day, tzinfo=last.tzinfo) + \
        dt.timedelta(hours=1)  # before midnight Asia/Shanghai, whatever tz the driver returns
    mix = dict(_rows(engine, "SELECT source_channel, count(*) FROM event GROUP BY 1"))
    total = sum(mix.values())
    assert 0.50 <= mix["grid_patrol"] / total <= 0.60
    assert 0.20 <= mix["hotline_12345"] / total <= 0.30
    rows = _rows(engine, "SELECT category_code, priority, accepted_at, deadline_at FROM event "
                         "WHERE accepted_at IS NOT NULL LIMIT 2000")
    for r in rows:
        hours = CATEGORY_BY_CODE[r.category_code].deadline_hours
        expected = hours * PRIORITY_DEADLINE_FACTOR[r.priority]
        assert (r.deadline_at - r.accepted_at).total_seconds() / 3600 == pytest.approx(expected)


def test_recent_events_are_open_in_various_states(engine, seeded):
    open_states = {r[0] for r in _rows(engine, """
        SELECT DISTINCT status FROM event WHERE status NOT IN ('closed', 'rejected')""")}
    assert len(open_states) >= 4
    old_open = _scalar(engine, """
        SELECT avg((status IN ('closed', 'rejected'))::int) FROM event
        WHERE reported_at < (SELECT max(reported_at) FROM event) - interval '60 days'""")
    assert old_open > 0.99
    overdue = _scalar(engine, """
        SELECT count(*) FROM event WHERE status NOT IN ('closed', 'rejected')
          AND deadline_at < (SELECT max(reported_at) FROM event)""")
    assert overdue > 0


def test_every_event_has_a_grid_and_a_report_log(engine, seeded):
    assert _scalar(engine, "SELECT count(*) FROM event WHERE grid_id IS NULL") == 0
    logs = _rows(engine, """
        SELECT count(*) AS n, count(DISTINCT l.event_id) AS events,
               bool_and(l.action = 'report' AND l.at = e.reported_at) AS ok
        FROM event_log l JOIN event e ON e.id = l.event_id""")[0]
    assert logs.n == logs.events == seeded[0].events and logs.ok
    patrol_by_worker = _scalar(engine, """
        SELECT bool_and(EXISTS (SELECT 1 FROM grid_worker w
                                WHERE w.grid_id = e.grid_id AND w.name = l.actor))
        FROM event e JOIN event_log l ON l.event_id = e.id
        WHERE e.source_channel = 'grid_patrol'""")
    assert patrol_by_worker


def test_same_seed_gives_identical_rows(engine, settings, seeded):
    again = seed_demo(engine, settings, seed=SEED, end_date=END)
    assert demo_digest(engine) == seeded[1]
    assert again.events == seeded[0].events  # replaced, not appended


def test_another_seed_gives_other_rows(engine, settings, seeded):
    try:
        seed_demo(engine, settings, seed=SEED + 1, end_date=END)
        assert demo_digest(engine) != seeded[1]
        assert read_summary(engine).grids == settings.demo.grids
    finally:
        seed_demo(engine, settings, seed=SEED, end_date=END)


def _cli_env(engine, monkeypatch):
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("CC_DATABASE_URL", url.replace("postgresql+psycopg://", "postgresql://"))


def test_cli_demo_seed_writes_the_same_rows(engine, seeded, monkeypatch):
    _cli_env(engine, monkeypatch)
    result = CliRunner().invoke(app, ["demo", "seed", "--seed", str(SEED),
                                      "--end-date", END.isoformat()])
    assert result.exit_code == 0, result.output
    assert "网格" in result.output and "按期办结率" in result.output
    assert demo_digest(engine) == seeded[1]


def test_cli_seed_if_empty_keeps_existing_data(engine, seeded, monkeypatch):
    _cli_env(engine, monkeypatch)
    # A different seed would change every row; --if-empty must leave them alone.
    result = CliRunner().invoke(app, ["demo", "seed", "--if-empty", "--seed", str(SEED + 1)])
    assert result.exit_code == 0, result.output
    assert "未重新生成" in result.output
    assert demo_digest(engine) == seeded[1]


def test_cli_demo_summary_prints_the_counts(engine, seeded, monkeypatch):
    _cli_env(engine, monkeypatch)
    result = CliRunner().invoke(app, ["demo", "summary"])
    assert result.exit_code == 0, result.output
    assert "老旧院落" in result.output and str(seeded[0].courtyards) in result.output


def test_cli_rejects_a_malformed_end_date(engine, monkeypatch):
    _cli_env(engine, monkeypatch)
    result = CliRunner().invoke(app, ["demo", "seed", "--end-date", "26/11/2026"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
