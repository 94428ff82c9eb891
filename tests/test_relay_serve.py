"""The relay's serving half, pure logic: wall geometry and labels, tokens, the frame hub, URLs.

The HTTP service against real simulated cameras and the real supervisor is in
``tests/test_relay_http.py``. The hub tests feed it from a small in-test frame source: the hub
is pure fan-out logic and the point is to count its encodes exactly.
"""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from config.settings import CameraGroup, RelaySettings, WallLayout
from video.camera import OFFLINE, ONLINE, CameraSpec, Frame
from video.client import RelayClient
from video.hub import FrameHub
from video.mosaic import (
    FONT_PATH,
    LabelCache,
    Mosaic,
    Rect,
    Tile,
    TileState,
    canvas_size,
    tile_rects,
)
from video.reader import TILE_RING, FrameSlot
from video.scale import scale_into
from video.tokens import (
    TokenExpired,
    TokenForged,
    TokenWrongTarget,
    load_key,
    mint,
    verify,
)
from video.walls import build_walls

KEY = b"unit-test-signing-key-0123456789"


# -- geometry ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (2, 2), (3, 3), (4, 4), (2, 3)])
def test_tiles_cover_the_canvas_exactly_without_overlap(rows, cols):
    width, height = canvas_size(rows, cols, 480)
    assert (width, height) == (cols * 480, rows * 270)
    rects = tile_rects(rows, cols, width, height)
    assert len(rects) == rows * cols
    covered = np.zeros((height, width), np.int32)
    for r in rects:
        covered[r.y:r.y + r.h, r.x:r.x + r.w] += 1
    assert (covered == 1).all(), "every pixel belongs to exactly one tile"
    # Row-major order: the second tile is right of the first (or below it in a 1-col layout).
    if cols > 1:
        assert rects[1].y == rects[0].y and rects[1].x == rects[0].x + rects[0].w


def test_4x4_of_480_wide_tiles_is_full_hd_and_uneven_canvases_split_within_a_pixel():
    assert canvas_size(4, 4, 480) == (1920, 1080)
    assert tile_rects(4, 4, 1920, 1080)[5] == Rect(480, 270, 480, 270)
    rects = tile_rects(2, 3, 1000, 501)
    assert {r.w for r in rects} <= {333, 334} and {r.h for r in rects} <= {250, 251}
    with pytest.raises(ValueError):
        tile_rects(0, 2, 100, 100)


def test_labels_sit_inside_their_tile_top_left_and_time_at_the_bottom():
    tiles = [Tile(f"c{i}", f"摄像机{i}") for i in range(6)]
    mosaic = Mosaic(2, 3, tiles, canvas_size(2, 3, 480))
    for place, tile in zip(mosaic.layout, tiles, strict=True):
        label = mosaic.labels.get(tile.name, place.label_height)
        name_rect = Rect(*place.name_at, label.shape[1], label.shape[0])
        assert place.rect.contains(name_rect)
        assert name_rect.y - place.rect.y < place.rect.h // 4  # near the top
        assert place.time_at[1] > place.rect.y + place.rect.h * 3 // 4  # near the bottom
        assert place.rect.x <= place.time_at[0] < place.rect.x + place.rect.w // 4


# -- labels and tiles --------------------------------------------------------------------------

