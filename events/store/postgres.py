"""The event store's PostgreSQL backend: everything asyncpg.

Writes go through the writer's own raw asyncpg connection, in one round trip when the
writer's prediction of the head and of the streams' versions holds (`docket_append`, a
function of its session), else in one transaction under an advisory lock. Reads, pages and
chain walks use a raw asyncpg pool (no SQLAlchemy row processing: JSON comes as text and is
decoded with orjson); pages are read by keyset, the next one fetched while the caller works
on this one. Imports COPY under the appenders' lock; the tree's writer COPYs its nodes.
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
import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.disclosure import canonical_stored
from events.engines import create_engine
from events.errors import LogNotEmpty, StoreClosed
from events.model import ZERO_HASH, RecordedEvent
from events.store import core, postgres_chain, postgres_ids
from events.store import postgres_sql as sql
from events.store.contract import Batch, BatchState, Erasable, Partition, StoredRow, Written
from events.store.postgres_notify import PostgresNotifyWaiter, dsn_connect
from events.store.postgres_sql import APPEND_LOCK_KEY, TREE_LOCK_KEY
from events.store.postgres_tables import PostgresTables
from events.store.rows import ChainRow, ImportRow, RawRow, event_id_text, row_event
from events.store.writer import erasure_rows

log = structlog.get_logger("docket.store")

#: Connections of a PostgreSQL store's engine pool (projections, tokens, lists: the log
#: itself is read through the raw pool below and written on the writer's own connection).
#: Several server processes share the server's max_connections (100 by default).
POOL_SIZE = 10
POOL_OVERFLOW = 10

#: Connections of the raw asyncpg pool that a PostgreSQL store reads the log with.
READ_POOL_SIZE = 10


def _insert_columns(rows: list[StoredRow]) -> list[list[Any]]:
    """The 15 arrays of `sql.INSERT` (and of `docket_append`'s rows)."""
    written = [row[0] for row in rows]
    return [
        [e.position for e in written],
        [str(e.event_id) for e in written],
        [e.stream_id for e in written],
        [e.stream_version for e in written],
        [e.event_type for e in written],
        [e.schema_version for e in written],
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] for row in rows],
        [e.occurred_at for e in written],
        [e.recorded_at for e in written],
        [e.prev_hash for e in written],
        [e.hash for e in written],
        [e.salt for e in written],
        [e.sealed for e in written],
    ]


#: SQLAlchemy's error class for each SQLSTATE class, as its asyncpg dialect would raise it.
_ERROR_CLASSES: dict[str, type[sa_exc.DBAPIError]] = {
    "08": sa_exc.OperationalError,
    "53": sa_exc.OperationalError,
    "57": sa_exc.OperationalError,
    "22": sa_exc.DataError,
    "23": sa_exc.IntegrityError,
    "42": sa_exc.ProgrammingError,
}


#: Errors of the connection rather than of the statement. asyncpg raises
#: InternalClientError ("another operation is in progress") on a connection left mid-way by
#: an interrupted one — seen while PostgreSQL shuts down under load.
_BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.InternalClientError)
_DATABASE_ERRORS = (asyncpg.PostgresError, *_BROKEN_CONNECTION)


