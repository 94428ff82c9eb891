"""Layer files: strict validation naming file and key; every shipped layer builds from the
demo database; big layers switch to database bins; Gaode shifts what we draw."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from command_center.app.basemaps import available_basemaps
from layers.build import (
    QUERIES,
    build_layer,
    fetch,
    glyph_count,
    project,
    three_light,
    to_mercator,
)
from layers.spec import LAYERS_DIR, QUERY_COLUMNS, LayerSpecError, load_layer, load_layers

GOOD = """
id: demo
title: {zh: 演示, en: Demo}
source: {table: courtyard, columns: [code, name_zh, renovation_status]}
geometry: polygon
style:
  by: renovation_status
  classes:
    completed: {color: "#00ff00", zh: 已完成, en: done}
popup:
  - {field: name_zh, zh: 名称, en: Name}
"""


def _write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problem(tmp_path: Path, text: str, name: str = "demo.yaml") -> tuple[str, str, str]:
    with pytest.raises(LayerSpecError) as info:
        load_layer(_write(tmp_path, text, name))
    assert len(info.value.problems) >= 1
    return info.value.problems[0]


def test_a_good_file_loads(tmp_path):
    spec = load_layer(_write(tmp_path, GOOD))
    assert spec.id == "demo" and spec.source.available()[0] == "id"
    assert spec.label("en") == "Demo" and spec.label("zh") == "演示"


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("geometry: polygon", "geometry: blob", "geometry", "polygon"),
    ("{field: name_zh,", "{field: nmae_zh,", "popup[0].field", "nmae_zh"),
    ("by: renovation_status", "by: colour", "style.by", "colour"),
    ("columns: [code,", "columns: [kode,", "source", "kode"),
    ("table: courtyard", "table: nowhere", "source", "nowhere"),
    ('"#00ff00"', '"green"', "style.classes.completed.color", "pattern"),
    ("title: {zh: 演示, en: Demo}", "title: {zh: 演示, en: Demo, fr: Démo}", "title.fr",
     "Extra"),
])
def test_an_invalid_file_names_file_and_key(tmp_path, old, new, key, words):
    assert old in GOOD
    file, got_key, message = _problem(tmp_path, GOOD.replace(old, new))
    assert file == "demo.yaml"
    assert got_key == key
    assert words.lower() in message.lower()


def test_stream_url_columns_are_refused(tmp_path):
    text = GOOD.replace("table: courtyard, columns: [code, name_zh, renovation_status]",
                        "table: camera, columns: [code, name_zh, main_url]").replace(
        "by: renovation_status", "by: code")
    _, key, message = _problem(tmp_path, text)
    assert key == "source" and "stream URL" in message


def test_id_must_match_file_name_and_yaml_errors_are_named(tmp_path):
    assert _problem(tmp_path, GOOD, "other.yaml")[:2] == ("other.yaml", "id")
    file, key, _ = _problem(tmp_path, "id: [unclosed", "broken.yaml")
    assert (file, key) == ("broken.yaml", "<file>")


def test_load_layers_reports_every_bad_file_together(tmp_path):
    _write(tmp_path, GOOD)
    _write(tmp_path, GOOD.replace("id: demo", "id: bad1").replace("polygon", "blob"),
           "bad1.yaml")
    _write(tmp_path, "just text", "bad2.yaml")
    with pytest.raises(LayerSpecError) as info:
        load_layers(tmp_path)
    assert {p[0] for p in info.value.problems} == {"bad1.yaml", "bad2.yaml"}
    assert "bad1.yaml: geometry" in str(info.value)


def test_shipped_layers_are_the_six_of_the_issue():
    ids = [s.id for s in load_layers()]
    assert ids == ["streets", "communities", "grids", "courtyards", "cameras", "events"]
    events = next(s for s in load_layers() if s.id == "events")
    assert events.aggregate is not None and set(events.style.classes) >= {"green", "yellow",
                                                                           "red"}


def test_named_queries_declare_their_columns():
    assert set(QUERIES) == set(QUERY_COLUMNS)


def test_three_light_thresholds():
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    deadline = t0 + dt.timedelta(hours=100)
    assert three_light(deadline, t0, t0 + dt.timedelta(hours=74)) == "green"
    assert three_light(deadline, t0, t0 + dt.timedelta(hours=76)) == "yellow"
    assert three_light(deadline, t0, t0 + dt.timedelta(hours=101)) == "red"
    assert three_light(None, t0, t0) == "none"


def test_mercator_of_the_origin_and_a_known_point():
    x, y = to_mercator(np.array([0.0, 105.0]), np.array([0.0, 29.58]))
    assert abs(x[0]) < 1e-6 and abs(y[0]) < 1e-6
    assert abs(x[1] - 11688546.5) < 1.0


# -- against the demo database -------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(engine, settings):
    from gis.demo import seed_demo

    seed_demo(engine, settings)
    return engine


def test_every_shipped_layer_builds_from_the_demo_database(demo):
    with Session(demo) as session:
        for spec in load_layers():
            built = build_layer(session, spec)
            assert built.features > 0, spec.id
            assert glyph_count(built.glyphs) >= built.features, spec.id
            for glyph in built.glyphs:
                lengths = {len(v) for v in glyph.data.values()}
                assert len(lengths) == 1, f"{glyph.name}: ragged columns"
                for item in spec.popup if glyph.name == spec.id else []:
                    assert item.field in glyph.data


def test_grid_popups_carry_both_workers(demo):
    spec = next(s for s in load_layers() if s.id == "grids")
    with Session(demo) as session:
        frame = fetch(session, spec)
    assert frame["worker_a"].notna().all() and frame["worker_b"].notna().all()


def test_event_lights_match_the_python_rule(demo):
    import sqlalchemy as sa

    spec = next(s for s in load_layers() if s.id == "events")
    now = dt.datetime.now(dt.UTC)
    with Session(demo) as session:
        frame = fetch(session, spec, now=now)
        times = {r.id: r for r in session.execute(sa.text(
            "SELECT id, reported_at, accepted_at, deadline_at FROM event"))}
    assert len(frame) > 0
    seen = set()
    for event_id, light in zip(frame["id"], frame["light"], strict=True):
        r = times[int(event_id)]
        assert light == three_light(r.deadline_at, r.accepted_at or r.reported_at, now)
        seen.add(light)
    assert "red" in seen  # the demo has overdue open events: the rule is exercised


def test_events_switch_to_database_bins_above_the_threshold(demo):
    spec = next(s for s in load_layers() if s.id == "events")
    with Session(demo) as session:
        all_points = build_layer(session, spec)
        assert not all_points.binned
        limit = max(1, all_points.features // 2)
        small = spec.model_copy(update={"aggregate": spec.aggregate.model_copy(
            update={"max_points": limit})})
        binned = build_layer(session, small)
    assert binned.binned and binned.bin_size_m is not None
    assert glyph_count(binned.glyphs) <= all_points.features
    assert sum(binned.glyphs[0].data["count"]) == all_points.features
    assert binned.glyphs[0].name == "events_bins"


def test_gaode_basemap_shifts_layers_by_about_420_m(demo, settings):
    gaode = available_basemaps(settings)["gaode"]
    spec = next(s for s in load_layers() if s.id == "cameras")
    with Session(demo) as session:
        plain = build_layer(session, spec).glyphs[-1].data
        shifted = build_layer(session, spec, shift=gaode.shift).glyphs[-1].data
    dx = np.array(shifted["x"]) - np.array(plain["x"])
    dy = np.array(shifted["y"]) - np.array(plain["y"])
    # Web Mercator metres are stretched by 1/cos(lat); bring them back to ground metres.
    lat = math.radians(29.58)
    ground = np.hypot(dx, dy) * math.cos(lat)
    assert 400 < float(np.median(ground)) < 450


def test_projecting_with_no_shift_is_plain_mercator():
    x1, y1 = project(np.array([105.05]), np.array([29.58]), None)
    x2, y2 = to_mercator(np.array([105.05]), np.array([29.58]))
    assert x1[0] == x2[0] and y1[0] == y2[0]


def test_shipped_layer_dir_is_the_package(tmp_path):
    # A planner adds an overlay by adding a file: copying the shipped ones plus one works.
    for f in LAYERS_DIR.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    _write(tmp_path, GOOD)
    assert "demo" in [s.id for s in load_layers(tmp_path)]


def test_layer_roles_are_exactly_the_apps_roles():
    # layers/spec.py spells the roles out for pydantic; it once missed "department".
    from typing import get_args

    from gis.models import APP_ROLES
    from layers.spec import Role

    assert set(get_args(Role)) == set(APP_ROLES)
