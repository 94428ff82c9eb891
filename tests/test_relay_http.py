"""The relay's HTTP service end to end: real simulated RTSP cameras, the real supervisor, a real
tornado server on a loopback port, and plain ``http.client`` as the browser.

Cameras: two open ones, one that demands a password (served with the right one), the same
camera with a wrong password, and a camera with a password whose port is closed. The last two
are how credential scrubbing is tested on real error paths.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import cv2
import numpy as np
import pytest
from helpers import require_simulator

from config.settings import CameraGroup, RelaySettings, Settings, WallLayout, load_settings
from gis.scrub import SecretUrl
from video.camera import CameraSpec
from video.client import RelayClient
from video.simulator import CameraSpec as SimCamera
from video.simulator import Simulator
from video.tokens import mint

USER, PASSWORD = "op.admin", "Wr0ng&Secret!x"
RIGHT_PASSWORD = "R1ght:p@ss/42"
KEY = "http-test-signing-key-9f8e7d6c"
SECRETS = (PASSWORD, quote(PASSWORD, safe=""), RIGHT_PASSWORD, quote(RIGHT_PASSWORD, safe=""),
           "rtsp://", f"{USER}:")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    require_simulator()
    simulator = Simulator([SimCamera("sim-a", "东兴街道口"), SimCamera("sim-b", "玉溪路"),
                           SimCamera("locked", "加密机", USER, RIGHT_PASSWORD)],
                          size=(640, 360), sub_size=(320, 180), fps=15)
    try:
        simulator.start()
        yield simulator
    finally:
        simulator.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def settings() -> Settings:
    relay = RelaySettings(
        signing_key=KEY, linger_s=1.0, probe_interval_s=5, stale_after_s=1.5,
        offline_after_s=4.0, open_timeout_ms=2000, read_timeout_ms=2000, backoff_max_s=2.0,
        wall_fps=10, tile_width=320, token_ttl_s=60, warm_s=1.0,
        layouts={"2x2": WallLayout(rows=2, cols=2), "1x2": WallLayout(rows=1, cols=2)},
        groups={"gate": CameraGroup(title_zh="大门", cameras=["sim-a", "deadcam"],
                                    layout="1x2")})
    return load_settings().model_copy(update={"relay": relay})


@pytest.fixture(scope="module")
def relay(sim: Simulator, settings: Settings):
    from video.relay import Relay

    specs = [CameraSpec(code, cam.spec.name, cam.secret_url("main"), cam.secret_url("sub"))
             for code, cam in sim.cameras.items()]
    locked = sim.camera("locked")
    specs.append(CameraSpec("wrongpw", "错误密码", SecretUrl(
        f"rtsp://{quote(USER)}:{quote(PASSWORD, safe='')}@127.0.0.1:{locked.port}/locked/main")))
    specs.append(CameraSpec("deadcam", "断线机", SecretUrl(
        f"rtsp://{quote(USER)}:{quote(PASSWORD, safe='')}@127.0.0.1:{_closed_port()}/x")))
    with Relay(settings, specs, host="127.0.0.1", port=0) as running:
        # Under load a just-started simulated camera may answer its first DESCRIBE with 503;
        # wait for every live camera's first frame so that tests start from a known state.
        sup = running.supervisor
        for code in sim.cameras:
            sup.acquire(code, "sub")
        try:
            for code in sim.cameras:
                assert sup.wait_frame(code, "sub", -1, 20) is not None, f"{code} never came up"
        finally:
            for code in sim.cameras:
                sup.release(code, "sub")
        yield running


@pytest.fixture
def client(relay, settings: Settings) -> RelayClient:
    c = RelayClient(settings)
    c.base_url = relay.base_url
    return c


def get(url: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class MjpegReader:
    """Reads parts of a multipart/x-mixed-replace response the way a browser does."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.conn.connect()
        self.sock = self.conn.sock
        self.conn.request("GET", f"{parts.path}?{parts.query}")
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.content_type = self.resp.getheader("Content-Type", "")

    def next_jpeg(self) -> bytes:
        length = None
        while True:
            line = self.resp.readline()  # chunk-aware, like a browser
            if not line:
                raise EOFError("stream ended")
            text = line.decode("latin-1").strip()
            if text.lower().startswith("content-length:"):
                length = int(text.split(":", 1)[1])
            elif not text and length is not None:
                data = self.resp.read(length)
                self.resp.readline()
                return data

    def close(self) -> None:
        # Shut the socket itself: http.client would otherwise drain the endless body.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(OSError, ValueError):
            self.conn.close()


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# -- tokens ------------------------------------------------------------------------------------

