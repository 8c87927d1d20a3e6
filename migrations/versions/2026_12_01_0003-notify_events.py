"""notify: every statement inserting into `events` sends pg_notify('docket_events', head)

Revision ID: 0003_notify_events
Revises: 0002_projections
Create Date: 2026-12-01 00:03:00

On PostgreSQL, an AFTER INSERT trigger FOR EACH STATEMENT announces the new head of the
log to the listeners of `docket_events` (the log follower of every API process, see
events/notify_pg.py). The notification is delivered at commit, never before the rows, and
not at all on rollback. Per statement, not per row: a group-commit batch or a COPY chunk
of an import costs one notification and one index lookup (`max(position)` on the primary
key), not one per event; no transition table, so an import of a million rows keeps no
copy of them. SQLite has no notifications: its follower polls (nothing to create).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_notify_events"
down_revision: str | None = "0002_projections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "docket_events"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION docket_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', (SELECT max(position) FROM events)::text);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION docket_notify_events()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS docket_notify_events()")
