"""The side panel: an event's details and its nearest cameras playing live, or one camera.

Video is plain ``<img>`` tags on signed relay URLs (MJPEG): the app never touches a stream. A
dead relay or a camera without frames must not break the page, so every picture carries an
``onerror`` that swaps it for a "离线/无画面" tile, and a camera whose last health check said
offline shows that badge before any picture loads.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from command_center.app.i18n import t
from gis.catalog import (
    CAMERA_SOURCE_LABELS,
    CATEGORY_BY_CODE,
    EVENT_SOURCE_LABELS,
    EVENT_STATUS_LABELS,
    HEALTH_LABELS,
    label,
)
from gis.queries import NearbyCamera, nearest_cameras
from gis.scrub import scrub
from layers.build import format_time_left, three_light

NEAREST_N, NEAREST_RADIUS_M = 4, 300.0
LIGHT_COLORS = {"green": "#3fb950", "yellow": "#d29922", "red": "#f85149", "none": "#8b949e"}

PANEL_CSS = """
.cc-side { color:#e6edf7; font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
  font-size:14px; }
.cc-side h3 { margin:6px 0 10px; font-size:16px; }
.cc-side table { border-collapse:collapse; width:100%; }
.cc-side td { padding:3px 4px; vertical-align:top; } .cc-side td.k { color:#9fb3cf;
  white-space:nowrap; width:90px; }
.cc-light { display:inline-block; width:10px; height:10px; border-radius:50%;
  margin-right:6px; }
