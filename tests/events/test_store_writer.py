"""The group-commit writer and the pure batch step, against the in-memory fake backend:
no database, so every outcome is about the writer alone (tessera's queue_test.go)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from events.errors import ConcurrencyConflict, DuplicateEvents, StoreClosed, StoreError
from events.model import ZERO_HASH, NewEvent, StreamAppend
from events.store import EventStore
from events.store.contract import BatchState
from events.store.writer import Pending, apply_all, predicted_versions
from events.verify_chain import verify_store_chain
from tests.events.appends import T0, one
from tests.events.fake_backend import FakeBackend


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
async def store(fake: FakeBackend) -> AsyncIterator[EventStore]:
    async with EventStore(fake) as opened:
        yield opened


def pending(*appends: StreamAppend) -> Pending:
    ids = [new.event_id for a in appends for new in a.events]
    return Pending(appends, ids, asyncio.get_running_loop().create_future())


# -- the pure step -------------------------------------------------------------------------


async def test_apply_all_decides_each_call_on_the_state_the_ones_before_left() -> None:
    batch = [pending(one("a", "no_stream")), pending(one("a", "no_stream")), pending(one("a", 1))]
    state = BatchState(position=0, chain=bytes(32), versions={}, existing={})
    first, second, third = apply_all(batch, state)
    assert isinstance(first, list) and first[0].position == 1
    assert isinstance(second, ConcurrencyConflict) and second.actual == 1
    assert isinstance(third, list) and (third[0].position, third[0].stream_version) == (2, 2)
    assert third[0].prev_hash == first[0].hash
    assert [row[0] for row in state.rows] == [*first, *third]
    assert (state.position, state.versions) == (2, {"a": 2})


async def test_apply_all_returns_recorded_events_of_a_retry_and_refuses_a_partial_one() -> None:
    retried = one("a", "no_stream")
    batch = [pending(retried), pending(retried), pending(retried, one("b", "any"))]
    state = BatchState(position=0, chain=bytes(32), versions={}, existing={})
    first, again, partial = apply_all(batch, state)
    assert again == first
    assert isinstance(partial, DuplicateEvents)
    assert len(state.rows) == 1


async def test_predicted_versions_only_when_every_call_names_one() -> None:
    assert predicted_versions([pending(one("a", "no_stream"), one("b", 3))]) == {"a": 0, "b": 3}
    assert predicted_versions([pending(one("a", 2)), pending(one("c", "any"))]) is None
    assert predicted_versions([pending(one("a", "exists"))]) is None


# -- the queue -----------------------------------------------------------------------------


async def test_concurrent_appends_are_committed_in_few_batches(
    store: EventStore, fake: FakeBackend
) -> None:
    await asyncio.gather(*(store.append(one(f"s{i}", "no_stream")) for i in range(100)))
    assert store.stats.calls == 100 and store.stats.events == 100
    assert fake.writes == store.stats.batches < 10
    assert [row[0] for row in fake.rows] == list(range(1, 101))
    assert (await verify_store_chain(store)).checked == 100


async def test_max_batch_events_splits_the_queue(fake: FakeBackend) -> None:
    async with EventStore(fake, max_batch_events=10) as store:
        await asyncio.gather(*(store.append(one(f"s{i}", "any")) for i in range(30)))
        assert store.stats.batches >= 3
        assert store.stats.largest_batch <= 10


async def test_one_callers_refusal_does_not_fail_the_others(
    store: EventStore, fake: FakeBackend
) -> None:
    written = one("w", "no_stream")
    await store.append(written)
    unhashable = NewEvent("c", "Noted", {"x": float("inf")}, T0)
    calls = [
        one("a", "no_stream"),
        one("a", 0),  # the call before it took "a" to version 1
        StreamAppend("c", "any", [unhashable]),  # no canonical form
        StreamAppend("w", "any", [*written.events, *one("w", "any").events]),  # partial retry
        one("b", "no_stream"),
    ]
    outcomes = await asyncio.gather(*(store.append(c) for c in calls), return_exceptions=True)
    refused = (ConcurrencyConflict, ValueError, DuplicateEvents)
    assert [isinstance(o, list) for o in outcomes] == [True, False, False, False, True]
    assert all(isinstance(o, kind) for o, kind in zip(outcomes[1:4], refused, strict=True))
    assert fake.writes == 2 and store.stats.conflicts == 1
    assert [row[2] for row in fake.rows] == ["w", "a", "b"]


async def test_an_idempotent_retry_writes_nothing(store: EventStore, fake: FakeBackend) -> None:
    event_id = uuid.uuid4()
    [first] = await store.append(one("a", "no_stream", event_id))
    await store.append(one("b", "any"))
    assert await store.append(one("a", "no_stream", event_id)) == [first]
    answers = await asyncio.gather(*(store.append(one("c", "any", event_id)) for _ in range(5)))
    assert all(answer == [first] for answer in answers)
    assert len(fake.rows) == 2


async def test_a_failed_write_fails_every_caller_of_its_batch_and_no_later_one(
    store: EventStore, fake: FakeBackend
) -> None:
    await store.append(one("a", "no_stream"))
    fake.fail_next_write = ConnectionError("the database went away")
    outcomes = await asyncio.gather(
        *(store.append(one(f"s{i}", "any")) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    assert store.stats.failed_batches == 1
    assert len(fake.rows) == 1
    [after] = await store.append(one("b", "no_stream"))
    assert after.position == 2
    assert (await verify_store_chain(store)).checked == 2


async def test_closed_store_refuses_appends_and_close_writes_what_is_queued(
    fake: FakeBackend,
) -> None:
    store = EventStore(fake)
    queued = [asyncio.ensure_future(store.append(one(f"s{i}", "any"))) for i in range(3)]
    await asyncio.sleep(0)
    await store.close()
    assert all(isinstance(task.result(), list) for task in queued)
    with pytest.raises(StoreClosed) as refused:
        await store.append(one("late", "any"))
    assert isinstance(refused.value, StoreError)
    assert await store.head() != (0, ZERO_HASH)
