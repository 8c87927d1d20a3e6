"""An in-memory `Backend` for unit tests of the writer, the chain walk and the tree.

The log is a list of raw rows (times as canonical text, JSON as text), so the chain walk
and the import see what a database gives them. The tree's tables live in an in-memory
SQLite database (the tree reads them with SQLAlchemy Core). `fail_next_write` makes the
next `write` raise after `apply` ran, as a database refusing the INSERT would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from events.disclosure import canonical_v2
from events.errors import LogNotEmpty
from events.follower import PollingWaiter
from events.model import ZERO_HASH, RecordedEvent, utc_text
from events.schema import checkpoints, merkle_nodes
from events.store.contract import Batch, BatchState, Written
from events.store.rows import ChainRow, RawRow, row_event
from events.store.sqlite_tables import SqliteTables


def _hashed_form(row: ChainRow) -> bytes:
    return canonical_v2(
        {
            "position": row[0],
            "event_id": row[1],
            "stream_id": row[2],
            "stream_version": row[3],
            "event_type": row[4],
            "schema_version": row[5],
            "data": orjson.loads(row[6]),
            "metadata": orjson.loads(row[7]),
            "occurred_at": row[8],
            "recorded_at": row[9],
            "salt": row[12],
            "sealed": row[13],
        }
    )


def _imported(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A raw row (this fake's: `RawRow` and erased_by) of an `ImportRow`."""
    clear, sealed = row[6], row[12]
    data = orjson.dumps({**orjson.loads(clear), **orjson.loads(sealed)}).decode()
    return (*row[:6], data, row[13], row[7], row[8], row[9], row[10], row[14], row[11], row[15])


def _raw(event: RecordedEvent, data: str, metadata: str) -> tuple[Any, ...]:
    return (
        event.position,
        str(event.event_id),
        event.stream_id,
        event.stream_version,
        event.event_type,
        event.schema_version,
        data,
        metadata,
        utc_text(event.occurred_at),
        utc_text(event.recorded_at),
        event.prev_hash,
        event.hash,
        event.salt,
        event.sealed,
        None,
    )


class FakeBackend(SqliteTables):
    """The `Backend` protocol over a Python list."""

    raw_times_as_text = True

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.writes = 0  # calls of `write`, committed or not
        self.fail_next_write: Exception | None = None
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("call `await fake.open_tree_tables()` first")
        return self._engine

    async def open_tree_tables(self) -> None:
        """An in-memory SQLite database with the tree's tables, for `LogTree`."""
        self._engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
        async with self._engine.begin() as conn:
            await conn.run_sync(lambda sync: merkle_nodes.create(sync))
            await conn.run_sync(lambda sync: checkpoints.create(sync))

    @property
    def hashed_form(self) -> Callable[[ChainRow], bytes]:
        return _hashed_form

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    def _events(self) -> list[RecordedEvent]:
        return [row_event(row) for row in self.rows]

    async def write(self, batch: Batch) -> Written:
        self.writes += 1
        events = self._events()
        head = events[-1] if events else None
        versions: dict[str, int] = {}
        for event in events:
            if event.stream_id in batch.stream_ids:
                versions[event.stream_id] = event.stream_version
        wanted = set(batch.event_ids)
        state = BatchState(
            position=head.position if head else 0,
            chain=bytes.fromhex(head.hash if head else ZERO_HASH),
            versions=versions,
            existing={e.event_id: e for e in events if e.event_id in wanted},
        )
        outcomes = batch.apply(state)
        if self.fail_next_write is not None:
            error, self.fail_next_write = self.fail_next_write, None
            raise error
        self.rows.extend(
            _raw(event, orjson.dumps(event.data).decode(), metadata)
            for event, _, _, metadata in state.rows
        )
        return Written(outcomes, len(state.rows))

    async def copy_in(self, chunks: Iterable[list[RawRow]]) -> int:
        if self.rows:
            raise LogNotEmpty(len(self.rows))
        staged = [_imported(tuple(row)) for chunk in chunks for row in chunk]
        self.rows.extend(staged)
        return len(staged)

    async def head(self) -> tuple[int, str]:
        return (self.rows[-1][0], self.rows[-1][11]) if self.rows else (0, ZERO_HASH)

    def change_waiter(self) -> PollingWaiter:
        async def head_position() -> int:
            return (await self.head())[0]

        return PollingWaiter(head_position)

    async def stream_version(self, stream_id: str) -> int:
        return max((row[3] for row in self.rows if row[2] == stream_id), default=0)

    async def read_stream(
        self,
        stream_id: str,
        from_version: int,
        to_position: int | None,
        occurred_until: datetime | None,
    ) -> list[RecordedEvent]:
        return [
            event
            for event in self._events()
            if event.stream_id == stream_id
            and event.stream_version >= from_version
            and (to_position is None or event.position <= to_position)
            and (occurred_until is None or event.occurred_at <= occurred_until)
        ]

    async def read_streams(
        self, from_versions: Mapping[str, int]
    ) -> dict[str, list[RecordedEvent]]:
        return {s: await self.read_stream(s, v, None, None) for s, v in from_versions.items()}

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]:
        return [row_event(row) for row in self.rows[after : after + limit]]

    async def by_event_ids(self, event_ids: list[uuid.UUID]) -> list[RecordedEvent]:
        wanted = {str(event_id) for event_id in event_ids}
        return [row_event(row) for row in self.rows if row[1] in wanted]

    async def streams_with_prefix(self, prefix: str) -> list[str]:
        return [row[2] for row in self.rows if row[3] == 1 and row[2].startswith(prefix)]

    async def streams_with_event_type(self, event_type: str, after: int) -> list[str]:
        return sorted({row[2] for row in self.rows[after:] if row[4] == event_type})

    async def raw_pages(self, after: int, batch: int) -> AsyncGenerator[list[RawRow], None]:
        while page := self.rows[after : after + batch]:
            yield list(page)
            after += len(page)

    def chain_pages(self, after: int, batch: int) -> AsyncGenerator[list[ChainRow], None]:
        return self.raw_pages(after, batch)

    async def chain_page(self, after: int, limit: int) -> list[ChainRow]:
        return list(self.rows[after : after + limit])

    def tree_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._tree_transaction()

    @asynccontextmanager
    async def _tree_transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def insert_nodes(self, conn: AsyncConnection, nodes: list[tuple[int, int, str]]) -> None:
        await conn.execute(
            insert(merkle_nodes), [{"level": lv, "idx": ix, "hash": hx} for lv, ix, hx in nodes]
        )

    def tamper(self, position: int, **changes: Any) -> None:
        """Change a stored row behind the log's back (data as JSON text, say)."""
        names = ("data", "metadata", "prev_hash", "hash")
        row = list(self.rows[position - 1])
        for name, value in changes.items():
            row[{"data": 6, "metadata": 7, "prev_hash": 10, "hash": 11}[name]] = value
        assert set(changes) <= set(names)
        self.rows[position - 1] = tuple(row)
