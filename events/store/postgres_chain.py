"""The chain walk's pages on PostgreSQL: `events` and `sealed_values` read as two streams
by position, on two connections, and paired in Python.

A join of the two tables (and a regular expression over the JSON, to tell the hashing
whether it may take its short path) cost the walk's read ~35 % of its speed: PostgreSQL
fetched 165,000 joined rows a second without the expression and 105,000 with it, against
350,000 rows of `events` alone and 800,000 of `sealed_values` alone (B5, B14 in
docs/BENCHMARKS.md). Each page of `events` is read by keyset; its sealed values by the
range of positions it should cover (`after < position <= after + batch`, read ahead at the
same time), read again for the range it does cover when that differs (a gap).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import asyncpg

from events.store.postgres_sql import UTC_TEXT
from events.store.rows import ChainRow

EVENTS_PAGE = (
    "SELECT position, event_id, stream_id, stream_version, event_type, schema_version,"
    f" data::text, {UTC_TEXT.format('occurred_at')}, {UTC_TEXT.format('recorded_at')},"
    " prev_hash, hash, sealed FROM events WHERE position > $1 ORDER BY position LIMIT $2"
)
SEALED_RANGE = (
    "SELECT position, data::text, metadata::text, salt, erased_by FROM sealed_values"
    " WHERE position > $1 AND position <= $2 ORDER BY position"
)


def paired(events: list[Any], sealed: list[Any]) -> list[ChainRow]:
    """`ChainRow`s of a page of `events` and the `sealed_values` rows of its positions (a
    position without one: metadata, salt, erased_by and sealed data None). The last column
    says "may hold a float" (True: `hashed_form` takes its exact path)."""
    rows: list[ChainRow] = []
    append = rows.append
    if len(sealed) == len(events):
        for e, s in zip(events, sealed, strict=True):
            if e[0] != s[0]:
                break
            append((*e[:7], s[2], e[7], e[8], e[9], e[10], s[3], e[11], s[4], s[1], True))
        else:
            return rows
        rows.clear()
    by_position = {s[0]: s for s in sealed}
    for e in events:
        s = by_position.get(e[0])
        if s is None:
            append((*e[:7], None, e[7], e[8], e[9], e[10], None, e[11], None, None, True))
        else:
            append((*e[:7], s[2], e[7], e[8], e[9], e[10], s[3], e[11], s[4], s[1], True))
    return rows


async def _settle(task: asyncio.Task[Any] | None, conn: asyncpg.Connection) -> None:
    """Cancel a read ahead cut short; its connection may be mid-operation: drop it."""
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        conn.terminate()


async def chain_pages(
    read_pool: Callable[[], Awaitable[asyncpg.Pool]], after: int, batch: int
) -> AsyncGenerator[list[ChainRow], None]:
    """Pages of up to `batch` chain rows after `after` on two connections of the pool
    `read_pool()` gives, the next page of both tables read while the caller works on
    this one."""
    pool = await read_pool()
    async with pool.acquire() as events_conn, pool.acquire() as sealed_conn:
        events_read: asyncio.Task[list[Any]] | None = None
        sealed_read: asyncio.Task[list[Any]] | None = None
        try:
            events_statement = await events_conn.prepare(EVENTS_PAGE)
            sealed_statement = await sealed_conn.prepare(SEALED_RANGE)
            events_read = asyncio.ensure_future(events_statement.fetch(after, batch))
            sealed_read = asyncio.ensure_future(sealed_statement.fetch(after, after + batch))
            while events_read is not None and sealed_read is not None:
                events: list[Any] = await events_read
                sealed: list[Any] = await sealed_read
                events_read = sealed_read = None
                if not events:
                    return
                last = events[-1][0]
                if last > after + batch:  # gaps: the range read ahead was short
                    sealed = await sealed_statement.fetch(after, last)
                if len(events) == batch:
                    events_read = asyncio.ensure_future(events_statement.fetch(last, batch))
                    sealed_read = asyncio.ensure_future(sealed_statement.fetch(last, last + batch))
                yield paired(events, sealed)
                after = last
        finally:
            await _settle(events_read, events_conn)
            await _settle(sealed_read, sealed_conn)
