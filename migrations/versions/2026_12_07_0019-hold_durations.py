"""hold_durations: the `holds` view shows each hold's duration (SPEC §5)

SPEC §5 lists a hold's duration among the fields of `holds`; the view of 0018 kept the
columns of the table it replaced, which had none. `duration` is the length of an ended
hold in microseconds (`hold_intervals.held_us`, what the hold statistics add up), NULL
while the hold is active: nothing in a read model moves with the clock. PostgreSQL adds
the column in place (`CREATE OR REPLACE VIEW`, which keeps an operator's views of it
standing); SQLite makes the view again.

Revision ID: 0019_hold_durations
Revises: 0018_holds_a_view
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019_hold_durations"
down_revision: str | None = "0018_holds_a_view"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "hold_position AS position, request_id, procedure, member, placed_at, ended_at, end_kind"
HEAD = "FROM hold_intervals WHERE recorded_to IS NULL"


def upgrade() -> None:
    columns = f"{COLUMNS}, held_us AS duration"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE OR REPLACE VIEW holds AS SELECT {columns} {HEAD}")
    else:
        op.execute("DROP VIEW holds")
        op.execute(f"CREATE VIEW holds AS SELECT {columns} {HEAD}")


def downgrade() -> None:
    # a view loses a column only by being made again
    op.execute("DROP VIEW holds")
    op.execute(f"CREATE VIEW holds AS SELECT {COLUMNS} {HEAD}")
