"""as_of_statistics: what the hold and processing statistics as of a date read at the head

Read as of a business time at the log's head (no `at_position`), the statistics need the
rows in force then, aggregated, and the middle values of each group (the medians):

- `hold_intervals.held_us`: an ended hold's length in microseconds (`ended_us -
  placed_us`), the value the median of the ended holds is taken over;
- `ix_hold_intervals_ended`: the head rows of ended holds by (member, held_us), with their
  business interval: each member's counts and sums in one index-only pass, and its middle
  values by walking it in value order (OFFSET), with no sort;
- `ix_hold_intervals_active`: the head rows of holds not ended, by span class (see 0008),
  so that the holds active at a time are a union of short ranges;
- `ix_request_status_intervals_decisions`: the head rows of decided requests by
  (decided_year, decision_us), their counts, sums and medians as for ended holds;
- `ix_request_status_intervals_submitted`: the head row of each request that begins at
  its submission (at the head a request's rows cover its business time from then on,
  one at a time, so there is exactly one): the requests submitted by a time, counted
  per year index-only, one entry per request rather than per status row.

All four are partial (`recorded_to IS NULL`), on both backends. And the list's
`ix_request_status_intervals_head` (0008) gains `valid_to` and `request_id`: a page as of
a time reads the rows in force from the index alone (at 1,000,000 events the heap
fetches of its widest span class took 45 of its 60 ms). `held_us` is filled from
the columns of 0008.

Revision ID: 0009_as_of_statistics
Revises: 0008_interval_heads
Create Date: 2026-12-01 00:09:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_as_of_statistics"
down_revision: str | None = "0008_interval_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MICROS = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _where(text: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(text), "sqlite_where": sa.text(text)}


_HEAD = ["status", "recorded_to", "span_class", "valid_from"]


def upgrade() -> None:
    # the list's head index carries what its selection reads: index-only
    op.drop_index(op.f("ix_request_status_intervals_head"), table_name="request_status_intervals")
    op.create_index(
        op.f("ix_request_status_intervals_head"),
        "request_status_intervals",
        [*_HEAD, "valid_to", "request_id"],
    )
    op.add_column("hold_intervals", sa.Column("held_us", MICROS, nullable=True))
    op.execute(
        "UPDATE hold_intervals SET held_us = ended_us - placed_us WHERE ended_us IS NOT NULL"
    )
    op.create_index(
        op.f("ix_hold_intervals_ended"),
        "hold_intervals",
        ["member", "held_us", "valid_from", "valid_to"],
        **_where("recorded_to IS NULL AND ended_us IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_hold_intervals_active"),
        "hold_intervals",
        ["span_class", "valid_from", "valid_to", "member", "placed_us"],
        **_where("recorded_to IS NULL AND ended_us IS NULL"),
    )
    op.create_index(
        op.f("ix_request_status_intervals_decisions"),
        "request_status_intervals",
        ["decided_year", "decision_us", "valid_from", "valid_to", "outcome"],
        **_where("recorded_to IS NULL AND decided_year IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_request_status_intervals_submitted"),
        "request_status_intervals",
        ["submitted_at", "submitted_year"],
        **_where("recorded_to IS NULL AND valid_from = submitted_at"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_request_status_intervals_head"), table_name="request_status_intervals")
    op.create_index(op.f("ix_request_status_intervals_head"), "request_status_intervals", _HEAD)
    op.drop_index(
        op.f("ix_request_status_intervals_submitted"), table_name="request_status_intervals"
    )
    op.drop_index(
        op.f("ix_request_status_intervals_decisions"), table_name="request_status_intervals"
    )
    op.drop_index(op.f("ix_hold_intervals_active"), table_name="hold_intervals")
    op.drop_index(op.f("ix_hold_intervals_ended"), table_name="hold_intervals")
    with op.batch_alter_table("hold_intervals") as batch:
        batch.drop_column("held_us")
