"""Importers against a real PostGIS: each format's happy path, then what a planner gets wrong.

Every test writes its input files into ``tmp_path`` and imports them through
:func:`gis.importers.import_file` in a committed transaction (as the CLI does), so counts are
taken before and after. Codes carry a per-test prefix so tests sharing the module database do
not see each other's rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis.coords import haversine_m, wgs84_to_gcj02
from gis.db import session_scope
from gis.errors import ImportValidationError
from gis.importers import import_file, read_table

pytestmark = pytest.mark.db

# Four 1 km x 1 km grids in the urban core (inside the district, well away from its edge).
CORE_BOXES = [(105.03, 29.56), (105.04, 29.56), (105.03, 29.57), (105.04, 29.57)]


def grid_frame(prefix: str, boxes: list[tuple[float, float]] = CORE_BOXES,
               size: float = 0.01) -> gpd.GeoDataFrame:
    n = len(boxes)
    return gpd.GeoDataFrame({
        "code": [f"{prefix}{i}" for i in range(n)],
        "name": [f"网格{i}" for i in range(n)],
        "households": [100 + i for i in range(n)],
        "population": [300 + i for i in range(n)],
        "worker_a_name": [f"张{i}" for i in range(n)],
        "worker_a_phone": [f"1390000{i:04d}" for i in range(n)],
        "worker_b_name": [f"李{i}" for i in range(n)],
        "worker_b_phone": [f"1380000{i:04d}" for i in range(n)],
    }, geometry=[shapely.box(x, y, x + size, y + size) for x, y in boxes], crs=4326)


def run(engine, kind, path, **kwargs):
    with session_scope(engine) as session:
        return import_file(session, kind, path, **kwargs)


def count(engine, table: str, prefix: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE code LIKE :p"),
                            {"p": prefix + "%"}).scalar_one()


def rejected(engine, kind, path, **kwargs) -> ImportValidationError:
    with pytest.raises(ImportValidationError) as info:
        run(engine, kind, path, **kwargs)
    return info.value


def text_of(exc: ImportValidationError) -> str:
    return str(exc) + "\n" + "\n".join(f"{r}|{c}|{m}" for r, c, m in exc.problems)


def events_csv(path: Path, prefix: str, lon, lat, **extra) -> Path:
    n = len(lon)
    frame = pd.DataFrame({
        "事件编号": [f"{prefix}{i}" for i in range(n)],
        "类别": ["环境卫生"] * n,
        "来源渠道": ["12345热线"] * n,
        "上报时间": ["2024-05-11 08:30"] * n,
        "经度": lon,
        "纬度": lat,
        **extra,
    })
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def core_grids(engine, tmp_path_factory) -> str:
    """Grids covering the urban core, imported once for the module (events need grids)."""
    path = tmp_path_factory.mktemp("grids") / "core.geojson"
    grid_frame("CORE-").to_file(path)
    run(engine, "grids", path)
    return "CORE-"


# --- each format's happy path -------------------------------------------------------------


def test_geojson_grids_are_written_with_their_worker_pair(engine, core_grids):
    assert count(engine, "grid", "CORE-") == 4
    with engine.connect() as conn:
        workers = conn.execute(sa.text(
            "SELECT w.post, w.name FROM grid_worker w JOIN grid g ON g.id = w.grid_id "
            "WHERE g.code = 'CORE-2' ORDER BY w.post")).all()
        households = conn.execute(sa.text(
            "SELECT households FROM grid WHERE code = 'CORE-3'")).scalar_one()
    assert [tuple(w) for w in workers] == [("A", "张2"), ("B", "李2")]
    assert households == 103


def test_geopackage_in_a_metric_crs_is_reprojected(engine, tmp_path):
    frame = grid_frame("GPKG-", [(105.05, 29.58)], size=0.002).to_crs("EPSG:4544")
    path = tmp_path / "grids.gpkg"
    frame.to_file(path, layer="grids")
    report = run(engine, "grids", path)
    assert (report.inserted, report.crs) == (1, "EPSG:4544")
    with engine.connect() as conn:
        x, y = conn.execute(sa.text("SELECT ST_XMin(geom), ST_YMin(geom) FROM grid "
                                    "WHERE code = 'GPKG-0'")).one()
    assert abs(x - 105.05) < 1e-6 and abs(y - 29.58) < 1e-6


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # GDAL: field names laundered
def test_shapefile_with_ten_character_field_names(engine, tmp_path):
    path = tmp_path / "grids.shp"
    with pytest.warns(UserWarning):  # geopandas warns that names get truncated
        grid_frame("SHP-", [(105.06, 29.58)], size=0.002).to_file(path)
    report = run(engine, "grids", path)
    assert report.inserted == 1 and report.ignored_columns == []
    with engine.connect() as conn:
        phone = conn.execute(sa.text(
            "SELECT w.phone FROM grid_worker w JOIN grid g ON g.id = w.grid_id "
            "WHERE g.code = 'SHP-0' AND w.post = 'B'")).scalar_one()
    assert phone == "13800000000"


def test_kml_cameras_with_chinese_source_labels(engine, core_grids, tmp_path):
    frame = gpd.GeoDataFrame({
        "code": ["KML-0", "KML-1"], "Name": ["东门", "西门"], "source": ["天网", "院落监控"],
        "azimuth": ["370", "90"], "main_url": ["rtsp://admin:Secr3t!@10.0.0.7/1", ""]},
        geometry=[shapely.Point(105.035, 29.565), shapely.Point(105.045, 29.575)], crs=4326)
    path = tmp_path / "cameras.kml"
    frame.to_file(path, driver="KML")
    report = run(engine, "cameras", path)
    assert report.inserted == 2 and report.crs == "EPSG:4326"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT c.code, c.source, c.azimuth_deg, g.code FROM camera c "
            "LEFT JOIN grid g ON g.id = c.grid_id WHERE c.code LIKE 'KML-%' ORDER BY c.code"
        )).all()
    assert [tuple(r) for r in rows] == [("KML-0", "skynet", 10.0, "CORE-0"),
                                        ("KML-1", "courtyard", 90.0, "CORE-3")]


def test_csv_events_with_chinese_headers(engine, core_grids, tmp_path):
    path = events_csv(tmp_path / "events.csv", "CSV-", [105.035, 105.045], [29.565, 29.575],
                      优先级=["紧急", ""], 描述=["垃圾堆放", "占道经营"])
    report = run(engine, "events", path, crs="EPSG:4326")
    assert report.inserted == 2
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT e.category_code, e.source_channel, e.priority, e.reported_at, "
            "e.deadline_at - e.reported_at, g.code, d.code FROM event e "
            "JOIN grid g ON g.id = e.grid_id JOIN department d ON d.id = e.department_id "
            "WHERE e.code = 'CSV-0'")).one()
    category, source, priority, reported, window, grid, dept = row
    assert (category, source, priority, grid, dept) == (
        "sanitation", "hotline_12345", "urgent", "CORE-0", "cgj")
    # A time without zone is Beijing time: 08:30 +08:00 is 00:30 UTC.
    assert reported.astimezone(__import__("datetime").UTC).hour == 0
    assert window.total_seconds() == 24 * 3600  # the category's deadline


def test_xlsx_courtyards_with_wkt_polygons(engine, core_grids, tmp_path):
    frame = pd.DataFrame({
        "院落编码": ["XLS-0"], "院落名称": ["红旗院"], "楼栋数": [3], "户数": [48],
        "建成年份": [1988], "改造状态": ["改造中"],
        "geometry": [shapely.box(105.041, 29.571, 105.042, 29.572).wkt]})
    path = tmp_path / "courtyards.xlsx"
    frame.to_excel(path, index=False)
    report = run(engine, "courtyards", path, crs="EPSG:4326")
    assert report.inserted == 1
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT c.renovation_status, c.built_year, c.buildings, g.code FROM courtyard c "
            "JOIN grid g ON g.id = c.grid_id WHERE c.code = 'XLS-0'")).one()
    assert tuple(row) == ("in_progress", 1988, 3, "CORE-3")


def test_read_table_converts_the_gcj02_boundary(settings):
    table = read_table(settings.path(settings.district.boundary_file), crs="gcj02")
    assert table.crs.to_epsg() == 4326 and "adcode" in table.columns


# --- bad inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("empty.geojson", b"", "空文件"),
    ("empty.csv", b"", "空文件"),
    ("braces.geojson", b"{}", "FeatureCollection"),
    ("garbage.gpkg", b"\x00\x01not a geopackage at all", "无法读取"),
    ("header_only.csv", "编码,名称,经度,纬度\n".encode(), "没有数据行"),
    ("grids.docx", b"PK", "不支持的文件类型"),
])
def test_unusable_files_give_a_clear_error(engine, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    exc = rejected(engine, "grids", path, crs="EPSG:4326")
    assert expected in str(exc)


def test_bow_tie_polygon_is_repaired_and_reported(engine, tmp_path):
    frame = grid_frame("BOW-", [(105.05, 29.57)], size=0.002)
    x, y = 105.05, 29.57
    frame.geometry = [shapely.Polygon([(x, y), (x + 0.002, y + 0.002), (x + 0.002, y),
                                       (x, y + 0.002), (x, y)])]
    path = tmp_path / "bow.gpkg"
    frame.to_file(path)
    report = run(engine, "grids", path)
    assert report.inserted == 1 and report.repaired == 1
    assert report.repairs[0][0] == 1 and "Self-intersection" in report.repairs[0][1]
    with engine.connect() as conn:
        kind, parts = conn.execute(sa.text(
            "SELECT GeometryType(geom), ST_NumGeometries(geom) FROM grid WHERE code = 'BOW-0'"
        )).one()
    assert (kind, parts) == ("MULTIPOLYGON", 2)


def test_files_without_a_crs_are_refused_naming_the_crs_option(engine, tmp_path):
    data = json.loads(grid_frame("NOCRS-").to_json())
    data.pop("crs", None)
    geojson = tmp_path / "nocrs.geojson"
    geojson.write_text(json.dumps(data), encoding="utf-8")
    exc = rejected(engine, "grids", geojson)
    assert "--crs" in str(exc) and "GCJ-02" in str(exc) and "RFC 7946" in str(exc)
    csv = events_csv(tmp_path / "e.csv", "NOCRS-", [105.035], [29.565])
    assert "--crs" in str(rejected(engine, "events", csv))
    shp = tmp_path / "g.shp"
    grid_frame("NOCRS-", [(105.05, 29.57)]).to_file(shp)
    shp.with_suffix(".prj").unlink()
    assert ".prj" in str(rejected(engine, "grids", shp))
    assert count(engine, "grid", "NOCRS-") == 0
    # With --crs the same GeoJSON imports.
    assert run(engine, "grids", geojson, crs="EPSG:4326").inserted == 4 - 0


def test_swapped_lat_lon_columns_are_detected(engine, core_grids, tmp_path):
    path = events_csv(tmp_path / "swap.csv", "SWAP-", [29.565, 105.045], [105.035, 29.575])
    exc = rejected(engine, "events", path, crs="EPSG:4326")
    assert [p[0] for p in exc.problems] == [1]
    assert "经纬度列看起来颠倒了" in exc.problems[0][2] and "swapped" in exc.problems[0][2]
    assert count(engine, "event", "SWAP-") == 0


def _edge_points(engine, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 points just inside the district whose GCJ-02 coordinates fall outside it."""
    from gis.district import district_boundary, district_geometry

    with session_scope(engine) as session:
        boundary, check = district_boundary(session), district_geometry(session)
    ring = shapely.get_coordinates(shapely.get_exterior_ring(max(boundary.geoms,
                                                                 key=lambda g: g.area)))
    centre = np.array(boundary.centroid.coords[0])
    inner = ring + (centre - ring) * 0.0015  # ~20-40 m inwards
    glon, glat = wgs84_to_gcj02(inner[:, 0], inner[:, 1])
    ok = (shapely.contains_xy(boundary, inner[:, 0], inner[:, 1])
          & ~shapely.intersects_xy(check, glon, glat))
    picked = np.flatnonzero(ok)[:: max(1, ok.sum() // n)][:n]
    assert len(picked) == n
    return inner[picked, 0], inner[picked, 1]


def test_gcj02_data_declared_as_wgs84_is_recognised(engine, core_grids, tmp_path):
    lon, lat = _edge_points(engine)
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = events_csv(tmp_path / "gcj.csv", "GCJ-", glon, glat)
    exc = rejected(engine, "events", path, crs="EPSG:4326")
    assert "看起来是GCJ-02坐标，请使用 --crs gcj02" in str(exc)
    shift = float(str(exc).split("约 ")[1].split(" 米")[0])
    assert 300 < shift < 700
    # Following the advice works.
    assert run(engine, "events", path, crs="gcj02").inserted == len(lon)


def test_points_outside_the_district_are_rejected_with_row_numbers(engine, core_grids, tmp_path):
    path = events_csv(tmp_path / "out.csv", "OUT-", [105.035, 104.5, 105.045, 106.0],
                      [29.565, 29.2, 29.575, 30.5])
    exc = rejected(engine, "events", path, crs="EPSG:4326")
    assert sorted(p[0] for p in exc.problems) == [2, 4]
    assert all("超出辖区范围" in p[2] for p in exc.problems)
    assert count(engine, "event", "OUT-") == 0


def test_duplicate_codes_in_one_file_name_both_rows(engine, tmp_path):
    frame = grid_frame("DUP-", CORE_BOXES[:3])
    frame.loc[2, "code"] = "DUP-0"
    path = tmp_path / "dup.gpkg"
    frame.to_file(path)
    exc = rejected(engine, "grids", path)
    assert sorted(p[0] for p in exc.problems) == [1, 3]
    assert "1、3" in exc.problems[0][2]


def test_grid_without_its_b_worker_is_a_row_numbered_error(engine, tmp_path):
    frame = grid_frame("NOB-", CORE_BOXES[:2])
    frame.loc[1, "worker_b_phone"] = None
    path = tmp_path / "nob.gpkg"
    frame.to_file(path)
    exc = rejected(engine, "grids", path)
    assert [(p[0], p[1]) for p in exc.problems] == [(2, "worker_b_phone")]


def test_a_100k_vertex_polygon_imports(engine, tmp_path):
    angles = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
    ring = np.column_stack([105.055 + 0.004 * np.cos(angles), 29.585 + 0.003 * np.sin(angles)])
    frame = grid_frame("BIG-", [(0, 0)])
    frame.geometry = [shapely.Polygon(ring)]
    path = tmp_path / "big.gpkg"
    frame.to_file(path)
    assert run(engine, "grids", path).inserted == 1
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT ST_NPoints(geom) FROM grid WHERE code = 'BIG-0'"))
        assert n.scalar_one() == 100_001


def test_a_malicious_column_name_is_ignored_and_harmless(engine, tmp_path):
    frame = grid_frame("EVIL-", CORE_BOXES[:1])
    frame['x"; DROP TABLE grid; --'] = ["1"]
    frame = frame.drop(columns="geometry").assign(wkt=frame.geometry.to_wkt())
    path = tmp_path / "evil.csv"
    frame.to_csv(path, index=False)
    report = run(engine, "grids", path, crs="EPSG:4326")
    assert report.inserted == 1
    assert report.ignored_columns == ['x"; DROP TABLE grid; --']
    assert count(engine, "grid", "EVIL-") == 1


def test_stream_passwords_never_appear_in_problems(engine, tmp_path):
    path = tmp_path / "cams.csv"
    pd.DataFrame({"code": ["PW-0"], "name": ["x" * 80], "source": ["nonsense"],
                  "main_url": ["rtsp://admin:Hunter2pw@10.0.0.9/Streaming/Channels/101"],
                  "lon": [105.035], "lat": [29.565]}).to_csv(path, index=False)
    exc = rejected(engine, "cameras", path, crs="EPSG:4326")
    assert len(exc.problems) == 2
    assert "Hunter2pw" not in text_of(exc)


# --- transactions, re-import, conversion ----------------------------------------------------


def test_a_bad_last_row_leaves_the_database_unchanged(engine, core_grids, tmp_path):
    good = events_csv(tmp_path / "good.csv", "AON-", [105.035] * 3, [29.565] * 3)
    run(engine, "events", good, crs="EPSG:4326")
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*), sum(version) FROM event")).one()
    lon = [105.035] * 999 + [105.045]
    bad = events_csv(tmp_path / "bad.csv", "AON-", lon, [29.565] * 1000,
                     类别=["市容秩序"] * 999 + ["不存在的类别"])
    exc = rejected(engine, "events", bad, crs="EPSG:4326")
    assert [p[0] for p in exc.problems] == [1000]
    assert exc.report.rows_read == 1000 and exc.report.rejected == 1
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT count(*), sum(version) FROM event")).one()
        category = conn.execute(sa.text(
            "SELECT category_code FROM event WHERE code = 'AON-0'")).scalar_one()
    assert tuple(after) == tuple(before) and category == "sanitation"


def test_a_database_refusal_at_commit_rolls_back_the_whole_file(engine, core_grids, tmp_path):
    # The database is the last line: when a rule it checks at commit (one A and one B worker
    # per grid) fails, every row of the file goes, not just the offending grid.
    frame = grid_frame("ROLL-", CORE_BOXES[:2])
    path = tmp_path / "roll.gpkg"
    frame.to_file(path)
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        import_file(session, "grids", path)
        session.execute(sa.text("DELETE FROM grid_worker WHERE post = 'B' AND grid_id IN "
                                "(SELECT id FROM grid WHERE code = 'ROLL-1')"))
    assert count(engine, "grid", "ROLL-") == 0


def test_reimport_updates_instead_of_duplicating(engine, core_grids, tmp_path):
    path = tmp_path / "re.csv"
    events_csv(path, "RE-", [105.035, 105.045], [29.565, 29.575])
    first = run(engine, "events", path, crs="EPSG:4326")
    again = run(engine, "events", path, crs="EPSG:4326")
    assert (first.inserted, again.inserted, again.updated, again.unchanged) == (2, 0, 0, 2)
    events_csv(path, "RE-", [105.035, 105.045], [29.565, 29.575],
               状态=["已受理", "已上报"])
    changed = run(engine, "events", path, crs="EPSG:4326")
    assert (changed.inserted, changed.updated) == (0, 1)
    assert count(engine, "event", "RE-") == 2
    with engine.connect() as conn:
        status, version = conn.execute(sa.text(
            "SELECT status, version FROM event WHERE code = 'RE-0'")).one()
    assert (status, version) == ("accepted", 2)
    # Grids: a new B worker is an update of the grid, not a second worker.
    grids = grid_frame("REG-", CORE_BOXES[:1])
    gpath = tmp_path / "reg.gpkg"
    grids.to_file(gpath)
    run(engine, "grids", gpath)
    grids.loc[0, "worker_b_name"] = "王五"
    grids.to_file(gpath)
    assert run(engine, "grids", gpath).updated == 1
    with engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT w.name FROM grid_worker w JOIN grid g ON g.id = w.grid_id "
            "WHERE g.code = 'REG-0' ORDER BY w.post")).scalars().all()
    assert names == ["张0", "王五"]


