"""Relay ingest under faults, against real RTSP servers on loopback.

kill -9, a server that accepts TCP and never answers, a frozen (SIGSTOP) camera, garbage
bytes, and fifty cameras failing at once. Bounds are the issue's (offline within 5 s of a
kill, online within 3 s of the return, stale then offline within 5 s of a freeze), not
measurements: benchmarks/ measures.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest
from helpers import free_port, require_simulator, wait_until

from config.settings import RelaySettings
from gis.scrub import SecretUrl
from video.camera import OFFLINE, ONLINE, STALE, CameraSpec
from video.reader import Backoff
from video.simulator import Simulator
from video.supervisor import Supervisor

SIZE, SUB, FPS = (320, 180), (160, 90), 15


def relay_settings(**overrides: float) -> RelaySettings:
    values: dict[str, float] = {"probe_interval_s": 30, "linger_s": 0.5}
    values.update(overrides)
    return RelaySettings(**values)


def spec(sim: Simulator, code: str) -> CameraSpec:
    return CameraSpec(code, code, SecretUrl(sim.url(code, "main")), SecretUrl(sim.url(code, "sub")))


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    require_simulator()
    simulator = Simulator(3, size=SIZE, sub_size=SUB, fps=FPS)
    try:
        simulator.start()
        yield simulator
    finally:
        simulator.stop()


def frames_per_second(sup: Supervisor, code: str, seconds: float) -> float:
    first = sup.wait_frame(code, "sub", 0, timeout=5)
    assert first is not None
    start, seq = time.monotonic(), first.seq
    time.sleep(seconds)
    return (sup.latest(code, "sub").seq - seq) / (time.monotonic() - start)


def test_killed_camera_goes_offline_within_5s_and_online_within_3s_of_its_return(sim):
    with Supervisor([spec(sim, "sim01")], relay_settings()) as sup:
        sup.acquire("sim01", "sub")
        assert sup.wait_frame("sim01", "sub", 0, timeout=10) is not None
        try:
            sim.kill("sim01")
            wait_until(lambda: sup.health("sim01").status == OFFLINE, 5, "offline after kill")
            time.sleep(3)  # long enough for the backoff to have grown past the probe cadence
            assert sup.health("sim01").status == OFFLINE
            sim.restart("sim01")
            wait_until(lambda: sup.health("sim01").status == ONLINE, 3, "online after return")
        finally:
            if sim.camera("sim01").state != "running":
                sim.restart("sim01")
        assert sup.health("sim01").reconnects >= 1


def test_hanging_server_fails_within_the_open_timeout_and_others_keep_their_fps(sim):
    hang = sim.start_fault_server("hang")
    cams = [spec(sim, "sim02"), CameraSpec("hang", "挂起", SecretUrl(hang.url))]
    relay = relay_settings(open_timeout_ms=1500)
    with Supervisor(cams, relay) as sup:
        sup.acquire("sim02", "sub")
        before = frames_per_second(sup, "sim02", 2.0)
        sup.acquire("hang", "sub")
        during = frames_per_second(sup, "sim02", 3.0)
        reader = sup.reader("hang", "sub")
        assert reader is not None and reader.attempts_total >= 1
        wait_until(lambda: reader.state == OFFLINE, 1.5 + 1.0, "hang fails in its timeout")
        assert "no answer" in (reader.last_error or "")
        assert sup.health("sim02").status == ONLINE
    # The healthy camera is not slowed by the hung one (against its own rate on this host).
    assert during >= 0.8 * min(FPS, before), (before, during)


def test_frozen_camera_goes_stale_then_offline_within_5s_and_recovers_after_thaw(sim):
    with Supervisor([spec(sim, "sim03")], relay_settings()) as sup:
        sup.acquire("sim03", "sub")
        assert sup.wait_frame("sim03", "sub", 0, timeout=10) is not None
        wait_until(lambda: sup.health("sim03").status == ONLINE, 5, "online")
        seen: list[str] = []
        try:
            sim.freeze("sim03")
            start = time.monotonic()
            while sup.health("sim03").status != OFFLINE:
                status = sup.health("sim03").status
                if not seen or seen[-1] != status:
                    seen.append(status)
                assert time.monotonic() - start < 5, f"not offline within 5 s: {seen}"
                time.sleep(0.02)
            assert STALE in seen  # stale came first, not straight to offline
        finally:
            sim.thaw("sim03")
        wait_until(lambda: sup.health("sim03").status == ONLINE, 10, "recovered after thaw")
        latest = sup.latest("sim03", "sub").seq
        assert sup.wait_frame("sim03", "sub", latest, timeout=5) is not None


def test_garbage_bytes_leave_the_camera_offline_with_an_error_and_nothing_crashed(sim):
    junk = sim.start_fault_server("garbage")
    url = junk.url.replace("rtsp://", "rtsp://admin:garbage-secret@")
    cams = [CameraSpec("junk", "乱码", SecretUrl(url)), spec(sim, "sim02")]
    with Supervisor(cams, relay_settings()) as sup:
        sup.acquire("junk", "sub")
        sup.acquire("sim02", "sub")
        wait_until(lambda: sup.reader("junk", "sub").attempts_total >= 2, 5, "retried")
        health = sup.health("junk")
        assert health.status == OFFLINE and health.last_error
        assert "garbage-secret" not in health.last_error
        assert sup.reader("junk", "sub").thread.is_alive()
        assert sup.wait_frame("sim02", "sub", 0, timeout=10) is not None


@pytest.mark.slow
def test_fifty_failing_cameras_retry_spread_out_cheaply_and_back_off_to_the_cap():
    port = free_port()
    # 127.0.1.x: nothing of ours listens there, so every connect is refused.
    cams = [CameraSpec(f"dead{i:02d}", f"坏{i}", SecretUrl(f"rtsp://127.0.1.{i + 1}:{port}/x"))
            for i in range(50)]
    relay = relay_settings(backoff_initial_s=0.25, backoff_max_s=2.0, restart_budget_per_min=600)
    with Supervisor(cams, relay) as sup:
        for cam in cams:
            sup.acquire(cam.code, "sub")
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(8)
        cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        readers = [sup.reader(c.code, "sub") for c in cams]
        assert all(h.status == OFFLINE for h in sup.health_all().values())
    assert cpu < 0.5, f"{cpu:.0%} of one core"
    # Retries are not synchronised: the second attempts of fifty cameras that failed
    # together are spread over the first backoff window, not bunched.
    second = [r.attempts[1] for r in readers]
    assert statistics.pstdev(second) > 0.03 and max(second) - min(second) > 0.1
    for reader in readers:
        ceilings = list(reader.ceilings)
        assert ceilings == sorted(ceilings) and ceilings[-1] == relay.backoff_max_s
        gaps = [b - a for a, b in zip(reader.attempts, list(reader.attempts)[1:], strict=False)]
        assert max(gaps) <= relay.backoff_max_s + 0.5
    assert sum(r.attempts_total for r in readers) < 50 * 8 / 0.25  # far below one per tick


def test_backoff_doubles_with_full_jitter_up_to_the_cap_and_keeps_the_budget():
    import random

    backoff = Backoff(0.5, 4.0, budget_per_min=3, rng=random.Random(7))
    delays = []
    for now in range(6):
        backoff.record_attempt(float(now))
        delays.append((backoff.next_delay(float(now)), backoff.ceiling_s))
    assert [c for _, c in delays] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert delays[0][0] <= 1.0  # the first retry comes within a second
    # Three attempts in the last minute: the budget holds the next one back.
    assert all(d >= 50 for d, _ in delays[2:]) and all(d < 50 for d, _ in delays[:2])
    backoff.reset()
    assert backoff.next_delay(1000.0) <= 0.5
