"""event intake API: API clients, reporter details, duplicates

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

* ``api_client``: a system allowed to submit events through the Open311 intake API (the 12345
  platform, the petition site …), bound to one channel. Only the SHA-256 of its key is stored;
  the key itself is printed once when the client is created (``command-center api keys add``).
* ``event`` gains what an intake carries besides the point and the text: ``title``, the
  sender's own id (``external_id``), ``media_url``, the reporter's contact details, the
  client that sent it (``api_client_id``) and, once an officer merges it into an earlier
  report, ``duplicate_of``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANNELS = ("grid_patrol", "hotline_12345", "online_petition", "leaders_hotline", "email",
            "video")
EVENT_COLUMNS = (("title", sa.String(120)), ("external_id", sa.String(64)),
                 ("media_url", sa.String(500)), ("reporter_name", sa.String(64)),
                 ("reporter_phone", sa.String(32)), ("reporter_email", sa.String(254)))


def upgrade() -> None:
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("channel", sa.Enum(*CHANNELS, name="api_client_channel", native_enum=False,
                                     create_constraint=True, length=24), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("name ~ '^[A-Za-z0-9_.@-]{1,64}$'", name="api_client_name"),
        sa.CheckConstraint("key_sha256 ~ '^[0-9a-f]{64}$'", name="api_client_key_sha256"),
    )
    for name, type_ in EVENT_COLUMNS:
        op.add_column("event", sa.Column(name, type_, nullable=True))
    op.add_column("event", sa.Column(
        "api_client_id", sa.Integer, sa.ForeignKey("api_client.id", ondelete="SET NULL"),
        nullable=True))
    op.add_column("event", sa.Column(
        "duplicate_of", sa.BigInteger, sa.ForeignKey("event.id", ondelete="SET NULL"),
        nullable=True))
    op.create_index("event_duplicate_of_idx", "event", ["duplicate_of"],
                    postgresql_where=sa.text("duplicate_of IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("event_duplicate_of_idx", table_name="event")
    for name in ("duplicate_of", "api_client_id", *(n for n, _ in EVENT_COLUMNS)):
        op.drop_column("event", name)
    op.drop_table("api_client")