def test_crs_gcj02_shifts_coordinates_by_about_400_metres(engine, core_grids, tmp_path):
    lon, lat = 105.05, 29.58
    path = events_csv(tmp_path / "gcj.csv", "SHIFT-", [lon, lon], [lat, lat])
    frame = pd.read_csv(path, dtype=str)
    frame.loc[0, "事件编号"], frame.loc[1, "事件编号"] = "SHIFT-W", "SHIFT-G"
    frame.to_csv(path, index=False)
    wgs = tmp_path / "w.csv"
    frame.iloc[[0]].to_csv(wgs, index=False)
    gcj = tmp_path / "g.csv"
    frame.iloc[[1]].to_csv(gcj, index=False)
    run(engine, "events", wgs, crs="EPSG:4326")
    run(engine, "events", gcj, crs="gcj02")
    with engine.connect() as conn:
        pts = dict(conn.execute(sa.text(
            "SELECT code, ARRAY[ST_X(geom), ST_Y(geom)] FROM event WHERE code LIKE 'SHIFT-%'"
        )).all())
    (wx, wy), (gx, gy) = pts["SHIFT-W"], pts["SHIFT-G"]
    assert 400 <= float(haversine_m(wx, wy, gx, gy)) <= 450
    assert gx < wx and gy > wy  # GCJ-02 lies north-east of the truth, so we move back


