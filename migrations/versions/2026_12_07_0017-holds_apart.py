"""holds_apart: a status row no longer changes when a hold is placed or ends (issue 27)

`request_status_intervals.held_by` named the members holding the request, and the rows
kept `on_hold` as a status: every hold placed and every hold ended cut a run, the old
row settled and a new one written. At 1,000,000 events (`bench.gen`) those are 309,000
of the 1,000,000 events, and the larger part of the status rows. The hold rows
(`hold_intervals`, one a hold) already say who held a request from when to when, at
every position: a status row now keeps the status without the holds, and a read counts
them (`statuses.with_holds`: `under_review` and `awaiting_decision` are `on_hold` where
a hold of the request is active at the moment asked), the `held_by` filter with them:
`ix_hold_intervals_request` answers that for each status row from the index alone.

The projection's rows and checkpoint are dropped: it rebuilds from position 0 in the new
shape (a projection starts at 0 and catches up alone).

Revision ID: 0017_holds_apart
Revises: 0016_documents_lz4
Create Date: 2026-12-07 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_holds_apart"
down_revision: str | None = "0016_documents_lz4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: the head's holds of a request with their times: whether one was active at T, for each
#: status row a list reads, from the index alone
_BY_REQUEST = "ix_hold_intervals_request"


def _restart() -> None:
    op.execute("DELETE FROM request_status_intervals")
    op.execute("DELETE FROM hold_intervals")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_intervals'")


def upgrade() -> None:
    _restart()
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("held_by")
    op.create_index(
        op.f(_BY_REQUEST),
        "hold_intervals",
        ["request_id", "placed_at", "ended_us"],
        postgresql_where=sa.text("recorded_to IS NULL"),
        sqlite_where=sa.text("recorded_to IS NULL"),
    )


def downgrade() -> None:
    _restart()
    op.drop_index(op.f(_BY_REQUEST), table_name="hold_intervals")
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.add_column(sa.Column("held_by", sa.Text(), nullable=True))
