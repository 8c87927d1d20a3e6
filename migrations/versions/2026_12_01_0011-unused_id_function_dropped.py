"""unused_id_function_dropped: PostgreSQL's `docket_next_request_id` goes

Migration 0004 created `docket_next_request_id(year, taken)` for numbering requests in one
round trip; the store numbers them in its writer's transaction instead
(`events/store/postgres_ids.py`), and nothing calls the function. It goes so that the
schema holds only what runs. The downgrade does not bring it back: nothing at 0010 or
before calls it either, and 0004's downgrade drops it only if it exists.

Revision ID: 0011_unused_id_function_dropped
Revises: 0010_status_index_dropped
Create Date: 2026-12-01 00:11:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_unused_id_function_dropped"
down_revision: str | None = "0010_status_index_dropped"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS docket_next_request_id(integer, text[])")


def downgrade() -> None:
    return None
