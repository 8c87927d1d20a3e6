"""event_salt: canonical form v2 — every event's `salt` (32 random bytes as hex)

Revision ID: 0006_event_salt
Revises: 0005_request_intervals
Create Date: 2026-12-01 00:06:00

SPEC §4: the leaf commits to an event's sealed fields (SPEC §7.1) and metadata only
through `SHA-256(salt || JCS({data: sealed, metadata}))`, each event with its own salt,
written once with it. A log written before this migration is hashed in form v1 and its
events have no salt: giving them one would not make their hashes v2, so the upgrade
refuses a non-empty log (`events.errors.OldCanonicalForm` says what to do) and is
otherwise a new column, checked to be 64 characters.

SQLite cannot add a NOT NULL column without a default; its default '' fails the CHECK,
so an insert without a salt is refused there too.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from events.errors import OldCanonicalForm

revision: str = "0006_event_salt"
down_revision: str | None = "0005_request_intervals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "length(salt) = 64"


def upgrade() -> None:
    bind = op.get_bind()
    count = bind.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    if count:
        raise OldCanonicalForm(int(count))
    if bind.dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE events ADD COLUMN salt VARCHAR(64) NOT NULL DEFAULT '' "
            f"CONSTRAINT ck_events_salt_length CHECK ({CHECK})"
        )
        return
    op.add_column("events", sa.Column("salt", sa.String(64), nullable=False))
    op.create_check_constraint(op.f("ck_events_salt_length"), "events", CHECK)


def downgrade() -> None:
    bind = op.get_bind()
    count = bind.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    if count:
        raise RuntimeError("a log in canonical form v2 cannot be taken back to v1")
    if bind.dialect.name == "sqlite":
        # Not batch mode: recreating the table would drop its append-only triggers.
        op.execute("ALTER TABLE events DROP COLUMN salt")
        return
    op.drop_constraint(op.f("ck_events_salt_length"), "events", type_="check")
    op.drop_column("events", "salt")
