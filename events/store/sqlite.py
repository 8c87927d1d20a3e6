"""The event store's SQLite backend: everything aiosqlite.

SQLite has one writer at a time: the writer's transaction begins `IMMEDIATE` (taking the
database lock at BEGIN, see `events.engines`), so appenders in other processes queue on
it. Reads go through SQLAlchemy Core (times stored as canonical UTC text, converted by
`schema.UtcTime`); raw pages come straight from the aiosqlite connection.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Self

import orjson
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.disclosure import canonical_stored
from events.engines import WRITER_OPTIONS, create_engine
from events.errors import LogNotEmpty
from events.follower import PollingWaiter
from events.model import ZERO_HASH, RecordedEvent, parse_utc, utc_text
from events.schema import events, merkle_nodes
from events.store import core, sqlite_ids
from events.store.contract import Batch, BatchState, StoredRow, Written
from events.store.rows import ChainRow, ImportRow, RawRow, event_id_text, row_event
from events.store.sqlite_tables import SqliteTables
from events.store.writer import erasure_rows

#: `RawRow`'s columns: the clear data of `events` and the sealed data of `sealed_values`
#: joined into `data` (two JSON objects of disjoint keys, one text), `metadata` and
#: `salt` from `sealed_values` (NULL salt: erased), the kept digest last.
_MERGED_DATA = (
    "CASE WHEN s.data IS NULL OR s.data = '{}' THEN e.data WHEN e.data = '{}' THEN s.data"
    " ELSE substr(e.data, 1, length(e.data) - 1) || ',' || substr(s.data, 2) END"
)
_SELECT = (
    "SELECT e.position, e.event_id, e.stream_id, e.stream_version, e.event_type,"
    f" e.schema_version, {_MERGED_DATA}, s.metadata, e.occurred_at, e.recorded_at,"
    " e.prev_hash, e.hash, s.salt, e.sealed"
)
_FROM = " FROM events e JOIN sealed_values s ON s.position = e.position"
#: Chain rows (`events.store.rows.ChainRow`): the clear data as `events` holds it, the
#: sealed values left joined, so that a walk names an event whose row of them is gone.
_CHAIN_PAGE = (
    "SELECT e.position, e.event_id, e.stream_id, e.stream_version, e.event_type,"
    " e.schema_version, e.data, s.metadata, e.occurred_at, e.recorded_at, e.prev_hash,"
    " e.hash, s.salt, e.sealed, s.erased_by, s.data"
    " FROM events e LEFT JOIN sealed_values s ON s.position = e.position"
    " WHERE e.position > ? ORDER BY e.position LIMIT ?"
)
_RAW_PAGE = f"{_SELECT}{_FROM} WHERE e.position > ? ORDER BY e.position LIMIT ?"
_INSERT = (
    "INSERT INTO events (position, event_id, stream_id, stream_version, event_type,"
    " schema_version, data, occurred_at, recorded_at, prev_hash, hash, sealed)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SEALED = (
    "INSERT INTO sealed_values (position, data, metadata, salt, erased_by) VALUES (?, ?, ?, ?, ?)"
)
_ERASE = (
    "UPDATE sealed_values SET data = ?, metadata = ?, salt = NULL, erased_by = ? WHERE position = ?"
)
_IMPORT_HEAD = "SELECT coalesce(max(position), 0) FROM events"


def _in(count: int) -> str:
    return ", ".join("?" * count)


def _hashed_form(row: ChainRow) -> bytes:
    """`c(e)` (canonical form v2) of a chain row (times stored as text, put in canonical
    form), its sealed values checked against its kept digest."""
    loads = orjson.loads
    envelope = {
        "position": row[0],
        "event_id": event_id_text(row[1]),
        "stream_id": row[2],
        "stream_version": row[3],
        "event_type": row[4],
        "schema_version": row[5],
        "occurred_at": utc_text(parse_utc(row[8])),
        "recorded_at": utc_text(parse_utc(row[9])),
    }
    sealed = loads(row[15]) if row[15] is not None else None
    metadata = loads(row[7]) if row[7] is not None else None
    return canonical_stored(envelope, loads(row[6]), sealed, metadata, row[12], row[13])


async def _fetch(conn: AsyncConnection, query: str, args: Sequence[Any]) -> list[Any]:
    result = await conn.exec_driver_sql(query, tuple(args))
    return list(result.all())


def _events(rows: list[Any]) -> list[RecordedEvent]:
    return [row_event(row) for row in rows]


def _event_row(row: StoredRow) -> tuple[Any, ...]:
    e = row[0]
    return (
        e.position,
        str(e.event_id),
        e.stream_id,
        e.stream_version,
        e.event_type,
        e.schema_version,
        row[1],
        utc_text(e.occurred_at),
        utc_text(e.recorded_at),
        e.prev_hash,
        e.hash,
        e.sealed,
    )


def _sealed_row(row: StoredRow) -> tuple[Any, ...]:
    return (row[0].position, row[2], row[3], row[0].salt, None)


async def _head(conn: AsyncConnection) -> tuple[int, str]:
    result = await conn.execute(
        select(events.c.position, events.c.hash).order_by(events.c.position.desc()).limit(1)
    )
    row = result.first()
    if row is None:
        return 0, ZERO_HASH
    return int(row[0]), str(row[1])


async def _by_event_ids(conn: AsyncConnection, event_ids: list[uuid.UUID]) -> list[RecordedEvent]:
    if not event_ids:
        return []
    found: list[Any] = []
    ids = [str(event_id) for event_id in event_ids]
    for start in range(0, len(ids), 500):  # under SQLite's limit of bound parameters
        chunk = ids[start : start + 500]
        query = f"{_SELECT}{_FROM} WHERE e.event_id IN ({_in(len(chunk))})"
        found += await _fetch(conn, query, chunk)
    found.sort(key=lambda row: row[0])
    return _events(found)


async def _erasable(conn: AsyncConnection, positions: list[int], state: BatchState) -> None:
    """Which of `positions` are erasable (`Erasable`) or erased."""
    for start in range(0, len(positions), 500):
        chunk = positions[start : start + 500]
        rows = await _fetch(
            conn,
            "SELECT s.position, s.data, s.erased_by, e.event_type, e.schema_version"
            " FROM sealed_values s JOIN events e ON e.position = s.position"
            f" WHERE s.position IN ({_in(len(chunk))})",
            chunk,
        )
        for position, data, erased_by, event_type, schema_version in rows:
            if erased_by is None:
                state.erasable[position] = (event_type, schema_version, orjson.loads(data))
            else:
                state.erased.add(position)


async def _versions(conn: AsyncConnection, stream_ids: list[str]) -> dict[str, int]:
    if not stream_ids:
        return {}
    result = await conn.execute(
        select(events.c.stream_id, func.max(events.c.stream_version))
        .where(events.c.stream_id.in_(bindparam("ids", expanding=True)))
        .group_by(events.c.stream_id),
        {"ids": stream_ids},
    )
    return {row[0]: row[1] for row in result if row[1] is not None}


class SqliteBackend(SqliteTables):
    """The event store on SQLite (see the module's docstring)."""

    raw_times_as_text = True

    def __init__(self, engine: AsyncEngine, *, owns_engine: bool = True) -> None:
        self._engine = engine
        self._writer_engine = engine.execution_options(**WRITER_OPTIONS)
        self._owns_engine = owns_engine

    @classmethod
    def open(cls, url: str) -> Self:
        return cls(create_engine(url))

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def hashed_form(self) -> Callable[[ChainRow], bytes]:
        return _hashed_form

    def change_waiter(self) -> PollingWaiter:
        """No notifications on SQLite: the head, polled with back-off (and nudged by this
        process's appends)."""

        async def head_position() -> int:
            return (await self.head())[0]

        return PollingWaiter(head_position)

    async def close(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    # -- writing ---------------------------------------------------------------------------

    async def write(self, batch: Batch) -> Written:
        async with self._writer_engine.begin() as conn:
            last, limits, looked_up = await sqlite_ids.read_numbering(conn, batch.numbered)
            position, last_hash = await _head(conn)
            state = BatchState(
                position=position,
                chain=bytes.fromhex(last_hash),
                versions=await _versions(conn, [*batch.stream_ids, *looked_up]),
                existing={e.event_id: e for e in await _by_event_ids(conn, batch.event_ids)},
                sequences=dict(last),
                sequence_limits=limits,
            )
            if batch.erasing:
                await _erasable(conn, batch.erasing, state)
            outcomes = batch.apply(state)
            if state.rows:
                await conn.exec_driver_sql(_INSERT, [_event_row(row) for row in state.rows])
                await conn.exec_driver_sql(_INSERT_SEALED, [_sealed_row(row) for row in state.rows])
            if state.erasures:
                await conn.exec_driver_sql(
                    _ERASE,
                    [(d, m, by, p) for p, d, m, by in erasure_rows(state.erasures)],
                )
            await sqlite_ids.store_numbering(conn, last, state.sequences)
        return Written(outcomes, len(state.rows))

    async def copy_in(self, chunks: Iterable[list[ImportRow]]) -> int:
        written = 0
        async with self._writer_engine.begin() as conn:
            head = (await conn.exec_driver_sql(_IMPORT_HEAD)).scalar()
            if head:
                raise LogNotEmpty(int(head))
            for rows in chunks:
                await conn.exec_driver_sql(_INSERT, [row[:12] for row in rows])
                await conn.exec_driver_sql(_INSERT_SEALED, [(row[0], *row[12:]) for row in rows])
                written += len(rows)
        return written

    # -- reading ---------------------------------------------------------------------------

    async def head(self) -> tuple[int, str]:
        async with self._engine.connect() as conn:
            return await _head(conn)

    async def stream_version(self, stream_id: str) -> int:
        async with self._engine.connect() as conn:
            version = await conn.scalar(
                select(func.max(events.c.stream_version)).where(events.c.stream_id == stream_id)
            )
        return int(version or 0)

    async def read_stream(
        self,
        stream_id: str,
        from_version: int,
        to_position: int | None,
        occurred_until: datetime | None,
    ) -> list[RecordedEvent]:
        query = f"{_SELECT}{_FROM} WHERE e.stream_id = ? AND e.stream_version >= ?"
        args: list[Any] = [stream_id, from_version]
        if to_position is not None:
            query += " AND e.position <= ?"
            args.append(to_position)
        if occurred_until is not None:
            query += " AND e.occurred_at <= ?"
            args.append(utc_text(occurred_until))
        async with self._engine.connect() as conn:
            return _events(await _fetch(conn, query + " ORDER BY e.stream_version", args))

    async def read_streams(
        self, from_versions: Mapping[str, int]
    ) -> dict[str, list[RecordedEvent]]:
        return {
            stream_id: await self.read_stream(stream_id, from_version, None, None)
            for stream_id, from_version in from_versions.items()
        }

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]:
        async with self._engine.connect() as conn:
            return _events(await _fetch(conn, _RAW_PAGE, (after, limit)))

    async def by_event_ids(self, event_ids: list[uuid.UUID]) -> list[RecordedEvent]:
        async with self._engine.connect() as conn:
            return await _by_event_ids(conn, event_ids)

    async def streams_with_prefix(self, prefix: str) -> list[str]:
        return await core.streams_with_prefix(self._engine, prefix)

    async def streams_with_event_type(self, event_type: str, after: int) -> list[str]:
        return await core.streams_with_event_type(self._engine, event_type, after)

    def raw_pages(self, after: int, batch: int) -> AsyncGenerator[list[RawRow], None]:
        return self._pages(_RAW_PAGE, after, batch)

    async def _pages(
        self, query: str, after: int, batch: int
    ) -> AsyncGenerator[list[RawRow], None]:
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection  # the aiosqlite connection
            while True:
                cursor = await driver.execute(query, (after, batch))
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

    def chain_pages(self, after: int, batch: int) -> AsyncGenerator[list[ChainRow], None]:
        return self._pages(_CHAIN_PAGE, after, batch)

    async def chain_page(self, after: int, limit: int) -> list[ChainRow]:
        pages = self._pages(_CHAIN_PAGE, after, limit)
        try:
            return await anext(pages, [])
        finally:
            await pages.aclose()

    # -- the Merkle tree's writer ----------------------------------------------------------

    def tree_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        # BEGIN IMMEDIATE: the database lock is the tree writers' lock too.
        return self._writer_engine.begin()

    async def insert_nodes(self, conn: AsyncConnection, nodes: list[tuple[int, int, str]]) -> None:
        await conn.execute(
            insert(merkle_nodes), [{"level": lv, "idx": ix, "hash": hx} for lv, ix, hx in nodes]
        )
