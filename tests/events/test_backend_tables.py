"""What a backend offers the projections beyond the log (`TableWriter`, `session_lock`),
on both backends: rows written by COPY / executemany read back the same, a replace
changes exactly the rows named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, Table, Text, select

from events.schema import Position, UtcTime
from events.store import EventStore

#: a table of the test's own, shaped as a read model's
rows_table = Table(
    "test_backend_rows",
    MetaData(),
    Column("position", Position, primary_key=True, autoincrement=False),
    Column("member", Text, nullable=False),
    Column("placed_at", UtcTime, nullable=False),
    Column("ended_at", UtcTime, nullable=True),
)


@pytest.fixture
async def table(store: EventStore) -> AsyncIterator[Table]:
    async with store.engine.begin() as conn:
        await conn.run_sync(rows_table.create)
    try:
        yield rows_table
    finally:
        async with store.engine.begin() as conn:
            await conn.run_sync(rows_table.drop)


def _row(position: int, member: str, ended: datetime | None = None) -> tuple[object, ...]:
    return (position, member, datetime(2026, 3, 2, 9, 0, position, tzinfo=UTC), ended)


async def test_copy_and_replace_rows(store: EventStore, table: Table) -> None:
    backend = store.backend
    ended = datetime(2026, 3, 9, 17, 30, tzinfo=UTC)
    async with store.engine.begin() as conn:
        await backend.copy_rows(conn, table, [_row(1, "FR"), _row(2, "DE"), _row(3, "IT")])
        await backend.replace_rows(
            conn, table, "position", [_row(3, "ES"), _row(2, "DE", ended)], new=[_row(4, "PL")]
        )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(table).order_by(table.c.position))).all()
    assert [(r.position, r.member, r.ended_at) for r in rows] == [
        (1, "FR", None),
        (2, "DE", ended),
        (3, "ES", None),
        (4, "PL", None),
    ]
    assert rows[0].placed_at == datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC)


async def test_nothing_to_write_is_no_statement(store: EventStore, table: Table) -> None:
    async with store.engine.begin() as conn:
        await store.backend.copy_rows(conn, table, [])
        await store.backend.replace_rows(conn, table, "position", [])
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(table))).all() == []


async def test_the_session_lock_has_one_holder_where_there_is_one(store: EventStore) -> None:
    one, two = store.backend.session_lock(7), store.backend.session_lock(7)
    try:
        assert await one.try_acquire()
        assert await one.alive()
        # PostgreSQL: an advisory lock, one holder; SQLite: none, always held
        assert await two.try_acquire() is (not one.exclusive)
        await one.release()
        assert await two.try_acquire()
    finally:
        await one.release()
        await two.release()