def test_declared_crs_overridden_by_option_is_noted(engine, tmp_path):
    frame = grid_frame("OVR-", [(105.045, 29.575)], size=0.002)
    path = tmp_path / "ovr.gpkg"
    frame.to_file(path)
    report = run(engine, "grids", path, crs="gcj02")
    assert report.crs == "gcj02"
    assert any("EPSG:4326" in n and "--crs gcj02" in n for n in report.notes)


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(engine):
    from typer.testing import CliRunner

    from command_center.cli import app

    url = engine.url.render_as_string(hide_password=False)
    env = {"CC_DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")}

    def invoke(*args: str):
        return CliRunner(env=env).invoke(app, ["import", *args])

    return invoke


def test_cli_imports_and_prints_a_summary(cli, tmp_path):
    frame = grid_frame("CLI-", CORE_BOXES[:2])
    frame["[bold]备注"] = ["a", "b"]
    path = tmp_path / "cli.gpkg"
    frame.to_file(path)
    result = cli("grids", str(path))
    assert result.exit_code == 0, result.output
    assert "导入结果 / import summary" in result.output and "新增 / inserted" in result.output
    assert "'[bold]备注'" in result.output  # printed as text, not taken as rich markup
    again = cli("grids", str(path))
    assert again.exit_code == 0 and "未变 / unchanged" in again.output


def test_cli_prints_problems_with_row_numbers_and_exits_1(cli, engine, tmp_path):
    path = events_csv(tmp_path / "bad.csv", "CLIBAD-", [105.035, 104.0], [29.565, 29.0])
    result = cli("events", str(path), "--crs", "EPSG:4326")
    assert result.exit_code == 1
    assert "问题 / problems" in result.output and "超出辖区范围" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert count(engine, "event", "CLIBAD-") == 0


def test_cli_without_crs_names_the_option(cli, tmp_path):
    path = events_csv(tmp_path / "nocrs.csv", "CLINO-", [105.035], [29.565])
    result = cli("events", str(path))
    assert result.exit_code == 1 and "--crs" in result.output
    missing = cli("events", str(tmp_path / "missing.csv"), "--crs", "EPSG:4326")
    assert missing.exit_code == 1 and "找不到文件" in missing.output
