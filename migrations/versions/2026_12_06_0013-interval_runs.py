"""interval_runs: one interval row per run of equal content (issue 27)

Until now a run of a request's status (or of a hold) was written as two rows: its *live*
rectangle (business time without end, from the position that began the run until the
one that ended it, then closed) and its *settled* rectangle (business time cut at the
ending event, from that event's position on). Now it is one row, settled in place by the
event that ends the run:

- `settled_from`: the position of that event (NULL while the run goes on). From there
  on the row ends at `valid_to` in business time; before it, at `live_to` (status rows;
  a hold row has no end before it is settled).
- Rows shown at the log's head are still those with `recorded_to IS NULL`, in force at T
  when `valid_from <= T < valid_to`: the head's reads and indexes are unchanged.

The projection's rows and checkpoint are dropped: it rebuilds from position 0 in the new
shape (a projection starts at 0 and catches up alone).

Revision ID: 0013_interval_runs
Revises: 0012_sealed_values
Create Date: 2026-12-06 00:13:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_interval_runs"
down_revision: str | None = "0012_sealed_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _restart() -> None:
    op.execute("DELETE FROM request_status_intervals")
    op.execute("DELETE FROM hold_intervals")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_intervals'")


def upgrade() -> None:
    _restart()
    op.add_column("request_status_intervals", sa.Column("settled_from", POSITION, nullable=True))
    op.add_column("request_status_intervals", sa.Column("live_to", UTC_TIME, nullable=True))
    op.add_column("hold_intervals", sa.Column("settled_from", POSITION, nullable=True))


def downgrade() -> None:
    _restart()
    with op.batch_alter_table("hold_intervals") as batch:
        batch.drop_column("settled_from")
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("live_to")
        batch.drop_column("settled_from")
