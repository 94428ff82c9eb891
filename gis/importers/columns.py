"""What each kind of file must hold, and the column names people actually use for it.

Planners hand us spreadsheets with Chinese headers (编码, 名称, 经度 …), GIS exports with
English ones, and Shapefiles whose names the DBF format cut to ten characters. Every header is
matched against an alias table here; a header we do not know is ignored and listed in the
summary. Header text is only ever compared with these tables, never written into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from gis.catalog import (
    CAMERA_SOURCE_LABELS,
    CAMERA_VENDORS,
    EVENT_CATEGORIES,
    EVENT_PRIORITY_LABELS,
    EVENT_SOURCE_LABELS,
    EVENT_STATUS_LABELS,
    RENOVATION_LABELS,
    Label,
)

KINDS = ("grids", "courtyards", "cameras", "events")
POLYGON_KINDS = frozenset({"grids", "courtyards"})

#: Columns that carry the geometry of a CSV/XLSX row rather than an attribute.
GEOMETRY_FIELDS = ("lon", "lat", "wkt")


@dataclass(frozen=True)
class Field:
    """One attribute of an imported row.

    ``kind`` is ``str``, ``int``, ``float``, ``choice`` or ``time``; ``column`` is the database
    column it lands in (``None`` for values that need more work, like worker names).
    """

    name: str
    kind: str
    column: str | None
    required: bool = False
    default: object = None
    max_len: int | None = None
    low: float | None = None
    high: float | None = None
    choices: dict[str, str] = field(default_factory=dict)
    title: str = ""


def _norm(name: object) -> str:
    # Case, blanks, underscores, hyphens and brackets vary between files; meaning does not.
    return re.sub(r"[\s_\-()（）/]+", "", str(name)).lower()


def _choices(labels: dict[str, Label], extra: dict[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, lab in labels.items():
        for text in (code, lab.zh, lab.en):
            out[_norm(text)] = code
    for text, code in (extra or {}).items():
        out[_norm(text)] = code
    return out


RENOVATION_CHOICES = _choices(RENOVATION_LABELS, {"未开始": "not_started", "计划": "planned",
                                                  "在建": "in_progress", "完成": "completed",
                                                  "已改造": "completed"})
CAMERA_SOURCE_CHOICES = _choices(CAMERA_SOURCE_LABELS, {"社区": "community", "院落": "courtyard",
                                                        "雪亮工程": "skynet"})
VENDOR_CHOICES = {_norm(v): v for v in CAMERA_VENDORS} | {
    _norm(k): v for k, v in {"海康": "hikvision", "海康威视": "hikvision", "hik": "hikvision",
                             "大华": "dahua", "通用": "generic", "其他": "generic",
                             "onvif": "generic"}.items()}
EVENT_SOURCE_CHOICES = _choices(EVENT_SOURCE_LABELS, {"12345": "hotline_12345",
                                                      "巡查": "grid_patrol", "邮件": "email",
                                                      "视频": "video", "信访": "online_petition"})
PRIORITY_CHOICES = _choices(EVENT_PRIORITY_LABELS, {"普通": "normal", "加急": "urgent"})
STATUS_CHOICES = _choices(EVENT_STATUS_LABELS, {"结案": "closed", "办结": "closed"})
CATEGORY_CHOICES = {
    key: c.code for c in EVENT_CATEGORIES for key in (_norm(c.code), _norm(c.zh), _norm(c.en))
}

#: canonical field -> other names it goes by (compared after normalisation).
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("编码", "代码", "编号", "网格编码", "网格代码", "院落编码", "院落编号", "点位编码",
             "设备编码", "设备编号", "摄像头编码", "事件编号", "事件编码", "id_code"),
    "name": ("名称", "名字", "网格名称", "院落名称", "点位名称", "设备名称", "摄像头名称",
             "name_zh"),
    "lon": ("经度", "lng", "long", "longitude", "x"),
    "lat": ("纬度", "latitude", "y"),
    "wkt": ("geometry", "geom", "the_geom", "几何", "空间信息", "wkt_geom"),
    "community_code": ("社区编码", "社区代码", "所属社区编码", "community"),
    "households": ("户数", "住户数", "总户数"),
    "population": ("人口", "人口数", "常住人口"),
    "worker_a_name": ("a岗网格员", "a岗姓名", "a岗", "网格员a", "专职网格员", "worker_a"),
    "worker_a_phone": ("a岗电话", "a岗联系电话", "网格员a电话", "专职网格员电话"),
    "worker_b_name": ("b岗网格员", "b岗姓名", "b岗", "网格员b", "兼职网格员", "worker_b"),
    "worker_b_phone": ("b岗电话", "b岗联系电话", "网格员b电话", "兼职网格员电话"),
    "address": ("地址", "详细地址", "位置"),
    "buildings": ("楼栋数", "栋数", "楼栋"),
    "built_year": ("建成年份", "建成年代", "建造年份", "建成时间"),
    "renovation_status": ("改造状态", "改造情况", "renovation", "reno_status"),
    "renovation_batch": ("改造批次", "批次", "batch", "reno_batch"),
    "source": ("来源", "类型", "视频来源", "来源渠道", "渠道", "source_channel", "channel"),
    "vendor": ("厂商", "品牌", "厂家"),
    "azimuth": ("方位角", "朝向", "azimuth_deg"),
    "fov": ("视场角", "视角", "fov_deg"),
    "range": ("可视距离", "监控距离", "range_m", "距离"),
    "main_url": ("主码流", "主码流地址", "rtsp", "url", "rtsp_url"),
    "sub_url": ("子码流", "子码流地址", "辅码流"),
    "category": ("类别", "事件类别", "事件类型", "分类", "category_code"),
    "priority": ("优先级", "紧急程度"),
    "status": ("状态", "办理状态", "事件状态"),
    "reported_at": ("上报时间", "发生时间", "reported", "report_time"),
    "accepted_at": ("受理时间", "accepted"),
    "deadline_at": ("办结时限", "截止时间", "期限", "deadline"),
    "closed_at": ("结案时间", "办结时间", "closed"),
    "description": ("描述", "事件描述", "内容", "问题描述"),
}

_S, _I, _F, _C, _T = "str", "int", "float", "choice", "time"

KIND_FIELDS: dict[str, tuple[Field, ...]] = {
    "grids": (
        Field("code", _S, "code", True, max_len=32, title="编码"),
        Field("name", _S, "name_zh", True, max_len=64, title="名称"),
        Field("community_code", _S, None, max_len=32, title="社区编码"),
        Field("households", _I, "households", default=0, low=0, title="户数"),
        Field("population", _I, "population", default=0, low=0, title="人口"),
        Field("worker_a_name", _S, None, True, max_len=32, title="A岗网格员"),
        Field("worker_a_phone", _S, None, True, max_len=20, title="A岗电话"),
        Field("worker_b_name", _S, None, True, max_len=32, title="B岗网格员"),
        Field("worker_b_phone", _S, None, True, max_len=20, title="B岗电话"),
    ),
    "courtyards": (
        Field("code", _S, "code", True, max_len=32, title="编码"),
        Field("name", _S, "name_zh", True, max_len=64, title="名称"),
        Field("address", _S, "address", max_len=200, title="地址"),
        Field("buildings", _I, "buildings", default=0, low=0, title="楼栋数"),
        Field("households", _I, "households", default=0, low=0, title="户数"),
        Field("built_year", _I, "built_year", low=1900, high=2100, title="建成年份"),
        Field("renovation_status", _C, "renovation_status", default="not_started",
              choices=RENOVATION_CHOICES, title="改造状态"),
        Field("renovation_batch", _I, "renovation_batch", low=0, title="改造批次"),
    ),
    "cameras": (
        Field("code", _S, "code", True, max_len=48, title="编码"),
        Field("name", _S, "name_zh", True, max_len=64, title="名称"),
        Field("source", _C, "source", True, choices=CAMERA_SOURCE_CHOICES, title="来源"),
        Field("vendor", _C, "vendor", default="generic", choices=VENDOR_CHOICES, title="厂商"),
        Field("azimuth", _F, "azimuth_deg", default=0.0, title="方位角"),
        Field("fov", _F, "fov_deg", default=90.0, low=0.001, high=360, title="视场角"),
        Field("range", _F, "range_m", default=60.0, low=0.001, high=2000, title="可视距离"),
        Field("main_url", _S, "main_url", title="主码流"),
        Field("sub_url", _S, "sub_url", title="子码流"),
    ),
    "events": (
        Field("code", _S, "code", True, max_len=48, title="编号"),
        Field("category", _C, "category_code", True, choices=CATEGORY_CHOICES, title="类别"),
        Field("source", _C, "source_channel", True, choices=EVENT_SOURCE_CHOICES, title="来源"),
        Field("priority", _C, "priority", default="normal", choices=PRIORITY_CHOICES,
              title="优先级"),
        Field("status", _C, "status", default="reported", choices=STATUS_CHOICES, title="状态"),
        Field("reported_at", _T, "reported_at", True, title="上报时间"),
        Field("accepted_at", _T, "accepted_at", title="受理时间"),
        Field("deadline_at", _T, "deadline_at", title="办结时限"),
        Field("closed_at", _T, "closed_at", title="结案时间"),
        Field("description", _S, "description", default="", max_len=2000, title="描述"),
        Field("address", _S, "address", max_len=200, title="地址"),
    ),
}

# Columns every KML reader adds whatever the file holds; listing them as "ignored" is noise.
KML_STANDARD_COLUMNS = frozenset(_norm(c) for c in (
    "id", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude", "visibility",
    "drawOrder", "icon", "snippet"))

_LOOKUP: dict[str, str] = {}
for _canonical, _names in ALIASES.items():
    for _alias in (_canonical, *_names):
        _LOOKUP.setdefault(_norm(_alias), _canonical)


@dataclass
class ColumnMatch:
    """How a file's headers map onto a kind's fields."""

    rename: dict[str, str]
    ignored: list[str]
    notes: list[str]


def canonical_name(header: object) -> str | None:
    """The canonical field a header stands for, or ``None`` when unknown.

    Examples
    --------
    >>> canonical_name("经度"), canonical_name(" Worker_A_Name "), canonical_name("备注")
    ('lon', 'worker_a_name', None)
    """
    return _LOOKUP.get(_norm(header))


def _truncated_match(header: str, wanted: Iterable[str]) -> str | None:
    # DBF cuts names to ten characters ("worker_a_name" -> "worker_a_n"); accept a cut name
    # when it is the prefix of exactly one field we are looking for.
    key = _norm(header)
    hits = {f for f in wanted if any(_norm(a).startswith(key)
                                     for a in (f, *ALIASES.get(f, ())))}
    return hits.pop() if len(hits) == 1 else None


def match_columns(headers: Iterable[object], kind: str, *, truncated: bool = False,
                  kml: bool = False) -> ColumnMatch:
    """Map file headers to the canonical fields of ``kind``.

    Parameters
    ----------
    headers
        Column names as read from the file (the geometry column excluded).
    kind
        One of :data:`KINDS`.
    truncated
        The file is a Shapefile, so ten-character prefixes are accepted too.
    kml
        The file is KML: the reader's standard columns are dropped silently.
    """
    wanted = {f.name for f in KIND_FIELDS[kind]} | set(GEOMETRY_FIELDS)
    rename: dict[str, str] = {}
    ignored: list[str] = []
    notes: list[str] = []
    taken: dict[str, str] = {}
    for header in headers:
        text = str(header)
        target = canonical_name(text)
        if target not in wanted and truncated and len(text) == 10:
            target = _truncated_match(text, wanted)
        if target not in wanted or target is None:
            if not (kml and _norm(text) in KML_STANDARD_COLUMNS):
                ignored.append(text)
            continue
        if target in taken:
            notes.append(f"列“{text}”与“{taken[target]}”同义，已忽略 / column {text!r} means the "
                         f"same as {taken[target]!r} and was ignored")
            ignored.append(text)
            continue
        taken[target] = text
        rename[text] = target
    return ColumnMatch(rename, ignored, notes)