.cc-cams { display:grid; grid-template-columns:1fr 1fr; gap:6px; margin-top:8px; }
.cc-cam { background:#0b1526; border:1px solid #22385a; border-radius:4px; overflow:hidden; }
.cc-cam .pic { position:relative; aspect-ratio:16/9; background:#000; }
.cc-cam img { width:100%; height:100%; object-fit:cover; display:block; }
.cc-cam .dead { position:absolute; inset:0; display:none; align-items:center;
  justify-content:center; color:#f85149; font-size:13px; background:#1b1b1b; }
.cc-cam .cap { padding:3px 5px; font-size:12px; display:flex; gap:6px; flex-wrap:wrap; }
.cc-cam .cap a { color:#7fb0ff; text-decoration:none; }
.cc-badge { color:#f85149; }
"""

_EVENT_SQL = sa.text("""
SELECT e.id, e.code, e.category_code, e.source_channel, e.status, e.priority, e.address,
       e.description, e.reported_at, e.accepted_at, e.deadline_at,
       ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat,
       g.code AS grid_code, g.name_zh AS grid_name,
       wa.name AS a_name, wa.phone AS a_phone, wb.name AS b_name, wb.phone AS b_phone
FROM event e
LEFT JOIN grid g ON g.id = e.grid_id
LEFT JOIN grid_worker wa ON wa.grid_id = g.id AND wa.post = 'A'
LEFT JOIN grid_worker wb ON wb.grid_id = g.id AND wb.post = 'B'
WHERE e.id = :id
""")

_CAMERA_SQL = sa.text("""
SELECT id, code, name_zh, source, vendor, health_status, azimuth_deg, fov_deg, range_m,
       grid_id, ST_X(geom) AS lon, ST_Y(geom) AS lat, 0.0 AS distance_m
FROM camera WHERE code = :code
""")


@dataclass(frozen=True)
class EventDetails:
    """What the side panel shows of an event, plus its nearest cameras."""

    row: dict[str, Any]
    cameras: list[NearbyCamera]
    light: str


def load_event(session: Session, event_id: int, *, now: dt.datetime | None = None,
               n: int = NEAREST_N, radius_m: float = NEAREST_RADIUS_M) -> EventDetails | None:
    """The event ``event_id`` with its A/B workers and nearest cameras; None if missing."""
    found = session.execute(_EVENT_SQL, {"id": event_id}).mappings().first()
    if found is None:
        return None
    row = dict(found)
    now = now or dt.datetime.now(dt.UTC)
    light = three_light(row["deadline_at"], row["accepted_at"] or row["reported_at"], now)
    cameras = nearest_cameras(session, row["lon"], row["lat"], n=n, radius_m=radius_m)
    return EventDetails(row, cameras, light)


def load_camera(session: Session, code: str) -> NearbyCamera | None:
    """One camera by code (no stream URL), or None."""
    found = session.execute(_CAMERA_SQL, {"code": code}).mappings().first()
    return NearbyCamera(**dict(found)) if found else None


def camera_tile(camera: NearbyCamera, camera_url: Any, language: str, *,
                big: bool = False) -> str:
    """One camera as a live ``<img>`` tile with name, distance, 放大 and 上墙 links."""
    code = html.escape(camera.code)
    offline = camera.health_status in ("offline", "unauthorized")
    dead = f"{t('offline', language)}/{t('no_picture', language)}"
    try:
        live = html.escape(camera_url(camera.code, "main" if big else "sub", "mjpeg"))
        main = html.escape(camera_url(camera.code, "main", "mjpeg"))
    except Exception as exc:  # a misconfigured relay must not break the panel
        live = main = ""
        dead = f"{t('relay_down', language)}: {html.escape(scrub(exc))}"
    # onerror: the relay is down or the camera has no frames -> a clear tile, not a broken image.
    # Not loading="lazy": a lazy image is requested only after layout, which delays the
    # relay's first frame for a picture that is always on screen.
    img = (f'<img alt="{code}" src="{live}" '
           "onerror=\"this.style.display='none';this.nextElementSibling.style.display='flex'\">"
           if live else "")
    dead_style = ' style="display:flex"' if not live else ""
    badge = (f'<span class="cc-badge">{label(HEALTH_LABELS, camera.health_status, language)}'
             "</span>" if offline else "")
    distance = (f"{camera.distance_m:.0f}{t('meters', language)}" if camera.distance_m else "")
    wall = f"/wall?camera={code}&amp;lang={language}"
    return (f'<div class="cc-cam" data-camera="{code}"><div class="pic">{img}'
            f'<div class="dead"{dead_style}>{dead}</div></div>'
            f'<div class="cap"><span>{html.escape(camera.name_zh)}</span><span>{distance}</span>'
            f"{badge}"
            f'<a href="{main}" target="_blank" rel="noopener">{t("enlarge", language)}</a>'
            f'<a href="{wall}" target="_blank">{t("put_on_wall", language)}</a></div></div>')


def warm_cameras(camera_url: Any, cameras: list[NearbyCamera]) -> None:
    """Have the relay open these cameras now, while the panel travels to the browser.

    Skips cameras whose last health says offline or unauthorized (nothing to warm) and does
    nothing when the URL maker cannot warm (``camera_url.warm`` missing or None).
    """
    warm = getattr(camera_url, "warm", None)
    codes = [c.code for c in cameras if c.health_status not in ("offline", "unauthorized")]
    if warm is None or not codes:
        return
    try:
        warm(codes)
    except Exception as exc:  # a warm-up is an optimisation: never break the panel for it
        logging.getLogger(__name__).debug("warm-up: %s", scrub(exc))


def _fmt(value: dt.datetime | None, tz: Any) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"


def event_html(details: EventDetails, camera_url: Any, language: str, tz: Any,
               now: dt.datetime | None = None, middle: str = "") -> str:
    """The side panel for one event (details table + nearest cameras).

    ``middle`` is HTML put between the two (the events page's timeline); the caller escapes it.
    """
    warm_cameras(camera_url, details.cameras)  # first: the relay starts while we render
    r = details.row
    now = now or dt.datetime.now(dt.UTC)
    cat = CATEGORY_BY_CODE.get(r["category_code"])
    category = (cat.en if language == "en" else cat.zh) if cat else r["category_code"]

    def worker(name: str | None, phone: str | None) -> str:
        return f"{html.escape(name)} {html.escape(phone or '')}" if name else "—"

    light = (f'<span class="cc-light" style="background:{LIGHT_COLORS[details.light]}">'
             f'</span>{t("light_" + details.light, language)}')
    rows = [
        ("category", html.escape(category)),
        ("source", label(EVENT_SOURCE_LABELS, r["source_channel"], language)),
        ("grid", html.escape(f"{r['grid_name'] or '—'} {r['grid_code'] or ''}")),
        ("worker_a", worker(r["a_name"], r["a_phone"])),
        ("worker_b", worker(r["b_name"], r["b_phone"])),
        ("status", label(EVENT_STATUS_LABELS, r["status"], language)),
        ("deadline", f"{_fmt(r['deadline_at'], tz)} {light}"),
        ("time_left", format_time_left(r["deadline_at"], now, language)),
        ("address", html.escape(r["address"] or "—")),
        # Typed by whoever reported the event: always escaped, never markup.
        ("description", html.escape(r["description"] or "—")),
    ]
    table = "".join(f'<tr><td class="k">{t(k, language)}</td><td>{v}</td></tr>'
                    for k, v in rows)
    cams = "".join(camera_tile(c, camera_url, language) for c in details.cameras)
    cams_block = (f'<div class="cc-cams">{cams}</div>' if cams
                  else f"<p>{t('no_cameras', language)}</p>")
    return (f'<div class="cc-side" data-event="{r["id"]}"><h3>{t("event_details", language)}'
            f" · {html.escape(r['code'])}</h3><table>{table}</table>{middle}"
            f"<h3>{t('nearest_cameras', language)}</h3>{cams_block}</div>")


def camera_html(camera: NearbyCamera, camera_url: Any, language: str) -> str:
    """The side panel for one camera: its live view, large."""
    source = label(CAMERA_SOURCE_LABELS, camera.source, language)
    return (f'<div class="cc-side"><h3>{t("camera_live", language)} · '
            f"{html.escape(camera.name_zh)}</h3><p>{source} · "
            f"{label(HEALTH_LABELS, camera.health_status, language)}</p>"
            f'<div class="cc-cams" style="grid-template-columns:1fr">'
            f"{camera_tile(camera, camera_url, language, big=True)}</div></div>")


def hint_html(language: str) -> str:
    """What the panel says before anything is clicked."""
    return f'<div class="cc-side"><p>{t("click_event_hint", language)}</p></div>'
