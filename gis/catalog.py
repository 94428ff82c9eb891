"""Domain vocabulary: the codes stored in the database and their Chinese and English labels.

Codes are short English identifiers (stable, safe in URLs and SQL); every user-facing label
comes from here so the map, the wall, the reports and the importers say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol


class Label(NamedTuple):
    zh: str
    en: str


RENOVATION_LABELS: dict[str, Label] = {
    "not_started": Label("未改造", "not started"),
    "planned": Label("已列入计划", "planned"),
    "in_progress": Label("改造中", "in progress"),
    "completed": Label("已完成", "completed"),
}
RENOVATION_STATUSES = tuple(RENOVATION_LABELS)

CAMERA_SOURCE_LABELS: dict[str, Label] = {
    "skynet": Label("天网", "SkyNet (public security)"),
    "community": Label("社区监控", "community camera"),
    "courtyard": Label("院落监控", "courtyard camera"),
}
CAMERA_SOURCES = tuple(CAMERA_SOURCE_LABELS)
CAMERA_VENDORS = ("hikvision", "dahua", "generic")

HEALTH_LABELS: dict[str, Label] = {
    "unknown": Label("未知", "unknown"),
    "online": Label("在线", "online"),
    "stale": Label("卡顿", "stale"),
    "offline": Label("离线", "offline"),
    "unauthorized": Label("认证失败", "unauthorized"),
}
HEALTH_STATES = tuple(HEALTH_LABELS)

EVENT_SOURCE_LABELS: dict[str, Label] = {
    "grid_patrol": Label("网格巡查", "grid patrol"),
    "hotline_12345": Label("12345热线", "12345 hotline"),
    "online_petition": Label("网上信访", "online petition"),
    "leaders_hotline": Label("领导信箱/热线", "leaders' hotline"),
    "email": Label("电子邮件", "e-mail"),
    "video": Label("视频巡查", "video alarm"),
}
EVENT_SOURCES = tuple(EVENT_SOURCE_LABELS)

EVENT_PRIORITY_LABELS: dict[str, Label] = {
    "normal": Label("一般", "normal"),
    "urgent": Label("紧急", "urgent"),
    "critical": Label("特急", "critical"),
}
EVENT_PRIORITIES = tuple(EVENT_PRIORITY_LABELS)

EVENT_STATUS_LABELS: dict[str, Label] = {
    "reported": Label("已上报", "reported"),
    "accepted": Label("已受理", "accepted"),
    "dispatched": Label("已派遣", "dispatched"),
    "handling": Label("处置中", "handling"),
    "handled": Label("已处置", "handled"),
    "verified": Label("已核查", "verified"),
    "closed": Label("已结案", "closed"),
    "rejected": Label("不予受理", "rejected"),
    "returned": Label("已退回", "returned"),
}
EVENT_STATUSES = tuple(EVENT_STATUS_LABELS)
OPEN_STATUSES = ("reported", "accepted", "dispatched", "handling", "handled", "verified",
                 "returned")
FINAL_STATUSES = ("closed", "rejected")


class Department(NamedTuple):
    code: str
    zh: str
    en: str


DEPARTMENTS: tuple[Department, ...] = (
    Department("cgj", "区城市管理局", "Urban Management Bureau"),
    Department("zjj", "区住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    Department("gaj", "市公安局市中区分局", "Public Security Sub-bureau"),
    Department("sthj", "市生态环境局市中区分局", "Ecology and Environment Sub-bureau"),
    Department("scjg", "区市场监督管理局", "Market Regulation Bureau"),
    Department("mzj", "区民政局", "Civil Affairs Bureau"),
    Department("sfj", "区司法局", "Justice Bureau"),
    Department("jtj", "区交通运输局", "Transport Bureau"),
    Department("swj", "区水务局", "Water Affairs Bureau"),
    Department("yjj", "区应急管理局", "Emergency Management Bureau"),
    Department("rsj", "区人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    Department("wjj", "区卫生健康局", "Health Commission"),
)


class Category(NamedTuple):
    code: str
    zh: str
    en: str
    deadline_hours: int
    department: str
    share: float  # share of all events in the demo district


EVENT_CATEGORIES: tuple[Category, ...] = (
    Category("sanitation", "环境卫生", "environment & sanitation", 24, "cgj", 0.24),
    Category("city_appearance", "市容秩序", "city appearance", 48, "cgj", 0.18),
    Category("security_hazard", "治安隐患", "public-security hazard", 12, "gaj", 0.08),
    Category("dispute", "矛盾纠纷", "dispute", 72, "sfj", 0.12),
    Category("infrastructure", "基础设施", "infrastructure", 72, "zjj", 0.14),
    Category("livelihood", "民生服务", "livelihood services", 120, "mzj", 0.10),
    Category("safety_production", "安全生产", "work safety", 24, "yjj", 0.05),
    Category("pollution", "生态环境", "pollution", 48, "sthj", 0.04),
    Category("market", "市场监管", "market regulation", 72, "scjg", 0.03),
    Category("traffic", "交通出行", "traffic", 48, "jtj", 0.02),
)
CATEGORY_BY_CODE = {c.code: c for c in EVENT_CATEGORIES}


class Bilingual(Protocol):
    """Anything with a Chinese and an English name (:class:`Label`, :class:`Category`, …)."""

    @property
    def zh(self) -> str: ...

    @property
    def en(self) -> str: ...


def label(table: Mapping[str, Bilingual], code: str, language: str = "zh") -> str:
    """The label of ``code`` in ``language``; the code itself when unknown."""
    entry = table.get(code)
    if entry is None:
        return code
    return entry.en if language == "en" else entry.zh