def _as_dbapi_error(error: Exception, statement: str) -> Exception:
    """A raw asyncpg error as the `sqlalchemy.exc.DBAPIError` the SQLAlchemy path raises,
    so that callers handle both paths alike (503 on unavailability, the runner's retry)."""
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = str(getattr(error, "sqlstate", "") or "")
        kind = _ERROR_CLASSES.get(sqlstate[:2], sa_exc.DBAPIError)
        return kind(statement, None, error)
    if isinstance(error, _BROKEN_CONNECTION):
        return sa_exc.InterfaceError(statement, None, error, connection_invalidated=True)
    return error


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


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=5)
    except Exception:
        conn.terminate()


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
        self._writer_conn: asyncpg.Connection | None = None
        # What the writer last wrote or read under the lock: its prediction of the head.
        self._head: tuple[int, bytes] | None = None
        self._one_trip = True  # whether the writer's session has docket_append

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
        if self._writer_conn is not None:
            conn, self._writer_conn = self._writer_conn, None
            await _close_quietly(conn)
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
        except _DATABASE_ERRORS as error:
            raise _as_dbapi_error(error, query) from error
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

    # -- writing ---------------------------------------------------------------------------

    async def write(self, batch: Batch) -> Written:
        """The batch in one round trip when the writer's prediction of the head and of the
        streams' versions holds (`docket_append`); else one transaction in four round
        trips: BEGIN and the advisory lock; head, stream versions and existing ids; one
        INSERT; COMMIT."""
        try:
            conn = await self._writer_connection()
            written = await self._in_one_trip(conn, batch)
            if written is None:
                written = await self._transaction(conn, batch)
        except BaseException as error:
            self._head = None
            if isinstance(error, _DATABASE_ERRORS):
                if isinstance(error, _BROKEN_CONNECTION) and self._writer_conn is not None:
                    self._writer_conn.terminate()
                    self._writer_conn = None
                raise _as_dbapi_error(error, "append") from error
            raise
        return written

    async def _writer_connection(self) -> asyncpg.Connection:
        conn = self._writer_conn
        if conn is not None and not conn.is_closed():
            return conn
        conn = await asyncpg.connect(self._dsn)
        self._head = None
        if self._one_trip:
            try:
                await conn.execute(sql.APPEND_FUNCTION)
            except asyncpg.PostgresError as refused:  # no TEMP privilege, say
                log.warning("docket.append.one_trip_unavailable", error=repr(refused))
                self._one_trip = False
        self._writer_conn = conn
        return conn

    async def _in_one_trip(self, conn: asyncpg.Connection, batch: Batch) -> Written | None:
        """The batch through `docket_append`, or None if the prediction failed twice."""
        predicted = batch.predicted
        if not self._one_trip or self._head is None or predicted is None:
            return None
        position, chain = self._head
        stream_ids = sorted(predicted)
        all_ids = [str(event_id) for event_id in batch.event_ids]
        for _ in range(2):
            state = BatchState(
                position=position,
                chain=chain,
                versions={s: v for s, v in predicted.items() if v},
                existing={},
            )
            outcomes = batch.apply(state)
            try:
                missed = await conn.fetchval(
                    sql.APPEND_CALL,
                    position,
                    chain.hex(),
                    stream_ids,
                    [predicted[s] for s in stream_ids],
                    all_ids,
                    *_insert_columns(state.rows),
                )
            except asyncpg.PostgresError:
                raise  # the statement's transaction is rolled back; the session is fine
            except BaseException:
                self._writer_conn = None
                conn.terminate()
                raise
            if missed is None:
                self._head = (state.position, state.chain)
                return Written(outcomes, len(state.rows))
            real = orjson.loads(missed)
            if real["present"]:
                return None
            position, chain = int(real["position"]), bytes.fromhex(real["hash"])
            predicted = dict(zip(stream_ids, real["versions"], strict=True))
        return None

    async def _transaction(self, conn: asyncpg.Connection, batch: Batch) -> Written:
        try:
            await conn.execute(sql.LOCK)
            written = await self._locked_write(conn, batch)
            await conn.execute("COMMIT")
        except asyncio.CancelledError:
            self._writer_conn = None
            conn.terminate()
            raise
        except BaseException:
            if conn.is_closed() or not conn.is_in_transaction():
                self._writer_conn = None
                conn.terminate()
            else:
                try:
                    await conn.execute("ROLLBACK")
                except BaseException:
                    self._writer_conn = None
                    conn.terminate()
                    raise
            raise
        return written

    async def _locked_write(self, conn: asyncpg.Connection, batch: Batch) -> Written:
        last, limits, looked_up = await postgres_ids.read_numbering(conn, batch.numbered)
        stream_ids = sorted({*batch.stream_ids, *looked_up}) if looked_up else batch.stream_ids
        all_ids = [str(event_id) for event_id in batch.event_ids]
        row = await conn.fetchrow(sql.BATCH_STATE, stream_ids, all_ids)
        assert row is not None
        position, last_hash, versions, present = row
        existing: list[RecordedEvent] = []
        if present:
            existing = [row_event(r) for r in await conn.fetch(sql.BY_IDS, all_ids)]
        erasable: dict[int, Erasable] = {}
        erased: set[int] = set()
        if batch.erasing:
            found = await conn.fetch(sql.ERASABLE, batch.erasing)
            for at, data, erased_by, event_type, schema_version in found:
                if erased_by is None:
                    erasable[at] = (event_type, schema_version, orjson.loads(data))
                else:
                    erased.add(at)
        state = BatchState(
            position=position or 0,
            chain=bytes.fromhex(last_hash or ZERO_HASH),
            versions={s: v for s, v in zip(stream_ids, versions, strict=True) if v},
            existing={e.event_id: e for e in existing},
            sequences=dict(last),
            sequence_limits=limits,
            erasable=erasable,
            erased=erased,
        )
        outcomes = batch.apply(state)
        if state.rows:
            await conn.execute(sql.INSERT, *_insert_columns(state.rows))
        if state.erasures:
            erased_rows = erasure_rows(state.erasures)
            await conn.execute(
                sql.ERASE, *(list(column) for column in zip(*erased_rows, strict=True))
            )
        await postgres_ids.store_numbering(conn, last, state.sequences)
        self._head = (state.position, state.chain)
        return Written(outcomes, len(state.rows))

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
                    written = await _copy_chunks(conn, chunks)
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
    ) -> AsyncGenerator[list[RawRow], None]:
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


_EVENTS_COPIED = (
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "occurred_at",
    "recorded_at",
    "prev_hash",
    "hash",
    "sealed",
)
_SEALED_COPIED = ("position", "data", "metadata", "salt", "erased_by")


async def _copy_rows(conn: asyncpg.Connection, rows: list[ImportRow]) -> None:
    await conn.copy_records_to_table(
        "events", records=[row[:12] for row in rows], columns=_EVENTS_COPIED
    )
    await conn.copy_records_to_table(
        "sealed_values", records=[(row[0], *row[12:]) for row in rows], columns=_SEALED_COPIED
    )


async def _copy_chunks(conn: asyncpg.Connection, chunks: Iterable[list[ImportRow]]) -> int:
    """COPY each chunk while the next one is made (read and checked, for an import)."""
    written = 0
    pending: asyncio.Future[None] | None = None
    try:
        for rows in chunks:
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(_copy_rows(conn, rows))
            await asyncio.sleep(0)
            written += len(rows)
        if pending is not None:
            await pending
            pending = None
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
    return written