def test_snapshot_with_a_valid_token_is_a_jpeg_of_the_sub_stream(client):
    status, headers, body = get(client.camera_url("sim-a", "sub", "snapshot"))
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert decode(body).shape == (180, 320, 3)
    status, _, body = get(client.camera_url("sim-a", "main", "snapshot"))
    assert status == 200 and decode(body).shape == (360, 640, 3)


def test_missing_expired_forged_or_misdirected_tokens_get_the_same_short_403(relay, client):
    base = f"{relay.base_url}/snapshot/sim-a.jpg"
    key = KEY.encode()
    expired = mint("camera", "sim-a", "sub", 60, key, now=time.time() - 120)
    forged = mint("camera", "sim-a", "sub", 60, b"not-the-relay-key")
    other_camera = mint("camera", "sim-b", "sub", 60, key)
    wall_token = mint("wall", "sim-a", "sub", 60, key)
    bodies = set()
    for url in (base, f"{base}?token=", f"{base}?token={expired}", f"{base}?token={forged}",
                f"{base}?token={other_camera}", f"{base}?token={wall_token}",
                f"{base}?token=garbage.garbage"):
        status, headers, body = get(url)
        assert status == 403, url
        assert headers["content-type"].startswith("text/plain")
        bodies.add(body)
    assert len(bodies) == 1, "the body never says why (no detail leak)"
    text = bodies.pop().decode("utf-8")
    assert "禁止访问" in text and "Forbidden" in text and len(text) < 120
    # A main-stream MJPEG needs a main-stream token; a sub token does not open it.
    sub_token = urlsplit(client.camera_url("sim-a", "sub")).query
    assert get(f"{relay.base_url}/mjpeg/sim-a/main?{sub_token}")[0] == 403
    # Unknown camera: 403 without a valid token (no probing for codes), 404 with one.
    assert get(f"{relay.base_url}/snapshot/nope.jpg")[0] == 403
    assert get(client.camera_url("nope", kind="snapshot"))[0] == 404
    assert get(client.wall_url("no-such-wall"))[0] == 404


# -- MJPEG -------------------------------------------------------------------------------------

def test_mjpeg_delivers_a_stream_of_distinct_frames_from_a_real_camera(client):
    reader = MjpegReader(client.camera_url("sim-b", "sub"))
    try:
        assert reader.status == 200
        assert reader.content_type.startswith("multipart/x-mixed-replace; boundary=")
        frames = [reader.next_jpeg() for _ in range(8)]
    finally:
        reader.close()
    images = [decode(f) for f in frames]
    assert all(img.shape == (180, 320, 3) for img in images)
    assert len({f for f in frames}) == len(frames), "every part is a new frame"
    # The simulator's box moves: the first and last pictures differ visibly.
    assert np.abs(images[0].astype(int) - images[-1].astype(int)).mean() > 1


def test_many_viewers_of_one_camera_cost_one_encode_per_frame(relay, client):
    sup, hub = relay.supervisor, relay.hub
    viewers = [MjpegReader(client.camera_url("sim-b", "main")) for _ in range(4)]
    try:
        for v in viewers:
            decode(v.next_jpeg())
        first_seq, encodes0 = sup.latest("sim-b", "main").seq, hub.encodes
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for v in viewers:
                v.next_jpeg()
        frames, encodes = sup.latest("sim-b", "main").seq - first_seq, hub.encodes - encodes0
    finally:
        for v in viewers:
            v.close()
    assert frames >= 10
    # Four viewers; at most one encode per decoded frame (the pump may skip, never repeat).
    assert encodes <= frames + 1


