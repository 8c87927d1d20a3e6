"""status_index_dropped: `request_status_intervals`' (status, request_id) index goes

0008's head index (status, recorded_to, span_class, valid_from) serves every query with a
status; no query of `projections.intervals.queries` or `interval_stats` uses
(status, request_id) any more (EXPLAIN ANALYZE of each, at 1,000,000 events: see
docs/BENCHMARKS.md, "B3: rebuilds aside"), and every row written keeps it up to date.
The (valid_from) indexes of 0005 stay: the plans of the queries without a status, and
of those at a past position, use them.

Revision ID: 0010_status_index_dropped
Revises: 0009_as_of_statistics
Create Date: 2026-12-01 00:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_status_index_dropped"
down_revision: str | None = "0009_as_of_statistics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(
        op.f("ix_request_status_intervals_status_request_id"),
        table_name="request_status_intervals",
    )


def downgrade() -> None:
    op.create_index(
        op.f("ix_request_status_intervals_status_request_id"),
        "request_status_intervals",
        ["status", "request_id"],
    )
