"""The event store's PostgreSQL backend: everything asyncpg.

Writes go through the writer's own raw asyncpg connection (`postgres_writer`: in one
round trip when the writer's prediction of the head and of the streams' versions holds,
else in one transaction under an advisory lock). Reads, pages and chain walks use a raw
asyncpg pool (no SQLAlchemy row processing: JSON comes as text and is decoded with
orjson); pages are read by keyset, the next one fetched while the caller works on this
one. Imports COPY under the appenders' lock; the tree's writer COPYs its nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Self

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.disclosure import canonical_stored
from events.engines import create_engine
from events.errors import LogNotEmpty, StoreClosed
from events.model import ZERO_HASH, RecordedEvent
from events.store import core, postgres_chain
from events.store import postgres_sql as sql
from events.store.contract import Batch, Partition, Written
from events.store.postgres_errors import DATABASE_ERRORS, as_dbapi_error
from events.store.postgres_notify import PostgresNotifyWaiter, dsn_connect
from events.store.postgres_sql import APPEND_LOCK_KEY, TREE_LOCK_KEY
from events.store.postgres_tables import PostgresTables
from events.store.postgres_writer import PostgresWriter, copy_chunks
from events.store.rows import ChainRow, FoldRow, ImportRow, RawRow, event_id_text, row_event

#: Connections of a PostgreSQL store's engine pool (projections, tokens, lists: the log
#: itself is read through the raw pool below and written on the writer's own connection).
#: Several server processes share the server's max_connections (100 by default).
POOL_SIZE = 10
POOL_OVERFLOW = 10

#: Connections of the raw asyncpg pool that a PostgreSQL store reads the log with.
READ_POOL_SIZE = 10

#: How a long read's connection reads its pages (then given back to the pool as it was).
#: One page after another is one core's work: no parallel workers to gather them (on 2
#: cores they took the CPU of a rebuild's folds). And the plan is the generic one: a
#: partition's filter (`hashtext(stream_id) % n`) is estimated at 0.5 % of the rows, so
#: a plan made for the first pages' wide ranges scanned the whole table and sorted it
#: (0.8 s a page at 1,000,000 events; the generic plan walks the position index). The
#: generic plan expects one row, for which it would probe `sealed_values`' index once per
#: event: merging the two position indexes instead reads a partition at 1,000,000 events
#: for 1.1 s of the server's CPU instead of 1.5.
PAGE_READS = (
    "SET max_parallel_workers_per_gather = 0; SET plan_cache_mode = force_generic_plan;"
    " SET enable_nestloop = off"
)
PAGE_READS_DONE = (
    "RESET max_parallel_workers_per_gather; RESET plan_cache_mode; RESET enable_nestloop"
)


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Pool connections are only used for single statements outside transactions."""


def _hashed_form(row: ChainRow) -> bytes:
    """`c(e)` in canonical form v2, its sealed values checked against the kept digest,
    skipping the walk of the JSON when it could find nothing: no floats (the last column
    is False), and data, sealed data and metadata ASCII text with no \\u escape, so no key
    needs UTF-16 ordering; orjson made every value, so all types are exact.
    `canonical_stored` then serialises with orjson directly (on any error, its reference
    path)."""
    clear, metadata, sealed = row[6], row[7], row[15]
    plain = (
        not row[16]
        and metadata is not None
        and sealed is not None
        and clear.isascii()
        and metadata.isascii()
        and sealed.isascii()
        and "\\u" not in clear
        and "\\u" not in metadata
        and "\\u" not in sealed
    )
    loads = orjson.loads
    envelope = {
        "position": row[0],
        "event_id": event_id_text(row[1]),
        "stream_id": row[2],
        "stream_version": row[3],
        "event_type": row[4],
        "schema_version": row[5],
        "occurred_at": row[8],
        "recorded_at": row[9],
    }
    return canonical_stored(
        envelope,
        loads(clear),
        loads(sealed) if sealed is not None else None,
        loads(metadata) if metadata is not None else None,
        row[12],
        row[13],
        plain=plain,
    )


