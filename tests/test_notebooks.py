"""The analysis notebooks run top to bottom on a seeded demo database.

Each notebook is executed by nbclient in a kernel of this Python (so it imports the project as
installed), with ``CC_DATABASE_URL`` pointing at the test database and ``CC_REPORT_OUT`` at a
temporary folder. A cell that raises fails the test with the cell's error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = [pytest.mark.slow, pytest.mark.db]


@pytest.fixture(scope="module")
def demo(engine, settings):
    from gis.demo import seed_demo

    seed_demo(engine, settings)
    return engine


def _run(path: Path) -> tuple[str, int]:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    texts, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            data = output.get("data", {})
            texts.extend(str(v) for k, v in data.items() if k in ("text/plain", "text/html"))
            images += "image/png" in data
    return "\n".join(texts), images


def test_there_are_the_two_notebooks():
    names = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert {"planner_courtyard_renovation.ipynb", "leader_monthly_report.ipynb"} <= names


def test_the_planner_notebook_runs(demo, monkeypatch, tmp_path):
    monkeypatch.setenv("CC_DATABASE_URL", demo.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CC_REPORT_OUT", str(tmp_path))
    out, images = _run(NOTEBOOKS / "planner_courtyard_renovation.ipynb")
    assert "市中区" in out
    assert "未改造院落 / not started" in out
    assert images >= 3, "progress, before/after and the map are drawn"


def test_the_leader_notebook_runs_and_exports(demo, monkeypatch, tmp_path):
    monkeypatch.setenv("CC_DATABASE_URL", demo.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CC_REPORT_OUT", str(tmp_path))
    out, images = _run(NOTEBOOKS / "leader_monthly_report.ipynb")
    assert "监控覆盖面积占比" in out
    assert images >= 3, "streets, weeks and the map are drawn"
    written = sorted(p.suffix for p in tmp_path.iterdir())
    assert written == [".html", ".xlsx"], written
    assert "本期无数据" not in (next(tmp_path.glob("*.html"))).read_text(encoding="utf-8"), \
        "last month of the demo has events"
