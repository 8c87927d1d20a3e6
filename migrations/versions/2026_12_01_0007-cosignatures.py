"""cosignatures: the witnesses' cosignature/v1 lines of each signed checkpoint, append-only

Revision ID: 0007_cosignatures
Revises: 0005_request_intervals
Create Date: 2026-12-01 00:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_cosignatures"
down_revision: str | None = "0006_event_salt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from events.schema: a migration must not change when
# the application's table definitions do.
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
TABLE = "cosignatures"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "witness", "key_id", name=op.f("pk_cosignatures")),
    )
    op.create_index(op.f("ix_cosignatures_witness_tree_size"), TABLE, ["witness", "tree_size"])
    if op.get_bind().dialect.name == "postgresql":
        # docket_refuse_change() is migration 0001's, shared by every append-only table.
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION docket_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION docket_refuse_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} are append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{operation}")
    op.drop_index(op.f("ix_cosignatures_witness_tree_size"), table_name=TABLE)
    op.drop_table(TABLE)
