"""Server-assigned request ids on SQLite: each year's last number in `request_sequences`
(migration 0004), read and stored in the writer's `BEGIN IMMEDIATE` transaction, which
holds the database's write lock (see `events.request_ids`)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from events.request_ids import candidate_streams, candidates

_SEQUENCES = text("SELECT year, last FROM request_sequences WHERE year IN :years").bindparams(
    bindparam("years", expanding=True)
)
_STORE = text(
    "INSERT INTO request_sequences (year, last) VALUES (:year, :last)"
    " ON CONFLICT (year) DO UPDATE SET last = excluded.last"
)


async def read_numbering(
    conn: AsyncConnection, needed: Mapping[int, int]
) -> tuple[dict[int, int], dict[int, int], list[str]]:
    """For the years of `needed`: their last numbers, the lookup's limits and the
    streams to look up (`events.request_ids.candidates`)."""
    if not needed:
        return {}, {}, []
    rows = await conn.execute(_SEQUENCES, {"years": list(needed)})
    last = {int(row[0]): int(row[1]) for row in rows}
    limits = candidates(needed, last)
    return last, limits, candidate_streams(limits, last)


async def store_numbering(
    conn: AsyncConnection, before: Mapping[int, int], after: Mapping[int, int]
) -> None:
    """Store the years whose last number moved, in `conn`'s open transaction."""
    moved = [
        {"year": year, "last": last} for year, last in after.items() if before.get(year) != last
    ]
    if moved:
        await conn.execute(_STORE, moved)
