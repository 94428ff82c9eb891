"""Relay ingest against real RTSP servers on loopback: frames, on-demand decoding, probes,
credentials, and health written to a real PostGIS (surviving a database restart).

Fault behaviour (kill, hang, freeze, garbage, fifty failing cameras) is in
``test_relay_faults.py``. Every camera here is a real ``video.simulator`` process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from helpers import require_simulator, wait_until
from sqlalchemy.orm import Session

from config.settings import RelaySettings
from gis.scrub import SecretUrl
from video.camera import OFFLINE, ONLINE, UNAUTHORIZED, CameraSpec, cameras_from_database
from video.health_store import HealthStore
from video.pixelcode import decode_timestamp
from video.probe import probe
from video.simulator import CameraSpec as SimCamera
from video.simulator import Simulator
from video.supervisor import Supervisor

USER, PASSWORD = "ops.admin", "Zh!p@ss:w/rd 9"
SIZE, SUB = (320, 180), (160, 90)


def relay_settings(**overrides: float) -> RelaySettings:
    values: dict[str, float] = {"probe_interval_s": 5, "linger_s": 0.5, "write_health_s": 1}
    values.update(overrides)
    return RelaySettings(**values)


def reader_threads(code: str | None = None) -> list[threading.Thread]:
    prefix = f"reader-{code}-" if code else "reader-"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def spec(sim: Simulator, code: str, url: str | None = None) -> CameraSpec:
    return CameraSpec(code, f"测试 {code}", SecretUrl(url or sim.url(code, "main")),
                      SecretUrl(url or sim.url(code, "sub")))


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    require_simulator()
    simulator = Simulator([SimCamera("cam-a", "甲"), SimCamera("cam-b", "乙"),
                           SimCamera("locked", "加密", USER, PASSWORD)],
                          size=SIZE, sub_size=SUB, fps=15)
    try:
        simulator.start()
        yield simulator
    finally:
        simulator.stop()


# -- the probe ---------------------------------------------------------------------------

def test_probe_tells_online_unauthorized_missing_and_refused_apart(sim):
    assert probe(sim.url("cam-a", "sub")).state == ONLINE
    assert probe(sim.url("locked", "sub")).state == ONLINE  # Basic challenge answered
    wrong = probe(sim.url("locked", "sub").replace("w%2Frd", "nope"))
    assert (wrong.state, wrong.status_code) == (UNAUTHORIZED, 401)
    assert probe(sim.url("locked", "sub", credentials=False)).state == UNAUTHORIZED
    missing = probe(sim.url("cam-a", "sub").replace("/cam-a/sub", "/nothing"))
    assert (missing.state, missing.status_code) == (OFFLINE, 404)
    port = sim.camera("cam-a").port
    refused = probe(f"rtsp://127.0.1.7:{port}/x", timeout_s=1)
    assert refused.state == OFFLINE and "refused" in (refused.error or "")


def test_probe_answers_a_digest_challenge():
    with Simulator([SimCamera("dg", "摘要", USER, PASSWORD)], size=SIZE, auth="digest") as dig:
        assert probe(dig.url("dg", "main")).state == ONLINE
        assert probe(dig.url("dg", "main").replace("w%2Frd", "x")).state == UNAUTHORIZED


# -- decoding on demand ------------------------------------------------------------------

def test_frames_arrive_move_and_carry_the_wall_clock(sim):
    with Supervisor([spec(sim, "cam-a")], relay_settings()) as sup:
        sup.acquire("cam-a", "sub")
        first = sup.wait_frame("cam-a", "sub", 0, timeout=10)
        assert first is not None and first.image.shape == (SUB[1], SUB[0], 3)
        frames = [first]
        while len(frames) < 10:
            frame = sup.wait_frame("cam-a", "sub", frames[-1].seq, timeout=5)
            assert frame is not None, "frames stopped"
            frames.append(frame)
        stamps = [decode_timestamp(f.image) for f in frames]
        assert all(s is not None for s in stamps)
        assert stamps == sorted(stamps) and stamps[-1] > stamps[0]  # the picture moves on
        assert [f.seq for f in frames] == sorted({f.seq for f in frames})
        assert sup.latest("cam-a", "sub").seq >= frames[-1].seq
        health = sup.health("cam-a")
        assert health.status == ONLINE and health.watched and health.fps and health.fps > 1
        assert health.last_seen_at is not None


def test_decoding_runs_only_between_acquire_and_linger_after_the_last_release(sim):
    with Supervisor([spec(sim, "cam-b")], relay_settings(linger_s=0.5)) as sup:
        time.sleep(0.3)
        assert reader_threads("cam-b") == [] and sup.stats()["decoders_running"] == 0
        sup.acquire("cam-b", "sub")
        sup.acquire("cam-b", "sub")  # a second viewer shares the same decoder
        assert len(reader_threads("cam-b")) == 1
        assert sup.wait_frame("cam-b", "sub", 0, timeout=10) is not None
        sup.release("cam-b", "sub")
        time.sleep(1.2)  # well past linger_s: one viewer is still there
        assert len(reader_threads("cam-b")) == 1 and sup.health("cam-b").watched
        sup.release("cam-b", "sub")
        wait_until(lambda: not reader_threads("cam-b"), 5, "decoder stopped after linger")
        assert sup.stats()["decoders_running"] == 0
        assert not sup.health("cam-b").watched
        with pytest.raises(KeyError):
            sup.acquire("no-such-camera", "sub")


def test_unwatched_cameras_get_health_from_probes_only_and_a_killed_one_turns_offline():
    with Simulator(2, size=SIZE, fps=15) as own:
        cams = [spec(own, "sim01"), spec(own, "sim02")]
        with Supervisor(cams, relay_settings(probe_interval_s=5)) as sup:
            wait_until(lambda: all(h.status == ONLINE for h in sup.health_all().values()),
                       8, "both cameras probed online")
            assert reader_threads() == [] and sup.stats()["probes_total"] >= 2
            assert not sup.health("sim01").watched and sup.health("sim01").fps is None
            own.kill("sim02")
            # The next probe of sim02 comes at most one interval (5 s) later.
            wait_until(lambda: sup.health("sim02").status == OFFLINE, 8,
                       "killed camera offline at its next probe")
            assert "refused" in (sup.health("sim02").last_error or "")
            assert sup.health("sim01").status == ONLINE and reader_threads() == []


def test_a_camera_being_decoded_is_not_probed_and_is_again_once_released():
    # A decoder delivering frames says more than a DESCRIBE; a second RTSP session on a
    # streaming camera costs it (and stalled the simulator's other streams for seconds).
    with Simulator(2, size=SIZE, fps=15) as own:
        cams = [spec(own, "sim01"), spec(own, "sim02")]
        with Supervisor(cams, relay_settings(probe_interval_s=5)) as sup:
            sup.acquire("sim01", "sub")
            assert sup.wait_frame("sim01", "sub", 0, timeout=10) is not None
            wait_until(lambda: sup.stats()["probes_skipped_total"] >= 2, 12,
                       "two periodic probes of the decoded camera skipped")
            stats = sup.stats()
            # sim02's probes ran meanwhile: the skip is per camera, not a pause of the prober
            assert stats["probes_total"] >= 2 and sup.health("sim02").status == ONLINE
            assert sup.health("sim01").status == ONLINE
            sup.release("sim01", "sub")
            wait_until(lambda: sup.stats()["decoders_running"] == 0, 5, "decoder stopped")
            skipped, probed = sup.stats()["probes_skipped_total"], sup.stats()["probes_total"]
            wait_until(lambda: sup.stats()["probes_total"] >= probed + 2, 12,
                       "both cameras probed again")
            assert sup.stats()["probes_skipped_total"] == skipped
            assert sup.health("sim01").status == ONLINE and not sup.health("sim01").watched


def test_wrong_credentials_make_a_camera_unauthorized_without_leaking_them(sim, caplog):
    caplog.set_level(logging.DEBUG)
    bad = sim.url("locked", "main").replace("w%2Frd", "wrong")
    cams = [CameraSpec("locked", "加密", SecretUrl(bad)),
            spec(sim, "locked-ok", sim.url("locked", "sub")),
            CameraSpec("gone", "不在", SecretUrl(f"rtsp://{USER}:{PASSWORD}@127.0.1.9:9/x")),
            CameraSpec("gone2", "不在", SecretUrl(f"rtsp://{USER}:{quote(PASSWORD)}@127.0.1.9:9/y"))]
    with Supervisor(cams, relay_settings()) as sup:
        sup.acquire("locked", "sub")
        sup.acquire("locked-ok", "sub")
        sup.acquire("gone", "sub")
        sup.acquire("gone2", "sub")
        wait_until(lambda: sup.health("locked").status == UNAUTHORIZED, 5, "unauthorized")
        assert sup.wait_frame("locked-ok", "sub", 0, timeout=10) is not None
        wait_until(lambda: sup.health("gone").status == OFFLINE, 5, "offline")
        wait_until(lambda: sup.health("gone2").status == OFFLINE, 5, "offline")
        healths = sup.health_all()
        time.sleep(0.5)  # let the watchdog log its transitions
    assert "401" in (healths["locked"].last_error or "")
    texts = [caplog.text, *(str(h) for h in healths.values())]
    for secret in (PASSWORD, "Zh%21p%40ss", "wrong", "ops.admin:"):
        assert not any(secret in text for text in texts), secret
    assert "locked" in caplog.text  # the transitions were logged, just without secrets


# -- health in the database --------------------------------------------------------------

@pytest.fixture
def camera_rows(engine, sim):
    codes = {"db-a": sim.url("cam-a", "main"), "db-b": sim.url("cam-b", "main"),
             "db-dead": "rtsp://admin:hunter2x@127.0.1.11:9/none"}
    with Session(engine) as s:
        for i, (code, url) in enumerate(codes.items()):
            s.execute(sa.text("""
                INSERT INTO camera (code, name_zh, source, vendor, geom, main_url, health_status,
                                    health_reconnects)
                VALUES (:code, :name, 'community', 'generic',
                        ST_SetSRID(ST_MakePoint(:lon, 29.57), 4326), :url, 'unknown', 0)"""),
                {"code": code, "name": f"测试 {code}", "lon": 105.02 + i * 0.001, "url": url})
        s.commit()
    yield list(codes)
    with Session(engine) as s:
        s.execute(sa.text("DELETE FROM camera WHERE code LIKE 'db-%'"))
        s.commit()


def db_health(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT code, health_status, health_fps, health_last_error, last_seen_at, "
            "health_checked_at FROM camera WHERE code LIKE 'db-%'")).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_health_store_writes_every_camera_in_one_statement_and_skips_unknown_codes(
        engine, camera_rows):
    from video.camera import Health

    store = HealthStore(engine)
    healths = [Health("db-a", ONLINE, 14.5, 2, None, time.time()),
               Health("db-dead", OFFLINE, 0.0, 7, "rtsp://admin:hunter2x@h/x " + "e" * 900),
               Health("not-in-table", ONLINE)]
    assert store.write(healths) == 2
    rows = db_health(engine)
    assert rows["db-a"][:2] == (ONLINE, 14.5) and rows["db-a"][3] is not None
    assert rows["db-dead"][0] == OFFLINE and len(rows["db-dead"][2]) == 500
    assert "hunter2x" not in rows["db-dead"][2]


@pytest.mark.slow
def test_health_reaches_the_database_and_survives_a_database_restart(
        engine, camera_rows, cluster, caplog):
    with Session(engine) as s:
        cams = cameras_from_database(s, camera_rows)
    store = HealthStore(engine)
    with Supervisor(cams, relay_settings(probe_interval_s=5, write_health_s=1),
                    health_sink=store) as sup:
        sup.acquire("db-a", "sub")
        wait_until(lambda: db_health(engine)["db-a"][0] == ONLINE, 15, "db-a online in the table")
        wait_until(lambda: db_health(engine)["db-dead"][0] == OFFLINE, 15, "db-dead offline")
        assert "hunter2x" not in (db_health(engine)["db-dead"][2] or "")
        cluster.stop()
        try:
            wait_until(lambda: store.rounds_failed >= 1, 10, "a round failed while down")
        finally:
            cluster.start()
        before = db_health(engine)["db-a"][4]
        wait_until(lambda: db_health(engine)["db-a"][4] > before, 15, "writes resumed")
        assert sup.health("db-a").status == ONLINE  # decoding never noticed
    assert "hunter2x" not in caplog.text
