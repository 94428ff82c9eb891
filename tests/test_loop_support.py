"""Shared helpers of the closed-loop tests (no tests here): catalog rows and events."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import DEPARTMENTS, EVENT_CATEGORIES
from gis.models import Department, Event

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
# The urban core of Shizhong District: inside the boundary the database checks.
POINT = "SRID=4326;POINT(105.05 29.58)"
_AFTER_ACCEPT = ("dispatched", "handling", "handled", "verified", "closed", "returned")


def seed_catalog(engine: sa.Engine) -> None:
    """Departments and categories, committed (idempotent)."""
    with engine.begin() as conn:
        for d in DEPARTMENTS:
            conn.execute(sa.text(
                "INSERT INTO department (code, name_zh, name_en) VALUES (:c, :zh, :en) "
                "ON CONFLICT (code) DO NOTHING"), {"c": d.code, "zh": d.zh, "en": d.en})
        for c in EVENT_CATEGORIES:
            conn.execute(sa.text(
                "INSERT INTO event_category (code, name_zh, name_en, deadline_hours, "
                "department_code) VALUES (:c, :zh, :en, :h, :d) ON CONFLICT (code) DO NOTHING"),
                {"c": c.code, "zh": c.zh, "en": c.en, "h": c.deadline_hours, "d": c.department})


def department_id(session: Session, code: str) -> int:
    return int(session.execute(sa.select(Department.id).where(Department.code == code))
               .scalar_one())


def make_event(session: Session, status: str = "reported", *, category: str = "sanitation",
               priority: str = "normal", supervised: bool = False, department: str = "cgj",
               reported_at: dt.datetime = T0) -> Event:
    """An event already in ``status`` (with the timestamps that status implies), flushed."""
    accepted = status not in ("reported", "rejected")
    event = Event(
        code=f"T{uuid.uuid4().hex[:12]}", category_code=category, source_channel="grid_patrol",
        priority=priority, status=status, description="测试 test", geom=POINT,
        reported_at=reported_at,
        accepted_at=reported_at + dt.timedelta(minutes=10) if accepted else None,
        deadline_at=reported_at + dt.timedelta(hours=24) if accepted else None,
        closed_at=reported_at + dt.timedelta(hours=5) if status == "closed" else None,
        department_id=department_id(session, department) if status in _AFTER_ACCEPT else None,
        supervised=supervised)
    session.add(event)
    session.flush()
    return event
