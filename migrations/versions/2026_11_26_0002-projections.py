"""projections: request_state, request_history, holds and their checkpoints

Revision ID: 0002_projections
Revises: 0001_initial
Create Date: 2026-11-26 00:02:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_projections"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from projections.tables: a migration must not change
# when the application's table definitions do.
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", POSITION, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projection_checkpoints")),
    )

    op.create_table(
        "request_state",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("stream_id", sa.Text(), nullable=False),
        sa.Column("stream_version", sa.BigInteger(), nullable=False),
        sa.Column("position", POSITION, nullable=False),
        sa.Column("submitted_at", UTC_TIME, nullable=False),
        sa.Column("last_occurred_at", UTC_TIME, nullable=False),
        sa.Column("applicant_name", sa.Text(), nullable=False),
        sa.Column("applicant_kind", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("sponsor", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("disclosure", sa.Text(), nullable=False),
        sa.Column("status_hint", sa.Text(), nullable=False),
        sa.Column("open_procedure", sa.Text(), nullable=True),
        sa.Column("circulated_at", UTC_TIME, nullable=True),
        sa.Column("deadline", UTC_TIME, nullable=True),
        sa.Column("active_holds", sa.Integer(), nullable=False),
        sa.Column("held_by", sa.Text(), nullable=True),
        sa.Column("information_pending", sa.Boolean(), nullable=False),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("approved_at", UTC_TIME, nullable=True),
        sa.Column("refused_at", UTC_TIME, nullable=True),
        sa.Column("withdrawn_at", UTC_TIME, nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_state")),
    )
    op.create_index(op.f("ix_request_state_submitted_at"), "request_state", ["submitted_at"])
    op.create_index(op.f("ix_request_state_applicant_name"), "request_state", ["applicant_name"])
    op.create_index(op.f("ix_request_state_status_hint"), "request_state", ["status_hint"])

    op.create_table(
        "request_history",
        sa.Column("position", POSITION, autoincrement=False, nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("stream_version", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.JSON(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("retracted_by", POSITION, nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_request_history")),
    )
    op.create_index(
        op.f("ix_request_history_request_id_stream_version"),
        "request_history",
        ["request_id", "stream_version"],
    )

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


def downgrade() -> None:
    op.drop_index(op.f("ix_holds_request_id"), table_name="holds")
    op.drop_index(op.f("ix_holds_member_placed_at"), table_name="holds")
    op.drop_table("holds")
    op.drop_index(
        op.f("ix_request_history_request_id_stream_version"), table_name="request_history"
    )
    op.drop_table("request_history")
    op.drop_index(op.f("ix_request_state_status_hint"), table_name="request_state")
    op.drop_index(op.f("ix_request_state_applicant_name"), table_name="request_state")
    op.drop_index(op.f("ix_request_state_submitted_at"), table_name="request_state")
    op.drop_table("request_state")
    op.drop_table("projection_checkpoints")
