"""documents_lz4: `request_state.document` compressed with LZ4 on PostgreSQL (issue 27)

A request's document (`projections.request.view`, ~1.9 kB of JSON on average at
1,000,000 events, a third of them over the 2 kB at which PostgreSQL compresses a value)
was compressed with pglz: `pglz_compress` was the server's largest single cost in a
rebuild (2.5 % of the machine's samples). LZ4 compresses several times faster and
decompresses faster for the reads of whole documents (public feeds). A rebuild's copy
of the table keeps the column's compression (`LIKE … INCLUDING COMPRESSION`); rows
written before keep theirs until rewritten. Nothing changes on SQLite, or on a server
built without LZ4 (the setting is skipped there).

Revision ID: 0016_documents_lz4
Revises: 0015_lean_runs
Create Date: 2026-12-07 00:16:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_documents_lz4"
down_revision: str | None = "0015_lean_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _compress(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN"
        " IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'"
        " AND 'lz4' = ANY (enumvals)) THEN"
        f" ALTER TABLE request_state ALTER COLUMN document SET COMPRESSION {method};"
        " END IF; END $$"
    )


def upgrade() -> None:
    _compress("lz4")


def downgrade() -> None:
    _compress("pglz")
