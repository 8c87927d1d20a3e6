"""interval_heads: what collection reads as of a moment need to be fast

- `request_versions` goes: a list item as of a moment is folded from its stream (one
  statement for the page), so the projection writes no row per event.
- The facts the statistics aggregate, as integers the database can sum and order on
  both backends: a hold's `placed_us` / `ended_us` (microseconds since the epoch), a
  request's `submitted_year`, `decided_year` and `decision_us` (days to decision in
  microseconds).
- `span_class` on both interval tables: floor(log2(seconds the row lasts in business
  time)), or 63 for a row with no end. A row of class k that covers T began after
  T - 2^(k+1) s, so "in force at T" is a union of short index ranges (one per class)
  instead of every row that began before T. Indexes: (status, recorded_to, span_class,
  valid_from) and (recorded_to, span_class, valid_from).

The projection's rows and checkpoint are dropped: it rebuilds from position 0 with the
new columns filled (a projection starts at 0 and catches up alone).

Revision ID: 0008_interval_heads
Revises: 0005_request_intervals
Create Date: 2026-12-01 00:06:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_interval_heads"
down_revision: str | None = "0007_cosignatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MICROS = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _restart() -> None:
    op.execute("DELETE FROM request_status_intervals")
    op.execute("DELETE FROM hold_intervals")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_intervals'")


def upgrade() -> None:
    _restart()
    op.drop_table("request_versions")
    op.add_column("hold_intervals", sa.Column("placed_us", MICROS, nullable=True))
    op.add_column("hold_intervals", sa.Column("ended_us", MICROS, nullable=True))
    op.add_column("request_status_intervals", sa.Column("submitted_year", sa.Integer()))
    op.add_column("request_status_intervals", sa.Column("decided_year", sa.Integer()))
    op.add_column("request_status_intervals", sa.Column("decision_us", MICROS))
    op.add_column("request_status_intervals", sa.Column("span_class", sa.Integer()))
    op.add_column("hold_intervals", sa.Column("span_class", sa.Integer()))
    op.create_index(
        op.f("ix_request_status_intervals_head"),
        "request_status_intervals",
        ["status", "recorded_to", "span_class", "valid_from"],
    )
    op.create_index(
        op.f("ix_hold_intervals_head"),
        "hold_intervals",
        ["recorded_to", "span_class", "valid_from"],
    )


def downgrade() -> None:
    _restart()
    op.drop_index(op.f("ix_hold_intervals_head"), table_name="hold_intervals")
    op.drop_index(
        op.f("ix_request_status_intervals_head"),
        table_name="request_status_intervals",
    )
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("span_class")
        batch.drop_column("decision_us")
        batch.drop_column("decided_year")
        batch.drop_column("submitted_year")
    with op.batch_alter_table("hold_intervals") as batch:
        batch.drop_column("span_class")
        batch.drop_column("ended_us")
        batch.drop_column("placed_us")
    op.create_table(
        "request_versions",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("position", POSITION, autoincrement=False, nullable=False),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "position", name=op.f("pk_request_versions")),
    )
