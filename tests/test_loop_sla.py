"""Deadlines and lights at their boundaries, in Python and in SQL, across midnight Shanghai."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from config.settings import ConfigError, load_settings
from gis.catalog import CATEGORY_BY_CODE
from gis.loop.lights import light, light_params, light_sql
from gis.loop.sla import DEFAULT_RULE, SlaRule, is_on_time
from layers.build import three_light

SH = ZoneInfo("Asia/Shanghai")
S = dt.timedelta(seconds=1)


def test_hours_are_the_catalog_hours_times_the_priority_factor():
    # written out, not derived from the module under test
    factors = {"normal": 1.0, "urgent": 0.5, "critical": 0.25}
    for code, cat in CATEGORY_BY_CODE.items():
        for prio, f in factors.items():
            assert DEFAULT_RULE.hours(code, prio) == cat.deadline_hours * f
    assert DEFAULT_RULE.hours("security_hazard", "critical") == 3.0


def test_a_deadline_crosses_midnight_in_shanghai():
    accepted = dt.datetime(2026, 12, 31, 22, 30, tzinfo=SH)
    deadline = DEFAULT_RULE.deadline(accepted, "security_hazard", "urgent")  # 6 h
    assert deadline == dt.datetime(2027, 1, 1, 4, 30, tzinfo=SH)
    assert deadline.utcoffset() == dt.timedelta(hours=8)
    # the same instant given in UTC gives the same deadline
    assert DEFAULT_RULE.deadline(accepted.astimezone(dt.UTC), "security_hazard",
                                 "urgent") == deadline
    with pytest.raises(ValueError):
        DEFAULT_RULE.deadline(accepted.replace(tzinfo=None), "sanitation", "normal")


def _cases():
    """(started, deadline, now, expected light) at every boundary, across midnight."""
    started = dt.datetime(2026, 12, 31, 22, 0, tzinfo=SH)
    deadline = started + dt.timedelta(hours=4)  # 02:00 next day; yellow from 01:00
    yellow_from = deadline - dt.timedelta(hours=1)
    return [
        (started, deadline, started, "green"),
        (started, deadline, yellow_from - S, "green"),
        (started, deadline, yellow_from, "green"),  # exactly 25 % left: not yet "less than"
        (started, deadline, yellow_from + S, "yellow"),
        (started, deadline, dt.datetime(2027, 1, 1, 0, 0, tzinfo=SH), "green"),  # midnight
        (started, deadline, deadline - S, "yellow"),
        (started, deadline, deadline, "yellow"),  # at the deadline: not yet late
        (started, deadline, deadline + S, "red"),
        (started, None, deadline + S, "none"),
    ]


@pytest.mark.parametrize(("started", "deadline", "now", "expected"), _cases())
def test_light_boundaries(started, deadline, now, expected):
    assert light(deadline, started, now) == expected
    assert three_light(deadline, started, now) == expected  # the map's light is the same


@pytest.mark.db
def test_sql_light_agrees_with_python_at_every_boundary(engine):
    expr = light_sql(deadline="CAST(:dl AS timestamptz)", started="CAST(:st AS timestamptz)")
    sql = sa.text(f"SELECT {expr}")
    with engine.connect() as conn:
        for started, deadline, now, expected in _cases():
            # In UTC too: the session time zone must not matter.
            for tz in (SH, dt.UTC):
                got = conn.execute(sql, {**light_params(now.astimezone(tz)), "st": started,
                                         "dl": deadline}).scalar_one()
                assert got == expected == light(deadline, started, now), (now, tz)
        got = conn.execute(sql, {**light_params(_cases()[3][2], 0.1), "st": _cases()[3][0],
                                 "dl": _cases()[3][1]}).scalar_one()
        assert got == "green" == light(_cases()[3][1], _cases()[3][0], _cases()[3][2], 0.1)


def test_on_time_boundary():
    deadline = dt.datetime(2027, 1, 1, 0, 0, tzinfo=SH)
    assert is_on_time(deadline - S, deadline)
    assert is_on_time(deadline, deadline)
    assert not is_on_time(deadline + S, deadline)
    assert not is_on_time(deadline, None) and not is_on_time(None, deadline)


def _write(tmp_path, text):
    (tmp_path / "default.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_sla_settings_merge_overrides_and_reject_unknown_keys(tmp_path, monkeypatch):
    s = load_settings(_write(tmp_path, "[sla.category_hours]\nsanitation = 12\n"
                                       "[sla.priority_factor]\nurgent = 0.4\n"))
    rule = SlaRule.from_settings(s)
    assert rule.hours("sanitation", "urgent") == pytest.approx(4.8)
    assert rule.hours("dispute", "critical") == 18.0  # untouched defaults remain
    assert rule.timezone == "Asia/Shanghai" and rule.yellow_share == 0.25
    for bad, key in (("[sla.category_hours]\nparking = 5\n", "sla.category_hours"),
                     ("[sla.priority_factor]\nsevere = 2\n", "sla.priority_factor"),
                     ("[sla]\nyellow_share = 1.5\n", "sla.yellow_share"),
                     ("[sla.category_hours]\nsanitation = 0\n", "sla.category_hours"),
                     ("[sla]\nred_share = 0.1\n", "sla.red_share")):
        with pytest.raises(ConfigError) as err:
            load_settings(_write(tmp_path, bad))
        assert any(p[0].startswith(key) for p in err.value.problems), err.value.problems
