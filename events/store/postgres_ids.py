"""Server-assigned request ids on PostgreSQL: each year's last number in
`request_sequences` (migration 0004), read and stored in the writer's transaction, under
the append lock (see `events.request_ids`)."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from events.request_ids import candidate_streams, candidates

SEQUENCES = "SELECT year, last FROM request_sequences WHERE year = ANY($1::int[])"
STORE = (
    "INSERT INTO request_sequences (year, last)"
    " SELECT * FROM unnest($1::int[], $2::bigint[])"
    " ON CONFLICT (year) DO UPDATE SET last = EXCLUDED.last"
)


async def read_numbering(
    conn: asyncpg.Connection, needed: Mapping[int, int]
) -> tuple[dict[int, int], dict[int, int], list[str]]:
    """For the years of `needed`: their last numbers, the lookup's limits and the
    streams to look up (`events.request_ids.candidates`)."""
    if not needed:
        return {}, {}, []
    last = {int(row[0]): int(row[1]) for row in await conn.fetch(SEQUENCES, list(needed))}
    limits = candidates(needed, last)
    return last, limits, candidate_streams(limits, last)


async def store_numbering(
    conn: asyncpg.Connection, before: Mapping[int, int], after: Mapping[int, int]
) -> None:
    """Store the years whose last number moved, in `conn`'s open transaction."""
    moved = {year: last for year, last in after.items() if before.get(year) != last}
    if moved:
        await conn.execute(STORE, list(moved), list(moved.values()))
