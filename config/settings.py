"""Strict settings for the command center.

Settings come from ``config/*.toml`` (merged in file-name order, so ``local.toml`` can
override ``default.toml``), then from ``CC_*`` environment variables, which win. Nested keys
use a double underscore in the environment (``CC_DATABASE__POOL_SIZE=10``); the one shortcut
everybody expects, ``CC_DATABASE_URL``, is accepted as well.

Secrets (the database password, camera passwords, signing keys) never sit in a TOML file: a
file value that carries a password is rejected, and each secret has a ``*_file`` twin that
names a file to read it from, the way container platforms mount secrets.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gis.loop.sla import DEFAULT_CATEGORY_HOURS, DEFAULT_PRIORITY_FACTOR, DEFAULT_YELLOW_SHARE

CONFIG_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = CONFIG_DIR.parent


class StrictModel(BaseModel):
    """Base for every settings section: unknown keys are an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


class DatabaseSettings(StrictModel):
    url: SecretStr | None = Field(
        None,
        description="SQLAlchemy/libpq URL of an external PostGIS. Empty: the embedded local "
        "cluster under var/. Set it through CC_DATABASE_URL, never in a file, if it has a "
        "password.",
    )
    password_file: Path | None = Field(
        None, description="File holding the password for `url` (used when the URL has none)."
    )
    pool_size: Annotated[int, Field(ge=1, le=100)] = Field(
        5, description="Connections kept open per process.")
    statement_timeout_ms: Annotated[int, Field(ge=100, le=3_600_000)] = Field(
        60_000, description="Longest a single SQL statement may run before it is cancelled.")
    connect_timeout_s: Annotated[int, Field(ge=1, le=120)] = Field(
        10, description="How long to wait for the database to answer a new connection.")


class LocalDbSettings(StrictModel):
    dir: Path = Field(Path("var/pg"), description="Cluster folder, relative to the project root.")
    server_user: str = Field(
        "postgres",
        description="Unprivileged system user that runs the server when started as root "
        "(PostgreSQL refuses to run as root). Created if missing.",
    )
    database: str = Field("command_center", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                          description="Name of the application database in the local cluster.")
    role: str = Field("command_center", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                      description="Role that owns the application database.")
    shared_buffers_mb: Annotated[int, Field(ge=16, le=16384)] = Field(
        512, description="PostgreSQL shared_buffers of the local cluster, in MB.")
    work_mem_mb: Annotated[int, Field(ge=1, le=4096)] = Field(
        64, description="PostgreSQL work_mem of the local cluster, in MB (sorts, hash joins).")


class DistrictSettings(StrictModel):
    adcode: str = Field("511002", pattern=r"^\d{6}$",
                        description="Six-digit administrative code of the district.")
    name_zh: str = Field("市中区", description="District name in Chinese.")
    name_en: str = Field("Shizhong District", description="District name in English.")
    boundary_file: Path = Field(
        Path("../shared/data/neijiang_511000_gcj02.geojson"),
        description="Boundary source, relative to the project root.",
    )
    boundary_crs: str = Field("gcj02",
                              description="CRS of boundary_file: gcj02, bd09 or EPSG:xxxx.")
    tolerance_m: Annotated[float, Field(ge=0, le=500)] = Field(
        10.0, description="How far outside the boundary a geometry may reach (survey noise)."
    )


class DemoSettings(StrictModel):
    seed: int = Field(20240511, description="Random seed; the same seed gives the same district.")
    grids: Annotated[int, Field(ge=10, le=5000)] = Field(300, description="Number of grids.")
    courtyards: Annotated[int, Field(ge=0, le=20000)] = Field(
        586, description="Number of old residential courtyards.")
    cameras: Annotated[int, Field(ge=0, le=200000)] = Field(1500, description="Number of cameras.")
    events: Annotated[int, Field(ge=0, le=5_000_000)] = Field(
        13319, description="Number of grid events over the whole period.")
    days: Annotated[int, Field(ge=1, le=3650)] = Field(
        730, description="Length of the event history, ending today.")
    on_time_rate: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.993, description="Share of closed events closed by their deadline.")


class UiSettings(StrictModel):
    language: Literal["zh", "en"] = Field(
        "zh", description="Default interface language (Simplified Chinese or English).")
    timezone: str = Field("Asia/Shanghai", description="Time zone for deadlines and display.")


