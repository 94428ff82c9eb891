"""The demo district: a deterministic, plausible Shizhong District to run the product on.

``seed_demo`` builds streets, communities, grids with their A/B workers, old courtyards and
their questionnaires, cameras, departments, event categories and two years of events inside the
real district boundary, and writes them in one transaction that replaces any earlier demo.
The same seed (and end date) gives byte-identical rows.

Examples
--------
>>> from gis.db import engine_for                          # doctest: +SKIP
>>> summary = seed_demo(engine_for(settings), settings, seed=7)  # doctest: +SKIP
>>> summary.grids                                           # doctest: +SKIP
300
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from config.settings import Settings
from gis.catalog import CAMERA_SOURCE_LABELS
from gis.demo.cameras import build_cameras, build_roads
from gis.demo.courtyards import build_courtyards
from gis.demo.divisions import build_divisions
from gis.demo.events import build_events
from gis.demo.writer import digest, write_all
from gis.loop.sla import SlaRule

__all__ = ["DemoSummary", "demo_digest", "read_summary", "seed_demo"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoSummary:
    """What a seeding produced (or what the database holds, for ``read_summary``)."""

    streets: int
    communities: int
    grids: int
    workers: int
    courtyards: int
    survey_responses: int
    cameras: int
    events: int
    open_events: int
    overdue_events: int
    on_time_rate: float | None
    cameras_by_source: dict[str, int] = field(default_factory=dict)
    seed: int | None = None
    end_date: dt.date | None = None
    seconds: float | None = None

    def rows(self) -> list[tuple[str, str]]:
        """``(label 中文 / English, value)`` pairs in display order."""
        rate = "—" if self.on_time_rate is None else f"{self.on_time_rate:.2%}"
        out = [
            ("街道 / streets", str(self.streets)),
            ("社区 / communities", str(self.communities)),
            ("网格 / grids", str(self.grids)),
            ("网格员 / grid workers", str(self.workers)),
            ("老旧院落 / courtyards", str(self.courtyards)),
            ("问卷 / survey responses", str(self.survey_responses)),
            ("摄像头 / cameras", str(self.cameras)),
            *((f"  {CAMERA_SOURCE_LABELS[k].zh} / {CAMERA_SOURCE_LABELS[k].en}"
               if k in CAMERA_SOURCE_LABELS else f"  {k}", str(v))
              for k, v in self.cameras_by_source.items()),
            ("事件 / events", str(self.events)),
            ("未结事件 / open events", str(self.open_events)),
            ("超期未结 / open and overdue", str(self.overdue_events)),
            ("按期办结率 / on-time rate", rate),
        ]
        if self.seed is not None:
            out.append(("随机种子 / seed", str(self.seed)))
        if self.end_date is not None:
            out.append(("截止日期 / end date", self.end_date.isoformat()))
        if self.seconds is not None:
            out.append(("耗时 / seconds", f"{self.seconds:.1f}"))
        return out


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    # One independent stream per concern: changing how cameras are drawn does not move a
    # single grid or event.
    names = ("divisions", "courtyards", "roads", "cameras", "events")
    seqs = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, seqs, strict=True)}


def seed_demo(engine: sa.Engine, settings: Settings, seed: int | None = None,
              progress: Progress | None = None, *,
              end_date: dt.date | None = None) -> DemoSummary:
    """Build the demo district and replace any previous demo data with it.

    Parameters
    ----------
    engine
        A migrated database. The district boundary is loaded first if it is missing.
    settings
        ``settings.demo`` gives the sizes (grids, courtyards, cameras, events, days) and the
        on-time rate; ``settings.ui.timezone`` the local day.
    seed
        Random seed; ``settings.demo.seed`` when omitted.
    progress
        Called with a short ``中文 / English`` message before each stage.
    end_date
        The demo's "today": events cover the ``days`` days before its midnight. Defaults to
        today in the configured time zone; fix it for reproducible data.

    Returns
    -------
    DemoSummary
        Counts read back from the database, the on-time rate and the elapsed seconds.
    """
    from gis.district import district_boundary, load_district

    started = time.perf_counter()
    cfg = settings.demo
    seed = cfg.seed if seed is None else seed
    tz = ZoneInfo(settings.ui.timezone)
    end = end_date or dt.datetime.now(tz).date()
    say = progress or (lambda _msg: None)
    rng = _rngs(seed)
    adcode = settings.district.adcode

    with Session(engine) as session:
        boundary = district_boundary(session)
        if boundary is None:
            say("导入辖区边界 / loading the district boundary")
            load_district(session, settings)
            session.commit()
            boundary = district_boundary(session)
    assert boundary is not None

    say("划分街道、社区和网格 / drawing streets, communities and grids")
    div = build_divisions(boundary, cfg.grids, adcode, rng["divisions"])
    say("生成老旧院落和问卷 / placing courtyards and questionnaires")
    courtyards, surveys = build_courtyards(div, cfg.courtyards, adcode, end, tz,
                                           rng["courtyards"])
    say("布设道路和摄像头 / laying roads and cameras")
    roads = build_roads(div, rng["roads"])
    cameras = build_cameras(div, courtyards, roads, cfg.cameras, adcode, rng["cameras"])
    say("生成两年事件 / generating the events")
    events = build_events(div, courtyards, roads, cfg.events, cfg.days, end, tz,
                          cfg.on_time_rate, rng["events"], SlaRule.from_settings(settings))
    say("写入数据库 / writing to the database")
    with engine.begin() as conn:
        write_all(conn, div, courtyards, surveys, cameras, events)
    summary = read_summary(engine)
    return DemoSummary(**{**summary.__dict__, "seed": seed, "end_date": end,
                          "seconds": time.perf_counter() - started})


def read_summary(engine: sa.Engine) -> DemoSummary:
    """Counts of the demo tables as they are in the database now."""
    with engine.connect() as conn:
        def count(sql: str) -> int:
            return int(conn.execute(sa.text(sql)).scalar_one())

        by_source = {str(k): int(v) for k, v in conn.execute(sa.text(
            "SELECT source, count(*) FROM camera GROUP BY source ORDER BY source"))}
        rate = conn.execute(sa.text(
            "SELECT avg((closed_at <= deadline_at)::int) FROM event "
            "WHERE status = 'closed'")).scalar_one()
        open_sql = "FROM event WHERE status NOT IN ('closed', 'rejected')"
        return DemoSummary(
            streets=count("SELECT count(*) FROM street"),
            communities=count("SELECT count(*) FROM community"),
            grids=count("SELECT count(*) FROM grid"),
            workers=count("SELECT count(*) FROM grid_worker"),
            courtyards=count("SELECT count(*) FROM courtyard"),
            survey_responses=count("SELECT count(*) FROM survey_response"),
            cameras=sum(by_source.values()),
            events=count("SELECT count(*) FROM event"),
            open_events=count(f"SELECT count(*) {open_sql}"),
            overdue_events=count(
                f"SELECT count(*) {open_sql} AND deadline_at < "
                "(SELECT COALESCE(max(reported_at), now()) FROM event)"),
            on_time_rate=None if rate is None else float(rate),
            cameras_by_source=by_source,
        )


def demo_digest(engine: sa.Engine) -> str:
    """A digest of every demo row; two seedings with equal digests wrote identical data."""
    with engine.connect() as conn:
        return digest(conn)
