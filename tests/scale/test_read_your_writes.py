"""R12 through a real hot standby: `wait_for_position` over `read_side_position` read on
the standby answers from a position ≥ the one asked, waits for a replica that lags
(WAL replay paused), answers 503 `Retry-After` when it stays behind, and a stopped
replica is a database-unavailable error (the API's 503), never older data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from events.model import NewEvent, StreamAppend
from events.read_engine import ReadEngine
from events.store import EventStore
from service.api.problems import database_unavailable
from service.api.read_position import (
    ReadSideBehind,
    WaitPolicy,
    wait_for_position,
)
from service.platform.db import upgrade_to_head
from service.queries.read_side import read_side_position
from tests.conftest import run_outside_loop
from tests.replica import HotStandby

pytestmark = pytest.mark.postgres
PROJECTIONS = ("request_state",)


@dataclass
class Docket:
    """A migrated Docket database on the primary, and an engine on its standby copy."""

    pair: HotStandby
    store: EventStore
    replica: ReadEngine

    async def write(self, stream: str) -> int:
        """Append one event and checkpoint the projection at it, as the worker would."""
        event = NewEvent(stream, "Noted", {"n": 1}, datetime.now(UTC))
        (recorded,) = await self.store.append(StreamAppend(stream, "any", [event]))
        conn = await asyncpg.connect(self.pair.primary_dsn("docket_ryw"))
        try:
            await conn.execute(
                "INSERT INTO projection_checkpoints (name, position, updated_at) "
                "VALUES ($1, $2, now()) ON CONFLICT (name) DO UPDATE SET position = $2",
                PROJECTIONS[0],
                recorded.position,
            )
        finally:
            await conn.close()
        return recorded.position

    async def reflected(self) -> int:
        async with self.replica.connect() as conn:
            return await read_side_position(conn, PROJECTIONS)


@pytest.fixture
async def docket(standby: HotStandby) -> AsyncIterator[Docket]:
    admin = await asyncpg.connect(standby.primary_dsn())
    try:
        await admin.execute("DROP DATABASE IF EXISTS docket_ryw WITH (FORCE)")
        await admin.execute("CREATE DATABASE docket_ryw")
    finally:
        await admin.close()
    run_outside_loop(upgrade_to_head, standby.primary_url("docket_ryw"))
    store = await EventStore.open(standby.primary_url("docket_ryw"))
    replica = ReadEngine(create_async_engine(standby.standby_url("docket_ryw"), pool_pre_ping=True))
    try:
        await standby.wait_for_replay()
        yield Docket(standby, store, replica)
    finally:
        await replica.dispose()
        await store.close()


async def test_a_read_asking_for_a_written_position_gets_it(docket: Docket) -> None:
    position = await docket.write("notes-1")
    reflected = await wait_for_position(position, docket.reflected, WaitPolicy(bound_s=10))
    assert reflected >= position


async def test_a_paused_replica_answers_503_never_older_data(docket: Docket) -> None:
    before = await docket.write("notes-2")
    await wait_for_position(before, docket.reflected, WaitPolicy(bound_s=10))
    await docket.pair.pause_replay()
    asked = await docket.write("notes-2")

    with pytest.raises(ReadSideBehind) as behind:
        await wait_for_position(asked, docket.reflected, WaitPolicy(bound_s=0.3))
    assert behind.value.status == 503
    assert "Retry-After" in behind.value.headers
    assert behind.value.extra["reflected"] == before < asked


async def test_a_read_waits_for_a_replica_that_resumes(docket: Docket) -> None:
    await docket.pair.pause_replay()
    asked = await docket.write("notes-3")

    async def resume_soon() -> None:
        await asyncio.sleep(0.2)
        await docket.pair.resume_replay()

    resuming = asyncio.create_task(resume_soon())
    reflected = await wait_for_position(asked, docket.reflected, WaitPolicy(bound_s=20))
    await resuming
    assert reflected >= asked


async def test_a_stopped_replica_is_unavailable_and_back_when_started(docket: Docket) -> None:
    asked = await docket.write("notes-4")
    docket.pair.stop_standby()
    with pytest.raises((DBAPIError, OSError)) as down:
        await wait_for_position(asked, docket.reflected, WaitPolicy(bound_s=0.3))
    assert database_unavailable(down.value)  # the API's 503 with Retry-After

    docket.pair.start_standby()
    reflected = await wait_for_position(asked, docket.reflected, WaitPolicy(bound_s=20))
    assert reflected >= asked
