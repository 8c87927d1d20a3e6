"""Bulk reads of the whole log: pages of events in position order, fast.

`iter_pages` is for code that walks the entire log (verification, the Merkle tree,
projection rebuilds). On PostgreSQL it bypasses SQLAlchemy and reads through one raw asyncpg
connection: `data` and `metadata` come as JSON text and are decoded with orjson, and the
next page is fetched while the caller works on the current one. Pages are read by keyset
(`position > last`), which is consistent for an append-only log whose positions are
assigned in commit order. On SQLite it reads `store.read_all` pages.

`iter_raw_pages` yields the rows undecoded (JSON as text, times as the backend gives them)
for callers that want to skip building `RecordedEvent` objects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from events.model import RecordedEvent
from events.store import EventStore, row_event

#: A raw row: position, event_id, stream_id, stream_version, event_type, schema_version,
#: data (JSON text), metadata (JSON text), occurred_at, recorded_at, prev_hash, hash.
#: Times are aware datetimes on PostgreSQL and canonical UTC text on SQLite. An
#: `asyncpg.Record` on PostgreSQL, a tuple on SQLite: index it, do not compare it.
RawRow = Any

_PG_PAGE = (
    "SELECT position, event_id, stream_id, stream_version, event_type, schema_version,"
    " data::text, metadata::text, occurred_at, recorded_at, prev_hash, hash"
    " FROM events WHERE position > $1 ORDER BY position LIMIT $2"
)

_SQLITE_PAGE = (
    "SELECT position, event_id, stream_id, stream_version, event_type, schema_version,"
    " data, metadata, occurred_at, recorded_at, prev_hash, hash"
    " FROM events WHERE position > ? ORDER BY position LIMIT ?"
)


def is_postgres(store: EventStore) -> bool:
    return store.engine.dialect.name == "postgresql"


def asyncpg_dsn(url: URL) -> str:
    """The `postgresql://` DSN asyncpg wants, from a SQLAlchemy URL (password kept)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def connect_raw(store: EventStore) -> asyncpg.Connection:
    """A raw asyncpg connection to the database of a PostgreSQL store."""
    conn: asyncpg.Connection = await asyncpg.connect(asyncpg_dsn(store.engine.url))
    return conn


async def pg_pages(
    store: EventStore, sql: str, after: int = 0, batch: int = 10_000
) -> AsyncGenerator[list[Any], None]:
    """Pages of `sql` (`… WHERE position > $1 ORDER BY position LIMIT $2`, position first)
    on one raw asyncpg connection, the next page fetched while the caller works on this one.
    """
    conn = await connect_raw(store)
    pending: asyncio.Task[list[Any]] | None = None
    try:
        statement = await conn.prepare(sql)
        pending = asyncio.ensure_future(statement.fetch(after, batch))
        while pending is not None:
            fetching, pending = pending, None
            page: list[Any] = await fetching
            if len(page) == batch:
                pending = asyncio.ensure_future(statement.fetch(page[-1][0], batch))
            if page:
                yield page
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await conn.close()


async def _sqlite_raw_pages(
    store: EventStore, after: int, batch: int
) -> AsyncGenerator[list[RawRow], None]:
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection  # the aiosqlite connection
        while True:
            cursor = await driver.execute(_SQLITE_PAGE, (after, batch))
            try:
                page: list[RawRow] = list(await cursor.fetchall())
            finally:
                await cursor.close()
            if not page:
                return
            yield page
            if len(page) < batch:
                return
            after = page[-1][0]


async def iter_raw_pages(
    store: EventStore, after: int = 0, batch: int = 10_000
) -> AsyncGenerator[list[RawRow], None]:
    """Pages of raw rows (see `RawRow`) with positions after `after`, in position order."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    pages = (
        pg_pages(store, _PG_PAGE, after, batch)
        if is_postgres(store)
        else _sqlite_raw_pages(store, after, batch)
    )
    async with contextlib.aclosing(pages):
        async for page in pages:
            yield page


#: The `RecordedEvent` of a raw row (stored form, no upcasting).
to_event = row_event


async def iter_pages(
    store: EventStore, after: int = 0, batch: int = 10_000
) -> AsyncGenerator[list[RecordedEvent], None]:
    """Pages of up to `batch` events with positions after `after`, in position order.

    Events are in stored form (not upcast), equal to what `store.read_all` returns.
    """
    async with contextlib.aclosing(iter_raw_pages(store, after, batch)) as pages:
        async for page in pages:
            yield [to_event(row) for row in page]
