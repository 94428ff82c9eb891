"""Open311 GeoReport v2 vocabulary: services from categories, requests from events, and back.

* A *service* is an event category (``service_code`` = category code). ``service_name`` is the
  Chinese label, ``description`` the English one and the deadline; ``?lang=en`` swaps them.
* A *service request* is an event (``service_request_id`` = the event code). Its ``status`` is
  ``open`` unless the event is ``closed`` or ``rejected``; ``status_notes`` gives the loop
  status in words, ``expected_datetime`` the deadline (for a report not yet accepted: the
  deadline it would get if accepted now, :class:`gis.loop.sla.SlaRule`).
* Extensions beyond the standard fields: ``grid`` (the grid code), ``channel``,
  ``duplicate_of`` (the event a merged duplicate repeats) and, in a POST answer,
  ``duplicates`` (open events nearby that the new one may repeat; an officer merges them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import EVENT_PRIORITY_LABELS, EVENT_STATUS_LABELS, FINAL_STATUSES, label
from gis.loop.intake import Intake, IntakeInvalid
from gis.loop.intake_db import IntakeResult
from gis.loop.sla import SlaRule
from gis.loop.states import REJECT_REASONS

MAX_RESULTS = 1000
DEFAULT_DAYS = 90
#: ``attribute[…]`` codes every service accepts (its service definition lists them).
ATTRIBUTES = ("priority", "title", "external_id")


@dataclass(frozen=True, slots=True)
class Service:
    """A category as an Open311 service."""

    code: str
    zh: str
    en: str
    hours: float
    group_zh: str | None
    group_en: str | None


def load_services(session: Session, sla: SlaRule) -> dict[str, Service]:
    """Every category of the ``event_category`` table, by code, in code order."""
    rows = session.execute(sa.text(
        "SELECT c.code, c.name_zh, c.name_en, d.name_zh, d.name_en FROM event_category c "
        "LEFT JOIN department d ON d.code = c.department_code ORDER BY c.code")).all()
    return {r[0]: Service(r[0], r[1], r[2], float(sla.category_hours.get(r[0], 0.0)),
                          r[3], r[4]) for r in rows}


def service_json(service: Service, lang: str) -> dict[str, Any]:
    """One entry of ``services.json``."""
    hours = f"{service.hours:g}"
    zh_text = f"{service.zh}（处置时限 {hours} 小时）"
    en_text = f"{service.en} (deadline {hours} h)"
    return {"service_code": service.code,
            "service_name": service.en if lang == "en" else service.zh,
            "description": zh_text if lang == "en" else en_text,
            "metadata": True, "type": "realtime", "keywords": f"{service.zh},{service.en}",
            "group": (service.group_en if lang == "en" else service.group_zh) or ""}


def definition_json(service: Service, lang: str) -> dict[str, Any]:
    """``services/{code}.json``: the attributes a request of this service may carry."""
    en = lang == "en"
    return {"service_code": service.code, "attributes": [
        {"variable": True, "code": "priority", "datatype": "singlevaluelist",
         "required": False, "order": 1,
         "datatype_description": "normal, urgent or critical" if en else "一般、紧急或特急",
         "description": "Priority (default normal)" if en else "紧急程度（默认一般）",
         "values": [{"key": k, "name": v.en if en else v.zh}
                    for k, v in EVENT_PRIORITY_LABELS.items()]},
        {"variable": True, "code": "title", "datatype": "string", "required": False,
         "order": 2, "datatype_description": "at most 120 characters" if en else "最多 120 字",
         "description": "Short title" if en else "标题", "values": []},
        {"variable": True, "code": "external_id", "datatype": "string", "required": False,
         "order": 3, "datatype_description": "at most 64 characters" if en else "最多 64 字",
         "description": "The sender's own ticket number" if en else "来源系统的工单编号",
         "values": []}]}


def iso(value: dt.datetime | None, timezone: str) -> str | None:
    """W3C datetime with the local offset (``2026-11-20T09:00:00+08:00``)."""
    return None if value is None else value.astimezone(ZoneInfo(timezone)).isoformat(
        timespec="seconds")


def _text(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IntakeInvalid(f"参数 {name} 必须是文本", f"{name} must be a string", name)
    return str(value)


def _number(args: Mapping[str, Any], name: str) -> float:
    value = args.get(name)
    if value is None or value == "":
        raise IntakeInvalid(f"缺少参数 {name}：请提供 WGS84 经纬度（lat、long）",
                            f"{name} is required: give the WGS84 position (lat and long)",
                            name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IntakeInvalid(f"参数 {name} 必须是数字", f"{name} must be a number", name)
    try:
        return float(value)
    except ValueError:
        raise IntakeInvalid(f"参数 {name} 必须是数字", f"{name} must be a number",
                            name) from None


def intake_from_args(args: Mapping[str, Any], channel: str, actor: str,
                     client_id: int | None) -> Intake:
    """An :class:`~gis.loop.intake.Intake` from POST parameters (form or JSON).

    ``attribute[priority]`` (or, in JSON, ``{"attribute": {"priority": …}}``) and the other
    :data:`ATTRIBUTES` are read; an unknown attribute is refused so a typo is not lost.
    """
    attributes: dict[str, Any] = {}
    nested = args.get("attribute")
    if nested is not None:
        if not isinstance(nested, dict):
            raise IntakeInvalid("attribute 必须是对象", "attribute must be an object",
                                "attribute")
        attributes.update(nested)
    for key, value in args.items():
        if key.startswith("attribute[") and key.endswith("]"):
            attributes[key[len("attribute["):-1]] = value
    unknown = sorted(set(attributes) - set(ATTRIBUTES))
    if unknown:
        raise IntakeInvalid(f"未知的属性：{', '.join(u[:40] for u in unknown)}（可选："
                            f"{', '.join(ATTRIBUTES)}）", f"unknown attribute: "
                            f"{', '.join(u[:40] for u in unknown)} (known: "
                            f"{', '.join(ATTRIBUTES)})", "attribute")
    service = _text(args, "service_code")
    if service is None:
        raise IntakeInvalid("缺少参数 service_code（事件类别）",
                            "service_code is required (the event category)", "service_code")
    names = [n for n in (_text(args, "last_name"), _text(args, "first_name")) if n]
    return Intake(
        category=service, lon=_number(args, "long"), lat=_number(args, "lat"), channel=channel,
        priority=_text(attributes, "priority") or "normal",
        description=_text(args, "description") or "", title=_text(attributes, "title"),
        address=_text(args, "address_string"), external_id=_text(attributes, "external_id"),
        media_url=_text(args, "media_url"), reporter_name=" ".join(names) or None,
        reporter_phone=_text(args, "phone"), reporter_email=_text(args, "email"),
        actor=actor, api_client_id=client_id)


def created_json(result: IntakeResult, timezone: str, lang: str) -> dict[str, Any]:
    """The POST answer for one request (an array of these is returned)."""
    notice = (f"Received as {result.code}; expected by {iso(result.expected_at, timezone)} "
              "if accepted" if lang == "en" else
              f"已受理登记，编号 {result.code}；受理后预计 {iso(result.expected_at, timezone)} "
              "前办结")
    if result.duplicates:
        notice += ("; possible duplicates nearby" if lang == "en" else "；附近有疑似重复事件")
    return {"service_request_id": result.code, "service_notice": notice, "account_id": None,
            "expected_datetime": iso(result.expected_at, timezone), "grid": result.grid_code,
            "duplicates": [{"service_request_id": d.code, "distance_m": d.distance_m,
                            "status": "closed" if d.status in FINAL_STATUSES else "open",
                            "requested_datetime": iso(d.reported_at, timezone)}
                           for d in result.duplicates]}


_REQUESTS_SQL = """
SELECT e.code, e.status, e.reject_reason, e.category_code, e.priority, e.description,
       e.address, ST_X(e.geom), ST_Y(e.geom), e.media_url, e.reported_at, e.deadline_at,
       e.source_channel, d.name_zh, d.name_en, g.code, dup.code,
       (SELECT max(l.at) FROM event_log l WHERE l.event_id = e.id)
