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
from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.disclosure import canonical_v2
from events.engines import WRITER_OPTIONS, create_engine
from events.errors import LogNotEmpty
from events.follower import PollingWaiter
from events.model import EVENT_COLUMNS, ZERO_HASH, RecordedEvent, parse_utc, utc_text
from events.schema import events, merkle_nodes
from events.store import core, sqlite_ids
from events.store.contract import Batch, BatchState, Written
from events.store.rows import ChainRow, RawRow, event_id_text
from events.store.sqlite_tables import SqliteTables

_COLUMNS = tuple(events.c[name] for name in EVENT_COLUMNS)

_RAW_PAGE = (
    f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE position > ? ORDER BY position LIMIT ?"
)
_INSERT = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)
_IMPORT_HEAD = "SELECT coalesce(max(position), 0) FROM events"


def _select_events() -> Select[Any]:
    return select(*_COLUMNS)


def _to_event(row: Sequence[Any]) -> RecordedEvent:
    """A row of `_select_events`, already converted by SQLAlchemy's types (JSON decoded,
    times aware): its columns are `RecordedEvent`'s fields, in order, but for the id's
    parse (`rows.row_event` is the same for raw rows, which want decoding)."""
    return RecordedEvent(row[0], uuid.UUID(row[1]), *row[2:])


def _row(event: RecordedEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "salt": event.salt,
    }


def _hashed_form(row: ChainRow) -> bytes:
    """`c(e)` (canonical form v2) of a raw row (times stored as text, put in canonical
    form)."""
    return canonical_v2(
        {
            "position": row[0],
            "event_id": event_id_text(row[1]),
            "stream_id": row[2],
            "stream_version": row[3],
            "event_type": row[4],
            "schema_version": row[5],
            "data": orjson.loads(row[6]),
            "metadata": orjson.loads(row[7]),
            "occurred_at": utc_text(parse_utc(row[8])),
            "recorded_at": utc_text(parse_utc(row[9])),
            "salt": row[12],
        }
    )


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
    result = await conn.execute(
        _select_events()
        .where(events.c.event_id.in_(bindparam("ids", expanding=True)))
        .order_by(events.c.position),
        {"ids": [str(event_id) for event_id in event_ids]},
    )
    return [_to_event(row) for row in result]


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
            outcomes = batch.apply(state)
            if state.rows:
                await conn.execute(events.insert(), [_row(row[0]) for row in state.rows])
            await sqlite_ids.store_numbering(conn, last, state.sequences)
        return Written(outcomes, len(state.rows))

    async def copy_in(self, chunks: Iterable[list[RawRow]]) -> int:
        written = 0
        async with self._writer_engine.begin() as conn:
            head = (await conn.exec_driver_sql(_IMPORT_HEAD)).scalar()
            if head:
                raise LogNotEmpty(int(head))
            for rows in chunks:
                await conn.exec_driver_sql(_INSERT, rows)
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
        query = _select_events().where(
            events.c.stream_id == stream_id, events.c.stream_version >= from_version
        )
        if to_position is not None:
            query = query.where(events.c.position <= to_position)
        if occurred_until is not None:
            query = query.where(events.c.occurred_at <= occurred_until)
        async with self._engine.connect() as conn:
            result = await conn.execute(query.order_by(events.c.stream_version))
            return [_to_event(row) for row in result]

    async def read_streams(
        self, from_versions: Mapping[str, int]
    ) -> dict[str, list[RecordedEvent]]:
        return {
            stream_id: await self.read_stream(stream_id, from_version, None, None)
            for stream_id, from_version in from_versions.items()
        }

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _select_events()
                .where(events.c.position > after)
                .order_by(events.c.position)
                .limit(limit)
            )
            return [_to_event(row) for row in result]

    async def by_event_ids(self, event_ids: list[uuid.UUID]) -> list[RecordedEvent]:
        async with self._engine.connect() as conn:
            return await _by_event_ids(conn, event_ids)

    async def streams_with_prefix(self, prefix: str) -> list[str]:
        return await core.streams_with_prefix(self._engine, prefix)

    async def streams_with_event_type(self, event_type: str, after: int) -> list[str]:
        return await core.streams_with_event_type(self._engine, event_type, after)

    async def raw_pages(self, after: int, batch: int) -> AsyncGenerator[list[RawRow], None]:
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection  # the aiosqlite connection
            while True:
                cursor = await driver.execute(_RAW_PAGE, (after, batch))
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
        return self.raw_pages(after, batch)

    async def chain_page(self, after: int, limit: int) -> list[ChainRow]:
        pages = self.raw_pages(after, limit)
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
