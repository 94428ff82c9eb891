"""event notifications for live pages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Every INSERT or UPDATE of an event sends ``pg_notify('cc_events', …)`` with a small JSON
payload: ``{"id", "status", "priority", "lon", "lat"}``. The app keeps one ``LISTEN
cc_events`` connection per server process and pushes each notification to the open wall and
event pages, so a new event shows up within a second without any page polling the event
table. The payload stays far below PostgreSQL's 8000-byte limit; a page that needs more reads
that one row by id.

NOTIFY is transactional: listeners hear nothing until the writing transaction commits, and a
rolled-back insert is never announced. Bulk loaders that do not want a notification per row
(benchmarks inserting a million events) may ``ALTER TABLE event DISABLE TRIGGER
event_notify`` for the load.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHANNEL = "cc_events"


def upgrade() -> None:
    op.execute(f"""
CREATE FUNCTION cc_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', json_build_object(
    'id', NEW.id, 'status', NEW.status, 'priority', NEW.priority,
    'lon', round(ST_X(NEW.geom)::numeric, 6), 'lat', round(ST_Y(NEW.geom)::numeric, 6)
  )::text);
  RETURN NULL;
END $$;
""")
    # AFTER … FOR EACH ROW: the row is final (BEFORE triggers ran, the geometry passed the
    # district check), and the notification is only delivered if the transaction commits.
    op.execute("""
CREATE TRIGGER event_notify AFTER INSERT OR UPDATE ON event
FOR EACH ROW EXECUTE FUNCTION cc_event_notify();
""")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS event_notify ON event")
    op.execute("DROP FUNCTION IF EXISTS cc_event_notify()")