def test_client_disconnect_releases_the_camera_and_decoding_stops_after_linger(relay, client):
    sup = relay.supervisor
    assert wait_until(lambda: sup.reader("sim-a", "main") is None, 15), "left over decoding"
    readers = [MjpegReader(client.camera_url("sim-a", "main")) for _ in range(2)]
    try:
        for r in readers:
            decode(r.next_jpeg())
        assert sup.reader("sim-a", "main") is not None
        assert relay.services.viewers >= 2
        readers[0].close()
        # One viewer left: still decoding for the other.
        time.sleep(relay.settings.relay.linger_s + 1.0)
        assert sup.reader("sim-a", "main") is not None
        decode(readers[1].next_jpeg())
    finally:
        for r in readers:
            r.close()
    assert wait_until(lambda: relay.services.viewers == 0, 5), "viewer count not released"
    assert wait_until(lambda: sup.reader("sim-a", "main") is None, 10), \
        "decoder still running after the last viewer left and the linger passed"


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""), body,
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_warm_up_is_signed_starts_decoding_and_lets_go_after_warm_s(relay, client, settings):
    sup = relay.supervisor
    assert wait_until(lambda: sup.reader("sim-b", "sub") is None, 15), "left over decoding"
    url, body = client.warm_request(["sim-b", "no-such-camera"])
    other = RelayClient(settings.model_copy(update={"relay": settings.relay.model_copy(
        update={"signing_key": "another-key-entirely-000000"})}))
    other.base_url = client.base_url
    sim_a_url, _ = client.warm_request(["sim-a"])
    refused = [post(url.split("?")[0], body),  # no token
               post(other.warm_request(["sim-b", "no-such-camera"])[0], body),  # forged
               post(sim_a_url, body),  # signed for other cameras than the body names
               post(url, b"not json")]
    assert [status for status, _ in refused] == [403] * 4
    assert all(b"Forbidden" in answer for _, answer in refused)
    assert sup.reader("sim-b", "sub") is None, "a refused warm-up must start nothing"

    status, answer = post(url, body)
    assert status == 202 and json.loads(answer) == {"warming": 1}
    assert sup.reader("sim-b", "sub") is not None, "decoding starts with the request"
    assert sup.wait_frame("sim-b", "sub", -1, 10) is not None
    # A second warm-up only extends the hold: one release later, not two acquires.
    assert post(*client.warm_request(["sim-b"]))[0] == 202
    assert sup.stats()["holds"] == 1
    hold_ends = settings.relay.warm_s + settings.relay.linger_s
    assert wait_until(lambda: sup.reader("sim-b", "sub") is None, hold_ends + 5), \
        "the warm-up must let go after warm_s (+ linger) without a viewer"


def test_a_warm_up_followed_by_a_viewer_hands_the_stream_over(relay, client):
    sup = relay.supervisor
    assert wait_until(lambda: sup.reader("sim-a", "sub") is None, 15), "left over decoding"
    client.warm(["sim-a"])  # the app's fire-and-forget call
    assert wait_until(lambda: sup.reader("sim-a", "sub") is not None, 5), "warm-up never came"
    viewer = MjpegReader(client.camera_url("sim-a", "sub"))
    try:
        decode(viewer.next_jpeg())
        time.sleep(relay.settings.relay.warm_s + relay.settings.relay.linger_s + 0.5)
        assert sup.reader("sim-a", "sub") is not None, "the hold's end must not stop a viewer"
        decode(viewer.next_jpeg())
    finally:
        viewer.close()
    assert wait_until(lambda: sup.reader("sim-a", "sub") is None, 10)


# -- walls -------------------------------------------------------------------------------------

def test_a_wall_is_composed_at_the_width_it_is_displayed_never_larger(relay, client):
    # 2x2 of the configured 320-pixel tiles is 640x360; shown 400 pixels wide it needs tiles
    # of 200, rounded down to 192 (multiples of 32): 384x216. Asking for more gets 640x360.
    for width, shape in ((400, (216, 384, 3)), (10_000, (360, 640, 3)), (0, (360, 640, 3))):
        status, _, body = get(client.wall_url("2x2", "jpg", width=width), timeout=15)
        assert status == 200 and decode(body).shape == shape, width
    small = relay.walls.get("2x2", 192)
    assert small.key == "2x2@192" and relay.walls.get("2x2").key == "2x2"
    assert wait_until(lambda: not small.running(), 5), "the small wall outlived its viewer"


