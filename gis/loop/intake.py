"""Event intake (事件受理入口): checking a report from any channel before it becomes an event.

A report arrives from a grid worker's app, the 12345 hotline platform, the online petition
site, the leaders' hotline, e-mail or a video alarm, mostly through the Open311 API
(:mod:`command_center.api`). This module holds what does not need the database:

* :class:`Intake`, one report as it arrived, and :class:`IntakeLimits`, the configured limits;
* :func:`validate`, which normalises the text fields and refuses a report with a clear
  ``中文 / English`` message naming the field (:class:`IntakeInvalid`, HTTP 400): unknown
  category, channel or priority, coordinates that are not WGS84 degrees, text too long or
  holding characters PostgreSQL cannot store (NUL, unpaired surrogates), a media URL that is
  not http(s) or carries a password.

Text is stored verbatim: ``<script>`` in a description is data, escaped by whoever renders it
(the API answers JSON only). Whether the point lies in the district, and in which grid, is
decided by the database in the same statement that inserts the event
(:mod:`gis.loop.intake_db`), as are the duplicate candidates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gis.catalog import EVENT_PRIORITIES, EVENT_SOURCES
from gis.loop.errors import LoopError

if TYPE_CHECKING:
    from config.settings import Settings

#: Longest value per text field (characters); the columns of ``event`` allow these.
TEXT_LIMITS: dict[str, int] = {"title": 120, "address": 200, "external_id": 64,
                               "media_url": 500, "reporter_name": 64, "reporter_phone": 32,
                               "reporter_email": 254, "actor": 64}
FIELD_LABELS: dict[str, str] = {
    "category": "类别", "channel": "渠道", "priority": "紧急程度", "lon": "经度",
    "lat": "纬度", "description": "描述", "title": "标题", "address": "地址",
    "external_id": "外部编号", "media_url": "图片链接", "reporter_name": "报告人姓名",
    "reporter_phone": "报告人电话", "reporter_email": "报告人邮箱", "actor": "上报方"}
# C0 controls except tab, newline and carriage return: PostgreSQL refuses NUL outright and
# the others only ever arrive by accident or as an attack on whoever renders the text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"^[0-9+()\- ]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")


class IntakeInvalid(LoopError):
    """A report that cannot become an event; ``field`` names the offending input."""

    http_status = 400

    def __init__(self, zh: str, en: str | None = None, field: str | None = None) -> None:
        super().__init__(zh, en)
        self.field = field


class OutsideDistrict(IntakeInvalid):
    """The point lies outside the district (and its tolerance band)."""


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """The configured limits: description length and what counts as a duplicate."""

    description_max_chars: int = 2000
    duplicate_radius_m: float = 50.0
    duplicate_window_h: float = 24.0

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeLimits:
        """The limits of ``[api]``."""
        api = settings.api
        return cls(api.description_max_chars, api.duplicate_radius_m, api.duplicate_window_h)


DEFAULT_LIMITS = IntakeLimits()


@dataclass(frozen=True, slots=True)
class Intake:
    """One report as it arrived (WGS84 degrees); :func:`validate` gives the stored form."""

    category: str
    lon: float
    lat: float
    channel: str
    priority: str = "normal"
    description: str = ""
    title: str | None = None
    address: str | None = None
    external_id: str | None = None
    media_url: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    #: Who reported, for the ``report`` log row: the API client's name, a grid worker …
    actor: str = "intake"
    api_client_id: int | None = None


def _label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def _text(name: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeInvalid(f"{_label(name)}必须是文本", f"{name} must be text", name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise IntakeInvalid(f"{_label(name)}含有无法保存的字符（不成对的代理项）",
                            f"{name} holds characters that cannot be stored (unpaired "
                            "surrogates)", name) from None
    if _CONTROL.search(value):
        raise IntakeInvalid(f"{_label(name)}含有控制字符", f"{name} holds control characters",
                            name)
    value = value.strip()
    if len(value) > limit:
        raise IntakeInvalid(f"{_label(name)}过长：{len(value)} 字，最多 {limit} 字",
                            f"{name} is too long: {len(value)} characters, at most {limit}",
                            name)
    return value or None


def _coordinate(name: str, value: object, bound: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise IntakeInvalid(f"{_label(name)}必须是数字（WGS84 度）",
                            f"{name} must be a number (WGS84 degrees)", name) from None
    if not math.isfinite(number) or abs(number) > bound:
        raise IntakeInvalid(f"{_label(name)}超出范围（±{bound:g} 度）",
                            f"{name} is out of range (±{bound:g} degrees)", name)
    return number


def _choice(name: str, value: str, allowed: Collection[str]) -> str:
    if value not in allowed:
        shown = "、".join(sorted(allowed)) if len(allowed) <= 12 else f"{len(allowed)} 项"
        raise IntakeInvalid(f"未知的{_label(name)}：{str(value)[:40]}（可选：{shown}）",
                            f"unknown {name}: {str(value)[:40]!r} (known: "
                            f"{', '.join(sorted(allowed)) if len(allowed) <= 12 else shown})",
                            name)
    return value


def _media_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        has_password = parts.password is not None
    except ValueError:
        parts, has_password = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise IntakeInvalid("图片链接必须是 http(s) 地址", "media_url must be an http(s) URL",
                            "media_url")
    if has_password:
        raise IntakeInvalid("图片链接不能包含密码", "media_url must not carry a password",
                            "media_url")
    return value


def validate(intake: Intake, categories: Collection[str],
             limits: IntakeLimits | None = None) -> Intake:
    """Check ``intake`` and return it normalised (text stripped, empty text as None).

    Parameters
    ----------
    intake
        The report as it arrived.
    categories
        The category codes events may carry (the ``event_category`` table).
    limits
        Description length limit (the others are the column sizes, :data:`TEXT_LIMITS`).

    Returns
    -------
    Intake

    Raises
    ------
    IntakeInvalid
        The first problem found, with ``field`` set.

    Examples
    --------
    >>> ok = validate(Intake("sanitation", 105.05, 29.58, "hotline_12345",
    ...                      description="  垃圾满溢 <b>  "), {"sanitation"})
    >>> ok.description
    '垃圾满溢 <b>'
    >>> validate(Intake("nope", 105.05, 29.58, "email"), {"sanitation"})
    Traceback (most recent call last):
    ...
    gis.loop.intake.IntakeInvalid: 未知的类别：nope（可选：sanitation） / unknown category: 'nope' (known: sanitation)
    """  # noqa: E501 - a doctest line
    limits = limits or DEFAULT_LIMITS
    _choice("category", intake.category, categories)
    _choice("channel", intake.channel, EVENT_SOURCES)
    _choice("priority", intake.priority, EVENT_PRIORITIES)
    lon = _coordinate("lon", intake.lon, 180.0)
    lat = _coordinate("lat", intake.lat, 90.0)
    description = _text("description", intake.description or "",
                        limits.description_max_chars) or ""
    texts = {name: _text(name, getattr(intake, name), limit)
             for name, limit in TEXT_LIMITS.items() if name != "actor"}
    actor = _text("actor", intake.actor, TEXT_LIMITS["actor"]) or "intake"
    if texts["reporter_phone"] and not _PHONE.match(texts["reporter_phone"]):
        raise IntakeInvalid("报告人电话格式不正确", "reporter_phone is not a phone number",
                            "reporter_phone")
    if texts["reporter_email"] and not _EMAIL.match(texts["reporter_email"]):
        raise IntakeInvalid("报告人邮箱格式不正确", "reporter_email is not an e-mail address",
                            "reporter_email")
    texts["media_url"] = _media_url(texts["media_url"])
    return replace(intake, lon=lon, lat=lat, description=description, actor=actor,
                   title=texts["title"], address=texts["address"],
                   external_id=texts["external_id"], media_url=texts["media_url"],
                   reporter_name=texts["reporter_name"], reporter_phone=texts["reporter_phone"],
                   reporter_email=texts["reporter_email"])