class SlaSettings(StrictModel):
    """Deadlines of the closed loop: hours per category × factor per priority (gis.loop.sla)."""

    yellow_share: Annotated[float, Field(gt=0, lt=1)] = Field(
        DEFAULT_YELLOW_SHARE, description="An open event turns yellow (即将超时) when less "
        "than this share of its allowed time is left; red when overdue.")
    category_hours: dict[str, Annotated[float, Field(gt=0, le=8760)]] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_HOURS),
        description="Allowed hours per event category (code → hours); categories left out "
        "keep the catalog's hours.")
    priority_factor: dict[str, Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_FACTOR),
        description="Deadline multiplier per priority (normal, urgent, critical); priorities "
        "left out keep their default factor.")

    @field_validator("category_hours")
    @classmethod
    def _known_categories(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_CATEGORY_HOURS))
        if unknown:
            raise ValueError(f"unknown event categories: {', '.join(unknown)} (known: "
                             f"{', '.join(DEFAULT_CATEGORY_HOURS)})")
        return {**DEFAULT_CATEGORY_HOURS, **value}

    @field_validator("priority_factor")
    @classmethod
    def _known_priorities(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_PRIORITY_FACTOR))
        if unknown:
            raise ValueError(f"unknown priorities: {', '.join(unknown)} (known: "
                             f"{', '.join(DEFAULT_PRIORITY_FACTOR)})")
        return {**DEFAULT_PRIORITY_FACTOR, **value}


class MapSettings(StrictModel):
    basemap: Literal["osm", "gaode", "tianditu", "custom", "none"] = Field(
        "osm", description="Default basemap: OpenStreetMap, Gaode (GCJ-02, layers shifted at "
        "draw time), Tianditu (needs a key), an intranet XYZ server, or none.")
    tianditu_key: SecretStr | None = Field(
        None, description="Tianditu API key; only via CC_MAP__TIANDITU_KEY.")
    custom_url: str = Field(
        "", description="Intranet XYZ tile URL with {Z}/{X}/{Y}, e.g. "
        "http://tiles.intranet/{Z}/{X}/{Y}.png.")


