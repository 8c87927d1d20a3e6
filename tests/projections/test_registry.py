"""Adding a projection is one module and one line in `projections.read_models.REGISTERED`:
a toy projection registered there is applied, checkpointed and rebuilt by the runner
like the others, on both backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.store import EventStore, TableWriter
from projections import read_models
from projections.projection import Batch, EventRow
from projections.runner import ProjectionRunner
from tests.projections.test_runner import scenario, snapshot

toy_table = Table(
    "toy_events",
    MetaData(),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("stream_id", Text, nullable=False),
)


@dataclass
class _ToyWrites:
    rows: list[dict[str, object]]

    async def flush(self, conn: AsyncConnection, tables: TableWriter) -> None:
        if self.rows:
            await conn.execute(insert(toy_table), self.rows)


class Toy:
    """One row per event, whatever its stream: knows nothing the runner must know."""

    name = "toy"
    tables = (toy_table,)

    def reset(self) -> None:
        pass

    async def start(self, conn: AsyncConnection) -> None:
        pass

    async def apply(self, batch: Batch, events: Sequence[EventRow]) -> _ToyWrites:
        return _ToyWrites([{"position": e.position, "stream_id": e.stream_id} for e in events])

    def held(self) -> None:
        return None


@pytest.fixture
async def toy_registered(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    async with store.engine.begin() as conn:
        await conn.run_sync(toy_table.create)
    monkeypatch.setattr(read_models, "REGISTERED", [*read_models.REGISTERED, Toy])


async def toy_rows(store: EventStore) -> list[tuple[int, str]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(toy_table).order_by(toy_table.c.position))
        return [(int(position), str(stream_id)) for position, stream_id in rows]


async def log_rows(store: EventStore) -> list[tuple[int, str]]:
    return [(e.position, e.stream_id) for e in await store.read_all(0, 10_000)]


@pytest.mark.usefixtures("toy_registered")
async def test_a_registered_projection_is_applied_and_checkpointed(store: EventStore) -> None:
    await scenario(store)
    runner = ProjectionRunner(store.engine, store, batch_size=3)
    try:
        assert "toy" in runner.names
        head = await runner.catch_up()
        assert await runner.checkpoints() == dict.fromkeys(runner.names, head)
        assert await toy_rows(store) == await log_rows(store)  # each event exactly once
        assert await runner.catch_up() == head
        assert await toy_rows(store) == await log_rows(store)
        others = await snapshot(store)
        assert await runner.rebuild(["toy"]) == head
        assert await toy_rows(store) == await log_rows(store)
        assert await snapshot(store) == others  # the others were left alone
    finally:
        await runner.close()


async def test_a_projection_added_later_catches_up_alone(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await scenario(store)
    before = ProjectionRunner(store.engine, store, batch_size=4)
    try:
        head = await before.catch_up()
    finally:
        await before.close()
    reference = await snapshot(store)
    async with store.engine.begin() as conn:
        await conn.run_sync(toy_table.create)
    monkeypatch.setattr(read_models, "REGISTERED", [*read_models.REGISTERED, Toy])
    after = ProjectionRunner(store.engine, store, batch_size=4)
    try:
        assert await after.lag() == head  # the new projection has not run
        assert await after.catch_up() == head
        assert await toy_rows(store) == await log_rows(store)
        # only the new one moved; the others' rows and checkpoints are as they were
        now = await snapshot(store)
        assert now["checkpoints"] == sorted([*reference["checkpoints"], ("toy", head)])
        assert {k: v for k, v in now.items() if k != "checkpoints"} == {
            k: v for k, v in reference.items() if k != "checkpoints"
        }
    finally:
        await after.close()
