"""The system of record: typed ORM models of the district, its grids, cameras and events.

Geometries are stored in WGS84 (EPSG:4326). Rules that must hold whoever writes to the database
(an importer, the app, a hand-typed ``psql`` session) live in the database itself: CHECK
constraints for validity and ranges, triggers for "inside the district" and the A/B pair rule
(see the migration ``0001_spatial_core``). The models mirror them so that Python code fails
early with the same meaning.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gis.catalog import (
    CAMERA_SOURCES,
    CAMERA_VENDORS,
    EVENT_PRIORITIES,
    EVENT_SOURCES,
    EVENT_STATUSES,
    HEALTH_STATES,
    RENOVATION_STATUSES,
)
from gis.scrub import SecretUrl

SRID = 4326


class SecretUrlType(sa.types.TypeDecorator[SecretUrl]):
    """A text column holding a stream URL that comes back as :class:`~gis.scrub.SecretUrl`.

    Whatever prints a camera row (a log, a traceback, a debugger) shows ``rtsp://***@host``.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return value.reveal() if isinstance(value, SecretUrl) else str(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> SecretUrl | None:
        return None if value is None else SecretUrl(value)


def _choice(name: str, values: tuple[str, ...]) -> sa.Enum:
    # VARCHAR + CHECK instead of a native enum: adding a value later is a one-line migration.
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _geom(kind: str) -> Any:
    return Geometry(kind, srid=SRID, spatial_index=True)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB}