def test_a_wall_is_encoded_once_per_tick_for_all_its_viewers(relay, client):
    wall = relay.walls.get("2x2")
    assert wait_until(lambda: not wall.running(), 5)
    seq0, encodes0 = wall._seq, relay.hub.encodes
    viewers = [MjpegReader(client.wall_url("2x2")) for _ in range(3)]
    try:
        for v in viewers:
            assert v.status == 200
            assert decode(v.next_jpeg()).shape == (360, 640, 3)  # 2x2 tiles of 320x180
        assert wait_until(wall.ready, 5)
        received: list[list[bytes]] = [[] for _ in viewers]
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for v, got in zip(viewers, received, strict=True):
                got.append(v.next_jpeg())
    finally:
        for v in viewers:
            v.close()
    assert wait_until(lambda: not wall.running(), 5), "wall thread outlived its viewers"
    ticks, encodes = wall._seq - seq0, relay.hub.encodes - encodes0
    assert ticks >= 6
    # Three viewers, and exactly one encode per composed tick (nothing else runs meanwhile).
    assert encodes == ticks
    for frames in received:  # live tiles: the pictures move from part to part
        first, last = decode(frames[0]).astype(int), decode(frames[-1]).astype(int)
        assert np.abs(first - last).mean() > 0.5


def test_while_a_wall_is_watched_its_cameras_readers_scale_frames_to_its_tiles(relay, client):
    wall = relay.walls.get("2x2")
    assert wait_until(lambda: not wall.running(), 5)
    live = [t.code for t in wall.mosaic.tiles
            if relay.supervisor.health(t.code).status == "online"]
    assert live
    viewer = MjpegReader(client.wall_url("2x2"))
    try:
        assert viewer.status == 200
        assert wait_until(lambda: all(
            (f := relay.supervisor.latest(code, "sub")) is not None
            and (320, 180) in f.scaled for code in live), 10), "tiles were not pre-scaled"
    finally:
        viewer.close()
    # The last viewer gone, the wall lets go of its sizes; decoding lingers a moment, and
    # the frames made then are not scaled.
    code = live[0]
    assert wait_until(lambda: relay.supervisor.scaled_sizes(code, "sub") == (), 5)
    seq = relay.supervisor.latest(code, "sub").seq
    frame = relay.supervisor.wait_frame(code, "sub", seq, 5)
    assert frame is not None and frame.scaled == {}


def test_wall_snapshot_shows_the_offline_tile_for_a_dead_camera(relay, client):
    status, headers, body = get(client.wall_url("gate", "jpg"))
    assert status == 200 and headers["content-type"] == "image/jpeg"
    image = decode(body)
    assert image.shape == (180, 640, 3)
    live, dead = image[:, :320], image[:, 320:]
    assert live.std() > dead.std(), "the live tile shows a picture, the dead one a flat tile"
    red = (dead[:, :, 2] > 150) & (dead[:, :, 0] < 90) & (dead[:, :, 1] < 90)
    assert red.sum() > 100, "the dead tile carries the red 离线 badge"


# -- health, metrics and secrets ---------------------------------------------------------------

def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"leaked {secret!r}"


def test_health_and_metrics_show_status_but_never_urls_or_passwords(relay, client):
    # Decode the password-protected camera once, so its reader has run with credentials.
    assert get(client.camera_url("locked", kind="snapshot"))[0] == 200
    status, headers, body = get(client.health_url())
    assert status == 200 and headers["content-type"].startswith("application/json")
    text = body.decode("utf-8")
    _assert_clean(text)
    cameras = {c["code"]: c for c in json.loads(text)["cameras"]}
    assert set(cameras) == {"sim-a", "sim-b", "locked", "wrongpw", "deadcam"}
    assert cameras["locked"]["name"] == "加密机"
    assert {"status", "fps", "reconnects", "last_error", "last_seen_at"} <= set(cameras["sim-a"])
    status, headers, body = get(client.metrics_url())
    metrics = body.decode("utf-8")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    _assert_clean(metrics)
    for name in ("relay_frames_decoded_total", "relay_decoders_running", "relay_viewers",
                 "relay_wall_fps", 'relay_camera_up{camera="sim-a"}',
                 "process_cpu_seconds_total", "process_resident_memory_bytes"):
        assert name in metrics, name
    decoded = next(line for line in metrics.splitlines()
                   if line.startswith("relay_frames_decoded_total "))
    assert float(decoded.split()[1]) > 0


