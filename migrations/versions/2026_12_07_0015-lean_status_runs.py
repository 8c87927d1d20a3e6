"""lean_status_runs: the status rows keep only what a read asks for (issue 27)

`request_status_intervals.information_pending` and `.open_procedure` were written on
every row and read by no query: a list item's fields are folded from the log
(`projections.intervals.queries`), and no filter or statistic takes them. Being part of
a row's content, they cut a run at every question asked and answered: at 1,000,000
events (`bench.gen`) 84,087 such events, each a new row and the old one settled. They
go, and the runs they cut are one row each.

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


def _restart() -> None:
    op.execute("DELETE FROM request_status_intervals")
    op.execute("DELETE FROM hold_intervals")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_intervals'")


def upgrade() -> None:
    _restart()
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("open_procedure")
        batch.drop_column("information_pending")


def downgrade() -> None:
    _restart()
    with op.batch_alter_table("request_status_intervals") as batch:
        # the table is empty (`_restart`): no default to fill rows with
        batch.add_column(sa.Column("information_pending", sa.Boolean(), nullable=False))
        batch.add_column(sa.Column("open_procedure", sa.Text(), nullable=True))
