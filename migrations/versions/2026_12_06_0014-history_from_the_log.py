"""history_from_the_log: `request_history` dropped; the audit trail is read from the log
(issue 27)

The history of a request is its stream (SPEC §5): `GET /v1/requests/{id}/history` reads
it by `(stream_id, stream_version)` and computes each entry (`projections.history`:
summary, confidentiality, actor or erasure marker, and the retraction in effect, whose
target is always in the same stream) in one pass. Nothing read the table: it was a copy
of the log written at one row per request event, the largest share of what
`docket rebuild` wrote. Its rows and checkpoint go.

Downgrade: the table comes back empty and without a checkpoint: the projection of the
older release starts at 0 and catches up alone.

Revision ID: 0014_history_from_the_log
Revises: 0013_interval_runs
Create Date: 2026-12-06 00:14:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_history_from_the_log"
down_revision: str | None = "0013_interval_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INDEX = "ix_request_history_request_id_stream_version"


def upgrade() -> None:
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_history'")
    op.drop_index(op.f(INDEX), table_name="request_history")
    op.drop_table("request_history")


def downgrade() -> None:
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_history'")
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
    op.create_index(op.f(INDEX), "request_history", ["request_id", "stream_version"])