class AppSettings(StrictModel):
    host: str = Field("127.0.0.1", description="Address the app server binds to.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8500, description="App HTTP port.")
    cookie_secret: SecretStr | None = Field(
        None, description="Signs session cookies; only via CC_APP__COOKIE_SECRET. Empty: random "
        "per start (everyone logs in again after a restart).")


class WallLayout(StrictModel):
    rows: Annotated[int, Field(ge=1, le=8)] = Field(2, description="Tiles down.")
    cols: Annotated[int, Field(ge=1, le=8)] = Field(2, description="Tiles across.")


class CameraGroup(StrictModel):
    """A named set of cameras for a wall: by street, grid, source, or an explicit list."""

    title_zh: str = Field(..., description="Group name shown on the wall.")
    title_en: str = Field("", description="Group name in English.")
    cameras: list[str] = Field(default_factory=list, description="Camera codes, in wall order.")
    street: str | None = Field(None, description="All cameras in this street (code).")
    grid: str | None = Field(None, description="All cameras in this grid (code).")
    source: Literal["skynet", "community", "courtyard"] | None = Field(
        None, description="All cameras of this source.")
    layout: str = Field("2x2", description="Name of the wall layout (see relay.layouts).")


class RelaySettings(StrictModel):
    host: str = Field("127.0.0.1", description="Address the relay's HTTP server binds to.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8600, description="Relay HTTP port.")
    public_url: str = Field("", description="Base URL browsers use to reach the relay; empty: "
                            "http://host:port.")
    signing_key: SecretStr | None = Field(
        None, description="HMAC key for video URLs. Only via CC_RELAY__SIGNING_KEY or "
        "signing_key_file; empty: a random key per start (URLs die with a restart).")
    signing_key_file: Path | None = Field(None, description="File holding the signing key.")
    token_ttl_s: Annotated[int, Field(ge=10, le=86400)] = Field(
        300, description="Lifetime of a signed video URL.")
    open_timeout_ms: Annotated[int, Field(ge=200, le=60000)] = Field(
        4000, description="Longest an RTSP open may take before it counts as failed.")
    read_timeout_ms: Annotated[int, Field(ge=200, le=60000)] = Field(
        3000, description="Longest a single frame read may block.")
    stale_after_s: Annotated[float, Field(gt=0, le=60)] = Field(
        1.5, description="Frame age at which a watched camera is 'stale' (卡顿).")
    offline_after_s: Annotated[float, Field(gt=0, le=300)] = Field(
        4.0, description="Frame age at which a watched camera is 'offline' and is reopened.")
    backoff_initial_s: Annotated[float, Field(gt=0, le=10)] = Field(
        0.5, description="First reconnect delay; doubles each failure, with jitter.")
    backoff_max_s: Annotated[float, Field(gt=0, le=300)] = Field(
        30.0, description="Longest reconnect delay.")
    restart_budget_per_min: Annotated[int, Field(ge=1, le=600)] = Field(
        12, description="Most reopen attempts per camera per minute.")
    linger_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        10.0, description="Decoding continues this long after the last viewer leaves.")
    warm_s: Annotated[float, Field(ge=0, le=60)] = Field(
        5.0, description="How long a warm-up (the app selected an event, its cameras are about "
        "to be shown) keeps a camera's sub stream decoding before a viewer arrives; 0 turns "
        "warm-ups off.")
    warm_max_cameras: Annotated[int, Field(ge=1, le=64)] = Field(
        8, description="Most cameras one warm-up request may start.")
    probe_interval_s: Annotated[float, Field(ge=5, le=86400)] = Field(
        60.0, description="How often an unwatched camera gets a cheap RTSP probe.")
    snapshot_wait_s: Annotated[float, Field(gt=0, le=60)] = Field(
        6.0, description="Longest a snapshot of an unwatched camera waits for its first picture "
        "(open, authenticate, first keyframe) before answering 503.")
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = Field(
        75, description="JPEG quality of snapshots and MJPEG frames.")
    wall_fps: Annotated[float, Field(gt=0, le=60)] = Field(
        15.0, description="Frame rate of composed wall mosaics.")
    tile_width: Annotated[int, Field(ge=64, le=3840)] = Field(
        480, description="Width of one wall tile in pixels (height follows 16:9).")
    write_health_s: Annotated[float, Field(ge=1, le=3600)] = Field(
        5.0, description="How often camera health is written back to the database.")
    layouts: dict[str, WallLayout] = Field(
        default_factory=lambda: {
            "1x1": WallLayout(rows=1, cols=1), "2x2": WallLayout(rows=2, cols=2),
            "3x3": WallLayout(rows=3, cols=3), "4x4": WallLayout(rows=4, cols=4)},
        description="Wall layouts by name; add custom grids such as 2x3.")
    groups: dict[str, CameraGroup] = Field(
        default_factory=dict, description="Camera groups for walls, by name.")

    @model_validator(mode="after")
    def _groups_use_known_layouts(self) -> RelaySettings:
        for name, group in self.groups.items():
            if group.layout not in self.layouts:
                raise ValueError(f"groups.{name}.layout: unknown layout {group.layout!r} "
                                 f"(known: {', '.join(sorted(self.layouts))})")
        if self.offline_after_s <= self.stale_after_s:
            raise ValueError("offline_after_s must be larger than stale_after_s")
        return self


class ApiSettings(StrictModel):
    """The event intake API (Open311 GeoReport v2, ``command-center api serve``)."""

    host: str = Field("127.0.0.1", description="Address the intake API binds to.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8700, description="Intake API port.")
    max_body_bytes: Annotated[int, Field(ge=1024, le=10_485_760)] = Field(
        65_536, description="Largest request body accepted; a larger one gets 413.")
    description_max_chars: Annotated[int, Field(ge=1, le=2000)] = Field(
        2000, description="Longest description (characters) an intake may carry.")
    duplicate_radius_m: Annotated[float, Field(gt=0, le=1000)] = Field(
        50.0, description="An open event of the same category this close (metres) is offered "
        "as a duplicate.")
    duplicate_window_h: Annotated[float, Field(gt=0, le=720)] = Field(
        24.0, description="Only open events reported within this many hours are offered as "
        "duplicates.")
    sweep_interval_s: Annotated[float, Field(ge=0, le=86400)] = Field(
        120.0, description="How often the API process runs the supervision sweep (overdue "
        "events to supervision, reminders); 0 turns it off.")
    batch_max: Annotated[int, Field(ge=1, le=5000)] = Field(
        500, description="Most intakes written in one transaction (group commit); 1 means "
        "one transaction per request.")
    batch_linger_ms: Annotated[float, Field(ge=0, le=100)] = Field(
        0.0, description="How long the writer waits for more intakes before a transaction; "
        "0: take whatever queued up while the last transaction ran.")
    read_requires_key: bool = Field(
        True, description="GET requests.json needs an api_key too (events may hold personal "
        "details); false makes reads public as in plain Open311.")
    key_cache_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        30.0, description="How long a checked API key is remembered; a disabled key stops "
        "working within this time.")


def _url_has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


class Settings(BaseSettings):
    """All settings of one deployment."""

    model_config = SettingsConfigDict(
        env_prefix="CC_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    local_db: LocalDbSettings = LocalDbSettings()
    district: DistrictSettings = DistrictSettings()
    demo: DemoSettings = DemoSettings()
    ui: UiSettings = UiSettings()
    sla: SlaSettings = SlaSettings()
    relay: RelaySettings = RelaySettings()
    map: MapSettings = MapSettings()
    app: AppSettings = AppSettings()
    api: ApiSettings = ApiSettings()
    home: Path = Field(PROJECT_ROOT, description="Project root; var/ and relative paths hang here.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment beats the files: an operator overrides a shipped default without
        # editing it. File values arrive as init kwargs (see load_settings).
        return (env_settings, init_settings)

    @field_validator("home")
    @classmethod
    def _home_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"project root {value} is not a directory")
        return value.resolve()

    def path(self, p: Path) -> Path:
        """Resolve ``p`` against the project root unless it is absolute."""
        return p if p.is_absolute() else (self.home / p).resolve()


class ConfigError(Exception):
    """Settings are invalid. ``problems`` lists ``(key path, message, source)``."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        lines = [f"{key}: {msg} ({src})" for key, msg, src in problems]
        super().__init__("配置无效 / invalid configuration:\n  " + "\n  ".join(lines))


def config_files(config_dir: Path | None = None) -> list[Path]:
    """The TOML files that make up the configuration, in the order they are merged."""
    directory = config_dir or Path(os.environ.get("CC_CONFIG_DIR", CONFIG_DIR))
    return sorted(directory.glob("*.toml"))


def _merge(into: dict[str, Any], new: dict[str, Any], origin: dict[str, str], src: str,
           prefix: str = "") -> None:
    for key, value in new.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin, src, path + ".")
        else:
            into[key] = value
            origin[path] = src


def _secret_problems(data: dict[str, Any], origin: dict[str, str]) -> list[tuple[str, str, str]]:
    for section, key in (("relay", "signing_key"), ("map", "tianditu_key"),
                         ("app", "cookie_secret")):
        if data.get(section, {}).get(key):
            env = f"CC_{section.upper()}__{key.upper()}"
            return [(f"{section}.{key}", f"密钥不能写在配置文件中 / secrets may not sit in a "
                     f"config file: use {env}", origin.get(f"{section}.{key}", "?"))]
    url = data.get("database", {}).get("url")
    if isinstance(url, str) and _url_has_password(url):
        return [(
            "database.url",
            "含有密码；请改用环境变量 CC_DATABASE_URL 或 database.password_file / the URL holds "
            "a password: use CC_DATABASE_URL or database.password_file instead",
            origin.get("database.url", "?"),
        )]
    return []


def _env_aliases() -> dict[str, str]:
    # CC_DATABASE_URL is what people type; map it onto the nested key.
    if "CC_DATABASE_URL" in os.environ and "CC_DATABASE__URL" not in os.environ:
        return {"CC_DATABASE__URL": os.environ["CC_DATABASE_URL"]}
    return {}


def load_settings(config_dir: Path | None = None) -> Settings:
    """Load and validate settings from ``config/*.toml`` and ``CC_*`` variables.

    Raises
    ------
    ConfigError
        With every problem named by its key path and the file or variable it came from.

    Examples
    --------
    >>> s = load_settings()
    >>> s.district.adcode
    '511002'
    """
    data: dict[str, Any] = {}
    origin: dict[str, str] = {}
    problems: list[tuple[str, str, str]] = []
    for file in config_files(config_dir):
        try:
            with file.open("rb") as fh:
                _merge(data, tomllib.load(fh), origin, file.name)
        except tomllib.TOMLDecodeError as exc:
            problems.append(("<file>", f"TOML 语法错误 / syntax error: {exc}", file.name))
    problems += _secret_problems(data, origin)
    aliases = _env_aliases()
    os.environ.update(aliases)
    try:
        settings = Settings(**data)
    except Exception as exc:  # pydantic.ValidationError, reported key by key below
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        for err in errors():
            key = ".".join(str(p) for p in err["loc"])
            env_name = "CC_" + "__".join(str(p) for p in err["loc"]).upper()
            # The environment wins over files, so it is the source when it is set.
            src = f"${env_name}" if env_name in os.environ else origin.get(key, "default")
            problems.append((key, err["msg"], src))
        raise ConfigError(problems) from None
    finally:
        for name in aliases:
            os.environ.pop(name, None)
    if problems:
        raise ConfigError(problems)
    return settings
