"""Write camera health back to the camera table: one set-based UPDATE per round.

The supervisor calls a :class:`HealthStore` every ``write_health_s`` with every camera's
:class:`~video.camera.Health`. All rows go in one statement (``UPDATE … FROM unnest(arrays)``):
one round trip and one plan for 10 or 10,000 cameras, instead of a statement per camera.

The database is not the relay's master: when it is down or restarting the round is skipped
with one scrubbed warning, and the next round simply writes the newer health
(``pool_pre_ping`` replaces the connections the restart killed).
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from gis.scrub import scrub
from video.camera import Health

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500  # camera.health_last_error is VARCHAR(500)

_UPDATE = sa.text("""
    UPDATE camera AS c
       SET health_status = v.status,
           health_fps = v.fps,
           health_reconnects = v.reconnects,
           health_last_error = v.last_error,
           last_seen_at = COALESCE(v.last_seen_at, c.last_seen_at),
           health_checked_at = v.checked_at
      FROM unnest(CAST(:codes AS text[]), CAST(:statuses AS text[]),
                  CAST(:fps AS double precision[]), CAST(:reconnects AS integer[]),
                  CAST(:errors AS text[]), CAST(:seen AS timestamptz[]),
                  CAST(:checked AS timestamptz[]))
           AS v(code, status, fps, reconnects, last_error, last_seen_at, checked_at)
     WHERE c.code = v.code
""")


def _timestamp(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


class HealthStore:
    """A health sink for :class:`~video.supervisor.Supervisor` that writes to PostGIS.

    Parameters
    ----------
    engine
        The spatial core's engine (``gis.db.engine_for(settings)``).

    Examples
    --------
    >>> # Supervisor(cameras, settings.relay, health_sink=HealthStore(engine))
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.rounds_ok = 0
        self.rounds_failed = 0
        self.last_error: str | None = None  # scrubbed
        self._failing = False

    def __call__(self, healths: list[Health]) -> int:
        """Same as :meth:`write` (so an instance is the sink itself)."""
        return self.write(healths)

    def write(self, healths: list[Health]) -> int:
        """Write one round; return the number of camera rows updated (0 when it failed).

        Never raises for database trouble: a failed round is logged (scrubbed) and counted,
        and the next round tries again.
        """
        if not healths:
            return 0
        params = {
            "codes": [h.code for h in healths],
            "statuses": [h.status for h in healths],
            "fps": [h.fps for h in healths],
            "reconnects": [h.reconnects for h in healths],
            "errors": [scrub(h.last_error)[:MAX_ERROR_CHARS] if h.last_error else None
                       for h in healths],
            "seen": [_timestamp(h.last_seen_at) for h in healths],
            "checked": [_timestamp(h.checked_at) for h in healths],
        }
        try:
            with self.engine.begin() as conn:
                updated = conn.execute(_UPDATE, params).rowcount
        except (sa_exc.SQLAlchemyError, OSError) as exc:
            self.rounds_failed += 1
            detail = scrub(getattr(exc, "orig", None) or exc).strip().splitlines()
            self.last_error = detail[0] if detail else type(exc).__name__
            if not self._failing:
                log.warning("写入摄像机健康状态失败，下一轮重试 / writing camera health failed, "
                            "retrying next round: %s", self.last_error)
            self._failing = True
            return 0
        if self._failing:
            log.info("摄像机健康状态恢复写入 / camera health writes resumed")
        self._failing = False
        self.rounds_ok += 1
        return int(updated)
