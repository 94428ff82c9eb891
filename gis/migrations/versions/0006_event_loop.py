"""event loop: supervision, reminders, append-only hash-chained event_log

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

* ``event`` gains the supervision flag (督办: ``supervised``, ``supervised_at``,
  ``supervision_reason``) and ``reject_reason``.
* ``event_log`` gains ``role``, ``department_code`` and ``reason``, and becomes append-only:
  UPDATE, DELETE and TRUNCATE are refused by triggers (SQLSTATE 42501). Only the table owner
  can switch those triggers off (``ALTER TABLE … DISABLE TRIGGER``), which the demo reseed does
  inside its own transaction.
* Every new ``event_log`` row is chained by a BEFORE INSERT trigger: under a row lock on the
  single-row ``event_log_head`` it takes the next id (so id order is chain order, without
  gaps) and sets ``hash = sha256(prev_hash ‖ "\\n" ‖ canonical row)``. The row lock serialises
  writers of the log (READ COMMITTED waits; REPEATABLE READ fails instead of forking the chain)
  and is rolled back with its transaction, so no gap or fork can appear.
  ``gis.loop.audit`` recomputes the same hashes to verify the chain.
* ``reminder``: in-app reminders to a department for events turning yellow.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

REJECT_REASONS = ("out_of_scope", "duplicate", "invalid")

# Length-prefixed fields ("5:hello", "-" for NULL) make the canonical text unambiguous
# whatever a note contains. gis/loop/audit.py builds the same text in Python.
FUNCTIONS = [
    """
    CREATE FUNCTION cc_audit_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE WHEN v IS NULL THEN '-' ELSE length(v)::text || ':' || v END
    $$""",
    """
    CREATE FUNCTION cc_audit_canonical(r event_log) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT concat_ws('|', cc_audit_field(r.id::text), cc_audit_field(r.event_id::text),
        cc_audit_field((extract(epoch FROM r.at) * 1000000)::bigint::text),
        cc_audit_field(r.actor), cc_audit_field(r.role), cc_audit_field(r.action),
        cc_audit_field(r.from_status), cc_audit_field(r.to_status),
        cc_audit_field(r.department_code), cc_audit_field(r.reason), cc_audit_field(r.note))
    $$""",
    """
    CREATE FUNCTION cc_audit_hash(prev text, canonical text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
      SELECT encode(sha256(convert_to(coalesce(prev, '') || E'\\n' || canonical, 'UTF8')),
                    'hex')
    $$""",
    """
    CREATE FUNCTION cc_event_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      head event_log_head%ROWTYPE;
    BEGIN
      SELECT * INTO head FROM event_log_head WHERE id = 1 FOR UPDATE;
      NEW.id := head.last_id + 1;
      NEW.prev_hash := head.last_hash;
      NEW.hash := cc_audit_hash(head.last_hash, cc_audit_canonical(NEW));
      UPDATE event_log_head SET last_id = NEW.id, last_hash = NEW.hash WHERE id = 1;
      RETURN NEW;
    END $$""",
    """
    CREATE FUNCTION cc_event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '事件日志只能追加，不能%（审计要求） / event_log is append-only: % refused',
          lower(TG_OP), TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$""",
]

TRIGGERS = [
    """CREATE TRIGGER event_log_chain BEFORE INSERT ON event_log
       FOR EACH ROW EXECUTE FUNCTION cc_event_log_chain()""",
    """CREATE TRIGGER event_log_no_change BEFORE UPDATE OR DELETE ON event_log
       FOR EACH ROW EXECUTE FUNCTION cc_event_log_append_only()""",
    """CREATE TRIGGER event_log_no_truncate BEFORE TRUNCATE ON event_log
       FOR EACH STATEMENT EXECUTE FUNCTION cc_event_log_append_only()""",
]

# Rows written before this revision (a seeded demo) are chained once, in id order.
CHAIN_EXISTING = """
DO $$
DECLARE
  r event_log%ROWTYPE;
  prev text := NULL;
  last bigint := 0;
BEGIN
  FOR r IN SELECT * FROM event_log ORDER BY id LOOP
    r.prev_hash := prev;
    r.hash := cc_audit_hash(prev, cc_audit_canonical(r));
    UPDATE event_log SET prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
    prev := r.hash;
    last := r.id;
  END LOOP;
  INSERT INTO event_log_head (id, last_id, last_hash) VALUES (1, last, prev);
END $$"""


def upgrade() -> None:
    op.add_column("event", sa.Column("supervised", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("event", sa.Column("supervised_at", sa.DateTime(timezone=True)))
    op.add_column("event", sa.Column("supervision_reason", sa.String(500)))
    op.add_column("event", sa.Column("reject_reason", sa.String(24)))
    op.create_check_constraint(
        "event_reject_reason", "event",
        "reject_reason IS NULL OR reject_reason IN ({})".format(
            ", ".join(f"'{r}'" for r in REJECT_REASONS)))
    op.create_index("event_supervised_idx", "event", ["supervised"],
                    postgresql_where=sa.text("supervised"))
    op.add_column("event_log", sa.Column("role", sa.String(24)))
    op.add_column("event_log", sa.Column("department_code", sa.String(32)))
    op.add_column("event_log", sa.Column("reason", sa.String(32)))
    op.create_table(
        "event_log_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64)),
        sa.CheckConstraint("id = 1", name="event_log_head_single_row"),
    )
    op.create_table(
        "reminder",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.BigInteger,
                  sa.ForeignKey("event.id", ondelete="CASCADE"), nullable=False),
        sa.Column("department_id", sa.Integer,
                  sa.ForeignKey("department.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "kind", "deadline_at", name="reminder_once"),
        sa.CheckConstraint("kind IN ('due_soon')", name="reminder_kind"),
    )
    op.create_index("ix_reminder_department_id", "reminder", ["department_id"])
    for sql in FUNCTIONS:
        op.execute(sql)
    op.execute(CHAIN_EXISTING)
    for sql in TRIGGERS:
        op.execute(sql)


def downgrade() -> None:
    for trigger in ("event_log_no_truncate", "event_log_no_change", "event_log_chain"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON event_log")
    for fn in ("cc_event_log_append_only()", "cc_event_log_chain()",
               "cc_audit_hash(text, text)", "cc_audit_canonical(event_log)",
               "cc_audit_field(text)"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    op.drop_index("ix_reminder_department_id", table_name="reminder")
    op.drop_table("reminder")
    op.drop_table("event_log_head")
    for column in ("reason", "department_code", "role"):
        op.drop_column("event_log", column)
    op.drop_index("event_supervised_idx", table_name="event")
    op.drop_constraint("event_reject_reason", "event", type_="check")
    for column in ("reject_reason", "supervision_reason", "supervised_at", "supervised"):
        op.drop_column("event", column)
