"""holds_a_view: `holds` is the head of `hold_intervals`, no longer a table of its own (issue 27)

`holds` (SPEC §5: one row per hold) and `hold_intervals` held the same holds: 164,014
rows each at 1,000,000 events (`bench.gen`), each folded from the log by its own
projection. The head rows of `hold_intervals` (`recorded_to IS NULL`: the holds the log
knows now, with their ends) are the `holds` read model, so `holds` is now a view of
them: same name, same columns, one fold and one write of each hold. A rebuild of
`request_intervals` drops and makes the view again around its swap
(`events.store.postgres_tables`). The `holds` projection's checkpoint goes with its
table: the view is as far as `request_intervals` is.

Downgrade makes the table again, filled from the view, at `request_intervals`'
checkpoint.

Revision ID: 0018_holds_a_view
Revises: 0017_holds_apart
Create Date: 2026-12-07 11:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_holds_a_view"
down_revision: str | None = "0017_holds_apart"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: the view (`projections.tables.holds` reads it)
HOLDS_VIEW = (
    "CREATE VIEW holds AS SELECT hold_position AS position, request_id, procedure, member,"
    " placed_at, ended_at, end_kind FROM hold_intervals WHERE recorded_to IS NULL"
)


def upgrade() -> None:
    op.drop_index(op.f("ix_holds_request_id"), table_name="holds")
    op.drop_index(op.f("ix_holds_member_placed_at"), table_name="holds")
    op.drop_table("holds")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'holds'")
    op.execute(HOLDS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW holds")
    op.create_table(
        "holds",
        sa.Column("position", POSITION, autoincrement=False, nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("procedure", sa.Text(), nullable=False),
        sa.Column("member", sa.Text(), nullable=False),
        sa.Column("placed_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("end_kind", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_holds")),
    )
    op.create_index(op.f("ix_holds_member_placed_at"), "holds", ["member", "placed_at"])
    op.create_index(op.f("ix_holds_request_id"), "holds", ["request_id"])
    op.execute(
        "INSERT INTO holds SELECT hold_position, request_id, procedure, member, placed_at,"
        " ended_at, end_kind FROM hold_intervals WHERE recorded_to IS NULL"
    )
    op.execute(
        "INSERT INTO projection_checkpoints (name, position, updated_at)"
        " SELECT 'holds', position, updated_at FROM projection_checkpoints"
        " WHERE name = 'request_intervals'"
    )
