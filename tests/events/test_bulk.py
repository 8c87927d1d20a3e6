"""`events.bulk.iter_pages`: the whole log in pages, equal to `read_all`, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.bulk import iter_pages
from events.model import NewEvent, RecordedEvent, StreamAppend
from events.store import EventStore

T0 = datetime(2026, 2, 5, 15, 4, 5, 123456, tzinfo=UTC)


async def fill(store: EventStore, count: int) -> list[RecordedEvent]:
    written: list[RecordedEvent] = []
    for stream in ("a", "b", "c"):
        written += await store.append(
            StreamAppend(
                stream,
                "any",
                [
                    NewEvent(
                        stream,
                        "Noted",
                        {"n": i, "text": "é\u2028", "nested": {"z": [1, 2.5, None], "a": True}},
                        T0,
                        metadata={"actor": {"id": "t1"}},
                    )
                    for i in range(count)
                ],
            )
        )
    return written


async def collect(store: EventStore, after: int, batch: int) -> list[list[RecordedEvent]]:
    return [page async for page in iter_pages(store, after=after, batch=batch)]


async def test_empty_log_yields_no_pages(store: EventStore) -> None:
    assert await collect(store, 0, 10) == []


@pytest.mark.parametrize("batch", [1, 7, 10, 30, 1000])
async def test_pages_equal_read_all_in_position_order(store: EventStore, batch: int) -> None:
    written = await fill(store, 10)
    expected = await store.read_all(0, 1000)
    assert expected == written
    pages = await collect(store, 0, batch)
    assert all(1 <= len(page) <= batch for page in pages)
    assert [event for page in pages for event in page] == expected
    assert [event.position for page in pages for event in page] == list(range(1, 31))


async def test_after_skips_earlier_positions(store: EventStore) -> None:
    await fill(store, 5)
    pages = await collect(store, 9, 4)
    assert [event.position for page in pages for event in page] == list(range(10, 16))
    assert await collect(store, 15, 4) == []


async def test_stopping_early_releases_the_reader(store: EventStore) -> None:
    await fill(store, 10)
    pages = iter_pages(store, batch=4)
    async for page in pages:
        assert [event.position for event in page] == [1, 2, 3, 4]
        break
    await pages.aclose()
    assert [e.position for p in await collect(store, 0, 100) for e in p] == list(range(1, 31))


async def test_batch_must_be_positive(store: EventStore) -> None:
    with pytest.raises(ValueError):
        await collect(store, 0, 0)