def _picture(seed: int, shape=(360, 640, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_chinese_names_are_rendered_once_per_camera_and_show_ink():
    assert FONT_PATH.exists(), "fonts-noto-cjk is needed for Chinese labels"
    labels = LabelCache()
    tiles = [Tile("a", "东兴街道口"), Tile("b", "玉溪路")]
    mosaic = Mosaic(1, 2, tiles, (960, 270), labels=labels)
    rendered = labels.renders
    now = time.time()
    states = [TileState(Frame(_picture(1), now, 1), ONLINE, now)] * 2
    for _ in range(5):
        mosaic.compose(states, now)
    # Names were rendered up front; five ticks rendered no new name label.
    assert labels.renders == rendered
    name = labels.get("东兴街道口", mosaic.layout[0].label_height)
    assert name.ndim == 3 and name.shape[0] == mosaic.layout[0].label_height
    assert (name > 200).any() and (name < 60).any(), "white glyphs on a dark band"
    # Different characters give different pictures (not tofu boxes for every glyph).
    other = labels.get("玉溪路", mosaic.layout[0].label_height)
    assert name.shape != other.shape or not np.array_equal(name, other)


def test_offline_tile_says_offline_and_differs_from_a_live_tile():
    now = time.time()
    tiles = [Tile("live", "在线机"), Tile("dead", "离线机")]
    mosaic = Mosaic(1, 2, tiles, (960, 270))
    picture = _picture(2)
    canvas = mosaic.compose([TileState(Frame(picture, now, 1), ONLINE, now),
                             TileState(None, OFFLINE, now - 600)], now).copy()
    live, dead = (canvas[r.y:r.y + r.h, r.x:r.x + r.w] for r in (p.rect for p in mosaic.layout))
    assert not np.array_equal(live, dead)
    # The live tile shows the (scaled) picture: high pixel variety; the dead one a flat grey
    # with the red 离线 badge in its middle.
    assert live.std() > 40 and dead.std() < live.std()
    middle = dead[dead.shape[0] // 3: dead.shape[0] // 2]
    reddish = (middle[:, :, 2] > 150) & (middle[:, :, 0] < 80)
    assert reddish.sum() > 200, "no red 离线 badge in the offline tile"
    assert mosaic.labels.get("离线", mosaic.layout[1].label_height * 2, (40, 40, 200)).size
    # The same camera with its frame and ONLINE status renders a picture again.
    again = mosaic.compose([TileState(Frame(picture, now, 2), ONLINE, now)] * 2, now)
    r = mosaic.layout[1].rect
    assert again[r.y:r.y + r.h, r.x:r.x + r.w].std() > 40


def test_an_old_frame_marks_the_tile_stale_with_an_amber_border():
    now = time.time()
    mosaic = Mosaic(1, 1, [Tile("a", "甲")], (480, 270), stale_after_s=1.5)
    grey = np.full((360, 640, 3), 128, np.uint8)
    fresh = mosaic.compose([TileState(Frame(grey, now, 1), ONLINE, now)], now).copy()
    stale = mosaic.compose([TileState(Frame(grey, now - 5, 1), ONLINE, now - 5)], now).copy()
    amber = (stale[:, :, 2] > 200) & (stale[:, :, 1] > 120) & (stale[:, :, 0] < 40)
    assert amber[2, 100:300].all(), "amber border along the top edge"
    assert not ((fresh[:, :, 2] > 200) & (fresh[:, :, 0] < 40)).any()


def test_canvas_is_reused_between_ticks():
    now = time.time()
    mosaic = Mosaic(2, 2, [Tile(str(i), str(i)) for i in range(4)], (960, 540))
    states = [TileState(Frame(_picture(i), now, 1), ONLINE, now) for i in range(4)]
    first = mosaic.compose(states, now)
    assert mosaic.compose(states, now) is first


def test_redrawing_only_changed_tiles_gives_the_picture_of_a_full_compose():
    """Dirty tiles: tick after tick, some tiles get new frames, one goes offline, one stale,
    one comes back; the reused canvas must equal a fresh mosaic drawing everything."""
    now = 1_700_000_000.0
    tiles = [Tile(f"c{i}", f"摄像机{i}") for i in range(9)]
    frames = {i: Frame(_picture(i), now, 1) for i in range(9)}
    statuses = {i: ONLINE for i in range(9)}
    dirty = Mosaic(3, 3, tiles, (960, 540))
    rng = np.random.default_rng(7)
    for tick in range(12):
        now += 1 / 15
        for i in rng.choice(9, size=3, replace=False):  # three cameras delivered a frame
            frames[i] = Frame(_picture(100 * tick + int(i)), now, frames[i].seq + 1)
        statuses[4] = OFFLINE if 3 <= tick < 8 else ONLINE  # drops out and comes back
        if tick == 6:
            frames[7] = Frame(frames[7].image, now - 5, frames[7].seq + 1)  # goes stale
        states = [TileState(frames[i], statuses[i], frames[i].captured_at) for i in range(9)]
        redrawn = dirty.compose(states, now)
        assert dirty.changed < 9 or tick == 0, "unchanged tiles must not be redrawn"
        full = Mosaic(3, 3, tiles, (960, 540), labels=dirty.labels).compose(states, now)
        assert np.array_equal(redrawn, full), f"tick {tick}: dirty compose differs"


def test_a_slot_scales_each_frame_to_the_sizes_walls_want_until_they_let_go():
    slot, picture = FrameSlot(), _picture(3)
    assert slot.publish(picture, 1.0).scaled == {}
    slot.want((480, 270))
    slot.want((480, 270))  # two walls show the camera at the same size: one scale per frame
    slot.want((320, 180))
    frame = slot.publish(picture, 2.0)
    assert set(frame.scaled) == {(480, 270), (320, 180)}
    expected = np.empty((270, 480, 3), np.uint8)
    scale_into(picture, expected)
    assert np.array_equal(frame.scaled[(480, 270)], expected)
    assert frame.scaled[(320, 180)].shape == (180, 320, 3)
    slot.unwant((480, 270))
    slot.unwant((320, 180))
    assert set(slot.publish(picture, 3.0).scaled) == {(480, 270)}  # one wall still wants it
    slot.unwant((480, 270))
    assert slot.publish(picture, 4.0).scaled == {}


def test_scaled_tiles_reuse_a_ring_of_buffers_and_stay_intact_while_recent():
    slot, size = FrameSlot(), (320, 180)
    slot.want(size)
    pictures = [_picture(seed) for seed in range(TILE_RING + 1)]
    frames = [slot.publish(p, float(i)) for i, p in enumerate(pictures[:TILE_RING])]
    # The oldest frame's tile survived TILE_RING - 1 newer frames, each intact ...
    expected = np.empty((180, 320, 3), np.uint8)
    for frame, picture in zip(frames, pictures, strict=False):
        scale_into(picture, expected)
        assert np.array_equal(frame.scaled[size], expected)
    assert len({id(f.scaled[size]) for f in frames}) == TILE_RING
    # ... and the next frame is scaled into the oldest one's buffer: no new array per frame.
    frames.append(slot.publish(pictures[TILE_RING], 9.0))
    assert frames[TILE_RING].scaled[size] is frames[0].scaled[size]
    slot.unwant(size)  # nobody wants the size: its buffers go too
    slot.want(size)
    assert slot.publish(pictures[0], 9.0).scaled[size] is not frames[0].scaled[size]


def test_a_tile_the_reader_scaled_is_copied_and_any_other_size_is_scaled_here():
    now = time.time()
    mosaic = Mosaic(1, 1, [Tile("a", "甲")], (480, 270))
    picture = _picture(5)
    green = np.zeros((270, 480, 3), np.uint8)
    green[:] = (0, 200, 0)
    canvas = mosaic.compose([TileState(Frame(picture, now, 1, {(480, 270): green}), ONLINE)],
                            now)
    middle = canvas[100:160, 200:280]  # clear of the name and time labels
    assert (middle == (0, 200, 0)).all()
    # Scaled for another wall's size only: this wall scales the picture itself.
    other = Frame(picture, now, 2, {(240, 135): green[:135, :240]})
    canvas = mosaic.compose([TileState(other, ONLINE)], now)
    expected = np.empty((270, 480, 3), np.uint8)
    scale_into(picture, expected)
    assert np.array_equal(canvas[100:160, 200:280], expected[100:160, 200:280])


def test_next_after_looks_back_one_frame_only_when_that_frame_would_be_lost():
    slot = FrameSlot()
    assert slot.next_after(0) is None
    first = slot.publish(_picture(1), 1.0)
    assert slot.next_after(0) is first
    second = slot.publish(_picture(2), 2.0)
    third = slot.publish(_picture(3), 3.0)
    assert slot.next_after(first.seq) is second  # two arrived since: show the older first
    assert slot.next_after(second.seq) is third
    assert slot.next_after(third.seq) is third  # nothing new: the same frame again
    slot.publish(_picture(4), 4.0)
    newest = slot.publish(_picture(5), 5.0)
    assert slot.next_after(second.seq) is newest  # three behind: never lag more than one


class _Cameras:
    """The two calls a wall's tick makes of the supervisor, over in-test frame slots."""

    def __init__(self, codes: list[str]) -> None:
        self.slots = {code: FrameSlot() for code in codes}

    def health(self, code: str):
        return type("Health", (), {"status": ONLINE, "last_seen_at": None})()

    def next_frame(self, code: str, stream: str, shown_seq: int,
                   tick_s: float | None = None) -> Frame | None:
        return self.slots[code].next_after(shown_seq, tick_s)


def test_a_wall_shows_every_frame_when_two_land_between_ticks():
    from video.hub import FrameHub
    from video.walls import Wall, WallSpec

    cameras = _Cameras(["a", "b"])
    relay = RelaySettings(signing_key=KEY, wall_fps=15, tile_width=160)
    wall = Wall(WallSpec("w", "测试", 1, 2, ("a", "b")), cameras, FrameHub(), {}, relay)
    shown: list[int] = []
    made = 0
    for tick in range(6):
        cameras.slots["b"].publish(_picture(tick), tick / 15)
        # Camera a runs at 15 fps too, but its frames land right at the tick: two in one
        # gap, none in the next.
        for _ in range(2 if tick % 2 == 0 else 0):
            made += 1
            cameras.slots["a"].publish(_picture(100 + made), made / 15)
        frame = wall.states()[0].frame
        assert frame is not None
        shown.append(frame.seq)
    assert shown == [1, 2, 3, 4, 5, 6], "a frame of camera a was skipped"


def test_a_camera_faster_than_the_wall_is_shown_at_its_newest_frame():
    from video.hub import FrameHub
    from video.walls import Wall, WallSpec

    cameras = _Cameras(["a"])
    relay = RelaySettings(signing_key=KEY, wall_fps=15, tile_width=160)
    wall = Wall(WallSpec("w", "测试", 1, 1, ("a",)), cameras, FrameHub(), {}, relay)
    shown: list[int] = []
    made = 0
    for _tick in range(6):  # a 30 fps camera: two frames every tick, evenly spaced
        for _ in range(2):
            made += 1
            cameras.slots["a"].publish(_picture(made), made / 30)
        frame = wall.states()[0].frame
        assert frame is not None
        shown.append(frame.seq)
    # Looking back would show 1, 4, 5, 8, 9, 12: as many frames, in uneven steps.
    assert shown == [2, 4, 6, 8, 10, 12]


def test_time_stamps_are_drawn_once_per_distinct_text():
    now = 1_700_000_000.25
    mosaic = Mosaic(2, 2, [Tile(str(i), str(i)) for i in range(4)], (960, 540))
    for seq in range(1, 16):  # one second of frames on four tiles: one text
        mosaic.compose([TileState(Frame(_picture(seq + i), now, seq), ONLINE, now)
                        for i in range(4)], now)
    assert mosaic.times.renders == 1
    image, above = mosaic.times.get(mosaic._clock(now), mosaic.layout[0].label_height / 34)
    assert (image > 200).any() and 0 < above < image.shape[0], "white text on its band"


# -- groups ------------------------------------------------------------------------------------

def _spec(code: str, **kw) -> CameraSpec:
    from gis.scrub import SecretUrl

    return CameraSpec(code, code, SecretUrl(f"rtsp://127.0.0.1/{code}"), **kw)


def test_walls_come_from_layouts_settings_groups_and_registry_attributes():
    relay = RelaySettings(
        layouts={"2x2": WallLayout(rows=2, cols=2), "2x3": WallLayout(rows=2, cols=3)},
        groups={"gate": CameraGroup(title_zh="大门", cameras=["c3", "nope", "c1"],
                                    layout="2x2"),
                "sky": CameraGroup(title_zh="天网", source="skynet", layout="2x3")})
    cams = [_spec("c1", source="skynet", street="S1", grid="G1"),
            _spec("c2", source="community", street="S1", grid="G2"),
            _spec("c3", source="skynet", street="S2", grid="G2")]
    walls = build_walls(relay, cams)
    assert walls["2x3"].cameras == ("c1", "c2", "c3") and walls["2x3"].cols == 3
    assert walls["gate"].cameras == ("c3", "c1")  # unknown codes dropped, order kept
    assert walls["sky"].cameras == ("c1", "c3") and walls["sky"].title_zh == "天网"
    assert walls["street-S1"].cameras == ("c1", "c2")
    assert walls["grid-G2"].cameras == ("c2", "c3")
    assert walls["source-community"].cameras == ("c2",)
    assert (walls["street-S1"].rows, walls["street-S1"].cols) == (2, 2)


# -- tokens ------------------------------------------------------------------------------------

def test_token_round_trip_and_every_way_to_fail():
    token = mint("camera", "cam01", "sub", 60, KEY, now=1000)
    assert verify(token, "camera", "cam01", KEY, now=1059).target == "cam01"
    with pytest.raises(TokenExpired):
        verify(token, "camera", "cam01", KEY, now=1060)
    with pytest.raises(TokenWrongTarget):
        verify(token, "camera", "cam02", KEY, now=1001)
    with pytest.raises(TokenWrongTarget):
        verify(token, "wall", "cam01", KEY, now=1001)
    with pytest.raises(TokenWrongTarget):
        verify(token, "camera", "cam01", KEY, now=1001, stream="main")
    with pytest.raises(TokenForged):
        verify(token, "camera", "cam01", b"another key", now=1001)
    body, sig = token.split(".")
    forged = mint("camera", "cam01", "sub", 10**6, b"attacker", now=1000).split(".")[0]
    with pytest.raises(TokenForged):  # a longer-lived payload with the old signature
        verify(f"{forged}.{sig}", "camera", "cam01", KEY, now=1001)
    for junk in (None, "", "abc", "a.b.c", "!!!.???", f"{body}.{sig[:-2]}"):
        with pytest.raises(TokenForged):
            verify(junk, "camera", "cam01", KEY, now=1001)
    assert all(c.isalnum() or c in "-_." for c in token), "URL-safe"


def test_signing_key_comes_from_settings_then_file_then_process(tmp_path):
    from pydantic import SecretStr

    assert load_key(SecretStr("from-env-key"), None) == b"from-env-key"
    key_file = tmp_path / "relay.key"
    key_file.write_text("from-file-key\n", encoding="utf-8")
    assert load_key(None, key_file) == b"from-file-key"
    assert load_key(None, None) == load_key(None, None)  # one random key per process
    assert len(load_key(None, None)) == 32
    from gis.errors import CommandCenterError

    with pytest.raises(CommandCenterError, match="signing key file"):
        load_key(None, tmp_path / "missing.key")


def test_client_urls_are_signed_for_exactly_their_target():
    relay = RelaySettings(signing_key="client-test-key-000", public_url="https://cc.example/v/",
                          token_ttl_s=120)
    client = RelayClient(relay)
    url = client.camera_url("cam 7", "main", now=5000)
    parts = urlsplit(url)
    assert url.startswith("https://cc.example/v/mjpeg/cam%207/main?token=")
    token = parse_qs(parts.query)["token"][0]
    claims = verify(token, "camera", "cam 7", b"client-test-key-000", now=5100, stream="main")
    assert claims.expires_at == 5120
    snap = client.camera_url("cam01", kind="snapshot")
    assert urlsplit(snap).path == "/v/snapshot/cam01.jpg"
    wall = client.wall_url("3x3")
    assert urlsplit(wall).path == "/v/wall/3x3.mjpeg"
    verify(parse_qs(urlsplit(wall).query)["token"][0], "wall", "3x3", b"client-test-key-000")
    assert client.health_url() == "https://cc.example/v/health"
    with pytest.raises(ValueError):
        client.camera_url("cam01", "hd")  # type: ignore[arg-type]


# -- the hub -----------------------------------------------------------------------------------

class FrameSource:
    """An in-test camera: publishes numbered frames, wait_frame blocks on a Condition."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.frame: Frame | None = None

    def push(self, seq: int) -> None:
        with self.cond:
            self.frame = Frame(_picture(seq, (90, 160, 3)), time.time(), seq)
            self.cond.notify_all()

    def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
        with self.cond:
            self.cond.wait_for(lambda: self.frame is not None and self.frame.seq > after_seq,
                               timeout)
            frame = self.frame
            return frame if frame is not None and frame.seq > after_seq else None


def test_hub_encodes_each_frame_once_for_many_concurrent_viewers():
    hub, source = FrameHub(quality=70), FrameSource()
    frames_pushed = 12

    async def viewer(channel, seen: list[int]) -> None:
        last = -1
        while len(seen) < frames_pushed:
            frame = await channel.next(last, 5.0)
            assert frame is not None, "viewer starved"
            seen.append(frame.seq)
            last = frame.seq

    async def main() -> list[list[int]]:
        channels = [hub.open("cam", source.wait_frame) for _ in range(10)]
        assert len({id(c) for c in channels}) == 1, "one channel per key"
        seen: list[list[int]] = [[] for _ in channels]
        tasks = [asyncio.create_task(viewer(c, s)) for c, s in zip(channels, seen, strict=True)]
        for seq in range(1, frames_pushed + 1):
            source.push(seq)
            # Let every viewer take this frame before the next: all see every frame.
            deadline = time.monotonic() + 5
            while any(len(s) < seq for s in seen) and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        for c in channels:
            hub.close(c)
        return seen

    seen = asyncio.run(main())
    assert all(s == list(range(1, frames_pushed + 1)) for s in seen)
    assert hub.encodes == frames_pushed, "ten viewers, one encode per frame"
    # A snapshot of the frame the viewers just got reuses the stream's encode.
    assert hub.encode("cam", source.frame).seq == frames_pushed
    assert hub.encodes == frames_pushed
    hub.stop()


def test_a_slow_viewer_skips_to_the_newest_frame_instead_of_queueing():
    hub, source = FrameHub(), FrameSource()

    async def main() -> list[int]:
        channel = hub.open("cam", source.wait_frame)
        got = []
        source.push(1)
        got.append((await channel.next(-1, 5.0)).seq)
        for seq in range(2, 8):  # the viewer is busy while six frames arrive
            source.push(seq)
            await asyncio.sleep(0.05)
        got.append((await channel.next(got[-1], 5.0)).seq)
        hub.close(channel)
        return got

    assert asyncio.run(main()) == [1, 7]
    hub.stop()


def test_snapshot_encodes_are_cached_per_frame_size_and_quality():
    hub = FrameHub(quality=75)
    frame = Frame(_picture(3), time.time(), 42)
    threads = [threading.Thread(target=hub.encode, args=("cam", frame)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hub.encodes == 1
    small = hub.encode("cam", frame, size=(320, 180))
    assert hub.encodes == 2 and small.data[:2] == b"\xff\xd8"
    hub.encode("cam", frame, quality=40)
    hub.encode("cam", Frame(frame.image, frame.captured_at, 43))
    assert hub.encodes == 4


def test_cli_registers_relay_with_its_options():
    import typer
    from typer.testing import CliRunner

    from command_center import cli_relay

    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    cli_relay.register(app)
    result = CliRunner().invoke(app, ["relay", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--host", "--port", "--from-simulator"):
        assert option in result.output
    bad = CliRunner().invoke(app, ["relay", "--from-simulator", "999"])
    assert bad.exit_code != 0