FROM event e
LEFT JOIN department d ON d.id = e.department_id
LEFT JOIN grid g ON g.id = e.grid_id
LEFT JOIN event dup ON dup.id = e.duplicate_of
WHERE {where}
ORDER BY e.reported_at DESC, e.id DESC
LIMIT :limit
"""


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """The filters of ``GET requests.json`` (ids win over every other filter, as specified)."""

    ids: list[str] | None = None
    service_codes: list[str] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    status: str | None = None  # "open", "closed" or None for both


def query_requests(session: Session, filt: RequestFilter, *, now: dt.datetime, sla: SlaRule,
                   services: Mapping[str, Service], lang: str) -> list[dict[str, Any]]:
    """Events as Open311 service requests, newest first, at most :data:`MAX_RESULTS`."""
    params: dict[str, Any] = {"limit": MAX_RESULTS, "final": list(FINAL_STATUSES)}
    if filt.ids is not None:
        where, params["ids"] = ["e.code = ANY(:ids)"], filt.ids
    else:
        end = filt.end or now
        start = filt.start or end - dt.timedelta(days=DEFAULT_DAYS)
        where = ["e.reported_at >= :start", "e.reported_at < :end"]
        params.update(start=start, end=end + dt.timedelta(microseconds=1))
        if filt.service_codes:
            where.append("e.category_code = ANY(:codes)")
            params["codes"] = filt.service_codes
        if filt.status == "open":
            where.append("NOT (e.status = ANY(:final))")
        elif filt.status == "closed":
            where.append("e.status = ANY(:final)")
    rows = session.execute(sa.text(_REQUESTS_SQL.format(where=" AND ".join(where))),
                           params).all()
    return [_request_json(r, now, sla, services, lang) for r in rows]


def _request_json(r: Any, now: dt.datetime, sla: SlaRule, services: Mapping[str, Service],
                  lang: str) -> dict[str, Any]:
    en = lang == "en"
    status = r[1]
    notes = label(EVENT_STATUS_LABELS, status, "en" if en else "zh")
    if status == "rejected" and r[2] in REJECT_REASONS:
        reason = REJECT_REASONS[r[2]]
        notes += f": {reason.en}" if en else f"：{reason.zh}"
    if r[16]:
        notes += f" (duplicate of {r[16]})" if en else f"（与 {r[16]} 重复）"
    expected = r[11]
    if expected is None and status == "reported" and r[3] in sla.category_hours:
        expected = sla.deadline(now, r[3], r[4])
    service = services.get(r[3])
    tz = sla.timezone
    return {"service_request_id": r[0], "status": "closed" if status in FINAL_STATUSES
            else "open", "status_notes": notes,
            "service_name": (service.en if en else service.zh) if service else r[3],
            "service_code": r[3], "description": r[5], "agency_responsible": r[14 if en else 13],
            "service_notice": None, "requested_datetime": iso(r[10], tz),
            "updated_datetime": iso(r[17] or r[10], tz), "expected_datetime": iso(expected, tz),
            "address": r[6], "address_id": None, "zipcode": None, "lat": float(r[8]),
            "long": float(r[7]), "media_url": r[9], "channel": r[12], "grid": r[15],
            "duplicate_of": r[16]}