class PostgresBackend(PostgresTables):
    """The event store on PostgreSQL (see the module's docstring)."""

    raw_times_as_text = False

    def __init__(self, engine: AsyncEngine, *, owns_engine: bool = True) -> None:
        self._engine = engine
        self._owns_engine = owns_engine
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: asyncpg.Pool | None = None
        self._pool_opening: asyncio.Lock | None = None
        self._closed = False
        self._writer = PostgresWriter(self._dsn)

    @classmethod
    def open(cls, url: str) -> Self:
        # Overflow connections are opened and closed on every checkout: keep a pool.
        return cls(create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW))

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def hashed_form(self) -> Callable[[ChainRow], bytes]:
        return _hashed_form

    async def close(self) -> None:
        self._closed = True
        await self._writer.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._owns_engine:
            await self._engine.dispose()

    def change_waiter(self) -> PostgresNotifyWaiter:
        """LISTEN on `docket_events` (migration 0003's trigger), on its own connection."""
        return PostgresNotifyWaiter(dsn_connect(self._dsn))

    # -- the raw pool ----------------------------------------------------------------------

    async def _read_pool(self) -> asyncpg.Pool:
        """The raw asyncpg pool of reads (opened on first use)."""
        if self._pool is not None:
            return self._pool
        if self._pool_opening is None:
            self._pool_opening = asyncio.Lock()
        async with self._pool_opening:
            if self._pool is None:
                if self._closed:
                    raise StoreClosed("the event store is closed")
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=READ_POOL_SIZE, reset=_no_reset
                )
        return self._pool

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        try:
            pool = await self._read_pool()
            async with pool.acquire() as conn:
                try:
                    rows: list[Any] = await conn.fetch(query, *args)
                except asyncpg.PostgresError:
                    raise
                except BaseException:
                    conn.terminate()  # interrupted mid-operation: never hand it out again
                    raise
        except DATABASE_ERRORS as error:
            raise as_dbapi_error(error, query) from error
        return rows

    async def _pages(
        self, query: str, after: int, batch: int, *more: Any
    ) -> AsyncGenerator[list[Any], None]:
        """Pages of `query` (`… WHERE position > $1 … ORDER BY position LIMIT $2`, position
        first, `more` its other parameters) on one pool connection, the next page fetched
        while the caller works on this."""
        pool = await self._read_pool()
        async with pool.acquire() as conn:
            pending: asyncio.Task[list[Any]] | None = None
            try:
                await conn.execute(PAGE_READS)
                statement = await conn.prepare(query)
                pending = asyncio.ensure_future(statement.fetch(after, batch, *more))
                while pending is not None:
                    fetching, pending = pending, None
                    page: list[Any] = await fetching
                    if len(page) == batch:
                        pending = asyncio.ensure_future(statement.fetch(page[-1][0], batch, *more))
                    if page:
                        yield page
            finally:
                if pending is not None:
                    # a read ahead cut short: the connection may be mid-operation
                    pending.cancel()
                    with contextlib.suppress(BaseException):
                        await pending
                    conn.terminate()
                elif not conn.is_closed():
                    try:
                        await conn.execute(PAGE_READS_DONE)
                    except BaseException as error:
                        # never handed out again with PAGE_READS; an error of the
                        # reads themselves (the server gone) stays the one raised
                        conn.terminate()
                        if not isinstance(error, Exception):
                            raise

    # -- writing ---------------------------------------------------------------------------

    async def write(self, batch: Batch) -> Written:
        """The batch, on the writer's own connection (`PostgresWriter.write`)."""
        return await self._writer.write(batch)

    async def copy_in(self, chunks: Iterable[list[ImportRow]]) -> int:
        pool = await self._read_pool()
        written = 0
        async with pool.acquire() as conn:
            try:
                async with conn.transaction():
                    # The appenders' lock: no append can slip in between the check and COPY.
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK_KEY)
                    head = await conn.fetchval(sql.IMPORT_HEAD)
                    if head:
                        raise LogNotEmpty(int(head))
                    written = await copy_chunks(conn, chunks)
            except asyncpg.PostgresError:
                raise
            except BaseException:
                if conn.is_in_transaction():
                    conn.terminate()  # interrupted mid-COPY: never hand it out again
                raise
        return written

    # -- reading ---------------------------------------------------------------------------

    async def head(self) -> tuple[int, str]:
        rows = await self._fetch(sql.HEAD)
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, ZERO_HASH)

    async def stream_version(self, stream_id: str) -> int:
        rows = await self._fetch(sql.STREAM_VERSION, stream_id)
        return int(rows[0][0] or 0)

    async def read_stream(
        self,
        stream_id: str,
        from_version: int,
        to_position: int | None,
        occurred_until: datetime | None,
    ) -> list[RecordedEvent]:
        args: list[Any] = [stream_id, from_version]
        if to_position is not None:
            args.append(to_position)
        if occurred_until is not None:
            args.append(occurred_until)
        statement = sql.READ_STREAM[to_position is not None, occurred_until is not None]
        return [row_event(row) for row in await self._fetch(statement, *args)]

    async def read_streams(
        self, from_versions: Mapping[str, int]
    ) -> dict[str, list[RecordedEvent]]:
        found: dict[str, list[RecordedEvent]] = {stream_id: [] for stream_id in from_versions}
        rows = await self._fetch(sql.STREAMS, list(from_versions), list(from_versions.values()))
        for row in rows:
            event = row_event(row)
            found[event.stream_id].append(event)
        return found

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]:
        return [row_event(row) for row in await self._fetch(sql.PAGE, after, limit)]

    async def by_event_ids(self, event_ids: list[uuid.UUID]) -> list[RecordedEvent]:
        ids = [str(event_id) for event_id in event_ids]
        return [row_event(row) for row in await self._fetch(sql.BY_IDS, ids)] if ids else []

    async def streams_with_prefix(self, prefix: str) -> list[str]:
        return await core.streams_with_prefix(self._engine, prefix)

    async def streams_with_event_type(self, event_type: str, after: int) -> list[str]:
        return await core.streams_with_event_type(self._engine, event_type, after)

    def raw_pages(self, after: int, batch: int) -> AsyncGenerator[list[RawRow], None]:
        return self._pages(sql.PAGE, after, batch)

    def chain_pages(self, after: int, batch: int) -> AsyncGenerator[list[ChainRow], None]:
        return postgres_chain.chain_pages(self._read_pool, after, batch)

    def partition_pages(
        self, partition: Partition, after: int, until: int, batch: int
    ) -> AsyncGenerator[list[FoldRow], None]:
        part = (partition.prefix, partition.count, partition.index)
        return self._pages(sql.PARTITION_PAGE, after, batch, until, *part)

    async def chain_page(self, after: int, limit: int) -> list[ChainRow]:
        return await self._fetch(sql.HASHED, after, limit)

    # -- the Merkle tree's writer ----------------------------------------------------------

    def tree_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._tree_transaction()

    @contextlib.asynccontextmanager
    async def _tree_transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": TREE_LOCK_KEY})
            yield conn

    async def insert_nodes(self, conn: AsyncConnection, nodes: list[tuple[int, int, str]]) -> None:
        # COPY on the transaction's own asyncpg connection: still one transaction.
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(
            "merkle_nodes", records=nodes, columns=("level", "idx", "hash")
        )
