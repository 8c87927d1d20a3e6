"""The writer's one-round-trip append on PostgreSQL predicts the head (what it last wrote)
and each stream's version (what the calls expect). Another process appending in between
makes the prediction wrong: the append must then be decided on the real state — the same
outcomes, positions, versions and chain as if there had been no prediction. Run on both
backends (SQLite has no prediction; the outcomes must be the same)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from events.model import ConcurrencyConflict
from events.store import DuplicateEvents, EventStore
from events.verify_chain import verify_store_chain
from tests.events.appends import one


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[EventStore]:
    """A second process's store on the same database."""
    opened = await EventStore.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


async def test_appends_of_another_process_between_two_batches(
    store: EventStore, other: EventStore
) -> None:
    await store.append(one("a", "no_stream"))
    await store.append(one("a", 1))  # the writer now predicts head 2
    await other.append(one("b", "no_stream"), one("a", 2))  # head 4, "a" at 3
    # a stale expectation is a conflict, decided on the real version
    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append(one("a", 2))
    assert conflict.value.actual == 3
    [written] = await store.append(one("a", 3))
    assert (written.position, written.stream_version) == (5, 4)
    await other.append(one("c", "no_stream"))
    # a right expectation after the other process appended elsewhere: written, gap-free
    [after] = await store.append(one("a", 4))
    assert (after.position, after.stream_version) == (7, 5)
    assert after.prev_hash == (await store.read_all(after=5, limit=1))[0].hash
    assert (await verify_store_chain(store)).checked == 7


async def test_a_batch_on_a_stale_prediction_keeps_each_outcome(
    store: EventStore, other: EventStore
) -> None:
    await store.append(one("a", "no_stream"), one("b", "no_stream"))
    await other.append(one("a", 1))
    outcomes = await asyncio.gather(
        store.append(one("a", 1)),  # stale: a conflict
        store.append(one("b", 1)),  # right: written
        store.append(one("c", "no_stream")),  # new stream: written
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], ConcurrencyConflict)
    assert isinstance(outcomes[1], list) and outcomes[1][0].stream_version == 2
    assert isinstance(outcomes[2], list)
    assert sorted(e.position for o in outcomes[1:] if isinstance(o, list) for e in o) == [4, 5]
    assert (await verify_store_chain(store)).checked == 5


async def test_a_retry_of_events_another_process_wrote(
    store: EventStore, other: EventStore
) -> None:
    await store.append(one("a", "no_stream"))
    ids = [uuid.uuid4(), uuid.uuid4()]
    [first] = await other.append(one("a", 1, ids[0]))
    # the same call again, through the predicting writer: the recorded event, not a copy
    assert await store.append(one("a", 1, ids[0])) == [first]
    with pytest.raises(DuplicateEvents):
        await store.append(one("a", 2, ids[1]), one("b", "no_stream", ids[0]))
    assert (await verify_store_chain(store)).checked == 2
