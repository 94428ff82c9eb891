"""The layer file: a strict model of one ``layers/*.yaml`` and a loader that names file and key.

A layer file says what to draw and how, never how to draw it::

    id: courtyards
    title: {zh: 老旧院落, en: Old courtyards}
    source: {table: courtyard, columns: [code, name_zh, renovation_status]}
    geometry: polygon
    style:
      by: renovation_status
      classes:
        not_started: {color: "#c0392b", zh: 未改造, en: not started}
    popup:
      - {field: name_zh, zh: 名称, en: Name}
    roles: [planner, leader, admin]
    visible: true

A ``table`` source reads the named columns of a table of :mod:`gis.models` (stream URL columns
are refused: they are secrets); a ``query`` source names one of the queries in
:data:`layers.build.QUERIES`. Every field of the popup and the style must be a column the
source returns, checked when the file is loaded, so a typo stops start-up with the file and key
named instead of breaking a map for a user.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gis.errors import CommandCenterError
from gis.models import APP_ROLES, Base, SecretUrlType

LAYERS_DIR = Path(__file__).resolve().parent
_COLOR = r"^#[0-9a-fA-F]{6}$"
Color = Annotated[str, Field(pattern=_COLOR, description="A colour as #rrggbb.")]

# What each named query returns (besides its geometry); kept here so files can be checked
# without a database. layers.build holds the SQL and a test keeps the two in step.
QUERY_COLUMNS: dict[str, tuple[str, ...]] = {
    "grids_with_workers": ("id", "code", "name_zh", "households", "population",
                           "community_name", "street_name", "worker_a", "worker_a_phone",
                           "worker_b", "worker_b_phone"),
    "cameras": ("id", "code", "name_zh", "source", "vendor", "health_status", "azimuth_deg",
                "fov_deg", "range_m", "source_label", "health_label"),
    "open_events": ("id", "code", "category_code", "category", "source_channel", "source",
                    "status", "status_label", "priority", "grid_code", "deadline_at",
                    "reported_at", "light", "light_label", "time_left"),
}


Role = Literal["staff", "duty_officer", "planner", "leader", "department", "admin"]


class StrictSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(StrictSpec):
    zh: str = Field(..., min_length=1, description="Chinese title.")
    en: str = Field(..., min_length=1, description="English title.")


class Source(StrictSpec):
    table: str | None = Field(None, description="A table of gis.models with a geom column.")
    columns: list[str] = Field(default_factory=list,
                               description="Columns read from the table (id is always read).")
    query: str | None = Field(None, description="A named query (layers.build.QUERIES).")

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        if (self.table is None) == (self.query is None):
            raise ValueError("exactly one of 'table' or 'query' is required")
        if self.query is not None:
            if self.columns:
                raise ValueError("'columns' only goes with 'table'")
            if self.query not in QUERY_COLUMNS:
                raise ValueError(f"unknown query {self.query!r} "
                                 f"(known: {', '.join(sorted(QUERY_COLUMNS))})")
            return self
        table = Base.metadata.tables.get(self.table or "")
        if table is None or "geom" not in table.c:
            spatial = sorted(n for n, t in Base.metadata.tables.items() if "geom" in t.c)
            raise ValueError(f"unknown table {self.table!r} (known: {', '.join(spatial)})")
        for col in self.columns:
            if col not in table.c or col in ("geom", "geom_m"):
                raise ValueError(f"unknown column {col!r} in table {self.table}")
            if isinstance(table.c[col].type, SecretUrlType):
                raise ValueError(f"column {col!r} holds a stream URL and may not be shown")
        return self

    def available(self) -> tuple[str, ...]:
        """The columns this source returns."""
        if self.query is not None:
            return QUERY_COLUMNS[self.query]
        return ("id", *self.columns)


class StyleClass(StrictSpec):
    color: Color
    zh: str = Field(..., description="Legend label in Chinese.")
    en: str = Field(..., description="Legend label in English.")


class Style(StrictSpec):
    by: str | None = Field(None, description="Attribute whose value picks the class colour.")
    classes: dict[str, StyleClass] = Field(default_factory=dict,
                                           description="Value of 'by' -> colour and labels.")
    color: Color = Field("#4c9be8", description="Colour when there is no 'by' (or no class).")
    line_color: Color = Field("#ffffff", description="Outline colour.")
    line_width: Annotated[float, Field(ge=0, le=10)] = 1.0
    fill_alpha: Annotated[float, Field(ge=0, le=1)] = 0.35
    size: Annotated[float, Field(ge=1, le=40)] = Field(7, description="Point size in pixels.")

    @model_validator(mode="after")
    def _classes_need_by(self) -> Style:
        if self.classes and not self.by:
            raise ValueError("'classes' needs 'by' (the attribute they colour by)")
        return self


class PopupField(StrictSpec):
    field: str
    zh: str
    en: str


class Aggregate(StrictSpec):
    """Above ``max_points`` features in view, draw database bins instead of points."""

    max_points: Annotated[int, Field(ge=1, le=20000)] = Field(
        3000, description="Most points sent to the browser at once.")
    shape: Literal["square", "hexagon"] = "square"
    bins_across: Annotated[int, Field(ge=5, le=200)] = Field(
        48, description="Bins across the visible map width.")


class LayerSpec(StrictSpec):
    """One map layer, as written in ``layers/<id>.yaml``."""

    id: str = Field(..., pattern=r"^[a-z][a-z0-9_]{0,39}$")
    title: Title
    source: Source
    geometry: Literal["point", "polygon"]  # lines: add a glyph kind in layers.build first
    style: Style = Style()
    popup: list[PopupField] = Field(default_factory=list)
    roles: list[Role] = Field(
        default_factory=lambda: list(APP_ROLES), description="Roles that may see the layer.")
    visible: bool = Field(True, description="Shown when the map opens.")
    order: Annotated[int, Field(ge=0, le=1000)] = Field(
        100, description="Drawing order: lower first (underneath).")
    aggregate: Aggregate | None = None
    fov_wedges: bool = Field(False, description="Draw each camera's field of view.")

    @model_validator(mode="after")
    def _fields_exist(self) -> LayerSpec:
        available = self.source.available()
        for i, item in enumerate(self.popup):
            if item.field not in available:
                raise ValueError(f"popup[{i}].field: {item.field!r} is not returned by the "
                                 f"source (available: {', '.join(available)})")
        if self.style.by and self.style.by not in available:
            raise ValueError(f"style.by: {self.style.by!r} is not returned by the source "
                             f"(available: {', '.join(available)})")
        if self.fov_wedges and not {"azimuth_deg", "fov_deg", "range_m"} <= set(available):
            raise ValueError("fov_wedges needs azimuth_deg, fov_deg and range_m in the source")
        if (self.aggregate or self.fov_wedges) and self.geometry != "point":
            raise ValueError("aggregate and fov_wedges apply to point layers only")
        return self

    def label(self, language: str) -> str:
        """The title in ``language``."""
        return self.title.en if language == "en" else self.title.zh


class LayerSpecError(CommandCenterError):
    """A layer file is invalid; ``problems`` lists ``(file, key, message)``."""

    http_status = 500

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        lines = "; ".join(f"{f}: {k}: {m}" for f, k, m in problems)
        super().__init__(f"图层文件无效：{lines}", f"invalid layer file(s): {lines}")


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<file>"


def load_layer(path: Path) -> LayerSpec:
    """Read and validate one layer file; :class:`LayerSpecError` names the file and key."""
    name = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LayerSpecError([(name, "<file>", str(exc).replace("\n", " "))]) from None
    if not isinstance(data, dict):
        raise LayerSpecError([(name, "<file>", "expected a mapping of keys")])
    try:
        spec = LayerSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = tuple(err["loc"])
            # Cross-field messages carry their own key path ("popup[2].field: …").
            found = re.match(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)*): (.*)$", msg)
            if found and not loc:
                problems.append((name, found.group(1), found.group(2)))
            else:
                problems.append((name, _key(loc), msg))
        raise LayerSpecError(problems) from None
    if spec.id != path.stem:
        raise LayerSpecError([(name, "id", f"must match the file name ({path.stem!r})")])
    return spec


def load_layers(directory: Path = LAYERS_DIR) -> list[LayerSpec]:
    """Every ``*.yaml`` in ``directory``, in drawing order; all problems reported together."""
    specs: list[LayerSpec] = []
    problems: list[tuple[str, str, str]] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            specs.append(load_layer(path))
        except LayerSpecError as exc:
            problems += exc.problems
    if problems:
        raise LayerSpecError(problems)
    return sorted(specs, key=lambda s: (s.order, s.id))
