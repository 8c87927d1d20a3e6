"""Server-assigned request ids, race-free and O(1) (SPEC §9, R11).

`HX-<year>-<seq>`: the year of the submission's `occurred_at` in UTC, the sequence
counting that year's server-assigned ids, four digits, wider past 9999. The last number
of each year is a row of `request_sequences` (migration 0004), updated in the same
transaction as the append that writes the `RequestSubmitted`, under the append lock:

- unique: the row lock serialises every caller of every process on that year's row;
- gap-free: a transaction that rolls back gives its number back;
- O(1): one row update and one primary-key lookup, not a scan of the year's requests;
- an id already in the log (one a caller chose, `HX-2026-0042`) is passed over, so a
  server id never collides with it; a caller-supplied id that exists is the stream
  conflict it always was (409 `request-already-exists`), decided by the rules.

`taken` names ids of the same batch that are not inserted yet (group commit assigns the
ids of a batch one after the other in one transaction, then inserts the rows).

Call these inside the writer's transaction, after the append lock and before hashing the
batch: the id is part of the event's data.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

PREFIX = "HX"
REQUEST_STREAM_PREFIX = "request-"
_SERVER_ID = re.compile(r"HX-([0-9]{4})-([0-9]+)")


def format_request_id(year: int, sequence: int) -> str:
    """`HX-<year>-<4-digit sequence>` (wider when the sequence is over 9999)."""
    if sequence < 1:
        raise ValueError(f"request sequences start at 1, not {sequence}")
    return f"{PREFIX}-{year}-{sequence:04d}"


def parse_request_id(request_id: str) -> tuple[int, int] | None:
    """(year, sequence) of an id of the server's form, else None."""
    found = _SERVER_ID.fullmatch(request_id)
    return (int(found[1]), int(found[2])) if found else None


_PG_NEXT = "SELECT docket_next_request_id($1::integer, $2::text[])"


async def postgres_next_id(
    conn: asyncpg.Connection, year: int, *, taken: Collection[str] = ()
) -> str:
    """The next id of `year`, in `conn`'s open transaction: one round trip."""
    request_id = await conn.fetchval(_PG_NEXT, year, list(taken))
    assert isinstance(request_id, str)
    return request_id


_SQLITE_NEXT = text(
    "INSERT INTO request_sequences (year, last) VALUES (:year, 1) "
    "ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last"
)
_SQLITE_EXISTS = text("SELECT 1 FROM events WHERE stream_id = :stream_id AND stream_version = 1")


async def sqlite_next_id(conn: AsyncConnection, year: int, *, taken: Collection[str] = ()) -> str:
    """The next id of `year`, in `conn`'s open write transaction (`BEGIN IMMEDIATE`)."""
    while True:
        sequence = await conn.scalar(_SQLITE_NEXT, {"year": year})
        assert isinstance(sequence, int)
        request_id = format_request_id(year, sequence)
        if request_id in taken:
            continue
        stream_id = REQUEST_STREAM_PREFIX + request_id
        if await conn.scalar(_SQLITE_EXISTS, {"stream_id": stream_id}) is None:
            return request_id
