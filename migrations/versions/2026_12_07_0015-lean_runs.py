"""lean_runs: one status row per run, one hold row per hold, and only what a read asks
for (issue 27)

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

A hold was two rows once ended: its active run, settled at the end, and its ended run.
It changes only there, so its one row now keeps its end and the position of the event
that ended it (`ended_from`): shown from `placed_at` on, ended at `(T, P)` when
`ended_from <= P` and `ended_at <= T`. Its span class is the hold's own length, which
finds the holds active at T (`ix_hold_intervals_active`); `ix_hold_intervals_ended`
walks those ended by T in the order of their length. The table is made anew.

The projection's rows and checkpoint are dropped: it rebuilds from position 0 in the new
shape (a projection starts at 0 and catches up alone).

Revision ID: 0015_lean_runs
Revises: 0014_history_from_the_log
Create Date: 2026-12-07 00:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_lean_runs"
down_revision: str | None = "0014_history_from_the_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HOLDS = "hold_intervals"
HEAD = "ix_request_status_intervals_head"
_HEAD = ["status", "recorded_to", "span_class", "valid_from", "valid_to", "request_id"]


def _where(condition: str | None = None) -> dict[str, sa.TextClause]:
    """A partial index's predicate on both backends: the head's rows, and `condition`."""
    text = "recorded_to IS NULL" + ("" if condition is None else f" AND {condition}")
    return {"postgresql_where": sa.text(text), "sqlite_where": sa.text(text)}


def _restart() -> None:
    op.execute("DELETE FROM request_status_intervals")
    op.execute("DELETE FROM hold_intervals")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_intervals'")


def _one_row_a_hold() -> None:
    op.create_table(
        HOLDS,
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("hold_position", POSITION, autoincrement=False, nullable=False),
        sa.Column("recorded_from", POSITION, autoincrement=False, nullable=False),
        sa.Column("recorded_to", POSITION, nullable=True),
        sa.Column("member", sa.Text(), nullable=False),
        sa.Column("procedure", sa.Text(), nullable=False),
        sa.Column("placed_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("end_kind", sa.Text(), nullable=True),
        sa.Column("ended_from", POSITION, nullable=True),
        sa.Column("placed_us", POSITION, nullable=False),
        sa.Column("ended_us", POSITION, nullable=True),
        sa.Column("held_us", POSITION, nullable=True),
        sa.Column("span_class", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "request_id", "hold_position", "recorded_from", name=op.f("pk_hold_intervals")
        ),
    )
    op.create_index(op.f("ix_hold_intervals_member_placed_at"), HOLDS, ["member", "placed_at"])
    op.create_index(
        op.f("ix_hold_intervals_ended"),
        HOLDS,
        ["member", "held_us", "ended_us"],
        **_where("ended_us IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_hold_intervals_active"),
        HOLDS,
        ["span_class", "placed_at", "ended_us", "member", "placed_us"],
        **_where(),
    )


def _two_rows_a_hold() -> None:
    """`hold_intervals` as 0005, 0008, 0009 and 0013 left it."""
    op.create_table(
        HOLDS,
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("hold_position", POSITION, autoincrement=False, nullable=False),
        sa.Column("recorded_from", POSITION, autoincrement=False, nullable=False),
        sa.Column("valid_from", UTC_TIME, nullable=False),
        sa.Column("recorded_to", POSITION, nullable=True),
        sa.Column("valid_to", UTC_TIME, nullable=True),
        sa.Column("member", sa.Text(), nullable=False),
        sa.Column("procedure", sa.Text(), nullable=False),
        sa.Column("placed_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("end_kind", sa.Text(), nullable=True),
        sa.Column("placed_us", POSITION, nullable=True),
        sa.Column("ended_us", POSITION, nullable=True),
        sa.Column("span_class", sa.Integer(), nullable=True),
        sa.Column("held_us", POSITION, nullable=True),
        sa.Column("settled_from", POSITION, nullable=True),
        sa.PrimaryKeyConstraint(
            "request_id",
            "hold_position",
            "recorded_from",
            "valid_from",
            name=op.f("pk_hold_intervals"),
        ),
    )
    op.create_index(op.f("ix_hold_intervals_member_valid_from"), HOLDS, ["member", "valid_from"])
    op.create_index(op.f("ix_hold_intervals_valid_from"), HOLDS, ["valid_from"])
    op.create_index(
        op.f("ix_hold_intervals_head"), HOLDS, ["recorded_to", "span_class", "valid_from"]
    )
    op.create_index(
        op.f("ix_hold_intervals_ended"),
        HOLDS,
        ["member", "held_us", "valid_from", "valid_to"],
        **_where("ended_us IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_hold_intervals_active"),
        HOLDS,
        ["span_class", "valid_from", "valid_to", "member", "placed_us"],
        **_where("ended_us IS NULL"),
    )


def upgrade() -> None:
    _restart()
    op.drop_index(op.f(HEAD), table_name="request_status_intervals")
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("open_procedure")
        batch.drop_column("information_pending")
        batch.add_column(sa.Column("changes_at", UTC_TIME, nullable=True))
    op.create_index(op.f(HEAD), "request_status_intervals", [*_HEAD, "changes_at"])
    op.drop_table(HOLDS)
    _one_row_a_hold()


def downgrade() -> None:
    _restart()
    op.drop_index(op.f(HEAD), table_name="request_status_intervals")
    with op.batch_alter_table("request_status_intervals") as batch:
        batch.drop_column("changes_at")
        # the table is empty (`_restart`): no default to fill rows with
        batch.add_column(sa.Column("information_pending", sa.Boolean(), nullable=False))
        batch.add_column(sa.Column("open_procedure", sa.Text(), nullable=True))
    op.create_index(op.f(HEAD), "request_status_intervals", _HEAD)
    op.drop_table(HOLDS)
    _two_rows_a_hold()