def test_failing_cameras_with_passwords_leak_nothing_in_responses_or_logs(relay, client, caplog):
    caplog.set_level(logging.DEBUG)
    for code in ("wrongpw", "deadcam"):
        status, _, body = get(client.camera_url(code, kind="snapshot"))
        assert status == 503
        _assert_clean(body.decode("utf-8"))
        reader = MjpegReader(client.camera_url(code, "main"), timeout=3)
        with pytest.raises((TimeoutError, socket.timeout)):
            reader.next_jpeg()  # no picture ever arrives
        reader.close()
    sup = relay.supervisor

    def failed() -> bool:
        return all(sup.health(c).last_error for c in ("wrongpw", "deadcam"))

    sup.acquire("wrongpw", "main")
    sup.acquire("deadcam", "main")
    try:
        assert wait_until(failed, 15), {c: sup.health(c) for c in ("wrongpw", "deadcam")}
        health = get(client.health_url())[2].decode("utf-8")
    finally:
        sup.release("wrongpw", "main")
        sup.release("deadcam", "main")
    cameras = {c["code"]: c for c in json.loads(health)["cameras"]}
    assert cameras["deadcam"]["status"] in ("offline", "unknown")
    assert cameras["deadcam"]["last_error"]
    _assert_clean(health)
    _assert_clean(get(client.metrics_url())[2].decode("utf-8"))
    _assert_clean(caplog.text)
    _assert_clean("\n".join(r.getMessage() for r in caplog.records))


def test_request_logs_name_the_path_but_never_the_token(relay, client, caplog):
    caplog.set_level(logging.INFO, logger="video.http.access")
    url = client.camera_url("sim-b", kind="snapshot")
    token = urlsplit(url).query.split("=", 1)[1]
    assert get(url)[0] == 200
    assert get(f"{relay.base_url}/snapshot/sim-b.jpg?token=forged.value")[0] == 403

    def access() -> str:  # lines are written on the server's thread, just after the answer
        return "\n".join(r.getMessage() for r in caplog.records
                         if r.name == "video.http.access")

    assert wait_until(lambda: "403 GET /snapshot/sim-b.jpg" in access(), 3), access()
    assert "200 GET /snapshot/sim-b.jpg" in access()
    assert token not in caplog.text and "forged.value" not in caplog.text


# -- the relay process -------------------------------------------------------------------------

@pytest.mark.db
def test_run_relay_serves_the_database_cameras_and_writes_their_health_back(
        sim, settings, cluster, engine):
    import threading

    import sqlalchemy as sa
    from geoalchemy2.shape import from_shape
    from pydantic import SecretStr
    from shapely.geometry import Point
    from sqlalchemy.orm import Session

    from command_center.app.wall_data import wall_kpis
    from config.settings import DatabaseSettings
    from gis.models import Camera
    from video.relay import run_relay

    def online_kpi() -> int:  # the wall's "cameras online" figure
        with Session(engine) as session:
            return wall_kpis(session, dt.UTC).cameras_online

    with Session(engine) as s:
        s.add_all([Camera(code=f"DB-{code}", name_zh=f"库内{code}", source="community",
                          geom=from_shape(Point(105.042 + i / 1000, 29.577), 4326),
                          main_url=SecretUrl(sim.url(code, "main")),
                          sub_url=SecretUrl(sim.url(code, "sub")))
                   for i, code in enumerate(("sim-a", "locked"))])
        s.commit()
    online_before = online_kpi()
    db_settings = settings.model_copy(update={
        "database": DatabaseSettings(url=SecretStr(cluster.url(engine.url.database))),
        "relay": settings.relay.model_copy(update={"write_health_s": 1.0, "port": 0})})
    started: list = []
    stop = threading.Event()
    runner = threading.Thread(target=run_relay, args=(db_settings,),
                              kwargs={"on_ready": started.append, "stop_event": stop})
    runner.start()
    try:
        assert wait_until(lambda: bool(started), 20), "the relay did not start"
        relay = started[0]
        client = RelayClient(db_settings)
        client.base_url = relay.base_url
        assert {c.code for c in relay.cameras} == {"DB-sim-a", "DB-locked"}
        status, _, body = get(client.camera_url("DB-locked", kind="snapshot"), timeout=15)
        assert status == 200 and decode(body).shape == (180, 320, 3)

        def written() -> bool:
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT health_status FROM camera WHERE code = 'DB-locked'")).scalar() \
                    == "online"

        assert wait_until(written, 15, 0.3), "health never reached the camera table"
        # The wall's KPI reads exactly this column: the relay's verdict, not a guess.
        assert online_kpi() >= online_before + 1
        health = get(client.health_url())[2].decode("utf-8")
        _assert_clean(health)
    finally:
        stop.set()
        runner.join(30)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM camera WHERE code LIKE 'DB-%'"))
    assert not runner.is_alive()