class District(Base):
    """The district boundary; ``check_geom`` is the boundary widened by the tolerance."""

    __tablename__ = "district"
    id: Mapped[int] = mapped_column(primary_key=True)
    adcode: Mapped[str] = mapped_column(sa.String(6), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    name_en: Mapped[str] = mapped_column(sa.String(64))
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    check_geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    tolerance_m: Mapped[float] = mapped_column(sa.Float, default=10.0, server_default="10")


class DistrictPart(Base):
    """``check_geom`` cut into small pieces (maintained by a trigger) for fast point checks."""

    __tablename__ = "district_part"
    id: Mapped[int] = mapped_column(primary_key=True)
    geom: Mapped[Any] = mapped_column(_geom("POLYGON"))


class Street(Base):
    """街道: the sub-district office level."""

    __tablename__ = "street"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    name_en: Mapped[str | None] = mapped_column(sa.String(128))
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    communities: Mapped[list[Community]] = relationship(back_populates="street")


class Community(Base):
    """社区: a residents' community under a street."""

    __tablename__ = "community"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id", ondelete="RESTRICT"),
                                           index=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    name_en: Mapped[str | None] = mapped_column(sa.String(128))
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    street: Mapped[Street] = relationship(back_populates="communities")
    grids: Mapped[list[Grid]] = relationship(back_populates="community")


class Grid(Base):
    """网格: the unit a pair of grid workers (A and B) is responsible for."""

    __tablename__ = "grid"
    __table_args__ = (
        sa.CheckConstraint("households >= 0", name="grid_households_nonneg"),
        sa.CheckConstraint("population >= 0", name="grid_population_nonneg"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    community_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("community.id", ondelete="RESTRICT"), index=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    households: Mapped[int] = mapped_column(default=0, server_default="0")
    population: Mapped[int] = mapped_column(default=0, server_default="0")
    community: Mapped[Community | None] = relationship(back_populates="grids")
    workers: Mapped[list[GridWorker]] = relationship(back_populates="grid",
                                                     cascade="all, delete-orphan")


class GridWorker(Base):
    """网格员: post A leads, post B assists; every grid has exactly one of each."""

    __tablename__ = "grid_worker"
    __table_args__ = (sa.UniqueConstraint("grid_id", "post", name="grid_worker_one_per_post"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id", ondelete="CASCADE"))
    post: Mapped[str] = mapped_column(_choice("worker_post", ("A", "B")))
    name: Mapped[str] = mapped_column(sa.String(32))
    phone: Mapped[str] = mapped_column(sa.String(20))
    grid: Mapped[Grid] = relationship(back_populates="workers")


class Courtyard(Base):
    """老旧院落: an old residential courtyard, the unit of renovation."""

    __tablename__ = "courtyard"
    __table_args__ = (
        sa.CheckConstraint("buildings >= 0 AND households >= 0", name="courtyard_counts_nonneg"),
        sa.CheckConstraint("built_year IS NULL OR built_year BETWEEN 1900 AND 2100",
                           name="courtyard_built_year_range"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id", ondelete="SET NULL"),
                                                index=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str | None] = mapped_column(sa.String(200))
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    buildings: Mapped[int] = mapped_column(default=0, server_default="0")
    households: Mapped[int] = mapped_column(default=0, server_default="0")
    built_year: Mapped[int | None]
    renovation_status: Mapped[str] = mapped_column(
        _choice("renovation_status", RENOVATION_STATUSES), default="not_started",
        server_default="not_started")
    renovation_batch: Mapped[int | None]
    renovation_completed_on: Mapped[dt.date | None]
    survey_summary: Mapped[dict[str, Any] | None]


class SurveyResponse(Base):
    """One household's answers to a courtyard renovation questionnaire."""

    __tablename__ = "survey_response"
    id: Mapped[int] = mapped_column(primary_key=True)
    courtyard_id: Mapped[int] = mapped_column(sa.ForeignKey("courtyard.id", ondelete="CASCADE"),
                                              index=True)
    answered_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    answers: Mapped[dict[str, Any]]


class Department(Base):
    """A department events are dispatched to (城管, 住建, 公安 …)."""

    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    name_en: Mapped[str] = mapped_column(sa.String(128))


class EventCategory(Base):
    """An event category with its default department and deadline."""

    __tablename__ = "event_category"
    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    name_en: Mapped[str] = mapped_column(sa.String(128))
    deadline_hours: Mapped[int] = mapped_column(sa.CheckConstraint("deadline_hours > 0"))
    department_code: Mapped[str | None] = mapped_column(
        sa.ForeignKey("department.code", ondelete="SET NULL"))


class Camera(Base):
    """A video source: position, field of view, streams (secret) and health."""

    __tablename__ = "camera"
    __table_args__ = (
        sa.CheckConstraint("azimuth_deg >= 0 AND azimuth_deg < 360", name="camera_azimuth"),
        sa.CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="camera_fov"),
        sa.CheckConstraint("range_m > 0 AND range_m <= 2000", name="camera_range"),
        sa.Index("camera_geog_idx", sa.text("(geom::geography)"), postgresql_using="gist"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(48), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(_choice("camera_source", CAMERA_SOURCES))
    vendor: Mapped[str] = mapped_column(_choice("camera_vendor", CAMERA_VENDORS),
                                        default="generic", server_default="generic")
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    azimuth_deg: Mapped[float] = mapped_column(default=0.0, server_default="0")
    fov_deg: Mapped[float] = mapped_column(default=90.0, server_default="90")
    range_m: Mapped[float] = mapped_column(default=60.0, server_default="60")
    main_url: Mapped[SecretUrl | None] = mapped_column(SecretUrlType)
    sub_url: Mapped[SecretUrl | None] = mapped_column(SecretUrlType)
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id", ondelete="SET NULL"),
                                                index=True)
    courtyard_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("courtyard.id", ondelete="SET NULL"))
    health_status: Mapped[str] = mapped_column(_choice("camera_health", HEALTH_STATES),
                                               default="unknown", server_default="unknown")
    health_fps: Mapped[float | None]
    health_reconnects: Mapped[int] = mapped_column(default=0, server_default="0")
    health_last_error: Mapped[str | None] = mapped_column(sa.String(500))
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    health_checked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    def __repr__(self) -> str:  # never the URLs
        return f"Camera(code={self.code!r}, name={self.name_zh!r}, source={self.source!r})"


class Event(Base):
    """A grid event (网格事件) running the closed loop against its deadline."""

    __tablename__ = "event"
    __table_args__ = (
        sa.CheckConstraint(
            "deadline_at IS NULL OR accepted_at IS NULL OR deadline_at > accepted_at",
            name="event_deadline_after_accept"),
        sa.CheckConstraint("closed_at IS NULL OR closed_at >= reported_at",
                           name="event_closed_after_report"),
        sa.Index("event_reported_at_idx", "reported_at"),
        sa.Index("event_status_idx", "status"),
        sa.Index("event_geog_idx", sa.text("(geom::geography)"), postgresql_using="gist"),
        sa.CheckConstraint(
            "reject_reason IS NULL OR reject_reason IN ('out_of_scope', 'duplicate', 'invalid')",
            name="event_reject_reason"),
        sa.Index("event_supervised_idx", "supervised", postgresql_where=sa.text("supervised")),
        # 0008: merged duplicates point at the event they repeat (few rows: a partial index).
        sa.Index("event_duplicate_of_idx", "duplicate_of",
                 postgresql_where=sa.text("duplicate_of IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(48), unique=True)
    category_code: Mapped[str] = mapped_column(sa.ForeignKey("event_category.code"), index=True)
    source_channel: Mapped[str] = mapped_column(_choice("event_source", EVENT_SOURCES))
    priority: Mapped[str] = mapped_column(_choice("event_priority", EVENT_PRIORITIES),
                                          default="normal", server_default="normal")
    status: Mapped[str] = mapped_column(_choice("event_status", EVENT_STATUSES),
                                        default="reported", server_default="reported")
    description: Mapped[str] = mapped_column(sa.String(2000), default="",
                                             server_default="")
    address: Mapped[str | None] = mapped_column(sa.String(200))
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    # The point in EPSG:4544 metres for server-side heat bins; kept by a trigger (0002).
    geom_m: Mapped[Any] = mapped_column(Geometry("POINT", srid=4544, spatial_index=False),
                                        sa.FetchedValue(), server_onupdate=sa.FetchedValue())
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id", ondelete="SET NULL"),
                                                index=True)
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("department.id", ondelete="SET NULL"), index=True)
    reported_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    deadline_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Optimistic concurrency: two officers acting at once cannot both win.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The closed loop (0006, gis.loop): supervision (督办) is a flag beside the status.
    supervised: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    supervised_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    supervision_reason: Mapped[str | None] = mapped_column(sa.String(500))
    reject_reason: Mapped[str | None] = mapped_column(sa.String(24))
    # 0008, the intake API (gis.loop.intake): where the report came from and what it repeats.
    title: Mapped[str | None] = mapped_column(sa.String(120))
    external_id: Mapped[str | None] = mapped_column(sa.String(64))
    media_url: Mapped[str | None] = mapped_column(sa.String(500))
    reporter_name: Mapped[str | None] = mapped_column(sa.String(64))
    reporter_phone: Mapped[str | None] = mapped_column(sa.String(32))
    reporter_email: Mapped[str | None] = mapped_column(sa.String(254))
    api_client_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("api_client.id", ondelete="SET NULL"))
    duplicate_of: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey("event.id", ondelete="SET NULL"))
    __mapper_args__ = {"version_id_col": version}


class ApiClient(Base):
    """A system allowed to submit events (12345 platform, petition site …); only a key hash."""

    __tablename__ = "api_client"
    __table_args__ = (
        sa.CheckConstraint("name ~ '^[A-Za-z0-9_.@-]{1,64}$'", name="api_client_name"),
        sa.CheckConstraint("key_sha256 ~ '^[0-9a-f]{64}$'", name="api_client_key_sha256"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    channel: Mapped[str] = mapped_column(_choice("api_client_channel", EVENT_SOURCES))
    key_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    disabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True),
                                                    server_default=sa.func.now())

    def __repr__(self) -> str:  # never the hash
        return f"ApiClient(name={self.name!r}, channel={self.channel!r})"


class EventLog(Base):
    """Append-only history of every event transition."""

    __tablename__ = "event_log"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="RESTRICT"),
                                          index=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True),
                                            server_default=sa.func.now())
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(32))
    from_status: Mapped[str | None] = mapped_column(sa.String(24))
    to_status: Mapped[str | None] = mapped_column(sa.String(24))
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64))
    # 0006: who acted in which role, the target department of a dispatch, a reason code.
    # id, prev_hash and hash are set by the database's chain trigger (see gis.loop.audit).
    role: Mapped[str | None] = mapped_column(sa.String(24))
    department_code: Mapped[str | None] = mapped_column(sa.String(32))
    reason: Mapped[str | None] = mapped_column(sa.String(32))


