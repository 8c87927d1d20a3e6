"""request_intervals: bitemporal status and hold intervals, and the versions they point at

Revision ID: 0005_request_intervals
Revises: 0004_request_sequences
Create Date: 2026-12-01 00:03:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_request_intervals"
down_revision: str | None = "0004_request_sequences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from projections.intervals.tables: a migration must
# not change when the application's table definitions do.
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "request_status_intervals",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("recorded_from", POSITION, autoincrement=False, nullable=False),
        sa.Column("valid_from", UTC_TIME, nullable=False),
        sa.Column("recorded_to", POSITION, nullable=True),
        sa.Column("valid_to", UTC_TIME, nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("submitted_at", UTC_TIME, nullable=False),
        sa.Column("applicant_name", sa.Text(), nullable=False),
        sa.Column("held_by", sa.Text(), nullable=True),
        sa.Column("information_pending", sa.Boolean(), nullable=False),
        sa.Column("open_procedure", sa.Text(), nullable=True),
        sa.Column("circulated_at", UTC_TIME, nullable=True),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("approved_at", UTC_TIME, nullable=True),
        sa.Column("refused_at", UTC_TIME, nullable=True),
        sa.Column("withdrawn_at", UTC_TIME, nullable=True),
        sa.Column("exemption_from", sa.Date(), nullable=True),
        sa.Column("exemption_until", sa.Date(), nullable=True),
        sa.Column("disclosure", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "request_id", "recorded_from", "valid_from", name=op.f("pk_request_status_intervals")
        ),
    )
    op.create_index(
        op.f("ix_request_status_intervals_status_request_id"),
        "request_status_intervals",
        ["status", "request_id"],
    )
    op.create_index(
        op.f("ix_request_status_intervals_valid_from"), "request_status_intervals", ["valid_from"]
    )

    op.create_table(
        "request_versions",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("position", POSITION, autoincrement=False, nullable=False),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "position", name=op.f("pk_request_versions")),
    )

    op.create_table(
        "hold_intervals",
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
        sa.PrimaryKeyConstraint(
            "request_id",
            "hold_position",
            "recorded_from",
            "valid_from",
            name=op.f("pk_hold_intervals"),
        ),
    )
    op.create_index(
        op.f("ix_hold_intervals_member_valid_from"), "hold_intervals", ["member", "valid_from"]
    )
    op.create_index(op.f("ix_hold_intervals_valid_from"), "hold_intervals", ["valid_from"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hold_intervals_valid_from"), table_name="hold_intervals")
    op.drop_index(op.f("ix_hold_intervals_member_valid_from"), table_name="hold_intervals")
    op.drop_table("hold_intervals")
    op.drop_table("request_versions")
    op.drop_index(
        op.f("ix_request_status_intervals_valid_from"), table_name="request_status_intervals"
    )
    op.drop_index(
        op.f("ix_request_status_intervals_status_request_id"),
        table_name="request_status_intervals",
    )
    op.drop_table("request_status_intervals")
