"""Long reads on PostgreSQL (`raw_pages`, a rebuild's `partition_pages`): every event once,
in position order, read with the generic plan and no parallel workers, and the pool's
connection handed back with its settings as they were, whether the pages were read to
the end or left early."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from events.model import NewEvent, StreamAppend
from events.store import EventStore
from events.store.contract import Partition
from events.store.postgres import PostgresBackend
from events.types import REQUEST_STREAM_PREFIX
from events.upcasting import UpcasterRegistry
from projections.runner.pages import NotRead, PageReader

pytestmark = pytest.mark.postgres

#: the settings a long read changes on its connection
SETTINGS = ("max_parallel_workers_per_gather", "plan_cache_mode")


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[EventStore]:
    opened = await EventStore.open(postgres_url)
    try:
        streams = [f"{REQUEST_STREAM_PREFIX}HX-{n}" for n in range(7)] + ["committee"]
        for round_ in range(5):
            for stream in streams:
                event = NewEvent(stream, "Noted", {"round": round_}, datetime.now(UTC))
                await opened.append(StreamAppend(stream, "any", [event]))
        yield opened
    finally:
        await opened.close()


async def _settings(store: EventStore) -> dict[str, str]:
    """The settings of the read pool's connection that a long read used (the pool keeps
    one idle connection)."""
    backend = store.backend
    assert isinstance(backend, PostgresBackend)
    pool = await backend._read_pool()
    async with pool.acquire() as conn:
        return {name: str(await conn.fetchval(f"SHOW {name}")) for name in SETTINGS}


@pytest.fixture
async def before(store: EventStore) -> dict[str, str]:
    """The settings of the pool's connection before any long read (the server's own)."""
    found = await _settings(store)
    assert found["plan_cache_mode"] != "force_generic_plan"
    return found


async def test_raw_pages_read_every_event_and_leave_the_connection_as_it_was(
    store: EventStore, before: dict[str, str]
) -> None:
    positions = [row[0] for page in [p async for p in store.raw_pages(0, 6)] for row in page]
    assert positions == list(range(1, 41))
    assert await _settings(store) == before


async def test_partitions_are_the_request_streams_once_each(
    store: EventStore, before: dict[str, str]
) -> None:
    partitioned = store.partitioned_rebuilds
    assert partitioned is not None
    seen: dict[int, list[int]] = {}
    for index in range(3):
        partition = Partition(REQUEST_STREAM_PREFIX, index, 3)
        pages = [page async for page in partitioned.partition_pages(partition, 0, 40, 4)]
        assert all(0 < len(page) <= 4 for page in pages)
        seen[index] = [row[0] for page in pages for row in page]
        assert seen[index] == sorted(seen[index])
        streams = {row[1] for page in pages for row in page}
        assert all(stream.startswith(REQUEST_STREAM_PREFIX) for stream in streams)
    every = sorted(p for positions in seen.values() for p in positions)
    assert every == [p for p in range(1, 41) if p % 8 != 0]  # the committee's left out
    assert await _settings(store) == before


async def test_pages_left_early_give_the_connection_back_as_it_was(
    store: EventStore, before: dict[str, str]
) -> None:
    pages = store.raw_pages(0, 5)
    first = await anext(pages)
    assert [row[0] for row in first] == [1, 2, 3, 4, 5]
    await pages.aclose()  # the next page was being read ahead: the connection is dropped
    assert await _settings(store) == before
    # and read to the end after it, on whichever connection the pool gives
    assert sum([len(page) async for page in store.raw_pages(0, 7)]) == 40
    assert await _settings(store) == before


@pytest.mark.parametrize("partitioned", [False, True], ids=["raw pages", "partition pages"])
async def test_page_reader_events_are_the_stores_upcast(
    store: EventStore, partitioned: bool
) -> None:
    """The light events a long read makes (`RowEvent`: a raw page's row, or a partition
    page's fold row) say what the store's own upcast events say: data brought to the
    latest version, metadata as stored, times in UTC. A fold row reads no metadata and
    no `recorded_at`: asking for them says so."""
    upcasters = UpcasterRegistry()

    @upcasters.register("Noted", 1)
    def _v2(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "v2": True}

    folding = EventStore(store.backend, upcasters=upcasters, owns_backend=False)
    partition = Partition(REQUEST_STREAM_PREFIX, 0, 1) if partitioned else None
    reader = PageReader(folding, 4, partition)
    events = []
    try:
        start = 0
        while page := await reader.page(start, 40):
            events += page
            start = page[-1].position
    finally:
        await reader.close()
    expected = [
        e
        for e in await folding.read_all(0, 100, upcast=True)
        if not partitioned or e.stream_id.startswith(REQUEST_STREAM_PREFIX)
    ]
    fields = "position stream_id stream_version event_type data occurred_at"
    if not partitioned:
        fields += " metadata recorded_at"
    assert [[getattr(e, f) for f in fields.split()] for e in events] == [
        [getattr(e, f) for f in fields.split()] for e in expected
    ]
    assert all(e.data["v2"] for e in events)
    assert all(e.occurred_at.tzinfo is UTC for e in events)
    if partitioned:
        for field in ("metadata", "recorded_at"):
            with pytest.raises(NotRead, match=f"reads no {field}"):
                getattr(events[0], field)
    else:
        assert all(e.recorded_at.tzinfo is UTC for e in events)