APP_ROLES = ("staff", "duty_officer", "planner", "leader", "admin", "department")


class AppUser(Base):
    """A person who logs in to the command center; only a salted password hash is kept."""

    __tablename__ = "app_user"
    __table_args__ = (
        sa.CheckConstraint("role IN ('staff', 'duty_officer', 'planner', 'leader', 'admin', "
                           "'department')", name="app_user_role"),
        # 0007: a department handler names its department; nobody else carries one.
        sa.CheckConstraint("(role = 'department') = (department_id IS NOT NULL)",
                           name="app_user_department_scope"),
        sa.CheckConstraint("username ~ '^[A-Za-z0-9_.@-]{1,64}$'", name="app_user_username"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(24))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True),
                                                    server_default=sa.func.now())
    disabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("department.id", ondelete="RESTRICT"), index=True)

    def __repr__(self) -> str:  # never the hash
        return f"AppUser(username={self.username!r}, role={self.role!r})"


class EventLogHead(Base):
    """The end of the ``event_log`` hash chain (one row), kept by the chain trigger (0006)."""

    __tablename__ = "event_log_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="event_log_head_single_row"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(sa.BigInteger)
    last_hash: Mapped[str | None] = mapped_column(sa.String(64))


class Reminder(Base):
    """An in-app reminder to a department: one of its events turned yellow (即将超时)."""

    __tablename__ = "reminder"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "kind", "deadline_at", name="reminder_once"),
        sa.CheckConstraint("kind IN ('due_soon')", name="reminder_kind"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    deadline_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True),
                                                    server_default=sa.func.now())
    read_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
