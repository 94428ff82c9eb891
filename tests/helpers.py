"""Plumbing shared by the tests: a free loopback port, polling, the simulator's prerequisites."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import pytest

from gis.errors import SetupError


def free_port() -> int:
    """A loopback port nobody listens on right now (also a port that refuses connections)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               step: float = 0.05) -> float:
    """Poll ``predicate``; return the seconds it took, fail the test after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(step)
    return time.monotonic() - start


def require_simulator() -> None:
    """Skip without GStreamer locally; under CI a missing simulator is a failure."""
    from video.simulator import check_setup

    try:
        check_setup()
    except SetupError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
