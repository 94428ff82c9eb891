"""The ``Examples`` in our docstrings are run, so that none of them goes stale.

Examples that need a database or a running service say ``# doctest: +SKIP`` on every line;
the rest (pure functions: coordinates, geometry, formatting, tile sizes) must print what they
say they print.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("gis", "video", "command_center", "config", "layers")
# Not importable on their own: Alembic's env runs inside Alembic; the GStreamer camera
# server is run by the system Python that has gi, not by the venv.
NOT_MODULES = ("gis.migrations", "video.simulator.gst_server")


def _modules_with_examples() -> list[str]:
    finder = doctest.DocTestFinder()
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        found = [package] + [info.name for info in
                             pkgutil.walk_packages(root.__path__, prefix=f"{package}.")]
        for name in found:
            if name.startswith(NOT_MODULES):
                continue
            tests = finder.find(importlib.import_module(name))
            if any(not e.options.get(doctest.SKIP) for t in tests for e in t.examples):
                names.append(name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_the_examples_we_know_of_are_found():
    assert {"video.walls", "video.mosaic", "command_center.reports.labels",
            "gis.coords"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
