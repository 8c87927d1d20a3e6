"""request_sequences: the last server-assigned request sequence of each year (R11)

Revision ID: 0004_request_sequences
Revises: 0003_notify_events
Create Date: 2026-12-01 00:04:00

The next `HX-<year>-<seq>` is one row update in the append's own transaction (see
events/request_ids.py), instead of a scan of the year's submissions: O(1), and unique and
gap-free per year across processes because the row lock (and the append lock around it)
serialises the callers and a rolled-back append gives its number back.

The backfill takes, for each year, the highest sequence of a request stream already in
the log (`request-HX-<year>-<digits>` at version 1, whoever chose the id).

On PostgreSQL, `docket_next_request_id(year, taken)` does the whole step in one round
trip: take the next number, and pass over any id already in the log (a caller may have
chosen `HX-2026-0042` itself) or in `taken` (ids of the same batch not inserted yet).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_request_sequences"
down_revision: str | None = "0003_notify_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: a migration must not change when the application's spelling does.
_REQUEST_STREAM = re.compile(r"request-HX-([0-9]{4})-([0-9]+)")

_PG_NEXT_ID = """
CREATE FUNCTION docket_next_request_id(for_year integer, taken text[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seq bigint;
    rid text;
BEGIN
    LOOP
        INSERT INTO request_sequences AS s (year, last) VALUES (for_year, 1)
            ON CONFLICT (year) DO UPDATE SET last = s.last + 1
            RETURNING s.last INTO seq;
        rid := 'HX-' || for_year::text || '-'
            || CASE WHEN seq < 10000 THEN lpad(seq::text, 4, '0') ELSE seq::text END;
        IF NOT (rid = ANY (coalesce(taken, '{}'::text[])))
                AND NOT EXISTS (SELECT 1 FROM events
                                WHERE stream_id = 'request-' || rid AND stream_version = 1) THEN
            RETURN rid;
        END IF;
    END LOOP;
END
$$
"""


def upgrade() -> None:
    table = op.create_table(
        "request_sequences",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_request_sequences")),
    )
    op.bulk_insert(table, [{"year": y, "last": n} for y, n in sorted(_backfill().items())])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_NEXT_ID)


def _backfill() -> dict[int, int]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT stream_id FROM events "
            "WHERE stream_version = 1 AND stream_id LIKE 'request-HX-%'"
        )
    )
    last: dict[int, int] = {}
    for (stream_id,) in rows:
        found = _REQUEST_STREAM.fullmatch(stream_id)
        if found:
            year, sequence = int(found[1]), int(found[2])
            last[year] = max(last.get(year, 0), sequence)
    return last


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS docket_next_request_id(integer, text[])")
    op.drop_table("request_sequences")
