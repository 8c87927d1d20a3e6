"""The PostgreSQL waiter of the log follower: LISTEN/NOTIFY from the events trigger of
migration 0003, on a fresh database of the test server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from events.follower import Dropped, LogFollower, Subscription
from events.model import NewEvent, RecordedEvent, StreamAppend
from events.store import EventStore
from events.store.postgres_notify import PostgresNotifyWaiter, dsn_connect

pytestmark = pytest.mark.postgres
GUARD_S = 60  # a wake-up that never comes fails the test instead of hanging it


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[EventStore]:
    opened = await EventStore.open(postgres_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def waiter(postgres_url: str) -> AsyncIterator[PostgresNotifyWaiter]:
    async with PostgresNotifyWaiter(dsn_connect(libpq(postgres_url)), reconnect_s=0.05) as w:
        yield w


async def append(store: EventStore, stream: str, count: int = 1) -> list[RecordedEvent]:
    events = [NewEvent(stream, "Noted", {"n": n}, datetime.now(UTC)) for n in range(count)]
    return await store.append(StreamAppend(stream, "any", events))


async def woken_at(waiter: PostgresNotifyWaiter, position: int) -> None:
    """Wait until a notification announced `position` (or more); fail if only the guard
    ends the wait."""
    async with asyncio.timeout(GUARD_S):
        while (waiter.notified_position or 0) < position:
            await waiter.wait_for_change(GUARD_S)


async def test_an_append_wakes_the_waiter_with_the_new_head(
    store: EventStore, waiter: PostgresNotifyWaiter
) -> None:
    assert waiter.listening
    recorded = await append(store, "notes-1", count=3)
    await woken_at(waiter, 3)
    assert waiter.notified_position == recorded[-1].position == 3
    assert waiter.notifications == 1  # one per statement, not per event


async def test_a_rolled_back_insert_notifies_nobody_a_committed_one_does(
    postgres_url: str, store: EventStore, waiter: PostgresNotifyWaiter
) -> None:
    conn = await asyncpg.connect(libpq(postgres_url))
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("SELECT pg_notify('docket_events', '999')")
        await transaction.rollback()
    finally:
        await conn.close()
    recorded = await append(store, "notes-2")
    await woken_at(waiter, recorded[-1].position)
    assert waiter.notified_position == recorded[-1].position  # never 999
    assert waiter.notifications == 1


async def test_a_lost_listen_connection_reconnects_and_wakes(
    postgres_url: str, store: EventStore, waiter: PostgresNotifyWaiter
) -> None:
    admin = await asyncpg.connect(libpq(postgres_url))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        )
    finally:
        await admin.close()
    async with asyncio.timeout(GUARD_S):
        while waiter.connects < 2:
            await waiter.wait_for_change(GUARD_S)
    recorded = await append(store, "notes-3")
    await woken_at(waiter, recorded[-1].position)
    assert waiter.notified_position == recorded[-1].position


async def test_a_follower_woken_only_by_notifications_fans_out_every_event(
    store: EventStore, waiter: PostgresNotifyWaiter
) -> None:
    async def read_after(position: int, limit: int) -> list[RecordedEvent]:
        return await store.read_all(position, limit)

    # idle_read_s of an hour: only a notification can make it read again
    follower = LogFollower(read_after, waiter.wait_for_change, idle_read_s=3600)
    async with follower:
        subscribers = [follower.subscribe(0) for _ in range(20)]
        for k in range(5):
            await append(store, f"notes-{k}", count=2)

        async def take(subscription: Subscription[RecordedEvent]) -> list[int]:
            got: list[int] = []
            async with asyncio.timeout(GUARD_S):
                async for item in subscription:
                    assert not isinstance(item, Dropped)
                    got.append(item.position)
                    if len(got) == 10:
                        break
            return got

        seen = await asyncio.gather(*(take(s) for s in subscribers))
    assert all(positions == list(range(1, 11)) for positions in seen)
    # the first read of the empty log, then per commit at most a read and an empty one,
    # whatever the number of subscribers
    assert follower.reads <= 1 + 2 * 5
