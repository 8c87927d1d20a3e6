"""public_documents: `request_state` keeps the public part of a request, not its whole view
(issue 27)

`request_state.document` was the whole `view` of each request (~1.9 kB of JSON on average
at 1,000,000 events): two thirds of the bytes a rebuild wrote, and a tenth of its CPU to
make and store. Two readers used it, and neither needs it stored:

- a request's whole view is its stream folded (a few events, read by the stream index):
  `GET /v1/requests` folds the streams of its page in one read, as the page as of a time
  already did, and a public request's page folds its stream;
- the public feeds need what a public record is made of (`projections.request.public_view`,
  of the requests the public may see): `public_document`, NULL for the others.

The projection's rows and checkpoint are dropped: it rebuilds from position 0 in the new
shape (a projection starts at 0 and catches up alone). On PostgreSQL the new column is
compressed with LZ4 where the server has it (as 0016 did for `document`).

Revision ID: 0020_public_documents
Revises: 0019_hold_durations
Create Date: 2026-12-07 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_public_documents"
down_revision: str | None = "0019_hold_durations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _restart() -> None:
    op.execute("DELETE FROM request_state")
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'request_state'")


def _lz4(column: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN"
        " IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'"
        " AND 'lz4' = ANY (enumvals)) THEN"
        f" ALTER TABLE request_state ALTER COLUMN {column} SET COMPRESSION lz4;"
        " END IF; END $$"
    )


def upgrade() -> None:
    _restart()
    with op.batch_alter_table("request_state") as batch:
        batch.drop_column("document")
        batch.add_column(sa.Column("public_document", sa.JSON(), nullable=True))
    _lz4("public_document")


def downgrade() -> None:
    _restart()
    with op.batch_alter_table("request_state") as batch:
        batch.drop_column("public_document")
        batch.add_column(sa.Column("document", sa.JSON(), nullable=False))
    _lz4("document")
