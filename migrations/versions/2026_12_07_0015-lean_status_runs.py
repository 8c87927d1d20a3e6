"""lean_status_runs: one status row per run, and only what a read asks for (issue 27)

`request_status_intervals.information_pending` and `.open_procedure` were written on
every row and read by no query: a list item's fields are folded from the log
(`projections.intervals.queries`), and no filter or statistic takes them. Being part of
a row's content, they cut a run at every question asked and answered: at 1,000,000
events (`bench.gen`) 84,087 such events, each a new row and the old one settled. They
go, and the runs they cut are one row each.

Time alone changes a status twice: `under_review` becomes `awaiting_decision` the
microsecond after the deadline, and `active` becomes `expired` after `valid_until`.
A run was cut there into two rows; now its one row keeps the instant (`changes_at`) and
shows the later status from there on. The list's head index carries it, so that a page
as of a time still reads the index alone.

The projection's rows and checkpoint are dropped: it rebuilds from position 0 in the new
shape (a projection starts at 0 and catches up alone).

Revision ID: 0015_lean_status_runs
Revises: 0014_history_from_the_log
Create Date: 2026-12-07 00:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_lean_status_runs"
down_revision: str | None = "0014_history_from_the_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
HEAD = "ix_request_status_intervals_head"
_HEAD = ["status", "recorded_to", "span_class", "valid_from", "valid_to", "request_id"]


def _restart() -> None:
    op.execute("DELETE FROM request_status_intervals")
    op.execute("DELETE FROM hold_intervals")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_intervals'")


def upgrade() -> None:
    _restart()
    op.drop_index(op.f(HEAD), table_name="request_status_intervals")
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("open_procedure")
        batch.drop_column("information_pending")
        batch.add_column(sa.Column("changes_at", UTC_TIME, nullable=True))
    op.create_index(op.f(HEAD), "request_status_intervals", [*_HEAD, "changes_at"])


def downgrade() -> None:
    _restart()
    op.drop_index(op.f(HEAD), table_name="request_status_intervals")
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("changes_at")
        # the table is empty (`_restart`): no default to fill rows with
        batch.add_column(sa.Column("information_pending", sa.Boolean(), nullable=False))
        batch.add_column(sa.Column("open_procedure", sa.Text(), nullable=True))
    op.create_index(op.f(HEAD), "request_status_intervals", _HEAD)
